/* Collectives between processes over MPI, and DistributedDataParallel's gradient buckets
 * (runtime/dist.h). Built with LUACNN_WITH_MPI when CMake finds MPI; without it the same
 * functions work on a world of one process. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "runtime/autograd.h"
#include "runtime/error.h"

#ifdef LUACNN_WITH_MPI
#include <mpi.h>
#endif

static const char *const launcher_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE",
                                            "PMI_RANK", "SLURM_STEP_ID", NULL};

const char *lc_dist_launcher(void)
{
  for (int i = 0; launcher_vars[i]; i++) {
    const char *v = getenv(launcher_vars[i]);
    if (v && *v) {
      /* a Slurm step of one task is not a distributed run (nor is a batch script) */
      if (strcmp(launcher_vars[i], "SLURM_STEP_ID") == 0) {
        const char *n = getenv("SLURM_NTASKS");
        if (!n || atoi(n) <= 1) continue;
      }
      return launcher_vars[i];
    }
  }
  return NULL;
}

double lc_dist_timeout(void)
{
  const char *v = getenv("LUACNN_DIST_TIMEOUT");
  double t = v && *v ? strtod(v, NULL) : 0;
  return t > 0 ? t : 300.0;
}

static void check_tensor(const char *op, const lc_tensor *t)
{
  if (t->storage->device.type != LC_CPU)
    lc_error("%s: the tensor must be on the CPU (the MPI transport has no GPU path yet), got %s",
             op, t->storage->device.type == LC_CUDA ? "a CUDA tensor" : "another device");
  if (t->dtype != LC_FLOAT32 && t->dtype != LC_FLOAT64 && t->dtype != LC_INT64)
    lc_error("%s: expected a float32, float64 or int64 tensor, got %s", op,
             lc_dtype_name(t->dtype));
  if (!lc_is_contiguous(t))
    lc_error("%s: expected a contiguous tensor (call :contiguous() first), got shape %s with "
             "other strides", op, lc_shape_str(t));
}

static void check_op(const char *op, const lc_tensor *t, lc_dist_op how)
{
  if (how == LC_DIST_MEAN && t->dtype == LC_INT64)
    lc_error("%s: op 'mean' needs a float32 or float64 tensor, got int64 (use 'sum')", op);
}

#ifndef LUACNN_WITH_MPI

bool lc_dist_have_mpi(void) { return false; }
int lc_dist_init(void) { return 1; }
bool lc_dist_is_initialized(void) { return false; }
int lc_dist_rank(void) { return 0; }
int lc_dist_world_size(void) { return 1; }
int lc_dist_local_rank(void) { return 0; }
void lc_dist_barrier(void) {}
void lc_dist_all_reduce(lc_tensor *t, lc_dist_op op)
{
  check_tensor("all_reduce", t);
  check_op("all_reduce", t, op);
}
void lc_dist_broadcast(lc_tensor *t, int src)
{
  check_tensor("broadcast", t);
  if (src != 0) lc_error("broadcast: src must be a rank in [0, 0] (one process), got %d", src);
}

#else /* LUACNN_WITH_MPI */

bool lc_dist_have_mpi(void) { return true; }

static struct {
  bool initialized, broken, oversubscribed;
  MPI_Comm comm;
  int rank, size, local_rank;
} world = {.size = 1};

static void finalize_at_exit(void)
{
  if (!world.initialized) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  /* a collective timed out: MPI's state is unknown, and finalize could wait forever on
   * the dead rank; abort stops every rank of the job instead */
  if (world.broken) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Comm_free(&world.comm);
  MPI_Finalize();
}

static _Noreturn void mpi_fail(const char *op, int code)
{
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", code);
  world.broken = true;
  lc_error("%s: MPI failed on rank %d of %d: %s (a rank may have died; this process stops "
           "at exit and takes the others with it)", op, world.rank, world.size, text);
}

