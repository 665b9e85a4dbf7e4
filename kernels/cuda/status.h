/* How the CUDA kernels report failure. They never raise (kernels know nothing of the runtime's
 * errors, as on the CPU): every entry point that can fail returns an int status, which the
 * runtime turns into an error naming the op (lc_cuda_check_kernel, runtime/cuda/context.h).
 *   0                 success (LC_CUDA_OK)
 *   > 0               the cudaError_t of a failed launch or asynchronous call
 *   -1 .. -99         the op family's own codes (LC_BN_*, LC_IMAGE_* in kernels/common/)
 *   <= -100           the codes below, common to every family */
#ifndef LC_KERNELS_CUDA_STATUS_H
#define LC_KERNELS_CUDA_STATUS_H

enum {
  LC_CUDA_OK = 0,
  LC_CUDA_EDTYPE = -100,       /* a dtype the kernel has no instance for */
  LC_CUDA_EUNSUPPORTED = -101, /* a geometry the kernel does not handle (reduce: too many dims) */
  LC_CUDA_EWORKSPACE = -102,   /* the workspace the kernel needs was not given */
  LC_CUDA_ENOCLASSES = -103    /* cross-entropy over 0 classes */
};

/* Entry points return a status the caller must look at. */
#if defined(__GNUC__)
#define LC_CUDA_STATUS __attribute__((warn_unused_result)) int
#else
#define LC_CUDA_STATUS int
#endif

#endif
