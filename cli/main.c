/*
** luacnn: a Lua 5.4 interpreter with luacnn built in.
**
**   luacnn [options] [script [args]]   like the standard `lua` (see usage())
**   luacnn <command> [args]            sweep, compare, data, help (lib/luacnn/cli)
**   luacnn                             the REPL (repl.c)
**
** The core C module is preloaded as 'luacnn.core'; the Lua half of the library
** (lib/luacnn) is found next to the executable, under an install prefix, or in
** the source tree, ahead of the user's own LUA_PATH.
*/
#define _XOPEN_SOURCE 700

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "cli.h"

#if defined(__has_include)
#if __has_include("bindings/luacnn.h")
#include "bindings/luacnn.h"
#define HAVE_LUACNN_CORE 1
#endif
#endif
#ifndef HAVE_LUACNN_CORE
/* The bindings are not in this tree yet: run as a plain interpreter. */
extern int luaopen_luacnn_core(lua_State *L) __attribute__((weak));
#endif

#ifndef LUACNN_VERSION
#define LUACNN_VERSION "unknown"
#endif
#ifdef LUACNN_HAVE_BUILD_INFO
#include "luacnn_build_info.h"   /* LUACNN_COMMIT, written at build time (cmake/build_info.cmake) */
#endif
#ifndef LUACNN_COMMIT
#define LUACNN_COMMIT "unknown"
#endif
#ifndef LUACNN_SOURCE_LIB
#define LUACNN_SOURCE_LIB ""
#endif

/* Words that name a subcommand when no file of that name exists. Keep in step
   with the table in lib/luacnn/cli/init.lua. */
static const char *const commands[] = {"sweep", "compare", "data", "help", NULL};

static int exit_status = EXIT_SUCCESS;

static void usage(FILE *out) {
  fputs(
    "usage: " CLI_NAME " [options] [script [args]]\n"
    "       " CLI_NAME " <command> [args]     commands: sweep, compare, data ('" CLI_NAME
    " help')\n"
    "       " CLI_NAME " kernel install | -f FILE   the Jupyter kernel\n"
    "Options:\n"
    "  -e stat   run the Lua statement 'stat'\n"
    "  -i        enter the REPL after running the script and -e statements\n"
    "  -l mod    require 'mod' into global 'mod' (-l g=mod: into global 'g')\n"
    "  -v        show the version, the commit and what the build has (also --version)\n"
    "  -E        ignore environment variables (LUA_PATH, LUA_CPATH, LUACNN_LIB)\n"
    "  -W        turn warnings on\n"
    "  -h        show this help\n"
    "  --nproc N script [args]   run the script as N data-parallel processes (mpirun)\n"
    "  --        stop handling options\n"
    "  -         run standard input as a script and stop handling options\n"
    "With no arguments, " CLI_NAME " starts the REPL. The global `lc` is luacnn in scripts,\n"
    "-e statements and the REPL (loaded on first use; `require 'luacnn'` gives the same).\n",
    out);
}

#ifdef LUACNN_WITH_CUDA
#define HAS_CUDA "yes"
#else
#define HAS_CUDA "no"
#endif
#ifdef LUACNN_WITH_TURBOJPEG
#define HAS_TURBOJPEG "yes"
#else
#define HAS_TURBOJPEG "no"
#endif
#ifdef LUACNN_WITH_PNG
#define HAS_PNG "yes"
#else
#define HAS_PNG "no"
#endif
#ifdef LUACNN_WITH_ONEDNN
#define HAS_ONEDNN "yes"
#else
#define HAS_ONEDNN "no"
#endif
#ifdef LUACNN_WITH_MPI
#define HAS_MPI "yes"
#else
#define HAS_MPI "no"
#endif

/* The version, the commit built from, and what the build has (cuDNN comes with the CUDA
   backend: it is linked whenever CUDA is). Whether a GPU is usable is a run-time matter:
   `lc.cuda.is_available()`, or the REPL's banner. */
