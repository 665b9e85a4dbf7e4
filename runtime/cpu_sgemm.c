/* float32 matrix products on the CPU (see cpu_sgemm.h). */
#include "runtime/cpu_sgemm.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#ifdef LUACNN_WITH_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

static int use_dnnl = -1;

static int dnnl_wanted(void)
{
  if (use_dnnl < 0) {
#ifdef LUACNN_WITH_DNNL
    const char *e = getenv("LUACNN_CPU_GEMM");
    use_dnnl = !(e && !strcmp(e, "openblas"));
#else
    use_dnnl = 0;
#endif
  }
  return use_dnnl;
}

const char *lc_cpu_sgemm_library(void) { return dnnl_wanted() ? "oneDNN" : "OpenBLAS"; }

void lc_cpu_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float *c, int64_t ldc)
{
#ifdef LUACNN_WITH_DNNL
  if (dnnl_wanted() &&
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc) ==
          dnnl_success)
    return;
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
}
