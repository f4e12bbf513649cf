#ifndef TOKENMILL_CKERNELS_H
#define TOKENMILL_CKERNELS_H
// Element-wise GPT kernels in C, compiled for several x86 vector widths (AVX-512, AVX2+FMA,
// baseline SSE2) and picked at load time for the CPU at hand (GCC/clang `target_clones`).
// Swift cannot ask for wider vectors per function, and a `-target-cpu` for the whole binary
// would stop it running on older CPUs. Their naive twins are in GPT/ReferenceKernels.swift, and
// the kernel tests compare the two on random inputs.

/// out[i] = gelu(inp[i]) (tanh form); gate[i] (if not NULL) = the signed 1 − |tanh u| the
/// backward pass reuses.
void tm_gelu_forward(float *out, float *gate, const float *inp, long n);

/// dinp[i] (+)= gelu'(inp[i]) · dout[i]; `gate` from the forward pass, or NULL to recompute.
void tm_gelu_backward(float *dinp, const float *inp, const float *gate, const float *dout, long n, int accumulate);

/// One row of softmax cross-entropy over `V` logits: returns the loss of `target`; when
/// `with_grad`, turns the row into dloss · (softmax − onehot) and zeroes the padding up to `Vp`.
float tm_cross_entropy_row(float *row, long V, long Vp, long target, float dloss, int with_grad);

/// Softmax of row[0..<n] in place (the causal part of an attention row); row[n..<row_length] = 0.
void tm_causal_softmax_row(float *row, long n, long row_length);

/// AdamW over `n` parameters (bias corrections passed as reciprocals).
void tm_adamw(float *params, const float *grads, float *m, float *v, long n, float lr, float beta1,
              float beta2, float eps, float weight_decay, float ibc1, float ibc2, float gradient_scale);
#endif
