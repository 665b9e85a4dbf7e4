/*
** The REPL. A chunk is one line, or several while it is incomplete; a line is
** first tried as an expression ("return <line>") so that its values print.
** With a terminal, libedit gives line editing, history in ~/.luacnn_history
** and tab completion (completion.c). Without one, lines are read plainly and
** neither banner nor prompts are printed, so a pipe can drive the REPL:
**   printf '1+1\n' | luacnn      prints 2
*/
#define _GNU_SOURCE   /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>

#include "cli.h"

#ifndef LUACNN_VERSION
#define LUACNN_VERSION "unknown"
#endif

#define PROMPT "> "
#define PROMPT2 ">> "
#define HISTORY_FILE ".luacnn_history"
#define HISTORY_LINES 1000

enum { CHUNK_EOF = -1, CHUNK_INTERRUPTED = -2 };

static int editing;                          /* stdin is a terminal */
static volatile sig_atomic_t interrupted;    /* Ctrl-C while reading */
static char history_path[PATH_MAX];

/* Ctrl-C while reading. SIGINT may be handled by any thread of the process
   (OpenBLAS and OpenMP start some), so the handler does not rely on
   interrupting the main thread's read: it also writes to a pipe that the
   reader polls along with stdin. */
static int wake[2] = {-1, -1};

static void on_prompt_sigint(int sig) {
  int saved = errno;
  (void)sig;
  interrupted = 1;
  if (wake[1] >= 0) {
    ssize_t n = write(wake[1], "", 1);   /* if the pipe is full, one is enough */
    (void)n;
  }
  errno = saved;
}

static void drain_wake(void) {
  char buf[64];
  while (wake[0] >= 0 && read(wake[0], buf, sizeof buf) > 0) {}
}

/* Where input is read. For a terminal it is a second, non-blocking open of
   it: Ctrl-C flushes the terminal's input, so a read() that poll() said
   would not block may block after all. */
static int input = STDIN_FILENO;

