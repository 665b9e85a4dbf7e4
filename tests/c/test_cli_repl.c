/*
** The REPL driven through a pseudo-terminal, as a person types: the banner,
** expressions printed, multi-line input, errors that do not end the session,
** tab completion of globals and fields, Ctrl-C at the prompt and in running
** code, Ctrl-D, and the history file.
*/
#include "test_cli.h"

#include <fcntl.h>
#include <pty.h>
#include <termios.h>

static int master = -1;
static pid_t child;
static char screen[1 << 17];   /* everything the REPL wrote */
static size_t screen_len, seen;  /* seen: how far expect() has consumed */

static void start_repl(const char *exe, const char *home) {
  struct winsize ws = {40, 120, 0, 0};
  child = forkpty(&master, NULL, NULL, &ws);
  if (child < 0) {
    perror("forkpty");
    exit(77);
  }
  if (child == 0) {
    setenv("HOME", home, 1);
    setenv("TERM", "xterm", 1);
    setenv("LC_ALL", "C.UTF-8", 1);
    unsetenv("LUACNN_LIB");
    if (chdir(home) != 0) _exit(126);
    execl(exe, exe, (char *)NULL);
    _exit(127);
  }
}

static void pump(int timeout_ms) {
  struct pollfd fd = {master, POLLIN, 0};
  char buf[4096];
  ssize_t n;
  if (poll(&fd, 1, timeout_ms) <= 0) return;
  n = read(master, buf, sizeof buf);
  if (n <= 0) return;
  if (screen_len + (size_t)n >= sizeof screen) n = (ssize_t)(sizeof screen - 1 - screen_len);
  memcpy(screen + screen_len, buf, (size_t)n);
  screen_len += (size_t)n;
  screen[screen_len] = '\0';
}

/* Prints output with control characters made visible. */
static void show(const char *text) {
  for (; *text; text++) {
    unsigned char c = (unsigned char)*text;
    if (c == '\n') fputs("\\n\n", stderr);
    else if (c < 32 || c == 127) fprintf(stderr, "\\x%02x", c);
    else fputc(c, stderr);
  }
  fputc('\n', stderr);
}

/* Waits for `want` in the output after what was consumed so far, consumes up
   to its end, and returns where the consumed text started (or NULL). */
static const char *expect(const char *want, double timeout) {
  double end = now_s() + timeout;
  const char *from = screen + seen;
  for (;;) {
    const char *hit = strstr(screen + seen, want);
    if (hit) {
      seen = (size_t)(hit - screen) + strlen(want);
      return from;
    }
    if (now_s() > end) break;
    pump(50);
  }
  fprintf(stderr, "expected \"%s\"; the REPL wrote after the last match:\n", want);
  show(screen + seen);
  return NULL;
}

static void type(const char *keys) {
  if (write(master, keys, strlen(keys)) < 0) perror("write");
}

/* Waits until the line editor has the terminal in raw mode. libedit shows
   the prompt a moment before it switches, and keys that come in between are
   edited by the terminal's line discipline instead. */
static void wait_editor(void) {
  static int slave = -1;
  double end = now_s() + 5;
  struct termios t;
  if (slave < 0) slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  while (slave >= 0 && now_s() < end && tcgetattr(slave, &t) == 0 && (t.c_lflag & ICANON))
    usleep(1000);
}

/* Types at the prompt. */
static void type_line(const char *keys) {
  wait_editor();
  type(keys);
}

/* Types a line and checks that `want` follows; returns the text written
   from the typing up to `want` (NUL-terminated copy), or NULL. */
static char *answer(const char *line, const char *want) {
  static char text[8192];
  const char *from;
  size_t start = seen;
  type_line(line);
  from = expect(want, 10);
  if (from == NULL) return NULL;
  snprintf(text, sizeof text, "%.*s", (int)(seen - start), screen + start);
  return text;
}

#define EXPECT(line, want) CHECK(answer(line, want) != NULL, "typed %s", #line)

