#include "ckernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

/* sqrtf and logf without errno. C on Linux defaults to -fmath-errno, under which sqrtf is a call
   that may write errno, so AdamW's loop cannot be vectorised (no vsqrtps); the elementwise
   builtins are the same correctly rounded functions without errno. Their arguments here are never
   negative, so errno would not be set anyway. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_elementwise_sqrt) && __has_builtin(__builtin_elementwise_log)
#define TM_ELEMENTWISE_MATH 1
#endif
#endif

static inline float sqrt_no_errno(float x) {
#ifdef TM_ELEMENTWISE_MATH
    return __builtin_elementwise_sqrt(x);
#else
    return sqrtf(x);
#endif
}

static inline float log_no_errno(float x) {
#ifdef TM_ELEMENTWISE_MATH
    return __builtin_elementwise_log(x);
#else
    return logf(x);
#endif
}

static inline float as_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t as_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* e^x for x in [-87, 88] to within ~2 ulp (Cephes' single-precision polynomial): x = n·ln2 + r,
   n rounded by the 1.5·2^23 trick so it sits in t's low mantissa bits, then 2^n·e^r. */
static inline float exp_core(float x) {
    const float magic = 12582912.0f;
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t bits = ((uint32_t)((int32_t)as_bits(t) - 0x4B400000 + 127)) << 23;
    return p * as_float(bits);
}

/* Signed 1 − |tanh x| = 2/(e^{2|x|} + 1), the sign of x in its sign bit. */
static inline float tanh_complement(float x) {
    uint32_t bits = as_bits(x);
    float ax = as_float(bits & 0x7FFFFFFFu);
    ax = ax > 40.0f ? 40.0f : ax;
    float q = 2.0f / (exp_core(ax + ax) + 1.0f);
    return as_float(as_bits(q) | (bits & 0x80000000u));
}

/* ½(1 + tanh x) from a signed q. */
static inline float half_one_plus_tanh(float qs, float *q_out) {
    float q = as_float(as_bits(qs) & 0x7FFFFFFFu);
    *q_out = q;
    return (as_bits(qs) & 0x80000000u) ? 0.5f * q : 1.0f - 0.5f * q;
}

static const float gelu_scale = 0.7978845608028654f; /* sqrt(2/π) */

MULTIVERSION
void tm_gelu_forward(float *out, float *gate, const float *inp, long n) {
    if (gate) {
        for (long i = 0; i < n; i++) {
            float x = inp[i];
            float qs = tanh_complement(gelu_scale * (x + 0.044715f * x * x * x));
            float q;
            out[i] = x * half_one_plus_tanh(qs, &q);
            gate[i] = qs;
        }
    } else {
        for (long i = 0; i < n; i++) {
            float x = inp[i];
            float qs = tanh_complement(gelu_scale * (x + 0.044715f * x * x * x));
            float q;
            out[i] = x * half_one_plus_tanh(qs, &q);
        }
    }
}

static inline float gelu_derivative(float x, float qs) {
    float q;
    float half = half_one_plus_tanh(qs, &q);
    return half + (x * 0.5f) * (q * (2.0f - q)) * (gelu_scale * (1.0f + 0.134145f * x * x));
}

MULTIVERSION
void tm_gelu_backward(float *dinp, const float *inp, const float *gate, const float *dout, long n, int accumulate) {
    /* Loops without branches inside, so each vectorises; the model calls it in place
       (dinp == dout), which gets its own loop (a runtime overlap check would refuse to vectorise). */
    if (gate && !accumulate && dinp == dout) {
        for (long i = 0; i < n; i++) dinp[i] *= gelu_derivative(inp[i], gate[i]);
    } else if (gate && accumulate) {
        for (long i = 0; i < n; i++) dinp[i] += gelu_derivative(inp[i], gate[i]) * dout[i];
    } else if (gate) {
        for (long i = 0; i < n; i++) dinp[i] = gelu_derivative(inp[i], gate[i]) * dout[i];
    } else if (accumulate) {
        for (long i = 0; i < n; i++) {
            float x = inp[i];
            dinp[i] += gelu_derivative(x, tanh_complement(gelu_scale * (x + 0.044715f * x * x * x))) * dout[i];
        }
    } else {
        for (long i = 0; i < n; i++) {
            float x = inp[i];
            dinp[i] = gelu_derivative(x, tanh_complement(gelu_scale * (x + 0.044715f * x * x * x))) * dout[i];
        }
    }
}