/* One byte of input; EOF at its end or on Ctrl-C. */
static int read_byte(void) {
  unsigned char byte;
  while (!interrupted) {
    struct pollfd p[2] = {{input, POLLIN, 0}, {wake[0], POLLIN, 0}};
    ssize_t n;
    int r = poll(p, wake[0] >= 0 ? 2 : 1, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    if (wake[0] >= 0 && (p[1].revents & POLLIN)) {
      drain_wake();
      interrupted = 1;
      break;
    }
    n = read(input, &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    break;
  }
  return EOF;
}

/* libedit's reader: one character, decoded from the locale's multibyte
   encoding (libedit takes the int for a wide character). */
static int getc_interruptible(FILE *f) {
  char bytes[MB_LEN_MAX];
  size_t n = 0;
  (void)f;
  for (;;) {
    mbstate_t state;
    wchar_t wc;
    size_t r;
    int c = read_byte();
    if (c == EOF) return EOF;
    bytes[n++] = (char)c;
    memset(&state, 0, sizeof state);
    r = mbrtowc(&wc, bytes, n, &state);
    if (r == (size_t)-2 && n < sizeof bytes) continue;   /* more bytes to come */
    if (r == (size_t)-1 || r == (size_t)-2) return (unsigned char)bytes[0];
    return (int)wc;
  }
}

/* A line from a pipe or file, read a byte at a time so that nothing past it
   is consumed (the code run may read stdin itself). */
static char *read_plain_line(void) {
  char *line = NULL;
  size_t len = 0, cap = 0;
  int c;
  while ((c = read_byte()) != EOF && c != '\n') {
    if (len + 1 >= cap) {
      size_t bigger = cap ? 2 * cap : 128;
      char *p = realloc(line, bigger);
      if (p == NULL) break;
      line = p;
      cap = bigger;
    }
    line[len++] = (char)c;
  }
  if (c == EOF && len == 0) {
    free(line);
    return NULL;
  }
  if (line == NULL) line = calloc(1, 1);
  else line[len] = '\0';
  return line;
}

/* One line without its newline (malloc'd), or NULL at end of input or on
   Ctrl-C (then `interrupted` is set). */
static char *read_line(const char *prompt) {
  char *line;
  drain_wake();
  interrupted = 0;
  line = editing ? readline(prompt) : read_plain_line();
  if (interrupted) {
    free(line);
    line = NULL;
  }
  return line;
}

/* ---- compiling ------------------------------------------------------------- */

/* Is the error on top a syntax error that more input could complete? */
static int incomplete(lua_State *L, int status) {
  static const char eof[] = "<eof>";
  size_t len, n = sizeof eof - 1;
  const char *msg;
  if (status != LUA_ERRSYNTAX) return 0;
  msg = lua_tolstring(L, -1, &len);
  return len >= n && strcmp(msg + len - n, eof) == 0;
}

/* The line on top as an expression; pushes the function if it compiles. */
static int load_expression(lua_State *L) {
  const char *code = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
  int status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
  lua_remove(L, -2);
  if (status != LUA_OK) lua_pop(L, 1);
  return status;
}

/* The text on top as statements, reading continuation lines while it is
   incomplete. Pushes the function or the error; the text stays below it. */
static int load_statements(lua_State *L) {
  for (;;) {
    size_t len;
    const char *code = lua_tolstring(L, -1, &len);
    int status = luaL_loadbuffer(L, code, len, "=stdin");
    char *more;
    if (!incomplete(L, status)) return status;
    more = read_line(PROMPT2);
    if (more == NULL) {
      if (editing && !interrupted) fputc('\n', stdout);   /* after the ^D */
      return interrupted ? CHUNK_INTERRUPTED : status;
    }
    lua_pop(L, 1);
    lua_pushliteral(L, "\n");
    lua_pushstring(L, more);
    free(more);
    lua_concat(L, 3);
  }
}

/* Adds a chunk to the history, unless it is blank or repeats the last one. */
static void remember(const char *code) {
  static char *last;
  if (!editing || code[strspn(code, " \t\n")] == '\0') return;
  if (last && strcmp(last, code) == 0) return;
  add_history(code);
  free(last);
  last = strdup(code);
}

/* Is the line the bare word exit or quit (what newcomers type to leave)? */
static int is_leave_word(const char *line) {
  size_t n;
  line += strspn(line, " \t");
  n = strcspn(line, " \t;");
  if (!((n == 4 && strncmp(line, "exit", 4) == 0) || (n == 4 && strncmp(line, "quit", 4) == 0)))
    return 0;
  line += n;
  return line[strspn(line, " \t;")] == '\0';
}

/* exit([status]) / quit([status]) in the REPL: leave, as Ctrl-D does (the history is saved
   by atexit). Defined only where the user has no global of that name. */
static int repl_exit(lua_State *L) {
  int status = EXIT_SUCCESS;
  if (lua_isboolean(L, 1)) status = lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
  else if (lua_isinteger(L, 1)) status = (int)lua_tointeger(L, 1);
  if (editing) fputc('\n', stdout);
  fflush(stdout);
  fflush(stderr);
  exit(status);
  return 0;
}

/* Is global `name` unset or the REPL's own exit? Then the bare word leaves. */
static int leave_word_free(lua_State *L, const char *name) {
  int ok;
  lua_pushglobaltable(L);
  lua_pushstring(L, name);
  lua_rawget(L, -2);
  ok = lua_isnil(L, -1) || lua_tocfunction(L, -1) == repl_exit;
  lua_pop(L, 2);
  return ok;
}

static void define_leave_functions(lua_State *L) {
  static const char *const names[] = {"exit", "quit", NULL};
  int i;
  for (i = 0; names[i]; i++) {
    lua_pushglobaltable(L);
    lua_pushstring(L, names[i]);
    if (lua_rawget(L, -2) == LUA_TNIL) {
      lua_pushcfunction(L, repl_exit);
      lua_setfield(L, -3, names[i]);
    }
    lua_pop(L, 2);
  }
}

/* Reads and compiles one chunk: leaves the function or the error message on
   top and returns the load status, or CHUNK_EOF / CHUNK_INTERRUPTED. */
static int read_chunk(lua_State *L) {
  char *line = read_line(PROMPT);
  int status;
  if (line == NULL) return interrupted ? CHUNK_INTERRUPTED : CHUNK_EOF;
  if (is_leave_word(line)) {
    char word[5];
    memcpy(word, line + strspn(line, " \t"), 4);
    word[4] = '\0';
    if (leave_word_free(L, word)) {
      free(line);
      return CHUNK_EOF;
    }
  }
  lua_pushstring(L, line);
  free(line);
  status = load_expression(L);
  if (status != LUA_OK) status = load_statements(L);
  if (status == CHUNK_INTERRUPTED) return status;
  remember(lua_tostring(L, -2));
  lua_remove(L, -2);
  return status;
}

/* ---- running ----------------------------------------------------------------- */

/* Prints its arguments through tostring (so tensors show their values),
   separated by tabs, as print does. */
static int print_values(lua_State *L) {
  int i, n = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (i > 1) fputc('\t', stdout);
    fwrite(s, 1, len, stdout);
    lua_pop(L, 1);
  }
  fputc('\n', stdout);
  fflush(stdout);
  return 0;
}

static void show_error(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
  fflush(stderr);
  lua_pop(L, 1);
}

/* Runs the function on top and prints what it returns. */
static void run_chunk(lua_State *L) {
  int base = lua_gettop(L) - 1;
  int status = cli_docall(L, 0, LUA_MULTRET, 1);
  int n = lua_gettop(L) - base;
  if (status == LUA_OK && n > 0) {
    lua_pushcfunction(L, print_values);
    lua_insert(L, base + 1);
    status = lua_pcall(L, n, 0, 0);
  }
  if (status != LUA_OK) show_error(L);
  lua_settop(L, base);
}

/* ---- the session ---------------------------------------------------------------- */

/* "cuda:0 <name>, cuda:1 <name>" or "CPU only: <why, in a few words>", from lc.cuda
   (through lib/luacnn/repl.lua's devices() when there is one, which keeps the line short).
   Reading `lc` loads luacnn (main.c), reporting a failure once. */
static int describe_devices(lua_State *L) {
  lua_Integer i, n = 0;
  luaL_Buffer b;
  if (lua_getglobal(L, "lc") != LUA_TTABLE) {
    lua_pushliteral(L, "luacnn not loaded");
    return 1;
  }
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luacnn.repl");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TTABLE &&
      lua_getfield(L, -1, "devices") == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) return 1;
  }
  lua_settop(L, 1);
  if (lua_getfield(L, -1, "cuda") == LUA_TTABLE &&
      lua_getfield(L, -1, "device_count") == LUA_TFUNCTION) {
    lua_call(L, 0, 1);
    n = lua_tointeger(L, -1);
  }
  lua_settop(L, 2);
  if (n <= 0) {                  /* say why, e.g. "built without CUDA" */
    if (lua_type(L, 2) == LUA_TTABLE &&
        lua_getfield(L, 2, "unavailable_reason") == LUA_TFUNCTION) {
      lua_call(L, 0, 1);
      if (lua_isstring(L, -1)) {
        lua_pushfstring(L, "CPU only: %s", lua_tostring(L, -1));
        return 1;
      }
    }
    lua_pushliteral(L, "CPU only");
    return 1;
  }
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (i > 0) luaL_addstring(&b, ", ");
    lua_pushfstring(L, "cuda:%I", i);
    luaL_addvalue(&b);
    if (lua_getfield(L, 2, "device_name") == LUA_TFUNCTION) {
      lua_pushinteger(L, i);
      lua_call(L, 1, 1);
      if (lua_isstring(L, -1)) {
        luaL_addchar(&b, ' ');
        luaL_addvalue(&b);
        continue;
      }
    }
    lua_pop(L, 1);
  }
  luaL_pushresult(&b);
  return 1;
}

