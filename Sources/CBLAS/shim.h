#ifndef TOKENMILL_CBLAS_SHIM_H
#define TOKENMILL_CBLAS_SHIM_H
#include <cblas.h>

/* OpenBLAS exports these but does not declare them in cblas.h. They re-run the
   kernel selection (used after setting OPENBLAS_CORETYPE, see GPT/BLAS.swift). */
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

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