static void print_version(void) {
  printf("%s %s (commit %s, %s)\n", CLI_NAME, LUACNN_VERSION, LUACNN_COMMIT, LUA_RELEASE);
  printf("built with: CUDA %s, cuDNN %s, libjpeg-turbo %s, libpng %s, oneDNN %s, MPI %s\n",
         HAS_CUDA, HAS_CUDA, HAS_TURBOJPEG, HAS_PNG, HAS_ONEDNN, HAS_MPI);
  fflush(stdout);
}

void cli_message(const char *msg) {
  fprintf(stderr, "%s: %s\n", CLI_NAME, msg);
  fflush(stderr);
}

/* Set when a script ended on an uncaught Ctrl-C: the process then exits with 130, as
   shells expect of SIGINT, and says so in one line instead of a traceback. */
static int was_interrupted;

int cli_report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    const char *first_line_end = msg ? strchr(msg, '\n') : NULL;
    const char *hit = msg ? strstr(msg, "interrupted!") : NULL;
    if (hit && (!first_line_end || hit < first_line_end)) {
      was_interrupted = 1;
      cli_message("interrupted");
      lua_pop(L, 1);
      return status;
    }
    cli_message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* ---- Ctrl-C ---------------------------------------------------------------- */

static lua_State *running_L;   /* the state a SIGINT interrupts */

/* Called by the VM at its next instruction, a safe point to raise an error. The message
   carries no position: luaL_error's would name the caller of whatever function the hook
   fired in, so the same Ctrl-C read differently depending on its timing (the traceback
   still says where the script was). */
static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  lua_pushliteral(L, "interrupted!");
  lua_error(L);
}

/* A signal handler may not touch the Lua state beyond setting a hook, so
   the error is raised from the hook: scripts can catch it with pcall and save
   their work. The handler is reset on entry (SA_RESETHAND): a second Ctrl-C
   kills a script that does not stop. */