#define LANES 16

static inline float clamped_exp(float x) { return exp_core(x < -87.0f ? -87.0f : x); }

MULTIVERSION
float tm_cross_entropy_row(float *row, long V, long Vp, long target, float dloss, int with_grad) {
    /* LANES partial maxima and sums, combined in a fixed order: the result does not depend on
       which vector width the CPU runs. */
    float lane[LANES];
    for (int j = 0; j < LANES; j++) lane[j] = -INFINITY;
    long i = 0;
    for (; i + LANES <= V; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] = row[i + j] > lane[j] ? row[i + j] : lane[j];
    float mx = -INFINITY;
    for (int j = 0; j < LANES; j++) mx = lane[j] > mx ? lane[j] : mx;
    for (; i < V; i++) mx = row[i] > mx ? row[i] : mx;
    float t = row[target] - mx;

    for (int j = 0; j < LANES; j++) lane[j] = 0.0f;
    i = 0;
    if (with_grad) {
        for (; i + LANES <= V; i += LANES)
            for (int j = 0; j < LANES; j++) {
                float e = clamped_exp(row[i + j] - mx);
                row[i + j] = e;
                lane[j] += e;
            }
    } else {
        for (; i + LANES <= V; i += LANES)
            for (int j = 0; j < LANES; j++) lane[j] += clamped_exp(row[i + j] - mx);
    }
    float sum = 0.0f;
    for (int j = 0; j < LANES; j++) sum += lane[j];
    for (; i < V; i++) {
        float e = clamped_exp(row[i] - mx);
        if (with_grad) row[i] = e;
        sum += e;
    }
    float loss = log_no_errno(sum) - t;
    if (with_grad) {
        float k = dloss / sum;
        for (long j = 0; j < V; j++) row[j] *= k;
        row[target] -= dloss;
        for (long j = V; j < Vp; j++) row[j] = 0.0f;
    }
    return loss;
}

MULTIVERSION
void tm_adamw(float *params, const float *grads, float *m, float *v, long n, float lr, float beta1,
              float beta2, float eps, float weight_decay, float ibc1, float ibc2, float gradient_scale) {
    float ob1 = 1.0f - beta1, ob2 = 1.0f - beta2;
    for (long i = 0; i < n; i++) {
        float g = grads[i] * gradient_scale;
        float mi = beta1 * m[i] + ob1 * g;
        float vi = beta2 * v[i] + ob2 * g * g;
        float p = params[i];
        m[i] = mi;
        v[i] = vi;
        params[i] = p - lr * ((mi * ibc1) / (sqrt_no_errno(vi * ibc2) + eps) + weight_decay * p);
    }
}

MULTIVERSION
void tm_causal_softmax_row(float *row, long n, long row_length) {
    float lane[LANES];
    for (int j = 0; j < LANES; j++) lane[j] = -INFINITY;
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] = row[i + j] > lane[j] ? row[i + j] : lane[j];
    float mx = -INFINITY;
    for (int j = 0; j < LANES; j++) mx = lane[j] > mx ? lane[j] : mx;
    for (; i < n; i++) mx = row[i] > mx ? row[i] : mx;
    for (int j = 0; j < LANES; j++) lane[j] = 0.0f;
    i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float e = clamped_exp(row[i + j] - mx);
            row[i + j] = e;
            lane[j] += e;
        }
    float sum = 0.0f;
    for (int j = 0; j < LANES; j++) sum += lane[j];
    for (; i < n; i++) {
        float e = clamped_exp(row[i] - mx);
        row[i] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (long j = 0; j < n; j++) row[j] *= inv;
    for (long j = n; j < row_length; j++) row[j] = 0.0f;
}
