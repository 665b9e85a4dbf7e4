/* CUDA, cuBLAS, cuDNN and kernel statuses turned into lc_error (declared in context.h). Apart
 * from context.c, which the allocator it creates calls back otherwise: everything in
 * runtime/cuda/ may check a status, and this file calls only lc_error. */
#include "kernels/cuda/status.h"
#include "runtime/cuda/context.h"
#include "runtime/error.h"

void lc_cuda_check(cudaError_t err, const char *op, const char *call)
{
  if (err == cudaSuccess) return;
  (void)cudaGetLastError(); /* clear it, so the next call does not report it again */
  lc_error("%s: %s failed: %s (%s)", op, call, cudaGetErrorString(err), cudaGetErrorName(err));
}

void lc_cuda_check_kernel(int status, const char *op)
{
  if (status == LC_CUDA_OK) return;
  if (status > 0) {
    cudaError_t err = (cudaError_t)status;
    lc_error("%s: CUDA kernel failed: %s (%s)", op, cudaGetErrorString(err), cudaGetErrorName(err));
  }
  switch (status) {
  case LC_CUDA_EDTYPE: lc_error("%s: the CUDA kernel has no instance for this dtype", op);
  case LC_CUDA_EUNSUPPORTED: lc_error("%s: this geometry is not supported on cuda", op);
  case LC_CUDA_EWORKSPACE: lc_error("%s: the CUDA kernel's workspace was not given", op);
  case LC_CUDA_ENOCLASSES: lc_error("%s: no classes (logits have 0 columns)", op);
  default: lc_error("%s: the CUDA kernel failed (code %d)", op, status);
  }
}

void lc_cuda_check_cublas(cublasStatus_t status, const char *op, const char *call)
{
  if (status == CUBLAS_STATUS_SUCCESS) return;
  lc_error("%s: %s failed: %s (%s)", op, call, cublasGetStatusString(status),
           cublasGetStatusName(status));
}

void lc_cuda_check_cudnn(cudnnStatus_t status, const char *op, const char *call)
{
  if (status == CUDNN_STATUS_SUCCESS) return;
  char detail[256] = "";
  cudnnGetLastErrorString(detail, sizeof detail);
  lc_error("%s: %s failed: %s%s%s", op, call, cudnnGetErrorString(status),
           detail[0] ? ": " : "", detail);
}