static void on_sigint(int sig) {
  (void)sig;
  lua_sethook(running_L, interrupt_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* ---- running code ------------------------------------------------------------ */

/* Message handler: the error plus a traceback. An error object with __tostring
   (e.g. a usage error from a subcommand) is shown as it is, without one. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Is the traceback line [p, end) one of the REPL's own frames? They end
   every traceback: the line typed, the pcall that ran it, and a "tail calls"
   line when the line was an expression ("return f()" is a tail call). */
static int repl_frame(const char *p, const char *end) {
  static const char main_chunk[] = ": in main chunk";
  size_t n = (size_t)(end - p), m = sizeof main_chunk - 1;
  if (n == 9 && memcmp(p, "[C]: in ?", 9) == 0) return 1;
  if (n == 18 && memcmp(p, "(...tail calls...)", 18) == 0) return 1;
  return n > 6 + m && memcmp(p, "stdin:", 6) == 0 && memcmp(end - m, main_chunk, m) == 0;
}

/* The traceback line at p ("\n\t..."): its text in [*line, *end). */
static void traceback_line(const char *p, const char **line, const char **end) {
  *line = p + 1 + (p[1] == '\t');
  *end = strchr(*line, '\n');
  if (*end == NULL) *end = *line + strlen(*line);
}

/* Are the traceback lines from p on all REPL frames? */
static int only_repl_frames(const char *p) {
  const char *line, *end;
  for (; *p == '\n'; p = end) {
    traceback_line(p, &line, &end);
    if (!repl_frame(line, end)) return 0;
  }
  return 1;
}

/* The REPL's handler: the traceback without the REPL's own frames, and none
   at all when only C functions such as 'error' are left in it. */
static int repl_msghandler(lua_State *L) {
  static const char header[] = "\nstack traceback:";
  const char *tb, *head, *p, *line, *end;
  luaL_Buffer b;
  int useful = 0;
  msghandler(L);
  tb = lua_tostring(L, -1);
  head = tb ? strstr(tb, header) : NULL;
  if (head == NULL) return 1;
  luaL_buffinit(L, &b);
  p = head + sizeof header - 1;
  luaL_addlstring(&b, tb, (size_t)(p - tb));
  for (; *p == '\n' && !only_repl_frames(p); p = end) {
    traceback_line(p, &line, &end);
    luaL_addlstring(&b, p, (size_t)(end - p));
    if (strncmp(line, "[C]: in ", 8) != 0) useful = 1;
  }
  luaL_pushresult(&b);
  if (!useful) lua_pushlstring(L, tb, (size_t)(head - tb));
  return 1;
}

/* Calls the function below its `narg` arguments with a traceback handler and
   with Ctrl-C turned into the Lua error "interrupted!". */
int cli_docall(lua_State *L, int narg, int nres, int short_traceback) {
  struct sigaction sa, old;
  int status, base = lua_gettop(L) - narg;
  lua_pushcfunction(L, short_traceback ? repl_msghandler : msghandler);
  lua_insert(L, base);
  running_L = L;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  if (lua_gethook(L) == interrupt_hook)   /* a Ctrl-C that came too late */
    lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = cli_docall(L, 0, 0, 0);
  return cli_report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod or -l g=mod: require 'mod' and store it in global 'mod' (or 'g'). */
static int dolibrary(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *mod = eq ? eq + 1 : spec;
  int status;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  status = cli_docall(L, 1, 1, 0);
  if (status == LUA_OK) {
    if (eq) lua_pushlstring(L, spec, (size_t)(eq - spec));
    else lua_pushstring(L, spec);
    lua_insert(L, -2);
    lua_setglobal(L, lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  return cli_report(L, status);
}

/* ---- arguments ---------------------------------------------------------------- */

struct options {
  int script;        /* argv index of the script (or "-"), 0 if none */
  int has_e, interactive, version, help, ignore_env, warnings;
};

/* Reads the options before the script; returns 0, or the index of a bad one. */
static int collect_args(int argc, char **argv, struct options *o) {
  int i;
  memset(o, 0, sizeof *o);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0') {        /* a script, or "-" for stdin */
      o->script = i;
      return 0;
    }
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) o->script = i + 1;
      return 0;
    }
    if (strcmp(a, "--help") == 0) { o->help = 1; continue; }
    if (strcmp(a, "--version") == 0) { o->version = 1; continue; }
    switch (a[1]) {
      case 'e': case 'l':
        if (a[1] == 'e') o->has_e = 1;
        if (a[2] == '\0' && (i + 1 >= argc || argv[i + 1][0] == '-'))
          return i;                              /* no statement / module */
        if (a[2] == '\0') i++;
        break;
      case 'i': case 'v': case 'h': case 'E': case 'W':
        if (a[2] != '\0') return i;
        if (a[1] == 'i') o->interactive = 1;
        if (a[1] == 'v') o->version = 1;
        if (a[1] == 'h') o->help = 1;
        if (a[1] == 'E') o->ignore_env = 1;
        if (a[1] == 'W') o->warnings = 1;
        break;
      default:
        return i;
    }
  }
  return 0;
}

/* Runs the -e and -l options in their order; stops at the first error. */
static int run_options(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l')) continue;
    const char *val = a[2] ? a + 2 : argv[++i];
    int status = a[1] == 'e' ? dostring(L, val, "=(command line)") : dolibrary(L, val);
    if (status != LUA_OK) return 0;
  }
  return 1;
}

/* The global `arg`, as lua sets it: the script at 0, the interpreter and its
   options below, the script's arguments above. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  int i;
  lua_createtable(L, argc - script, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *name = argv[script];
  int i, status;
  if (strcmp(name, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
    name = NULL;                                 /* standard input */
  status = luaL_loadfile(L, name);
  if (status == LUA_OK) {
    luaL_checkstack(L, argc - script, "too many arguments to script");
    for (i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    status = cli_docall(L, argc - script - 1, 0, 0);
  }
  return cli_report(L, status) == LUA_OK;
}

/* ---- luacnn itself -------------------------------------------------------------- */

static char exe_path[PATH_MAX];   /* this executable, from /proc/self/exe */

