/* Device dispatch: which lc_backend computes for a device. The one place that knows every
 * backend, so that a backend file knows only its own device: backend_cpu.c the CPU,
 * runtime/cuda/backend_cuda.c the GPU (absent from a build without CUDA). */
#include "runtime/backend.h"

#include "runtime/error.h"

#ifdef LUACNN_WITH_CUDA
const lc_backend *lc_backend_cuda_impl(void); /* runtime/cuda/backend_cuda.c */
#else
static const lc_backend *lc_backend_cuda_impl(void) { return NULL; }
#endif

const lc_backend *lc_backend_cuda(void) { return lc_backend_cuda_impl(); }

const lc_backend *lc_backend_for(lc_device device)
{
  if (device.type == LC_CPU) return lc_backend_cpu();
  const lc_backend *cuda = lc_backend_cuda();
#ifdef LUACNN_WITH_CUDA
  const char *why = "no device or driver";
#else
  const char *why = "luacnn was built without CUDA";
#endif
  if (!cuda) lc_error("cuda: this tensor is on a GPU, but no GPU is available (%s)", why);
  return cuda;
}
