import CKernels
import Foundation

/// The fast forward and backward kernels of GPT-2, one `<layer>Forward`/`<layer>Backward` pair per
/// layer, in llm.c's argument order (outputs, inputs, sizes). `ReferenceKernels` holds the naive
/// twin of each; the tests compare the two on random inputs.
///
/// Legend: B = batch, T = time (sequence length), C = channels, OC = output channels, NH = heads,
/// hs = C/NH head size, V = vocabulary, Vp = padded vocabulary, BT = B·T rows. All tensors are
/// row-major; shapes are given as (dims).
///
/// Matrix products go through BLAS sgemm, cut into fixed row blocks (one per worker) that run on
/// `Parallel`; everything else is split over rows, heads or column slices, so no result depends on
/// thread timing. Unless a kernel says "writes", it accumulates into its gradient outputs (+=),
/// as llm.c's do.
package enum Kernels {

    // MARK: encoder

    /// out (B,T,C) = wte[inp[b,t]] (V,C) + wpe[t] (maxT,C). Token ids must be in range.
    package static func encoderForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Int32>,
                                       wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>,
                                       B: Int, T: Int, C: Int, par: Parallel) {
        par.forEachRange(B * T, minimum: 32) { rows in
            for bt in rows {
                let o = out + bt * C, e = wte + Int(inp[bt]) * C, p = wpe + (bt % T) * C
                var i = 0
                while i + 8 <= C { store(load(e + i) + load(p + i), o + i); i += 8 }
                while i < C { o[i] = e[i] + p[i]; i += 1 }
            }
        }
    }

    /// dwte[inp[b,t]] += dout[b,t]; dwpe[t] += dout[b,t]. dout is (B,T,C). Each task owns a slice of
    /// channels and walks the rows in order, so the sums add in the naive loop's order.
    package static func encoderBackward(dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>,
                                        dout: UnsafePointer<Float>, inp: UnsafePointer<Int32>,
                                        B: Int, T: Int, C: Int, par: Parallel) {
        columnSlices(C, par: par) { cols in
            for bt in 0..<(B * T) {
                let d = dout + bt * C, w = dwte + Int(inp[bt]) * C, p = dwpe + (bt % T) * C
                for c in cols { w[c] += d[c]; p[c] += d[c] }
            }
        }
    }

    // MARK: layernorm

    /// out (B,T,C) = (inp − mean)·rstd·weight + bias per row; mean, rstd (B,T) kept for backward.
    /// eps = 1e-5; the variance is the biased one (÷C).
    package static func layernormForward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                         rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                         weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                         B: Int, T: Int, C: Int, par: Parallel) {
        let fC = Float(C)
        par.forEachRange(B * T, minimum: 16) { rows in
            for r in rows {
                let x = inp + r * C, o = out + r * C
                let m = vectorSum(x, C) / fC
                var acc = Vec(), i = 0
                while i + 8 <= C { let d = load(x + i) - m; acc += d * d; i += 8 }
                var v = acc.sum()
                while i < C { let d = x[i] - m; v += d * d; i += 1 }
                let s = 1 / (v / fC + 1e-5).squareRoot()
                i = 0
                while i + 8 <= C { store((load(x + i) - m) * s * load(weight + i) + load(bias + i), o + i); i += 8 }
                while i < C { o[i] = (x[i] - m) * s * weight[i] + bias[i]; i += 1 }
                mean[r] = m
                rstd[r] = s
            }
        }
    }

    /// Accumulates dinp (B,T,C), dweight (C) and dbias (C) from dout (B,T,C).
    package static func layernormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                          dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                          inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                          mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                          B: Int, T: Int, C: Int, par: Parallel) {
        let fC = Float(C)
        // Rows: the input gradient (and, on one thread, the weight and bias gradients too).
        let serial = par.threads == 1
        par.forEachRange(B * T, minimum: 16) { rows in
            for r in rows {
                let x = inp + r * C, d = dout + r * C, di = dinp + r * C
                let m = mean[r], s = rstd[r]
                var a1 = Vec(), a2 = Vec(), i = 0
                while i + 8 <= C {
                    let dn = load(weight + i) * load(d + i)
                    a1 += dn
                    a2 += dn * ((load(x + i) - m) * s)
                    i += 8
                }
                var dnormMean = a1.sum(), dnormNormMean = a2.sum()
                while i < C {
                    let dn = weight[i] * d[i]
                    dnormMean += dn
                    dnormNormMean += dn * ((x[i] - m) * s)
                    i += 1
                }
                dnormMean /= fC
                dnormNormMean /= fC
                i = 0
                while i + 8 <= C {
                    let norm = (load(x + i) - m) * s, dv = load(d + i)
                    let dval = (load(weight + i) * dv - dnormMean - norm * dnormNormMean) * s
                    store(load(di + i) + dval, di + i)
                    if serial {
                        store(load(dbias + i) + dv, dbias + i)
                        store(load(dweight + i) + norm * dv, dweight + i)
                    }
                    i += 8
                }
                while i < C {
                    let norm = (x[i] - m) * s
                    di[i] += (weight[i] * d[i] - dnormMean - norm * dnormNormMean) * s
                    if serial {
                        dbias[i] += d[i]
                        dweight[i] += norm * d[i]
                    }
                    i += 1
                }
            }
        }
        // Column slices: weight and bias gradients, rows added in order (the same sums, in the same
        // order, that the serial row pass above adds).
        if serial { return }
        columnSlices(C, par: par) { cols in
            for r in 0..<(B * T) {
                let x = inp + r * C, d = dout + r * C, m = mean[r], s = rstd[r]
                for c in cols {
                    dbias[c] += d[c]
                    dweight[c] += (x[c] - m) * s * d[c]
                }
            }
        }
    }

    // MARK: matmul

    /// out (BT,OC) = inp (BT,C) · weight (OC,C)ᵀ + bias (OC) [+ residual (BT,OC)]. Writes out.
    /// Passing `residual` fuses the residual connection into the product.
    package static func matmulForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                      residual: UnsafePointer<Float>? = nil,
                                      BT: Int, C: Int, OC: Int, par: Parallel) {
        par.forEachRange(BT, minimum: 16) { rows in
            let o = out + rows.lowerBound * OC
            var beta: Float = 0
            if bias != nil || residual != nil {
                beta = 1
                for r in 0..<rows.count {
                    let orow = o + r * OC
                    switch (bias, residual) {
                    case let (b?, res?):
                        let rr = res + (rows.lowerBound + r) * OC
                        for j in 0..<OC { orow[j] = rr[j] + b[j] }
                    case let (b?, nil):
                        orow.update(from: b, count: OC)
                    case let (nil, res?):
                        orow.update(from: res + (rows.lowerBound + r) * OC, count: OC)
                    default: break
                    }
                }
            }
            BLAS.sgemm(transA: false, transB: true, m: rows.count, n: OC, k: C, alpha: 1,
                       a: inp + rows.lowerBound * C, lda: C, b: weight, ldb: C, beta: beta, c: o, ldc: OC)
        }
    }

    /// dinp (BT,C) (+)= dout (BT,OC) · weight (OC,C); dweight (OC,C) += doutᵀ · inp (BT,C);
    /// dbias (OC) += Σ_rows dout. `accumulateInput: false` writes dinp instead of adding to it.
    package static func matmulBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                       dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                       inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                       BT: Int, C: Int, OC: Int, accumulateInput: Bool = true, par: Parallel) {
        par.forEachRange(BT, minimum: 16) { rows in
            BLAS.sgemm(transA: false, transB: false, m: rows.count, n: C, k: OC, alpha: 1,
                       a: dout + rows.lowerBound * OC, lda: OC, b: weight, ldb: C,
                       beta: accumulateInput ? 1 : 0, c: dinp + rows.lowerBound * C, ldc: C)
        }
        par.forEachRange(OC, minimum: 16) { outs in
            BLAS.sgemm(transA: true, transB: false, m: outs.count, n: C, k: BT, alpha: 1,
                       a: dout + outs.lowerBound, lda: OC, b: inp, ldb: C,
                       beta: 1, c: dweight + outs.lowerBound * C, ldc: C)
            if let dbias {
                for r in 0..<BT {
                    let d = dout + r * OC
                    for o in outs { dbias[o] += d[o] }
                }
            }
        }
    }

    // MARK: attention

    /// Rows of the causal attention are processed in blocks of this many, so the products skip
    /// most of the masked upper triangle.
    package static let attentionBlock = 64

    /// qkv (B,T,3C) holds Q, K, V; out (B,T,C) = softmax(QKᵀ/√hs, causal)·V per head; att
    /// (B,NH,T,T) keeps the probabilities for backward. Writes out, att. Row t of att holds the
    /// probabilities in columns 0...t and zeros up to the end of its `attentionBlock`-row block;
    /// the columns after that are never read and left unspecified.
    package static func attentionForward(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
                                         qkv: UnsafePointer<Float>, B: Int, T: Int, C: Int, NH: Int,
                                         par: Parallel) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        par.forEach(B * NH) { task, _ in
            let b = task / NH, h = task % NH
            let q = qkv + b * T * C3 + h * hs, k = q + C, v = q + 2 * C
            let a = att + task * T * T, o = out + b * T * C + h * hs
            var r0 = 0
            while r0 < T {
                let r1 = min(T, r0 + attentionBlock), rb = r1 - r0
                // preatt rows r0..<r1, keys 0..<r1.
                BLAS.sgemm(transA: false, transB: true, m: rb, n: r1, k: hs, alpha: scale,
                           a: q + r0 * C3, lda: C3, b: k, ldb: C3, beta: 0, c: a + r0 * T, ldc: T)
                for t in r0..<r1 { causalSoftmaxRow(a + t * T, count: t + 1, rowLength: r1) }
                BLAS.sgemm(transA: false, transB: false, m: rb, n: hs, k: r1, alpha: 1,
                           a: a + r0 * T, lda: T, b: v, ldb: C3, beta: 0, c: o + r0 * C, ldc: C)
                r0 = r1
            }
        }
    }

    /// Softmax of row[0..<count] in place; row[count..<rowLength] set to 0.
    @inline(__always)
    static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, count n: Int, rowLength: Int) {
        tm_causal_softmax_row(row, n, rowLength)
    }

    /// Floats of per-worker scratch that `attentionBackward` needs.
    package static func attentionScratchCount(T: Int, threads: Int) -> Int { T * T * max(1, threads) }

    /// dqkv (B,T,3C) (+)= gradient through attention of dout (B,T,C), given qkv and att from
    /// forward. `scratch` holds `attentionScratchCount` floats. `accumulate: false` writes dqkv.
    package static func attentionBackward(dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                          qkv: UnsafePointer<Float>, att: UnsafePointer<Float>,
                                          scratch: UnsafeMutablePointer<Float>,
                                          B: Int, T: Int, C: Int, NH: Int, accumulate: Bool = true, par: Parallel) {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        par.forEach(B * NH) { task, worker in
            let b = task / NH, h = task % NH
            let q = qkv + b * T * C3 + h * hs, k = q + C, v = q + 2 * C
            let dq = dqkv + b * T * C3 + h * hs, dk = dq + C, dv = dq + 2 * C
            let a = att + task * T * T, d = dout + b * T * C + h * hs
            let datt = scratch + worker * T * T
            // Blocks run last to first: the last one's dK and dV products cover all T rows, so with
            // `accumulate` false they write (beta 0) and the earlier blocks add to them.
            let blocks = (T + attentionBlock - 1) / attentionBlock
            for block in stride(from: blocks - 1, through: 0, by: -1) {
                let r0 = block * attentionBlock, r1 = min(T, r0 + attentionBlock), rb = r1 - r0
                let beta: Float = accumulate || block < blocks - 1 ? 1 : 0
                // datt = dout · Vᵀ; dV += attᵀ · dout.
                BLAS.sgemm(transA: false, transB: true, m: rb, n: r1, k: hs, alpha: 1,
                           a: d + r0 * C, lda: C, b: v, ldb: C3, beta: 0, c: datt + r0 * T, ldc: T)
                BLAS.sgemm(transA: true, transB: false, m: r1, n: hs, k: rb, alpha: 1,
                           a: a + r0 * T, lda: T, b: d + r0 * C, ldb: C, beta: beta, c: dv, ldc: C3)
                // Softmax backward in place: dpre = att ⊙ (datt − Σ att·datt); 0 above the diagonal.
                for t in r0..<r1 {
                    let ar = a + t * T, dr = datt + t * T, n = t + 1
                    var acc = Vec(), i = 0
                    while i + 8 <= n { acc += load(ar + i) * load(dr + i); i += 8 }
                    var s = acc.sum()
                    while i < n { s += ar[i] * dr[i]; i += 1 }
                    i = 0
                    while i + 8 <= n { store(load(ar + i) * (load(dr + i) - s), dr + i); i += 8 }
                    while i < n { dr[i] = ar[i] * (dr[i] - s); i += 1 }
                    if r1 > n { (dr + n).update(repeating: 0, count: r1 - n) }
                }
                // dQ += scale · dpre · K; dK += scale · dpreᵀ · Q.
                BLAS.sgemm(transA: false, transB: false, m: rb, n: hs, k: r1, alpha: scale,
                           a: datt + r0 * T, lda: T, b: k, ldb: C3, beta: accumulate ? 1 : 0, c: dq + r0 * C3, ldc: C3)
                BLAS.sgemm(transA: true, transB: false, m: r1, n: hs, k: rb, alpha: scale,
                           a: datt + r0 * T, lda: T, b: q + r0 * C3, ldb: C3, beta: beta, c: dk, ldc: C3)
            }
        }
    }

    // MARK: GELU


    /// out (N) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³). With `gate`, also keeps
    /// q = 1 − |tanh u| signed like u (N), from which backward gets the derivative exactly and
    /// without transcendental functions.
    package static func geluForward(out: UnsafeMutablePointer<Float>, gate: UnsafeMutablePointer<Float>? = nil,
                                    inp: UnsafePointer<Float>, N: Int, par: Parallel) {
        // CKernels: the same math, compiled for the CPU's widest vectors (see ckernels.h).
        par.forEachRange(N, minimum: 4096) { range in
            tm_gelu_forward(out + range.lowerBound, gate.map { $0 + range.lowerBound }, inp + range.lowerBound, range.count)
        }
    }

    /// dinp (N) (+)= gelu'(inp)·dout, using `gate` from forward when given. dinp may be the same
    /// buffer as dout when `accumulate` is false.
    package static func geluBackward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                     gate: UnsafePointer<Float>? = nil, dout: UnsafePointer<Float>, N: Int,
                                     accumulate: Bool = true, par: Parallel) {
        par.forEachRange(N, minimum: 4096) { range in
            tm_gelu_backward(dinp + range.lowerBound, inp + range.lowerBound, gate.map { $0 + range.lowerBound },
                             dout + range.lowerBound, range.count, accumulate ? 1 : 0)
        }
    }

    // MARK: residual

    /// out (N) = inp1 + inp2.
    package static func residualForward(out: UnsafeMutablePointer<Float>, inp1: UnsafePointer<Float>,
                                        inp2: UnsafePointer<Float>, N: Int, par: Parallel) {
        par.forEachRange(N, minimum: 4096) { range in
            for i in range { out[i] = inp1[i] + inp2[i] }
        }
    }

    /// dinp1 += dout; dinp2 += dout. (The model itself lets the residual gradient flow through
    /// one buffer and never calls this; it is here for completeness and tests.)
    package static func residualBackward(dinp1: UnsafeMutablePointer<Float>, dinp2: UnsafeMutablePointer<Float>,
                                         dout: UnsafePointer<Float>, N: Int, par: Parallel) {
        par.forEachRange(N, minimum: 4096) { range in
            for i in range { dinp1[i] += dout[i]; dinp2[i] += dout[i] }
        }
    }

    // MARK: softmax and cross-entropy

    /// probs (BT,Vp) = softmax over the first V logits (BT,Vp); padding columns set to 0.
    package static func softmaxForward(probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                                       BT: Int, V: Int, Vp: Int, par: Parallel) {
        par.forEachRange(BT) { rows in
            for r in rows {
                let p = probs + r * Vp
                if UnsafePointer(p) != logits + r * Vp { p.update(from: logits + r * Vp, count: V) }
                causalSoftmaxRow(p, count: V, rowLength: Vp)
            }
        }
    }

    /// losses (BT) = −log softmax(logits[r, 0..<V])[targets[r]] (computed as logsumexp − logit).
    /// With `dloss`, also overwrites logits (BT,Vp) with dlogits = (softmax − onehot(target))·dloss
    /// (0 in the padding): the forward and backward of softmax + cross-entropy in one pass.
    package static func crossEntropyForward(losses: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>,
                                            targets: UnsafePointer<Int32>, BT: Int, V: Int, Vp: Int,
                                            dloss: Float?, par: Parallel) {
        par.forEachRange(BT) { rows in
            for r in rows {
                losses[r] = tm_cross_entropy_row(logits + r * Vp, V, Vp, Int(targets[r]), dloss ?? 0, dloss == nil ? 0 : 1)
            }
        }
    }

    // MARK: helpers

    /// Runs `body` on one slice of `0..<C` per worker (multiples of 8 wide where possible).
    @inline(__always)
    static func columnSlices(_ C: Int, par: Parallel, _ body: (Range<Int>) -> Void) {
        let groups = (C + 7) / 8
        par.forEachRange(groups, minimum: 2) { g in
            body((g.lowerBound * 8)..<min(C, g.upperBound * 8))
        }
    }
}
