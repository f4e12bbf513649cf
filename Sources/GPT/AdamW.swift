import CKernels
import Foundation

/// AdamW as llm.c's `gpt2_update` computes it, element by element:
///
///     m = β1·m + (1−β1)·g;   v = β2·v + (1−β2)·g²
///     p −= lr · ( (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε) + wd·p )
///
/// with two differences that vanish at llm.c's CPU settings (weight decay 0, no clipping):
/// weight decay applies to the 2-D weight matrices only (wte, wpe, qkvw, attprojw, fcw, fcprojw,
/// as llm.c's CUDA trainer does; llm.c's CPU trainer decays every tensor), and the gradient may be
/// scaled first (global-norm clipping). The moments are one allocation each, in parameter order.
package final class AdamW {
    let m: FloatBuffer
    let v: FloatBuffer

    package init(parameterCount: Int) {
        m = FloatBuffer(count: parameterCount)
        v = FloatBuffer(count: parameterCount)
    }

    /// One update of `model`'s parameters from its gradients; `t` counts updates from 1.
    package func update(model: GPT2, t: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
                weightDecay: Float, gradientScale: Float = 1) {
        let params = model.parameterStorage.base, grads = model.gradients().base
        let sizes = model.config.parameterSizes, offsets = model.config.parameterOffsets
        let bc1 = 1 - Foundation.pow(beta1, Float(t)), bc2 = 1 - Foundation.pow(beta2, Float(t))
        for tensor in 0..<sizes.count {
            let wd = GPTConfig.isMatrix(tensor) ? weightDecay : 0
            let o = offsets[tensor]
            AdamW.kernel(params: params + o, grads: grads + o, m: m.base + o, v: v.base + o, count: sizes[tensor],
                         lr: learningRate, beta1: beta1, beta2: beta2, eps: epsilon, weightDecay: wd,
                         bc1: bc1, bc2: bc2, gradientScale: gradientScale, par: model.par)
        }
    }

    /// The update over `count` contiguous parameters; element-wise, so any split gives the same bits.
    package static func kernel(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                               m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                               lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
                               bc1: Float, bc2: Float, gradientScale: Float, par: Parallel) {
        // Multiplying by the reciprocals of the bias corrections (instead of dividing, as llm.c does)
        // changes m̂ and v̂ by at most an ulp and saves two of the three vector divisions.
        let ibc1 = 1 / bc1, ibc2 = 1 / bc2
        par.forEachRange(count, minimum: 8192) { range in
            let o = range.lowerBound
            tm_adamw(params + o, grads + o, m + o, v + o, range.count, lr, beta1, beta2, eps, weightDecay,
                     ibc1, ibc2, gradientScale)
        }
    }

    /// √(Σ g²) over all gradients, summed in fixed blocks (Double across blocks) so the value does
    /// not depend on the thread count.
    package static func gradientNorm(model: GPT2) -> Float {
        let g = model.gradients()
        let block = 1 << 16
        let blocks = (g.count + block - 1) / block
        var partial = [Double](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!, base = g.base, count = g.count
            model.par.forEach(blocks) { b, _ in
                let start = b * block, n = min(block, count - start)
                var acc = SIMD8<Double>(), i = 0
                while i + 8 <= n {
                    let x = SIMD8<Double>(load(base + start + i))
                    acc += x * x
                    i += 8
                }
                var s = acc.sum()
                while i < n { let x = Double(base[start + i]); s += x * x; i += 1 }
                out[b] = s
            }
        }
        return Float(partial.reduce(0, +).squareRoot())
    }
}

/// The learning rate at a step: linear warmup, then cosine decay to a floor.
///
/// For step s (from 0) of `totalSteps`, with peak `lr`, `warmup` steps and floor `lr·minFraction`:
/// during warmup `lr·(s+1)/warmup`; after it `floor + ½(1 + cos(π·d))·(lr − floor)` where
/// d = (s − warmup)/(totalSteps − warmup) runs from 0 to 1 (llm.c's CUDA schedule). The default
/// floor fraction is 0 (decay to zero, llm.c's default); `minFraction = 1` gives a constant rate.
public func learningRate(step: Int, totalSteps: Int, peak lr: Float, warmup: Int, minFraction: Float) -> Float {
    if step < warmup { return lr * Float(step + 1) / Float(warmup) }
    let floor = lr * minFraction
    if minFraction >= 1 || totalSteps <= warmup { return lr }
    let d = min(1, max(0, Double(step - warmup) / Double(totalSteps - warmup)))
    return floor + Float(0.5 * (1 + Foundation.cos(Double.pi * d))) * (lr - floor)
}
