/*
** Helpers shared by the tests that drive the luacnn executable (test_cli_*.c):
** finding it, temporary files, checks that count failures.
*/
#ifndef TEST_CLI_H
#define TEST_CLI_H

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (!(cond)) {                                              \
      failures++;                                               \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
      fprintf(stderr, __VA_ARGS__);                             \
      fputc('\n', stderr);                                      \
    }                                                           \
  } while (0)

/* The executable under test (ctest sets LUACNN_EXE); skip without it. */
static const char *luacnn_exe(void) {
  const char *exe = getenv("LUACNN_EXE");
  if (exe == NULL || access(exe, X_OK) != 0) {
    fprintf(stderr, "skipped: LUACNN_EXE does not name an executable\n");
    exit(77);
  }
  return exe;
}

static double now_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static char temp_dir[64];

static const char *make_temp_dir(void) {
  snprintf(temp_dir, sizeof temp_dir, "/tmp/luacnn-cli-XXXXXX");
  if (mkdtemp(temp_dir) == NULL) {
    perror("mkdtemp");
    exit(1);
  }
  return temp_dir;
}

/* A path under the temporary directory (one of a few rotating buffers). */
static const char *temp_path(const char *fmt, ...) {
  static char bufs[8][512];
  static int k;
  char name[256];
  char *p = bufs[k++ % 8];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  snprintf(p, 512, "%s/%s", temp_dir, name);
  return p;
}

__attribute__((unused)) static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

__attribute__((unused)) static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = calloc(1, (size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
  fclose(f);
  return buf;
}

static void remove_tree(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (strncmp(dir, "/tmp/luacnn-cli-", 16) == 0 && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}

/* Waits up to `timeout` seconds for pid; returns its wait status, or -1
   after killing it. */
static int wait_exit(pid_t pid, double timeout) {
  double end = now_s() + timeout;
  int status;
  while (now_s() < end) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

#endif
