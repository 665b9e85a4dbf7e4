/*
** The luacnn executable run as a shell runs it: script arguments and `arg`,
** -e, -v, -h, stdin scripts, exit codes and error messages, Ctrl-C in a
** running script, subcommand dispatch, busted under luacnn, and the REPL fed
** through a pipe.
*/
#include "test_cli.h"

struct result {
  int status;           /* wait status, -1 on timeout */
  char out[16384];
  char err[16384];
};

static void append(char *buf, size_t cap, size_t *len, const char *data, size_t n) {
  if (*len + n >= cap) n = cap - 1 - *len;
  memcpy(buf + *len, data, n);
  *len += n;
  buf[*len] = '\0';
}

struct proc {
  pid_t pid;
  int in, out, err;
};

/* Starts argv[0] with pipes on its standard streams; `env` is a list of
   "NAME=value" (set) or "NAME" (unset), NULL-terminated, or NULL. */
static struct proc start(char *const argv[], const char *const env[]) {
  int pin[2], pout[2], perr[2];
  struct proc p;
  if (pipe(pin) || pipe(pout) || pipe(perr)) {
    perror("pipe");
    exit(1);
  }
  p.pid = fork();
  if (p.pid == 0) {
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    close(pin[1]);
    close(pout[0]);
    close(perr[0]);
    for (; env && *env; env++) {
      char name[128];
      const char *eq = strchr(*env, '=');
      if (eq == NULL) {
        unsetenv(*env);
        continue;
      }
      snprintf(name, sizeof name, "%.*s", (int)(eq - *env), *env);
      setenv(name, eq + 1, 1);
    }
    if (chdir(temp_dir) != 0) _exit(126);
    execv(argv[0], argv);
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  p.in = pin[1];
  p.out = pout[0];
  p.err = perr[0];
  return p;
}

/* Reads both outputs until `want` shows in stdout (when given) or both end. */
static void drain(struct proc *p, struct result *r, size_t *nout, size_t *nerr,
                  const char *want, double timeout) {
  double end = now_s() + timeout;
  while (now_s() < end && (p->out >= 0 || p->err >= 0)) {
    struct pollfd fds[2] = {{p->out, POLLIN, 0}, {p->err, POLLIN, 0}};
    char buf[4096];
    int i;
    if (want && strstr(r->out, want)) return;
    if (poll(fds, 2, 100) <= 0) continue;
    for (i = 0; i < 2; i++) {
      int *fd = i == 0 ? &p->out : &p->err;
      ssize_t n;
      if (*fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      n = read(*fd, buf, sizeof buf);
      if (n <= 0) {
        close(*fd);
        *fd = -1;
      } else if (i == 0) {
        append(r->out, sizeof r->out, nout, buf, (size_t)n);
      } else {
        append(r->err, sizeof r->err, nerr, buf, (size_t)n);
      }
    }
  }
}

/* Runs the command to its end with `input` on stdin. */
static void run(struct result *r, char *const argv[], const char *input,
                const char *const env[]) {
  struct proc p = start(argv, env);
  size_t nout = 0, nerr = 0;
  memset(r, 0, sizeof *r);
  if (input && write(p.in, input, strlen(input)) < 0) perror("write");
  close(p.in);
  drain(&p, r, &nout, &nerr, NULL, 30);
  if (p.out >= 0) close(p.out);
  if (p.err >= 0) close(p.err);
  r->status = wait_exit(p.pid, 10);
}

static int exit_code(const struct result *r) {
  return r->status >= 0 && WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

#define EXE (char *)exe

static void test_script_args(const char *exe) {
  struct result r;
  const char *script = temp_path("args.lua");
  write_file(script,
             "print(arg[0], arg[1], arg[2], #arg)\n"
             "print(select('#', ...), ...)\n"
             "print(arg[-1] == os.getenv('EXPECT_EXE'))\n");
  {
    char *argv[] = {EXE, (char *)script, "a b", "c", NULL};
    char env[600];
    const char *envs[] = {env, NULL};
    snprintf(env, sizeof env, "EXPECT_EXE=%s", exe);
    run(&r, argv, NULL, envs);
  }
  CHECK(exit_code(&r) == 0, "script: exit %d, stderr %s", exit_code(&r), r.err);
  {
    char want[1024];
    snprintf(want, sizeof want, "%s\ta b\tc\t2\n2\ta b\tc\ntrue\n", script);
    CHECK(strcmp(r.out, want) == 0, "script args: got [%s] want [%s]", r.out, want);
  }
}

static void test_e_and_version(const char *exe) {
  struct result r;
  char *e_argv[] = {EXE, "-e", "x = 6 * 7", "-e", "print(x, type(lc))", NULL};
  char *v_argv[] = {EXE, "-v", NULL};
  char *h_argv[] = {EXE, "-h", NULL};
  char *bad_argv[] = {EXE, "-q", NULL};
  char *err_argv[] = {EXE, "-e", "local t = nil; return t.x", NULL};

  run(&r, e_argv, NULL, NULL);
  CHECK(exit_code(&r) == 0, "-e: exit %d, stderr %s", exit_code(&r), r.err);
  CHECK(strncmp(r.out, "42\t", 3) == 0, "-e: got [%s]", r.out);
  /* `lc` is luacnn in -e when the library loads; nil (reported once) when not */
  CHECK(strcmp(r.out, "42\ttable\n") == 0 ||
            (strcmp(r.out, "42\tnil\n") == 0 && strstr(r.err, "could not load luacnn")),
        "-e lc: got [%s] [%s]", r.out, r.err);

  run(&r, v_argv, NULL, NULL);
  CHECK(exit_code(&r) == 0 && strncmp(r.out, "luacnn ", 7) == 0 && strstr(r.out, "Lua 5.4"),
        "-v: exit %d, [%s]", exit_code(&r), r.out);

  run(&r, h_argv, NULL, NULL);
  CHECK(exit_code(&r) == 0 && strstr(r.out, "usage: luacnn"), "-h: [%s]", r.out);

  run(&r, bad_argv, NULL, NULL);
  CHECK(exit_code(&r) == 1 && strstr(r.err, "luacnn: unrecognized option '-q'") &&
            strstr(r.err, "usage:"),
        "bad option: exit %d, [%s]", exit_code(&r), r.err);

  run(&r, err_argv, NULL, NULL);
  CHECK(exit_code(&r) == 1, "-e error: exit %d", exit_code(&r));
  CHECK(strncmp(r.err, "luacnn: (command line):1: attempt to index a nil value", 54) == 0,
        "-e error: [%s]", r.err);
}

static void test_errors(const char *exe) {
  struct result r;
  const char *boom = temp_path("boom.lua");
  const char *syntax = temp_path("syntax.lua");
  const char *exits = temp_path("exits.lua");
  write_file(boom,
             "local function inner() error('kaput') end\n"
             "local function outer() inner() end\n"
             "outer()\n");
  write_file(syntax, "x = = 1\n");
  write_file(exits, "io.write('bye')\nos.exit(3)\n");
  {
    char *argv[] = {EXE, (char *)boom, NULL};
    run(&r, argv, NULL, NULL);
  }
  CHECK(exit_code(&r) == 1, "error: exit %d", exit_code(&r));
  {
    char want[600];
    snprintf(want, sizeof want, "luacnn: %s:1: kaput\nstack traceback:", boom);
    CHECK(strncmp(r.err, want, strlen(want)) == 0, "error: [%s]", r.err);
    CHECK(strstr(r.err, "in function 'inner'") || strstr(r.err, "in local 'inner'") ||
              strstr(r.err, "in upvalue 'inner'"),
          "traceback names inner: [%s]", r.err);
  }
  {
    char *argv[] = {EXE, (char *)syntax, NULL};
    run(&r, argv, NULL, NULL);
  }
  CHECK(exit_code(&r) == 1 && strstr(r.err, "luacnn: ") && strstr(r.err, "syntax.lua:1:"),
        "syntax error: exit %d, [%s]", exit_code(&r), r.err);
  {
    char *argv[] = {EXE, "no-such-file.lua", NULL};
    run(&r, argv, NULL, NULL);
  }
  CHECK(exit_code(&r) == 1 && strstr(r.err, "luacnn: cannot open no-such-file.lua"),
        "missing script: exit %d, [%s]", exit_code(&r), r.err);
  {
    char *argv[] = {EXE, (char *)exits, NULL};
    run(&r, argv, NULL, NULL);
  }
  CHECK(exit_code(&r) == 3 && strcmp(r.out, "bye") == 0, "os.exit(3): exit %d [%s]",
        exit_code(&r), r.out);
}

static void test_stdin(const char *exe) {
  struct result r;
  char *argv[] = {EXE, "-", "x", "y", NULL};
  char *repl_argv[] = {EXE, NULL};
  run(&r, argv, "print(#arg, ...)\nprint(arg[0])\n", NULL);
  CHECK(exit_code(&r) == 0 && strcmp(r.out, "2\tx\ty\n-\n") == 0, "stdin script: [%s] [%s]",
        r.out, r.err);

  /* No terminal: the REPL without prompts, values printed, errors on stderr */
  run(&r, repl_argv,
      "1 + 1\nlocal a = 5\nfunction sq(n)\n  return n * n\nend\nsq(12), 'x'\n"
      "error('oops')\nsq(nil)\n'still here'\n",
      NULL);
  CHECK(exit_code(&r) == 0, "piped REPL: exit %d", exit_code(&r));
  CHECK(strcmp(r.out, "2\n144\tx\nstill here\n") == 0, "piped REPL out: [%s]", r.out);
  CHECK(strstr(r.err, "stdin:1: oops\n") && strstr(r.err, "attempt to perform arithmetic") &&
            strstr(r.err, "in function 'sq'") && !strstr(r.err, "[C]: in ?"),
        "piped REPL errors: [%s]", r.err);

  /* -i: the script, then the REPL in the script's globals */
  {
    const char *script = temp_path("pre.lua");
    char *i_argv[] = {EXE, "-i", (char *)script, "z", NULL};
    write_file(script, "w = 7\nprint('script ran', ...)\n");
    run(&r, i_argv, "w * 6\narg[1]\n", NULL);
    CHECK(exit_code(&r) == 0 && strcmp(r.out, "script ran\tz\n42\nz\n") == 0,
          "-i: exit %d [%s] [%s]", exit_code(&r), r.out, r.err);
  }
}

/* Ctrl-C in a script raises "interrupted!" where it runs; a second one kills. */
static void test_interrupt(const char *exe) {
  const char *script = temp_path("loop.lua");
  char *argv[] = {EXE, (char *)script, NULL};
  struct result r;
  size_t nout = 0, nerr = 0;
  struct proc p;
  int status;
  write_file(script,
             "io.stdout:setvbuf('no')\n"
             "local ok, err = pcall(function() print('ready'); while true do end end)\n"
             "print('caught: ' .. tostring(err))\n"
             "print('again'); while true do end\n");
  memset(&r, 0, sizeof r);
  p = start(argv, NULL);
  close(p.in);
  drain(&p, &r, &nout, &nerr, "ready\n", 10);
  CHECK(strstr(r.out, "ready\n") != NULL, "interrupt: script did not start: [%s]", r.err);
  kill(p.pid, SIGINT);
  drain(&p, &r, &nout, &nerr, "again\n", 10);
  CHECK(strstr(r.out, "caught: interrupted!\nagain\n") != NULL, "interrupt: [%s] [%s]", r.out,
        r.err);
  kill(p.pid, SIGINT);
  status = wait_exit(p.pid, 10);
  CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
        "second Ctrl-C should kill (status %d)", status);
  if (p.out >= 0) close(p.out);
  if (p.err >= 0) close(p.err);
}

/* `luacnn <command>` goes to luacnn.cli.<command>.main; the library is taken
   from LUACNN_LIB, which here holds the real luacnn/cli/init.lua and a fake
   'sweep' command, but no 'compare'. */
static void test_subcommands(const char *exe) {
  const char *src = getenv("LUACNN_SOURCE");
  char init[600], lib_env[600];
  const char *env[] = {lib_env, NULL};
  struct result r;
  char *sweep_argv[] = {EXE, "sweep", "a.lua", "--grid", "lr=0.1,0.3", NULL};
  char *compare_argv[] = {EXE, "compare", "runs/a", NULL};
  char *help_argv[] = {EXE, "help", NULL};
  char *nofile_argv[] = {EXE, "nosuchscript", NULL};
  if (src == NULL) {
    fprintf(stderr, "note: LUACNN_SOURCE unset, subcommand tests skipped\n");
    return;
  }
  snprintf(init, sizeof init, "%s/lib/luacnn/cli/init.lua", src);
  mkdir(temp_path("lib"), 0755);
  mkdir(temp_path("lib/luacnn"), 0755);
  mkdir(temp_path("lib/luacnn/cli"), 0755);
  if (symlink(init, temp_path("lib/luacnn/cli/init.lua")) != 0) perror("symlink");
  write_file(temp_path("lib/luacnn/cli/sweep.lua"),
             "return {main = function(args)\n"
             "  print('sweep: ' .. table.concat(args, '|') .. ' #' .. #args)\n"
             "  return 4\nend}\n");
  snprintf(lib_env, sizeof lib_env, "LUACNN_LIB=%s", temp_path("lib"));

  run(&r, sweep_argv, NULL, env);
  CHECK(exit_code(&r) == 4 && strcmp(r.out, "sweep: a.lua|--grid|lr=0.1,0.3 #3\n") == 0,
        "sweep dispatch: exit %d [%s] [%s]", exit_code(&r), r.out, r.err);

  run(&r, compare_argv, NULL, env);
  CHECK(exit_code(&r) == 1, "missing command: exit %d", exit_code(&r));
  CHECK(strcmp(r.err, "luacnn: the 'compare' command is not available: module "
                      "'luacnn.cli.compare' was not found in package.path\n") == 0,
        "missing command: [%s]", r.err);

  run(&r, help_argv, NULL, env);
  CHECK(exit_code(&r) == 0 && strstr(r.out, "sweep ") && strstr(r.out, "compare ") &&
            strstr(r.out, "data ") && strstr(r.out, "(not installed)"),
        "help: [%s] [%s]", r.out, r.err);

  /* a word that is no command is a script name, as in lua */
  run(&r, nofile_argv, NULL, env);
  CHECK(exit_code(&r) == 1 && strstr(r.err, "cannot open nosuchscript"), "not a command: [%s]",
        r.err);

  /* a file named like a command wins over the command */
  write_file(temp_path("sweep"), "print('the file')\n");
  run(&r, sweep_argv, NULL, env);
  CHECK(exit_code(&r) == 0 && strcmp(r.out, "the file\n") == 0, "file over command: [%s] [%s]",
        r.out, r.err);
}

/* Our Lua tests run as `luacnn /usr/bin/busted spec.lua`: Debian's Lua
   modules (and busted's C modules) must load in the executable. */
static void test_busted(const char *exe) {
  const char *busted = "/usr/bin/busted";
  const char *spec = temp_path("tiny_spec.lua");
  char *argv[] = {EXE, (char *)busted, "--output=TAP", (char *)spec, NULL};
  struct result r;
  if (access(busted, R_OK) != 0) {
    fprintf(stderr, "note: busted not installed, skipped\n");
    return;
  }
  write_file(spec,
             "describe('luacnn', function()\n"
             "  it('runs busted', function() assert.are.equal(4, 2 + 2) end)\n"
             "  it('loads lfs', function() assert.is_table(require('lfs')) end)\n"
             "end)\n");
  run(&r, argv, NULL, NULL);
  CHECK(exit_code(&r) == 0 && strstr(r.out, "ok 1 - luacnn runs busted") &&
            strstr(r.out, "ok 2 - luacnn loads lfs"),
        "busted: exit %d [%s] [%s]", exit_code(&r), r.out, r.err);
}

int main(void) {
  const char *exe = luacnn_exe();
  make_temp_dir();
  test_script_args(exe);
  test_e_and_version(exe);
  test_errors(exe);
  test_stdin(exe);
  test_interrupt(exe);
  test_subcommands(exe);
  test_busted(exe);
  remove_tree(temp_dir);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("test_cli_args: all passed\n");
  return failures ? 1 : 0;
}
