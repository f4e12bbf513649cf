import Foundation

/// The scalar types the reference kernels run in: `Float` (to mirror llm.c) or `Double` (as an
/// oracle for the fast kernels and for finite-difference gradient checks).
package protocol ReferenceScalar: BinaryFloatingPoint {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func cosh(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
}

extension Float: ReferenceScalar {
    package static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    package static func log(_ x: Float) -> Float { Foundation.log(x) }
    package static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    package static func cosh(_ x: Float) -> Float { Foundation.cosh(x) }
    package static func pow(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
}

extension Double: ReferenceScalar {
    package static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    package static func log(_ x: Double) -> Double { Foundation.log(x) }
    package static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    package static func cosh(_ x: Double) -> Double { Foundation.cosh(x) }
    package static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
}

/// The naive twin of every fast kernel: llm.c's `train_gpt2.c` loops, written out plainly, serial,
/// accumulating into gradients (+=). Same legend and shapes as `Kernels`; they are the oracle in
/// the tests. Attention keeps llm.c's separate preatt/att and datt/dpreatt buffers.
package enum ReferenceKernels {
    package typealias P<F> = UnsafeMutablePointer<F>

    package static func encoderForward<F: ReferenceScalar>(out: P<F>, inp: UnsafePointer<Int32>, wte: P<F>, wpe: P<F>,
                                                           B: Int, T: Int, C: Int) {
        for b in 0..<B {
            for t in 0..<T {
                let ix = Int(inp[b * T + t])
                for i in 0..<C { out[(b * T + t) * C + i] = wte[ix * C + i] + wpe[t * C + i] }
            }
        }
    }

    package static func encoderBackward<F: ReferenceScalar>(dwte: P<F>, dwpe: P<F>, dout: P<F>, inp: UnsafePointer<Int32>,
                                                            B: Int, T: Int, C: Int) {
        for b in 0..<B {
            for t in 0..<T {
                let ix = Int(inp[b * T + t])
                for i in 0..<C {
                    let d = dout[(b * T + t) * C + i]
                    dwte[ix * C + i] += d
                    dwpe[t * C + i] += d
                }
            }
        }
    }

    package static func layernormForward<F: ReferenceScalar>(out: P<F>, mean: P<F>, rstd: P<F>, inp: P<F>,
                                                             weight: P<F>, bias: P<F>, B: Int, T: Int, C: Int) {
        let eps = F(1e-5)
        for bt in 0..<(B * T) {
            let x = inp + bt * C
            var m = F(0)
            for i in 0..<C { m += x[i] }
            m /= F(C)
            var v = F(0)
            for i in 0..<C { v += (x[i] - m) * (x[i] - m) }
            v /= F(C)
            let s = 1 / (v + eps).squareRoot()
            for i in 0..<C { out[bt * C + i] = s * (x[i] - m) * weight[i] + bias[i] }
            mean[bt] = m
            rstd[bt] = s
        }
    }

    package static func layernormBackward<F: ReferenceScalar>(dinp: P<F>, dweight: P<F>, dbias: P<F>, dout: P<F>,
                                                              inp: P<F>, weight: P<F>, mean: P<F>, rstd: P<F>,
                                                              B: Int, T: Int, C: Int) {
        for bt in 0..<(B * T) {
            let d = dout + bt * C, x = inp + bt * C, di = dinp + bt * C
            let m = mean[bt], s = rstd[bt]
            var dnormMean = F(0), dnormNormMean = F(0)
            for i in 0..<C {
                let norm = (x[i] - m) * s
                let dnorm = weight[i] * d[i]
                dnormMean += dnorm
                dnormNormMean += dnorm * norm
            }
            dnormMean /= F(C)
            dnormNormMean /= F(C)
            for i in 0..<C {
                let norm = (x[i] - m) * s
                let dnorm = weight[i] * d[i]
                dbias[i] += d[i]
                dweight[i] += norm * d[i]
                di[i] += (dnorm - dnormMean - norm * dnormNormMean) * s
            }
        }
    }

    /// out (BT,OC) = inp (BT,C) · weight (OC,C)ᵀ + bias.
    package static func matmulForward<F: ReferenceScalar>(out: P<F>, inp: P<F>, weight: P<F>, bias: P<F>?,
                                                          BT: Int, C: Int, OC: Int) {
        for bt in 0..<BT {
            for o in 0..<OC {
                var val = bias?[o] ?? 0
                for i in 0..<C { val += inp[bt * C + i] * weight[o * C + i] }
                out[bt * OC + o] = val
            }
        }
    }

    package static func matmulBackward<F: ReferenceScalar>(dinp: P<F>, dweight: P<F>, dbias: P<F>?, dout: P<F>,
                                                           inp: P<F>, weight: P<F>, BT: Int, C: Int, OC: Int) {
        for bt in 0..<BT {
            for o in 0..<OC {
                let d = dout[bt * OC + o]
                for i in 0..<C { dinp[bt * C + i] += weight[o * C + i] * d }
            }
        }
        for o in 0..<OC {
            for bt in 0..<BT {
                let d = dout[bt * OC + o]
                dbias?[o] += d
                for i in 0..<C { dweight[o * C + i] += inp[bt * C + i] * d }
            }
        }
    }

    /// inp (B,T,3C) → out (B,T,C); preatt and att are (B,NH,T,T).
    package static func attentionForward<F: ReferenceScalar>(out: P<F>, preatt: P<F>, att: P<F>, inp: P<F>,
                                                             B: Int, T: Int, C: Int, NH: Int) {
        let C3 = 3 * C, hs = C / NH
        let scale = 1 / F(hs).squareRoot()
        for b in 0..<B {
            for t in 0..<T {
                for h in 0..<NH {
                    let q = inp + b * T * C3 + t * C3 + h * hs
                    let pre = preatt + ((b * NH + h) * T + t) * T, a = att + ((b * NH + h) * T + t) * T
                    var maxval = -F.infinity
                    for t2 in 0...t {
                        let k = inp + b * T * C3 + t2 * C3 + h * hs + C
                        var val = F(0)
                        for i in 0..<hs { val += q[i] * k[i] }
                        val *= scale
                        maxval = max(maxval, val)
                        pre[t2] = val
                    }
                    var expsum = F(0)
                    for t2 in 0...t {
                        let e = F.exp(pre[t2] - maxval)
                        expsum += e
                        a[t2] = e
                    }
                    for t2 in 0..<T { a[t2] = t2 <= t ? a[t2] / expsum : 0 }
                    let o = out + b * T * C + t * C + h * hs
                    for i in 0..<hs { o[i] = 0 }
                    for t2 in 0...t {
                        let v = inp + b * T * C3 + t2 * C3 + h * hs + 2 * C
                        for i in 0..<hs { o[i] += a[t2] * v[i] }
                    }
                }
            }
        }
    }

    package static func attentionBackward<F: ReferenceScalar>(dinp: P<F>, dpreatt: P<F>, datt: P<F>, dout: P<F>,
                                                              inp: P<F>, att: P<F>, B: Int, T: Int, C: Int, NH: Int) {
        let C3 = 3 * C, hs = C / NH
        let scale = 1 / F(hs).squareRoot()
        for b in 0..<B {
            for t in 0..<T {
                for h in 0..<NH {
                    let base = ((b * NH + h) * T + t) * T
                    let a = att + base, da = datt + base, dpre = dpreatt + base
                    let q = inp + b * T * C3 + t * C3 + h * hs, dq = dinp + b * T * C3 + t * C3 + h * hs
                    let d = dout + b * T * C + t * C + h * hs
                    for t2 in 0...t {
                        let v = inp + b * T * C3 + t2 * C3 + h * hs + 2 * C
                        let dv = dinp + b * T * C3 + t2 * C3 + h * hs + 2 * C
                        for i in 0..<hs {
                            da[t2] += v[i] * d[i]
                            dv[i] += a[t2] * d[i]
                        }
                    }
                    for t2 in 0...t {
                        for t3 in 0...t {
                            let indicator: F = t2 == t3 ? 1 : 0
                            dpre[t3] += a[t2] * (indicator - a[t3]) * da[t2]
                        }
                    }
                    for t2 in 0...t {
                        let k = inp + b * T * C3 + t2 * C3 + h * hs + C
                        let dk = dinp + b * T * C3 + t2 * C3 + h * hs + C
                        for i in 0..<hs {
                            dq[i] += k[i] * dpre[t2] * scale
                            dk[i] += q[i] * dpre[t2] * scale
                        }
                    }
                }
            }
        }
    }

    package static func geluForward<F: ReferenceScalar>(out: P<F>, inp: P<F>, N: Int) {
        let s = F((2.0 / Double.pi).squareRoot())
        for i in 0..<N {
            let x = inp[i]
            out[i] = F(0.5) * x * (1 + F.tanh(s * (x + F(0.044715) * x * x * x)))
        }
    }

    package static func geluBackward<F: ReferenceScalar>(dinp: P<F>, inp: P<F>, dout: P<F>, N: Int) {
        let s = F((2.0 / Double.pi).squareRoot())
        for i in 0..<N {
            let x = inp[i]
            let arg = s * (x + F(0.044715) * x * x * x)
            let th = F.tanh(arg), ch = F.cosh(arg)
            let sech2 = 1 / (ch * ch)
            let grad = F(0.5) * (1 + th) + x * F(0.5) * sech2 * s * (1 + 3 * F(0.044715) * x * x)
            dinp[i] += grad * dout[i]
        }
    }

    package static func residualForward<F: ReferenceScalar>(out: P<F>, inp1: P<F>, inp2: P<F>, N: Int) {
        for i in 0..<N { out[i] = inp1[i] + inp2[i] }
    }

    package static func residualBackward<F: ReferenceScalar>(dinp1: P<F>, dinp2: P<F>, dout: P<F>, N: Int) {
        for i in 0..<N { dinp1[i] += dout[i]; dinp2[i] += dout[i] }
    }

    /// probs (BT,Vp) = softmax of logits over the first V columns; padding 0.
    package static func softmaxForward<F: ReferenceScalar>(probs: P<F>, logits: P<F>, BT: Int, V: Int, Vp: Int) {
        for bt in 0..<BT {
            let l = logits + bt * Vp, p = probs + bt * Vp
            var maxval = -F.infinity
            for i in 0..<V { maxval = max(maxval, l[i]) }
            var sum = F(0)
            for i in 0..<V { p[i] = F.exp(l[i] - maxval); sum += p[i] }
            for i in 0..<V { p[i] /= sum }
            for i in V..<Vp { p[i] = 0 }
        }
    }

    package static func crossEntropyForward<F: ReferenceScalar>(losses: P<F>, probs: P<F>, targets: UnsafePointer<Int32>,
                                                                BT: Int, Vp: Int) {
        for bt in 0..<BT { losses[bt] = -F.log(probs[bt * Vp + Int(targets[bt])]) }
    }

    package static func crossEntropySoftmaxBackward<F: ReferenceScalar>(dlogits: P<F>, dlosses: P<F>, probs: P<F>,
                                                                        targets: UnsafePointer<Int32>,
                                                                        BT: Int, V: Int, Vp: Int) {
        for bt in 0..<BT {
            let ix = Int(targets[bt])
            for i in 0..<V {
                let indicator: F = i == ix ? 1 : 0
                dlogits[bt * Vp + i] += (probs[bt * Vp + i] - indicator) * dlosses[bt]
            }
        }
    }

    /// llm.c's `gpt2_update`: AdamW over `count` parameters; `t` counts steps from 1.
    package static func adamwUpdate<F: ReferenceScalar>(params: P<F>, grads: P<F>, m: P<F>, v: P<F>, count: Int,
                                                        learningRate: F, beta1: F, beta2: F, eps: F,
                                                        weightDecay: F, t: Int) {
        for i in 0..<count {
            let p = params[i], g = grads[i]
            let mi = beta1 * m[i] + (1 - beta1) * g
            let vi = beta2 * v[i] + (1 - beta2) * g * g
            let mHat = mi / (1 - F.pow(beta1, F(t)))
            let vHat = vi / (1 - F.pow(beta2, F(t)))
            m[i] = mi
            v[i] = vi
            params[i] -= learningRate * (mHat / (vHat.squareRoot() + eps) + weightDecay * p)
        }
    }
}
