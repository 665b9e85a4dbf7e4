/*
** The luacnn executable: what main.c, repl.c and completion.c share.
*/
#ifndef LUACNN_CLI_H
#define LUACNN_CLI_H

#include <lua.h>

#define CLI_NAME "luacnn"

/* main.c */
void cli_message(const char *msg);          /* "luacnn: msg" on stderr */
int cli_report(lua_State *L, int status);   /* print the error on top, if any */
int cli_docall(lua_State *L, int narg, int nres, int short_traceback);

/* repl.c: read-eval-print until end of input; editing when stdin is a tty */
void cli_repl(lua_State *L);

/* completion.c: tab completion of globals and fields for libedit */
void cli_completion_init(lua_State *L);
/* collect(expr, prefix, methods) as a lua_CFunction: the set of names completing `prefix`
   after `expr` ("" for globals) and '.' or, when methods is true, ':' (used by kernel.c) */
int cli_completion_collect(lua_State *L);

/* kernel.c: `luacnn kernel ...` (the Jupyter kernel); the exit status */
int cli_kernel_main(lua_State *L, int argc, char **argv);
/* kernel_install.c: `luacnn kernel install ...` (argv[2] is "install") */
int cli_kernel_install(int argc, char **argv);

/* launch.c: `luacnn --nproc N script [args]` execs mpirun; returns only on failure */
int cli_nproc_main(int argc, char **argv);

/* openmp_wait.c: restart with luacnn's OpenMP spin count unless the user set one */
void cli_default_openmp_spin(char **argv);

#endif
