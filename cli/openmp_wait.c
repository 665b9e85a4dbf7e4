/*
** How long luacnn's OpenMP threads spin at a barrier before they sleep.
**
** libgomp's default, when the user sets nothing, spins 300,000 rounds before sleeping. On a
** quiet machine that suits the many short parallel loops of a CPU training step; on a busy
** one (a notebook beside a sweep, a build, a second run) the spinning threads take the cores
** from the threads they wait for, and LeNet's epoch ran up to 8x slower. Sleeping at once
** (OMP_WAIT_POLICY=PASSIVE) is robust but costs the quiet machine a fifth of LeNet's step.
** 10,000 rounds keeps the quiet figure and most of the robustness (bench/RESULTS.md, "OpenMP
** waiting"), so it is luacnn's default; OMP_WAIT_POLICY or GOMP_SPINCOUNT set by the user wins.
**
** libgomp reads its environment in its initialiser, before main and before anything main could
** set (the C library resets the environment after .preinit_array runs), so the executable
** starts itself again, once, with the setting in its environment. That repeats the loading of
** the shared libraries: 50 ms with CUDA's linked in, a few without. The marker
** LUACNN_SET_GOMP_SPINCOUNT tells a benchmark to run its PyTorch peer with PyTorch's default.
*/
#define _XOPEN_SOURCE 700

#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_SPINCOUNT "10000"

void cli_default_openmp_spin(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("GOMP_SPINCOUNT", DEFAULT_SPINCOUNT, 0) != 0) return;
  if (setenv("LUACNN_SET_GOMP_SPINCOUNT", "1", 1) != 0) return;
  execv("/proc/self/exe", argv);  /* returns only on failure: then run with libgomp's default */
}