/* Directory of the running executable, or NULL. */
static const char *exe_dir(void) {
  static char dir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
  char *slash;
  if (n <= 0) return NULL;
  exe_path[n] = '\0';
  memcpy(dir, exe_path, (size_t)n + 1);
  slash = strrchr(dir, '/');
  if (slash == NULL) return NULL;
  *slash = '\0';
  return dir;
}

/* Is `dir` a lib/ directory of luacnn (one with a luacnn/ in it)? Its real
   path goes to `real`. */
static int is_lib_dir(const char *dir, char *real) {
  char sub[PATH_MAX + 8];
  struct stat st;
  if (dir == NULL || realpath(dir, real) == NULL) return 0;
  snprintf(sub, sizeof sub, "%s/luacnn", real);
  return stat(sub, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Puts luacnn's lib/ directory in front of package.path: the first of
   $LUACNN_LIB, lib/ next to the executable, share/luacnn/lib or share/lua/5.4
   under its install prefix, and the source tree's lib/ that has a luacnn/ directory. Only one,
   so that a library is never half from one copy and half from another. The
   user's LUA_PATH (already in package.path) follows it, so Debian's Lua
   modules keep loading. */
static void set_lib_path(lua_State *L, int ignore_env) {
  const char *dir = exe_dir();
  char real[PATH_MAX], next[PATH_MAX + 32], prefix[PATH_MAX + 32];
  int found = 0, package;
  const char *env = ignore_env ? NULL : getenv("LUACNN_LIB");
  if (env && *env && !(found = is_lib_dir(env, real))) {
    snprintf(next, sizeof next, "LUACNN_LIB (%.200s) has no luacnn/ directory: ignored", env);
    cli_message(next);
  }
  if (!found && dir) {
    snprintf(next, sizeof next, "%s/lib", dir);
    snprintf(prefix, sizeof prefix, "%s/../share/luacnn/lib", dir);
    found = is_lib_dir(next, real) || is_lib_dir(prefix, real);
    if (!found) {   /* `cmake --install` and luarocks: PREFIX/share/lua/5.4/luacnn */
      snprintf(prefix, sizeof prefix, "%s/../share/lua/5.4", dir);
      found = is_lib_dir(prefix, real);
    }
  }
  if (!found) found = is_lib_dir(LUACNN_SOURCE_LIB, real);
  lua_getglobal(L, "package");
  package = lua_gettop(L);
  if (found) {
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", real, real);
    lua_getfield(L, package, "path");
    lua_concat(L, 2);
    lua_setfield(L, package, "path");
  }

  /* require 'luacnn.host': facts about this executable, e.g. for a sweep
     that starts more runs of it. Absent under a plain lua5.4. */
  lua_getfield(L, package, "loaded");
  lua_createtable(L, 0, 3);
  if (dir) {
    lua_pushstring(L, exe_path);
    lua_setfield(L, -2, "executable");
  }
  if (found) {
    lua_pushstring(L, real);
    lua_setfield(L, -2, "lib");
  }
  lua_pushstring(L, LUACNN_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, LUACNN_COMMIT);
  lua_setfield(L, -2, "commit");
  lua_setfield(L, -2, "luacnn.host");
  lua_settop(L, package - 1);
}

static void preload_core(lua_State *L) {
#ifndef HAVE_LUACNN_CORE
  if (luaopen_luacnn_core == NULL) return;   /* no bindings in this tree yet */
#endif
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_luacnn_core);
  lua_setfield(L, -2, "luacnn.core");
  lua_pop(L, 1);
}

/* __index of _G until `lc` is first read: loads luacnn into the global `lc`.
   The metatable goes away on that first read, so a failure is reported once
   and `lc` then stays nil. */
static int lazy_lc(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "lc") != 0)
    return 0;
  lua_pushnil(L);
  lua_setmetatable(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luacnn");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    lua_pushfstring(L, "could not load luacnn (`lc` is nil): %s",
                    msg ? msg : "(error object is not a string)");
    cli_message(lua_tostring(L, -1));
    return 0;
  }
  lua_pushvalue(L, -1);
  lua_setglobal(L, "lc");
  /* completion hints (lib/luacnn/repl.lua); the REPL works without them */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luacnn.repl");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_getfield(L, -1, "setup") == LUA_TFUNCTION) {
    lua_pushvalue(L, -3);
    lua_pcall(L, 1, 0, 0);
  }
  lua_settop(L, 3);
  return 1;
}