int lc_dist_init(void)
{
  if (world.initialized || !lc_dist_launcher()) return world.size;
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      lc_error("dist.init: MPI_Init failed (launched by %s)", lc_dist_launcher());
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rc = MPI_Comm_dup(MPI_COMM_WORLD, &world.comm);
  if (rc != MPI_SUCCESS) mpi_fail("dist.init", rc);
  MPI_Comm_set_errhandler(world.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(world.comm, &world.rank);
  MPI_Comm_size(world.comm, &world.size);
  MPI_Comm local;
  if (MPI_Comm_split_type(world.comm, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL, &local) ==
      MPI_SUCCESS) {
    int local_size = 1;
    MPI_Comm_rank(local, &world.local_rank);
    MPI_Comm_size(local, &local_size);
    MPI_Comm_free(&local);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    world.oversubscribed = cores > 0 && local_size > cores;
  }
  world.initialized = true;
  atexit(finalize_at_exit);
  return world.size;
}

bool lc_dist_is_initialized(void) { return world.initialized; }
int lc_dist_rank(void) { return world.rank; }
int lc_dist_world_size(void) { return world.size; }
int lc_dist_local_rank(void) { return world.local_rank; }

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check_usable(const char *op)
{
  if (world.broken)
    lc_error("%s: an earlier collective failed or timed out on rank %d; the process group is "
             "unusable (restart the job)", op, world.rank);
}

/* Polls n requests until all are complete; past the timeout, raises naming op. A
 * non-blocking collective advances only inside MPI calls, so for its first 20 ms the loop
 * tests back to back, as a blocking MPI call would, yielding the core between tests when this
 * machine has more ranks than cores (as Open MPI does then); a longer wait (a slow or dead
 * rank) sleeps 0.2 ms between tests. */
static void wait_all(const char *op, int n, MPI_Request *reqs)
{
  double timeout = lc_dist_timeout(), start = now(), t = start;
  long polls = 0;
  for (;;) {
    int done = 0;
    int rc = MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) mpi_fail(op, rc);
    if (done) return;
    if ((++polls & 63) == 0) t = now();
    if (t - start < 0.02) {
      if (world.oversubscribed) sched_yield();
    } else {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
      t = now();
    }
    if (t - start > timeout) {
      world.broken = true;
      lc_error("%s: rank %d waited %.0f s (LUACNN_DIST_TIMEOUT) for the other %d rank(s) and "
               "got no answer: a rank died or is stuck; stopping this job", op, world.rank,
               timeout, world.size - 1);
    }
  }
}

static MPI_Datatype mpi_type(lc_dtype d)
{
  return d == LC_FLOAT32 ? MPI_FLOAT : d == LC_FLOAT64 ? MPI_DOUBLE : MPI_INT64_T;
}

static MPI_Op mpi_op(lc_dist_op op)
{
  return op == LC_DIST_MAX ? MPI_MAX : op == LC_DIST_MIN ? MPI_MIN : MPI_SUM;
}

static void divide(lc_tensor *t, double by)
{
  int64_t n = lc_numel(t);
  if (t->dtype == LC_FLOAT32) {
    float *p = lc_data(t), f = (float)(1.0 / by);
    for (int64_t i = 0; i < n; i++) p[i] *= f;
  } else if (t->dtype == LC_FLOAT64) {
    double *p = lc_data(t);
    for (int64_t i = 0; i < n; i++) p[i] /= by;
  }
}

void lc_dist_barrier(void)
{
  if (world.size <= 1) return;
  check_usable("barrier");
  MPI_Request req;
  int rc = MPI_Ibarrier(world.comm, &req);
  if (rc != MPI_SUCCESS) mpi_fail("barrier", rc);
  wait_all("barrier", 1, &req);
}

/* MPI counts are ints: big tensors go in chunks. */
#define CHUNK ((int64_t)1 << 30)

static void all_reduce_raw(const char *op, void *data, int64_t n, lc_dtype dtype, MPI_Op how,
                           int *nreq, MPI_Request *reqs)
{
  size_t esize = lc_dtype_size(dtype);
  for (int64_t at = 0; at < n; at += CHUNK) {
    int count = (int)(n - at < CHUNK ? n - at : CHUNK);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)data + at * esize, count, mpi_type(dtype), how,
                            world.comm, &reqs[(*nreq)++]);
    if (rc != MPI_SUCCESS) mpi_fail(op, rc);
  }
}

