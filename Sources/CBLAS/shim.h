#ifndef TOKENMILL_CBLAS_SHIM_H
#define TOKENMILL_CBLAS_SHIM_H
#include <cblas.h>

/* OpenBLAS exports these but does not declare them in cblas.h. They re-run the
   kernel selection (used after setting OPENBLAS_CORETYPE, see GPT/BLAS.swift). */
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);
#endif