int main(void) {
  const char *exe = luacnn_exe();
  const char *home = make_temp_dir();
  const char *src = getenv("LUACNN_SOURCE");
  char *text, *hist;
  int status;

  start_repl(exe, home);

  /* banner: versions and devices, then the prompt */
  CHECK(expect("luacnn ", 20) != NULL, "no banner");
  CHECK(expect("(Lua 5.4", 5) != NULL, "banner without the Lua version");
  text = answer("", "> ");
  CHECK(text && (strstr(text, "CPU only: ") || strstr(text, "cuda:") ||
                 strstr(text, "not loaded")),
        "banner names no devices: [%s]", text ? text : "");
  /* one short device line, no raw CUDA error code; and how to leave */
  CHECK(text && !strstr(text, "cudaError") && !strstr(text, "only ("),
        "banner quotes a CUDA error: [%s]", text ? text : "");
  CHECK(text && strstr(text, "exit() or Ctrl-D leaves"), "banner says not how to leave: [%s]",
        text ? text : "");

  /* expressions print their values; statements print nothing */
  EXPECT("1+1\r", "\r\n2\r\n> ");
  EXPECT("x = 12345\r", "> ");
  EXPECT("x * 2, 'two'\r", "24690\ttwo\r\n> ");
  EXPECT("nil\r", "nil\r\n> ");
  /* UTF-8 typed in is one character to the editor, its bytes to Lua */
  EXPECT("#'\xc3\xa9\xe2\x82\xac'\r", "\r\n5\r\n> ");
  EXPECT("'x\xc3\xa9\x7f\x7fy'\r", "\r\ny\r\n> ");    /* two backspaces */

  /* a function over several lines, with the continuation prompt */
  EXPECT("function sq(n)\r", ">> ");
  EXPECT("  return n * n\r", ">> ");
  EXPECT("end\r", "> ");
  EXPECT("sq(111)\r", "12321\r\n> ");

  /* errors are shown, the session goes on; the traceback leaves out the
     REPL's own frames */
  EXPECT("error('kaput')\r", "stdin:1: kaput\r\n> ");
  EXPECT("function boom() local t = nil; return t.x end\r", "> ");
  text = answer("boom()\r", "> ");
  CHECK(text && strstr(text, "attempt to index a nil value (local 't')") &&
            strstr(text, "in function 'boom'") && !strstr(text, "[C]: in ?") &&
            !strstr(text, "main chunk"),
        "error in a function: [%s]", text ? text : "");
  EXPECT("sq(7) + 1\r", "50\r\n> ");

  /* tab completion: a global, a field, a method through a metatable */
  EXPECT("str\t.rep('ab', 3)\r", "ababab\r\n> ");
  EXPECT("string.for\t('%d', 4200 + 42)\r", "4242\r\n> ");
  EXPECT("tbl = {alpha = 31337, beta = 2}\r", "> ");
  EXPECT("tbl.alp\t + 1\r", "31338\r\n> ");
  EXPECT("s = 'hello'\r", "> ");
  EXPECT("s:upp\t()\r", "HELLO\r\n> ");

  /* Ctrl-C at the prompt drops the line, in a continuation too */
  type_line("junk_global = 1");
  usleep(100000);
  EXPECT("\003", "> ");
  EXPECT("junk_global\r", "nil\r\n> ");
  EXPECT("for i = 1, 3 do\r", ">> ");
  EXPECT("\003", "> ");
  EXPECT("'fresh' .. 'start'\r", "freshstart\r\n> ");

  /* Ctrl-C in running code raises "interrupted!" there */
  type_line("while true do end\r");
  usleep(300000);
  type("\003");                      /* not at a prompt: no wait_editor */
  CHECK(expect("interrupted!", 10) != NULL, "Ctrl-C did not stop the loop");
  EXPECT("\r", "> ");
  EXPECT("1000 + 234\r", "1234\r\n> ");

  /* `lc` is luacnn, when the library is in the tree */
  if (src) {
    char init[600];
    snprintf(init, sizeof init, "%s/lib/luacnn/init.lua", src);
    if (access(init, R_OK) == 0) {
      EXPECT("type(lc), type(lc.tensor)\r", "table\tfunction\r\n> ");
      EXPECT("lc.ten\t == lc.tensor\r", "true\r\n> ");
      /* "zer" has two completions, zeros and zeros_like: their common part */
      EXPECT("lc.zer\t(2, 3):numel()\r", "6\r\n> ");
      /* tensor methods come from a C __index: listed through __fields */
      EXPECT("t = lc.tensor{{1, 2}, {3, 4}}\r", "> ");
      EXPECT("t:nume\t() * 100\r", "400\r\n> ");
      /* x.shape is a field the hook answers: completed too, and callable */
      EXPECT("t:shap\t()[1] + t.sha\t[2]\r", "4\r\n> ");
      /* a misspelt name says what was meant */
      text = answer("lc.nn.Conv2D(1, 1, 1)\r", "> ");
      CHECK(text && strstr(text, "did you mean 'Conv2d'?"), "no suggestion: [%s]", text ? text : "");
      text = answer("t\r", "> ");
      CHECK(text && strstr(text, "[3., 4.]"), "a tensor prints its values: [%s]",
            text ? text : "");
    } else {
      fprintf(stderr, "note: %s missing, `lc` not checked\n", init);
    }
  }

  /* Ctrl-D leaves cleanly; the history keeps what was typed */
  type_line("\004");
  status = wait_exit(child, 10);
  CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "Ctrl-D: wait status %d", status);
  hist = read_file(temp_path(".luacnn_history"));
  CHECK(hist && strstr(hist, "sq(111)") && strstr(hist, "1000\\040+\\040234"),
        "history file: [%s]", hist ? hist : "(none)");
  CHECK(hist && !strstr(hist, "junk_global\\040="), "an interrupted line went to history");
  free(hist);

  close(master);

  /* exit() leaves with status 0, as a newcomer tries; quit(3) with its status; bare `quit` */
  {
    static const char *const ways[] = {"exit()\r", "quit(3)\r", "quit\r"};
    static const int codes[] = {0, 3, 0};
    int k;
    for (k = 0; k < 3; k++) {
      screen_len = seen = 0;
      screen[0] = '\0';
      start_repl(exe, home);
      CHECK(expect("> ", 20) != NULL, "no prompt (%s)", ways[k]);
      type_line(ways[k]);
      status = wait_exit(child, 10);
      CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == codes[k],
            "%s: wait status %d", ways[k], status);
      close(master);
    }
  }
  remove_tree(temp_dir);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("test_cli_repl: all passed\n");
  return failures ? 1 : 0;
}