void lc_dist_all_reduce(lc_tensor *t, lc_dist_op op)
{
  check_tensor("all_reduce", t);
  check_op("all_reduce", t, op);
  if (world.size <= 1) return;
  check_usable("all_reduce");
  int64_t n = lc_numel(t);
  int nreq = 0;
  MPI_Request reqs[64];
  if (n / CHUNK >= 63) lc_error("all_reduce: tensor of %lld elements is too large", (long long)n);
  all_reduce_raw("all_reduce", lc_data(t), n, t->dtype, mpi_op(op), &nreq, reqs);
  wait_all("all_reduce", nreq, reqs);
  if (op == LC_DIST_MEAN) divide(t, world.size);
  lc_bump_version(t);
}

void lc_dist_broadcast(lc_tensor *t, int src)
{
  check_tensor("broadcast", t);
  if (src < 0 || src >= world.size)
    lc_error("broadcast: src must be a rank in [0, %d], got %d", world.size - 1, src);
  if (world.size <= 1) return;
  check_usable("broadcast");
  int64_t n = lc_numel(t);
  size_t esize = lc_dtype_size(t->dtype);
  for (int64_t at = 0; at < n; at += CHUNK) {
    int count = (int)(n - at < CHUNK ? n - at : CHUNK);
    MPI_Request req;
    int rc = MPI_Ibcast((char *)lc_data(t) + at * esize, count, mpi_type(t->dtype), src,
                        world.comm, &req);
    if (rc != MPI_SUCCESS) mpi_fail("broadcast", rc);
    wait_all("broadcast", 1, &req);
  }
  lc_bump_version(t);
}

#endif /* LUACNN_WITH_MPI */

lc_tensor *lc_dist_all_gather(lc_tensor *t)
{
  check_tensor("all_gather", t);
  int size = lc_dist_world_size();
  int64_t sizes[LC_MAX_DIMS];
  if (t->ndim + 1 > LC_MAX_DIMS)
    lc_error("all_gather: the tensor has %d dims, at most %d are allowed", t->ndim, LC_MAX_DIMS - 1);
  sizes[0] = size;
  for (int d = 0; d < t->ndim; d++) sizes[d + 1] = t->sizes[d];
  int64_t n = lc_numel(t);
#ifdef LUACNN_WITH_MPI
  if (size > 1) {
    check_usable("all_gather");
    /* every rank must send the same count: the largest and the smallest count first */
    int64_t agreed[2] = {n, -n};
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, agreed, 2, MPI_INT64_T, MPI_MAX, world.comm, &req);
    if (rc != MPI_SUCCESS) mpi_fail("all_gather", rc);
    wait_all("all_gather", 1, &req);
    if (agreed[0] != n || -agreed[1] != n)
      lc_error("all_gather: every rank must give a tensor of the same size; rank %d has %lld "
               "elements, others between %lld and %lld", world.rank, (long long)n,
               (long long)-agreed[1], (long long)agreed[0]);
    if (n > INT32_MAX) lc_error("all_gather: tensor of %lld elements is too large", (long long)n);
  }
#endif
  lc_tensor *out = lc_empty(t->ndim + 1, sizes, t->dtype, LC_DEVICE_CPU);
  if (size <= 1) {
    memcpy(lc_data(out), lc_data(t), (size_t)n * lc_dtype_size(t->dtype));
    return out;
  }
#ifdef LUACNN_WITH_MPI
  MPI_Request req;
  int rc = MPI_Iallgather(lc_data(t), (int)n, mpi_type(t->dtype), lc_data(out), (int)n,
                          mpi_type(t->dtype), world.comm, &req);
  if (rc != MPI_SUCCESS) mpi_fail("all_gather", rc);
  wait_all("all_gather", 1, &req);
#endif
  return out;
}

/* ---- gradient buckets ---- */

typedef struct {
  int first, count;   /* params[order[first .. first+count-1]] */
  int pending;        /* parameters whose gradient this iteration has not completed yet */
  lc_dtype dtype;
  int64_t numel;
  void *buffer;
  bool launched, early;
#ifdef LUACNN_WITH_MPI
  int nreq;
  MPI_Request reqs[8];
#endif
} bucket;

struct lc_dist_reducer {
  int n;
  lc_tensor **params;  /* retained */
  int *bucket_of;      /* per parameter */
  int *order;          /* parameter indices, bucket by bucket */
  int nbuckets;
  bucket *buckets;
  bool armed, touched; /* armed for this iteration; its backward has reached it */
  int early;
  lc_dist_reducer *next; /* the armed reducers, for the hook */
};

