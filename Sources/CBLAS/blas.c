// OpenBLAS through dlopen: see include/tm_blas.h for why.
#include "tm_blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef char *(*corename_fn)(void);
typedef void (*set_threads_fn)(int);
typedef void (*void_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *failure;
static char failure_text[512];
static sgemm_fn p_sgemm;
static sgemv_fn p_sgemv;
static corename_fn p_corename;
static set_threads_fn p_set_threads;
static void_fn p_dynamic_init, p_dynamic_quit;

static void *symbol(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p && !failure) {
        snprintf(failure_text, sizeof failure_text, "libopenblas.so.0 has no %s", name);
        failure = failure_text;
    }
    return p;
}

static void load(void) {
    // One thread: the model runs products on its own threads. Restored after the load, so
    // that child processes see the user's environment.
    const char *user = getenv("OPENBLAS_NUM_THREADS");
    char *saved = user ? strdup(user) : NULL;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (saved) {
        setenv("OPENBLAS_NUM_THREADS", saved, 1);
        free(saved);
    } else {
        unsetenv("OPENBLAS_NUM_THREADS");
    }
    if (!lib) {
        const char *why = dlerror();
        snprintf(failure_text, sizeof failure_text,
                 "cannot load OpenBLAS (libopenblas.so.0): %s; install it (Debian: apt-get install libopenblas0)",
                 why ? why : "unknown error");
        failure = failure_text;
        return;
    }
    p_sgemm = (sgemm_fn)symbol(lib, "cblas_sgemm");
    p_sgemv = (sgemv_fn)symbol(lib, "cblas_sgemv");
    p_corename = (corename_fn)symbol(lib, "openblas_get_corename");
    p_set_threads = (set_threads_fn)symbol(lib, "openblas_set_num_threads");
    p_dynamic_init = (void_fn)symbol(lib, "gotoblas_dynamic_init");
    p_dynamic_quit = (void_fn)symbol(lib, "gotoblas_dynamic_quit");
}

const char *tm_blas_load(void) {
    pthread_once(&once, load);
    return failure;
}

static void require(void) {
    const char *why = tm_blas_load();
    if (why) {
        fprintf(stderr, "tokenmill: %s\n", why);
        abort();
    }
}

void tm_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (__builtin_expect(p_sgemm == NULL, 0)) require();
    p_sgemm(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void tm_sgemv(int order, int trans, int m, int n, float alpha, const float *a, int lda,
              const float *x, int incx, float beta, float *y, int incy) {
    if (__builtin_expect(p_sgemv == NULL, 0)) require();
    p_sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

const char *tm_openblas_corename(void) {
    require();
    return p_corename();
}

void tm_openblas_set_num_threads(int threads) {
    require();
    p_set_threads(threads);
}

void tm_openblas_reselect(void) {
    require();
    p_dynamic_quit();
    p_dynamic_init();
}