static void set_lazy_lc(lua_State *L) {
  lua_pushglobaltable(L);
  if (!lua_getmetatable(L, -1)) {         /* only if _G has none of its own */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, lazy_lc);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* ---- subcommands ---------------------------------------------------------------- */

static int is_command(const char *word) {
  int i;
  for (i = 0; commands[i]; i++)
    if (strcmp(word, commands[i]) == 0) return access(word, F_OK) != 0;
  return 0;
}

/* require('luacnn.cli').run(word, {args}); main's result is the exit status:
   nil or true for success, false for failure, or a number. */
static int run_command(lua_State *L, char **argv, int argc) {
  int i, status;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luacnn.cli");
  status = cli_docall(L, 1, 1, 0);
  if (status == LUA_OK) {
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    lua_pushstring(L, argv[1]);
    lua_createtable(L, argc - 2, 0);
    for (i = 2; i < argc; i++) {
      lua_pushstring(L, argv[i]);
      lua_rawseti(L, -2, i - 1);
    }
    status = cli_docall(L, 2, 1, 0);
  }
  if (cli_report(L, status) != LUA_OK) return EXIT_FAILURE;
  if (lua_isinteger(L, -1)) return (int)lua_tointeger(L, -1);
  return (lua_isnil(L, -1) || lua_toboolean(L, -1)) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- main ------------------------------------------------------------------------ */

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  struct options o;
  int bad = collect_args(argc, argv, &o);
  if (bad) {
    char msg[256];
    if (argv[bad][1] == 'e' || argv[bad][1] == 'l')
      snprintf(msg, sizeof msg, "'%.40s' needs an argument", argv[bad]);
    else
      snprintf(msg, sizeof msg, "unrecognized option '%.40s'", argv[bad]);
    cli_message(msg);
    usage(stderr);
    return 0;
  }
  if (o.help) { usage(stdout); lua_pushboolean(L, 1); return 1; }
  luaL_checkversion(L);
  if (o.ignore_env) {                      /* luaL_openlibs looks at this */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  preload_core(L);
  set_lib_path(L, o.ignore_env);
  if (o.warnings) lua_warning(L, "@on", 0);
  if (o.version) print_version();

  if (argc > 1 && o.script == 1 && strcmp(argv[1], "kernel") == 0 && access("kernel", F_OK) != 0) {
    create_arg_table(L, argv, argc, 1);   /* the Jupyter kernel (kernel.c) */
    exit_status = cli_kernel_main(L, argc, argv);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (argc > 1 && o.script == 1 && is_command(argv[1])) {
    create_arg_table(L, argv, argc, 1);
    exit_status = run_command(L, argv, argc);
    lua_pushboolean(L, 1);
    return 1;
  }
  create_arg_table(L, argv, argc, o.script);
  set_lazy_lc(L);   /* `lc` in scripts, -e statements and the REPL alike */
  if (!run_options(L, argv, o.script ? o.script : argc)) return 0;
  if (o.script && !run_script(L, argv, argc, o.script)) return 0;
  if (o.interactive || (o.script == 0 && !o.has_e && !o.version))
    cli_repl(L);
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  cli_default_openmp_spin(argv);
  if (argc > 1 && (strcmp(argv[1], "--nproc") == 0 || strncmp(argv[1], "--nproc=", 8) == 0))
    return cli_nproc_main(argc, argv);
  lua_State *L = luaL_newstate();
  int status, ok;
  if (L == NULL) {
    cli_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  ok = lua_toboolean(L, -1);
  cli_report(L, status);
  lua_close(L);
  if (was_interrupted) return 130;
  if (status != LUA_OK || !ok) return EXIT_FAILURE;
  return exit_status;
}