static lc_dist_reducer *armed_list;

lc_dist_reducer *lc_dist_reducer_new(int n, lc_tensor *const *params, size_t bucket_bytes)
{
  for (int i = 0; i < n; i++) {
    check_tensor("DistributedDataParallel", params[i]);
    if (params[i]->dtype == LC_INT64)
      lc_error("DistributedDataParallel: parameter %d is int64; only float32 and float64 "
               "parameters have gradients to average", i + 1);
  }
  lc_dist_reducer *r = calloc(1, sizeof *r);
  if (!r) lc_error("DistributedDataParallel: out of memory");
  r->n = n;
  r->params = calloc((size_t)n + 1, sizeof *r->params);
  r->bucket_of = calloc((size_t)n + 1, sizeof *r->bucket_of);
  r->order = calloc((size_t)n + 1, sizeof *r->order);
  r->buckets = calloc((size_t)n + 1, sizeof *r->buckets);
  if (!r->params || !r->bucket_of || !r->order || !r->buckets) {
    lc_dist_reducer_free(r);
    lc_error("DistributedDataParallel: out of memory");
  }
  for (int i = 0; i < n; i++) r->params[i] = lc_tensor_retain(params[i]);
  /* reverse order: the last layers' gradients are ready first */
  bucket *b = NULL;
  size_t bytes = 0;
  for (int k = 0; k < n; k++) {
    int i = n - 1 - k;
    lc_tensor *p = params[i];
    size_t pb = (size_t)lc_numel(p) * lc_dtype_size(p->dtype);
    if (!b || b->dtype != p->dtype || (bytes > 0 && bytes + pb > bucket_bytes)) {
      b = &r->buckets[r->nbuckets++];
      b->first = k;
      b->dtype = p->dtype;
      bytes = 0;
    }
    r->order[k] = i;
    r->bucket_of[i] = (int)(b - r->buckets);
    b->count++;
    b->numel += lc_numel(p);
    bytes += pb;
  }
  for (int j = 0; j < r->nbuckets; j++) {
    bucket *bj = &r->buckets[j];
    bj->buffer = malloc((size_t)(bj->numel > 0 ? bj->numel : 1) * lc_dtype_size(bj->dtype));
    if (!bj->buffer) {
      lc_dist_reducer_free(r);
      lc_error("DistributedDataParallel: out of memory for the gradient buckets");
    }
  }
  return r;
}

static void disarm(lc_dist_reducer *r)
{
  for (lc_dist_reducer **p = &armed_list; *p; p = &(*p)->next)
    if (*p == r) {
      *p = r->next;
      break;
    }
  r->next = NULL;
  r->armed = false;
  if (!armed_list) lc_set_grad_ready_hook(NULL, NULL);
}

static void wait_bucket(bucket *b)
{
#ifdef LUACNN_WITH_MPI
  if (b->nreq) wait_all("DistributedDataParallel: all_reduce of gradients", b->nreq, b->reqs);
  b->nreq = 0;
#else
  (void)b;
#endif
}

void lc_dist_reducer_free(lc_dist_reducer *r)
{
  if (!r) return;
  if (r->armed) disarm(r);
  for (int j = 0; j < r->nbuckets; j++) {
#ifdef LUACNN_WITH_MPI
    /* a request in flight still writes into the buffer: leak it rather than free under MPI */
    if (r->buckets[j].nreq) continue;
#endif
    free(r->buckets[j].buffer);
  }
  for (int i = 0; i < r->n && r->params; i++) lc_tensor_release(r->params[i]);
  free(r->params);
  free(r->bucket_of);
  free(r->order);
  free(r->buckets);
  free(r);
}

int lc_dist_reducer_buckets(const lc_dist_reducer *r) { return r->nbuckets; }
int lc_dist_reducer_early(const lc_dist_reducer *r) { return r->early; }

