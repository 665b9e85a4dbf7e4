/*
** Tab completion in the REPL: globals and keywords ("str" -> "string"), and
** the fields of what the expression before a '.' or ':' names ("lc.nn.Con",
** "t:si"). Fields are a value's own keys plus, through metatables, the keys of
** __index tables. When __index is a function (tensors' methods, luacnn's
** lazily loaded submodules), the metatable's __fields table names the fields
** (lib/luacnn/repl.lua sets it up), and its own non-metamethod keys count too.
** After ':' only callable fields are offered.
**
** The expression is resolved by reading its fields as Lua would, in protected
** mode; listing the fields never runs Lua code.
*/
#define _XOPEN_SOURCE 700

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>

#include "cli.h"

#define MAX_INDEX_DEPTH 16   /* __index chains longer than this are cut */

static lua_State *CL;
static char **cands;         /* the current candidates, sorted */
static size_t ncands, next_cand;

static const char *const keywords[] = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
  "true", "until", "while", NULL};

/* '.' and ':' break words too, so the word completed is a bare name and the
   expression before it is read from the line. */
static char word_breaks[] = " \t\n\"\\'`@$><=;|&{(}[],+-*/%^~#.:";

static int is_name_char(int c) { return isalnum((unsigned char)c) || c == '_'; }

static int is_identifier(const char *s, size_t n) {
  size_t i;
  if (n == 0 || isdigit((unsigned char)s[0])) return 0;
  for (i = 0; i < n; i++)
    if (!is_name_char(s[i])) return 0;
  return 1;
}

static int is_callable(lua_State *L, int idx) {
  int yes;
  if (lua_type(L, idx) == LUA_TFUNCTION) return 1;
  if (!lua_getmetatable(L, idx)) return 0;
  lua_pushliteral(L, "__call");
  yes = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return yes;
}

/* Adds to the set at `set` the names in table `t` that start with `prefix`. */
static void add_keys(lua_State *L, int t, int set, const char *prefix,
                     int methods, int skip_meta) {
  size_t plen = strlen(prefix);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t n;
      const char *k = lua_tolstring(L, -2, &n);
      if (is_identifier(k, n) && strncmp(k, prefix, plen) == 0 &&
          !(skip_meta && strncmp(k, "__", 2) == 0) &&
          (!methods || is_callable(L, -1))) {
        lua_pushvalue(L, -2);
        lua_pushboolean(L, 1);
        lua_rawset(L, set);
      }
    }
    lua_pop(L, 1);
  }
}

/* The fields of the value at `v`: its own, then those of its __index chain. */
static void add_fields(lua_State *L, int v, int set, const char *prefix, int methods) {
  int depth, top = lua_gettop(L);
  lua_pushvalue(L, v);
  for (depth = 0; depth < MAX_INDEX_DEPTH; depth++) {
    int cur = lua_gettop(L);
    if (lua_type(L, cur) == LUA_TTABLE)
      add_keys(L, cur, set, prefix, methods, depth > 0);
    if (!lua_getmetatable(L, cur)) break;
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    if (lua_type(L, -1) == LUA_TTABLE) continue;   /* walk on from it */
    if (lua_type(L, -1) != LUA_TNIL) {             /* a function */
      add_keys(L, cur + 1, set, prefix, methods, 1);
      lua_pushliteral(L, "__fields");
      if (lua_rawget(L, cur + 1) == LUA_TTABLE)
        add_keys(L, lua_gettop(L), set, prefix, methods, 1);
    }
    break;
  }
  lua_settop(L, top);
}

/* Pushes the value that the expression "a.b.c" names, reading fields as Lua
   does (errors propagate to the caller's pcall). */
static void resolve(lua_State *L, const char *expr, size_t len) {
  const char *p = expr, *end = expr + len;
  lua_pushglobaltable(L);
  while (p < end) {
    const char *q = p;
    while (q < end && *q != '.') q++;
    if (!is_identifier(p, (size_t)(q - p))) luaL_error(L, "not a name");
    lua_pushlstring(L, p, (size_t)(q - p));
    lua_gettable(L, -2);
    lua_remove(L, -2);
    p = q + 1;
  }
}

/* collect(expr, prefix, methods): the set of candidate names. */
int cli_completion_collect(lua_State *L) {
  size_t len;
  const char *expr = luaL_checklstring(L, 1, &len);
  const char *prefix = luaL_checkstring(L, 2);
  int i, methods = lua_toboolean(L, 3);
  lua_newtable(L);                       /* the set, at 4 */
  if (len == 0) {
    lua_pushglobaltable(L);
    add_fields(L, 5, 4, prefix, 0);
    for (i = 0; keywords[i]; i++) {
      if (strncmp(keywords[i], prefix, strlen(prefix)) != 0) continue;
      lua_pushboolean(L, 1);
      lua_setfield(L, 4, keywords[i]);
    }
  } else {
    resolve(L, expr, len);
    add_fields(L, 5, 4, prefix, methods);
  }
  lua_settop(L, 4);
  return 1;
}

static void free_candidates(void) {
  size_t i;
  for (i = 0; i < ncands; i++) free(cands[i]);
  free(cands);
  cands = NULL;
  ncands = 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fills `cands` from the set on top of the stack, which it pops. */
static void take_candidates(lua_State *L) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) { n++; lua_pop(L, 1); }
  cands = n ? malloc(n * sizeof *cands) : NULL;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    char *s;
    lua_pop(L, 1);
    if (cands && (s = strdup(lua_tostring(L, -1))) != NULL) cands[ncands++] = s;
  }
  lua_pop(L, 1);
  if (ncands) qsort(cands, ncands, sizeof *cands, compare_names);
}

static char *next_candidate(const char *text, int state) {
  (void)text;
  if (state == 0) next_cand = 0;
  return next_cand < ncands ? strdup(cands[next_cand++]) : NULL;
}

/* libedit calls this with the word before the cursor, text == line[start..end). */
static char **complete(const char *text, int start, int end) {
  const char *line = rl_line_buffer;
  int i = start, j, top = lua_gettop(CL);
  char sep = 0;
  (void)end;
  rl_attempted_completion_over = 1;      /* never fall back to file names */
  if (i > 0 && (line[i - 1] == '.' || line[i - 1] == ':')) {
    sep = line[--i];
    if (sep == '.' && i > 0 && line[i - 1] == '.') {   /* a..b: a global */
      sep = 0;
      i = start;
    }
  }
  j = i;
  if (sep)
    while (j > 0 && (is_name_char(line[j - 1]) || line[j - 1] == '.')) j--;
  if (sep && (j == i || (j > 0 && line[j - 1] == ':')))
    return NULL;                         /* ".5", f():x, a:b.c */
  free_candidates();
  lua_pushcfunction(CL, cli_completion_collect);
  lua_pushlstring(CL, line + j, (size_t)(i - j));
  lua_pushstring(CL, text);
  lua_pushboolean(CL, sep == ':');
  if (lua_pcall(CL, 3, 1, 0) == LUA_OK) take_candidates(CL);
  lua_settop(CL, top);
  return ncands ? rl_completion_matches(text, next_candidate) : NULL;
}

void cli_completion_init(lua_State *L) {
  CL = L;
  rl_readline_name = CLI_NAME;              /* "luacnn:" lines in ~/.editrc */
  rl_basic_word_break_characters = word_breaks;
  rl_completer_word_break_characters = word_breaks;
  rl_attempted_completion_function = complete;
  rl_completion_append_character = '\0';
}