static void print_banner(lua_State *L) {
  const char *devices = "CPU only";
  lua_pushcfunction(L, describe_devices);
  if (lua_pcall(L, 0, 1, 0) == LUA_OK) {
    devices = lua_tostring(L, -1);
  } else {
    show_error(L);
    lua_pushnil(L);
  }
  printf("%s %s (%s) \xe2\x80\x94 %s\n", CLI_NAME, LUACNN_VERSION, LUA_RELEASE,
         devices ? devices : "CPU only");
  printf("exit() or Ctrl-D leaves, Tab completes names (lc.nn.<Tab>)\n");
  fflush(stdout);
  lua_pop(L, 1);
}

static void save_history(void) {
  if (history_path[0] && write_history(history_path) != 0)
    history_path[0] = '\0';
}

/* libedit: completion and our reader, then history (which makes libedit read
   the settings above). On Ctrl-C the reader answers end of input, readline()
   returns early and `interrupted` tells that the line is to be dropped. */
static void start_editing(lua_State *L) {
  const char *home = getenv("HOME");
  setlocale(LC_CTYPE, "");               /* UTF-8 input, for libedit and us */
  input = open("/proc/self/fd/0", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (input < 0) input = STDIN_FILENO;
  cli_completion_init(L);
  rl_getc_function = getc_interruptible;
  using_history();
  stifle_history(HISTORY_LINES);
  if (home && *home &&
      snprintf(history_path, sizeof history_path, "%s/%s", home, HISTORY_FILE) <
          (int)sizeof history_path) {
    read_history(history_path);
    atexit(save_history);
  } else {
    history_path[0] = '\0';
  }
}

void cli_repl(lua_State *L) {
  struct sigaction sa;
  int status, base = lua_gettop(L);
  editing = isatty(STDIN_FILENO);
  if (wake[0] < 0 && pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) wake[0] = wake[1] = -1;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prompt_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  define_leave_functions(L);
  if (editing) {
    print_banner(L);
    start_editing(L);
  }
  while ((status = read_chunk(L)) != CHUNK_EOF) {
    if (status == CHUNK_INTERRUPTED) {
      lua_settop(L, base);
      if (editing) fputs("^C\n", stdout);
      fflush(stdout);
    } else if (status == LUA_OK) {
      run_chunk(L);
    } else {
      show_error(L);
    }
  }
  lua_settop(L, base);
  if (editing) fputc('\n', stdout);
  fflush(stdout);
  signal(SIGINT, SIG_DFL);
}
