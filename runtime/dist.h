/* Data-parallel collectives between processes (issue 14), over MPI when the build has it.
 *
 * MPI is initialised only for a process started by a launcher (mpirun/mpiexec, srun): a plain
 * `luacnn x.lua` never touches it. Without MPI, or with one process, every collective is a
 * no-op on a world of one. Ranks are 0-based, as MPI and Slurm number them.
 *
 * Every collective runs as a non-blocking MPI call polled until done, so a rank that died
 * turns into an error naming the op and the timeout (LUACNN_DIST_TIMEOUT seconds, default
 * 300) instead of a hang; after that the process cannot take part in collectives again and
 * leaves through MPI_Abort at exit, which stops the other ranks too. */
#ifndef LC_DIST_H
#define LC_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/tensor.h"

typedef enum { LC_DIST_SUM, LC_DIST_MEAN, LC_DIST_MAX, LC_DIST_MIN } lc_dist_op;

bool lc_dist_have_mpi(void);          /* the build has the MPI transport */
const char *lc_dist_launcher(void);   /* the launcher's environment variable seen, or NULL */
/* Initialises MPI when launched by a launcher; idempotent. Returns the world size. */
int lc_dist_init(void);
bool lc_dist_is_initialized(void);
int lc_dist_rank(void);               /* 0 when not initialised */
int lc_dist_world_size(void);         /* 1 when not initialised */
int lc_dist_local_rank(void);         /* rank among the processes of this machine */
double lc_dist_timeout(void);         /* seconds a collective may wait */

/* Tensors must be contiguous CPU float32, float64 or int64 (errors name op). */
void lc_dist_barrier(void);
void lc_dist_all_reduce(lc_tensor *t, lc_dist_op op);
void lc_dist_broadcast(lc_tensor *t, int src);
/* A new tensor of shape (world_size, t's shape...): rank r's t at index r. */
lc_tensor *lc_dist_all_gather(lc_tensor *t);

/* ---- gradient buckets for DistributedDataParallel ----
 * Parameters are grouped, in reverse order (backward produces the last layers' gradients
 * first), into buckets of about bucket_bytes and one dtype. While a reducer is armed, the
 * autograd engine tells it when a parameter's gradient is complete for this backward; once a
 * bucket's parameters are all complete, its gradients are packed and an MPI_Iallreduce starts,
 * overlapping with the rest of the backward pass. When the pass is over (or at
 * lc_dist_reducer_finish), it starts what is left, waits for all, writes the averages back
 * into each parameter's .grad, and disarms until the next arm (the next forward). */
typedef struct lc_dist_reducer lc_dist_reducer;
lc_dist_reducer *lc_dist_reducer_new(int n, lc_tensor *const *params, size_t bucket_bytes);
void lc_dist_reducer_free(lc_dist_reducer *r);
void lc_dist_reducer_arm(lc_dist_reducer *r);    /* before a forward/backward: a new iteration */
void lc_dist_reducer_finish(lc_dist_reducer *r); /* also called at the end of backward */
int lc_dist_reducer_buckets(const lc_dist_reducer *r);
/* Buckets whose reduction started during backward (not in finish) in the last iteration. */
int lc_dist_reducer_early(const lc_dist_reducer *r);

#endif
