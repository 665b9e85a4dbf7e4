/*
** `luacnn --nproc N script.lua args...`: a data-parallel run on this machine. Shorthand for
** `mpirun -np N luacnn script.lua args...` (docs/distributed.md), with what one machine wants:
** --oversubscribe when N exceeds the cores, no binding of ranks to cores (each rank runs its
** own OpenMP threads), OMP_NUM_THREADS = cores / N unless set, and --allow-run-as-root when
** run as root (containers).
*/
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The path of `name` on PATH, into buf; 0 when absent. Only an MPI build launches mpirun. */
static int __attribute__((unused)) find_on_path(const char *name, char *buf, size_t cap) {
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t len = end ? (size_t)(end - path) : strlen(path);
    if (len > 0 && (size_t)snprintf(buf, cap, "%.*s/%s", (int)len, path, name) < cap &&
        access(buf, X_OK) == 0)
      return 1;
    path += len + (end ? 1 : 0);
  }
  return 0;
}

int cli_nproc_main(int argc, char **argv) {
  /* argv[1] is --nproc N or --nproc=N */
  const char *value = NULL;
  int next;
  if (strncmp(argv[1], "--nproc=", 8) == 0) {
    value = argv[1] + 8;
    next = 2;
  } else {
    value = argc > 2 ? argv[2] : NULL;
    next = 3;
  }
  char *end = NULL;
  long n = value ? strtol(value, &end, 10) : 0;
  if (!value || !*value || *end || n < 1 || n > 4096) {
    fprintf(stderr, CLI_NAME ": --nproc needs a number of processes >= 1, got '%s'\n"
                    "usage: " CLI_NAME " --nproc N script.lua [args]\n", value ? value : "");
    return EXIT_FAILURE;
  }
  if (next >= argc) {
    fputs(CLI_NAME ": --nproc N needs a script to run (" CLI_NAME " --nproc N script.lua [args])\n",
          stderr);
    return EXIT_FAILURE;
  }
#ifndef LUACNN_WITH_MPI
  fputs(CLI_NAME ": --nproc: this luacnn was built without MPI (install libopenmpi-dev and "
                 "rebuild; `" CLI_NAME " --version` says what a build has)\n", stderr);
  return EXIT_FAILURE;
#else
  char mpirun[PATH_MAX];
  if (!find_on_path("mpirun", mpirun, sizeof mpirun)) {
    fputs(CLI_NAME ": --nproc needs mpirun on PATH, and none was found (Debian: apt-get install "
                   "openmpi-bin)\n", stderr);
    return EXIT_FAILURE;
  }
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    fprintf(stderr, CLI_NAME ": --nproc: cannot find this executable: %s\n", strerror(errno));
    return EXIT_FAILURE;
  }
  self[len] = '\0';
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (!getenv("OMP_NUM_THREADS")) {
    char threads[32];
    snprintf(threads, sizeof threads, "%ld", cores / n > 0 ? cores / n : 1);
    setenv("OMP_NUM_THREADS", threads, 1);
  }
  char **args = calloc((size_t)argc + 16, sizeof *args);
  if (!args) return EXIT_FAILURE;
  int k = 0;
  char count[32];
  snprintf(count, sizeof count, "%ld", n);
  args[k++] = mpirun;
  args[k++] = "-np";
  args[k++] = count;
  if (n > cores) args[k++] = "--oversubscribe";
  args[k++] = "--bind-to";
  args[k++] = "none";
  if (geteuid() == 0) args[k++] = "--allow-run-as-root";
  args[k++] = self;
  for (int i = next; i < argc; i++) args[k++] = argv[i];
  args[k] = NULL;
  execv(mpirun, args);
  fprintf(stderr, CLI_NAME ": --nproc: could not run %s: %s\n", mpirun, strerror(errno));
  free(args);
  return EXIT_FAILURE;
#endif
}
