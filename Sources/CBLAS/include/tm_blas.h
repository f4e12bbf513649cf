#ifndef TOKENMILL_BLAS_H
#define TOKENMILL_BLAS_H
/* OpenBLAS, loaded with dlopen the first time the model needs it (blas.c).

   Linking it would load it with every command: its constructor picks the kernel and starts a
   thread pool whose threads spin for a while, which costs CPU time to `shard`, `encode` and
   the rest that never multiply a matrix. Loaded on demand, it starts with OPENBLAS_NUM_THREADS=1
   (the model runs products on its own threads), so it starts no pool at all. */

enum {
    TM_BLAS_ROW_MAJOR = 101, /* CblasRowMajor */
    TM_BLAS_NO_TRANS = 111,  /* CblasNoTrans */
    TM_BLAS_TRANS = 112      /* CblasTrans */
};

/* Loads OpenBLAS once (thread-safe). NULL on success, else why it failed. */
const char *tm_blas_load(void);

/* cblas_sgemm / cblas_sgemv. Call tm_blas_load first (they abort if it failed). */
void tm_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void tm_sgemv(int order, int trans, int m, int n, float alpha, const float *a, int lda,
              const float *x, int incx, float beta, float *y, int incy);

/* openblas_get_corename and openblas_set_num_threads. */
const char *tm_openblas_corename(void);
void tm_openblas_set_num_threads(int threads);

/* Re-runs OpenBLAS's kernel selection (gotoblas_dynamic_quit + gotoblas_dynamic_init, which
   OpenBLAS exports without declaring), for after OPENBLAS_CORETYPE was set. */
void tm_openblas_reselect(void);

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* 1 when the CPU and the OS support AVX-512 F, BW, DQ and VL (the instruction sets of
   OpenBLAS's SkylakeX kernels), else 0. Reads cpuid leaf 7 and checks with xgetbv that the
   OS saves the ZMM/opmask state. Always 0 off x86. */
static inline int tm_cpu_has_avx512_skx(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0;                 /* OSXSAVE */
    unsigned int xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    if ((xlo & 0xE6u) != 0xE6u) return 0;            /* XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned int f = 1u << 16, dq = 1u << 17, bw = 1u << 30, vl = 1u << 31;
    return (b & f) && (b & dq) && (b & bw) && (b & vl) ? 1 : 0;
#else
    return 0;
#endif
}
#endif
