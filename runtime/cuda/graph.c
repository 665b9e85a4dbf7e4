/* CUDA graphs: a whole training step captured once and replayed with one launch.
 *
 * Small networks spend their time launching kernels, not in them; a replay costs one
 * launch. The captured work allocates from a pool private to the graph (the allocator's
 * capture key), so replays find their buffers where the capture left them and eager work
 * never reuses them. What a graph fixes at capture: every pointer (inputs are refreshed
 * by copying into the same tensors), every scalar argument (learning rate, random seed
 * offsets), and the algorithm choices. Host synchronisation (item(), printing a tensor)
 * inside a capture is an error. */
#include <stdlib.h>

#include "runtime/cuda/allocator.h"
#include "runtime/cuda/context.h"
#include "runtime/cuda/cuda.h"

struct lc_cuda_graph {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  char key; /* its address keys the graph's private memory pool */
  bool capturing;
};

lc_cuda_graph *lc_cuda_graph_begin(void)
{
  lc_cuda_context *c = lc_cuda_ctx();
  if (c->capturing) lc_error("cuda.graph: a capture is already running (captures do not nest)");
  /* Handles made lazily would otherwise be created inside the capture. */
  lc_cuda_cublas();
  lc_cuda_cudnn();
  lc_cuda_check(cudaStreamSynchronize(c->stream), "cuda.graph", "cudaStreamSynchronize");
  lc_cuda_graph *g = calloc(1, sizeof *g);
  if (!g) lc_error("cuda.graph: out of memory");
  /* Relaxed: the allocator may cudaMalloc a new segment for the private pool mid-capture. */
  cudaError_t err = cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeRelaxed);
  if (err != cudaSuccess) {
    free(g);
    lc_cuda_check(err, "cuda.graph", "cudaStreamBeginCapture");
  }
  lc_cuda_allocator_set_capture_key(c->allocator, (cudaStream_t)&g->key);
  g->capturing = true;
  c->capturing = g;
  return g;
}

static void stop_capture(lc_cuda_graph *g, cudaGraph_t *out)
{
  lc_cuda_context *c = lc_cuda_ctx();
  lc_cuda_allocator_set_capture_key(c->allocator, NULL);
  g->capturing = false;
  c->capturing = NULL;
  cudaError_t err = cudaStreamEndCapture(c->stream, out);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    *out = NULL;
  }
}

void lc_cuda_graph_end(lc_cuda_graph *g)
{
  cudaGraph_t graph = NULL;
  stop_capture(g, &graph);
  if (!graph)
    lc_error("cuda.graph: the capture was invalidated (an operation in the captured function "
             "cannot be captured: a host synchronisation such as item(), or a copy from the host)");
  g->graph = graph;
  lc_cuda_check(cudaGraphInstantiate(&g->exec, graph, 0), "cuda.graph", "cudaGraphInstantiate");
}

void lc_cuda_graph_abort(lc_cuda_graph *g)
{
  if (!g->capturing) return;
  cudaGraph_t graph = NULL;
  stop_capture(g, &graph);
  if (graph) cudaGraphDestroy(graph);
}

void lc_cuda_graph_replay(lc_cuda_graph *g)
{
  if (!g->exec) lc_error("cuda.graph: replay of a graph whose capture did not finish");
  lc_cuda_check(cudaGraphLaunch(g->exec, lc_cuda_stream()), "cuda.graph", "cudaGraphLaunch");
}

/* The graph's private blocks stay reserved: tensors made during the capture may still be
 * alive and would hand them back later. */
void lc_cuda_graph_free(lc_cuda_graph *g)
{
  if (!g) return;
  lc_cuda_graph_abort(g);
  if (g->exec) cudaGraphExecDestroy(g->exec);
  if (g->graph) cudaGraphDestroy(g->graph);
  free(g);
}