/* Packs a bucket's gradients (zeros for a parameter without one) and starts its reduction. */
static void launch(lc_dist_reducer *r, bucket *b, bool early)
{
  const char *op = "DistributedDataParallel";
  if (b->launched) wait_bucket(b); /* a second backward before the step: reduce the new sum */
  size_t esize = lc_dtype_size(b->dtype);
  char *at = b->buffer;
  for (int k = b->first; k < b->first + b->count; k++) {
    lc_tensor *p = r->params[r->order[k]];
    size_t bytes = (size_t)lc_numel(p) * esize;
    lc_tensor *g = p->grad;
    if (!g) memset(at, 0, bytes);
    else {
      if (g->dtype != b->dtype || !lc_is_contiguous(g) || g->storage->device.type != LC_CPU ||
          lc_numel(g) != lc_numel(p))
        lc_error("%s: parameter %d's gradient must be a contiguous CPU %s tensor of shape %s",
                 op, r->order[k] + 1, lc_dtype_name(b->dtype), lc_shape_str(p));
      memcpy(at, lc_data(g), bytes);
    }
    at += bytes;
  }
  b->launched = true;
  if (early) {
    if (!b->early) r->early++;
    b->early = true;
  }
#ifdef LUACNN_WITH_MPI
  if (world.size > 1) {
    check_usable(op);
    b->nreq = 0;
    all_reduce_raw("DistributedDataParallel: all_reduce of gradients", b->buffer, b->numel,
                   b->dtype, MPI_SUM, &b->nreq, b->reqs);
    /* nudge the requests already in flight along while backward goes on */
    for (int j = 0; j < r->nbuckets; j++) {
      bucket *o = &r->buckets[j];
      int done = 0;
      if (o->nreq && MPI_Testall(o->nreq, o->reqs, &done, MPI_STATUSES_IGNORE) == MPI_SUCCESS &&
          done)
        o->nreq = 0;
    }
  }
#endif
}

static void on_grad_ready(lc_tensor *leaf, void *ctx)
{
  (void)ctx;
  if (!leaf) { /* the backward pass is over: the reducers it reached finish */
    lc_dist_reducer *r = armed_list;
    while (r) {
      lc_dist_reducer *next = r->next;
      if (r->touched) lc_dist_reducer_finish(r);
      r = next;
    }
    return;
  }
  for (lc_dist_reducer *r = armed_list; r; r = r->next)
    for (int i = 0; i < r->n; i++)
      if (r->params[i] == leaf) {
        r->touched = true;
        bucket *b = &r->buckets[r->bucket_of[i]];
        if (b->pending > 0 && --b->pending == 0) launch(r, b, true);
        break;
      }
}

void lc_dist_reducer_arm(lc_dist_reducer *r)
{
  for (int j = 0; j < r->nbuckets; j++) {
    bucket *b = &r->buckets[j];
    wait_bucket(b); /* the previous iteration's, if it was never finished */
    b->pending = b->count;
    b->launched = b->early = false;
  }
  r->early = 0;
  r->touched = false;
  if (!r->armed) {
    r->armed = true;
    r->next = armed_list;
    armed_list = r;
    lc_set_grad_ready_hook(on_grad_ready, NULL);
  }
}

void lc_dist_reducer_finish(lc_dist_reducer *r)
{
  int size = lc_dist_world_size();
  r->touched = false;
  for (int j = 0; j < r->nbuckets; j++) {
    bucket *b = &r->buckets[j];
    /* parameters that got no gradient this pass (unused), or backward never ran */
    if (!b->launched) launch(r, b, false);
  }
  if (r->armed) disarm(r);
  for (int j = 0; j < r->nbuckets; j++) {
    bucket *b = &r->buckets[j];
    wait_bucket(b);
    size_t esize = lc_dtype_size(b->dtype);
    char *at = b->buffer;
    for (int k = b->first; k < b->first + b->count; k++) {
      lc_tensor *p = r->params[r->order[k]];
      int64_t n = lc_numel(p);
      if (!p->grad) p->grad = lc_unhold(lc_empty(p->ndim, p->sizes, p->dtype, LC_DEVICE_CPU));
      if (b->dtype == LC_FLOAT32) {
        float *g = lc_data(p->grad), f = 1.0f / (float)size;
        const float *s = (const float *)at;
        for (int64_t i = 0; i < n; i++) g[i] = s[i] * f;
      } else {
        double *g = lc_data(p->grad);
        const double *s = (const double *)at;
        for (int64_t i = 0; i < n; i++) g[i] = s[i] / size;
      }
      lc_bump_version(p->grad);
      at += (size_t)n * esize;
    }
    b->launched = false;
  }
}
