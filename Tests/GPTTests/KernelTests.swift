import GPT
import TestSupport
import Testing

/// Every fast kernel against its naive twin (run in Double), forward and backward, on random
/// inputs, with one thread and with an uneven split over three.
@Suite struct KernelTests {
    typealias K = Kernels
    typealias R = ReferenceKernels

    @Test(arguments: [1, 3])
    func encoder(threads: Int) {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 1)
        let B = 2, T = 5, C = 20, V = 13
        let par = Parallel(threads: threads)
        let inp = randomTokens(B * T, vocab: V, &rng)
        let wte = a.f(random: V * C, &rng), wpe = a.f(random: T * C, &rng)
        let out = a.f(B * T * C), rout = a.d(B * T * C)
        let (dwte, dwpe) = (a.f(random: V * C, &rng), a.f(random: T * C, &rng))
        let (rdwte, rdwpe) = (dwte.doubles, dwpe.doubles)
        let dout = a.f(random: B * T * C, &rng)
        inp.withUnsafeBufferPointer { ip in
            K.encoderForward(out: out.p, inp: ip.baseAddress!, wte: wte.p, wpe: wpe.p, B: B, T: T, C: C, par: par)
            R.encoderForward(out: rout.p, inp: ip.baseAddress!, wte: wte.doubles.p, wpe: wpe.doubles.p, B: B, T: T, C: C)
            K.encoderBackward(dwte: dwte.p, dwpe: dwpe.p, dout: dout.p, inp: ip.baseAddress!, B: B, T: T, C: C, par: par)
            R.encoderBackward(dwte: rdwte.p, dwpe: rdwpe.p, dout: dout.doubles.p, inp: ip.baseAddress!, B: B, T: T, C: C)
        }
        expectClose(out.values, rout.values, "encoder out")
        expectClose(dwte.values, rdwte.values, "dwte")
        expectClose(dwpe.values, rdwpe.values, "dwpe")
    }

    @Test(arguments: [(1, 19), (3, 64)])
    func layernorm(threads: Int, C: Int) {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 2)
        let B = 3, T = 7, N = B * T * C
        let par = Parallel(threads: threads)
        let inp = a.f(random: N, &rng, scale: 2), w = a.f(random: C, &rng), b = a.f(random: C, &rng)
        let out = a.f(N), mean = a.f(B * T), rstd = a.f(B * T)
        let rout = a.d(N), rmean = a.d(B * T), rrstd = a.d(B * T)
        K.layernormForward(out: out.p, mean: mean.p, rstd: rstd.p, inp: inp.p, weight: w.p, bias: b.p, B: B, T: T, C: C, par: par)
        R.layernormForward(out: rout.p, mean: rmean.p, rstd: rrstd.p, inp: inp.doubles.p, weight: w.doubles.p,
                           bias: b.doubles.p, B: B, T: T, C: C)
        expectClose(out.values, rout.values, "layernorm out")
        expectClose(mean.values, rmean.values, "mean")
        expectClose(rstd.values, rrstd.values, "rstd")

        let dout = a.f(random: N, &rng)
        let dinp = a.f(random: N, &rng), dw = a.f(random: C, &rng), db = a.f(random: C, &rng)
        let (rdinp, rdw, rdb) = (dinp.doubles, dw.doubles, db.doubles)
        K.layernormBackward(dinp: dinp.p, dweight: dw.p, dbias: db.p, dout: dout.p, inp: inp.p, weight: w.p,
                            mean: mean.p, rstd: rstd.p, B: B, T: T, C: C, par: par)
        R.layernormBackward(dinp: rdinp.p, dweight: rdw.p, dbias: rdb.p, dout: dout.doubles.p, inp: inp.doubles.p,
                            weight: w.doubles.p, mean: rmean.p, rstd: rrstd.p, B: B, T: T, C: C)
        expectClose(dinp.values, rdinp.values, "layernorm dinp")
        expectClose(dw.values, rdw.values, "layernorm dweight")
        expectClose(db.values, rdb.values, "layernorm dbias")
    }

    @Test(arguments: [1, 3])
    func matmul(threads: Int) {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 3)
        let BT = 37, C = 24, OC = 40
        let par = Parallel(threads: threads)
        let inp = a.f(random: BT * C, &rng), w = a.f(random: OC * C, &rng), bias = a.f(random: OC, &rng)
        let res = a.f(random: BT * OC, &rng)
        let rinp = inp.doubles, rw = w.doubles, rbias = bias.doubles

        let out = a.f(BT * OC), rout = a.d(BT * OC)
        K.matmulForward(out: out.p, inp: inp.p, weight: w.p, bias: bias.p, BT: BT, C: C, OC: OC, par: par)
        R.matmulForward(out: rout.p, inp: rinp.p, weight: rw.p, bias: rbias.p, BT: BT, C: C, OC: OC)
        expectClose(out.values, rout.values, "matmul out")

        K.matmulForward(out: out.p, inp: inp.p, weight: w.p, bias: nil, BT: BT, C: C, OC: OC, par: par)
        R.matmulForward(out: rout.p, inp: rinp.p, weight: rw.p, bias: nil, BT: BT, C: C, OC: OC)
        expectClose(out.values, rout.values, "matmul out without bias")

        // With the residual fused in: out = residual + inp·Wᵀ + b.
        K.matmulForward(out: out.p, inp: inp.p, weight: w.p, bias: bias.p, residual: res.p, BT: BT, C: C, OC: OC, par: par)
        R.matmulForward(out: rout.p, inp: rinp.p, weight: rw.p, bias: rbias.p, BT: BT, C: C, OC: OC)
        let rres = res.values
        expectClose(out.values, rout.values.enumerated().map { $1 + Double(rres[$0]) }, "matmul out with residual")

        let dout = a.f(random: BT * OC, &rng)
        for accumulate in [true, false] {
            let dinp = a.f(random: BT * C, &rng), dw = a.f(random: OC * C, &rng), db = a.f(random: OC, &rng)
            let rdinp = accumulate ? dinp.doubles : a.d(BT * C), rdw = dw.doubles, rdb = db.doubles
            K.matmulBackward(dinp: dinp.p, dweight: dw.p, dbias: db.p, dout: dout.p, inp: inp.p, weight: w.p,
                             BT: BT, C: C, OC: OC, accumulateInput: accumulate, par: par)
            R.matmulBackward(dinp: rdinp.p, dweight: rdw.p, dbias: rdb.p, dout: dout.doubles.p, inp: rinp.p, weight: rw.p,
                             BT: BT, C: C, OC: OC)
            expectClose(dinp.values, rdinp.values, "matmul dinp (accumulate \(accumulate))")
            expectClose(dw.values, rdw.values, "matmul dweight")
            expectClose(db.values, rdb.values, "matmul dbias")
        }
    }

    /// T = 70 spans two of the kernel's 64-row blocks.
    @Test(arguments: [(1, 70), (3, 70), (2, 9)])
    func attention(threads: Int, T: Int) {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 4)
        let B = 2, C = 24, NH = 3
        let par = Parallel(threads: threads)
        let qkv = a.f(random: B * T * 3 * C, &rng, scale: 2)
        let out = a.f(B * T * C), att = a.f(B * NH * T * T)
        let rout = a.d(B * T * C), rpre = a.d(B * NH * T * T), ratt = a.d(B * NH * T * T)
        let rqkv = qkv.doubles
        K.attentionForward(out: out.p, att: att.p, qkv: qkv.p, B: B, T: T, C: C, NH: NH, par: par)
        R.attentionForward(out: rout.p, preatt: rpre.p, att: ratt.p, inp: rqkv.p, B: B, T: T, C: C, NH: NH)
        expectClose(out.values, rout.values, "attention out")
        // Compare the causal part (the rest is unspecified).
        let causal = (0..<(B * NH * T * T)).filter { ($0 % T) <= ($0 / T) % T }
        let (fastAtt, refAtt) = (att.values, ratt.values)
        expectClose(causal.map { fastAtt[$0] }, causal.map { refAtt[$0] }, "attention probabilities")

        let dout = a.f(random: B * T * C, &rng)
        let scratch = a.f(Kernels.attentionScratchCount(T: T, threads: threads))
        for accumulate in [true, false] {
            let dqkv = a.f(random: B * T * 3 * C, &rng)
            let rdqkv = accumulate ? dqkv.doubles : a.d(B * T * 3 * C)
            K.attentionBackward(dqkv: dqkv.p, dout: dout.p, qkv: qkv.p, att: att.p, scratch: scratch.p,
                                B: B, T: T, C: C, NH: NH, accumulate: accumulate, par: par)
            R.attentionBackward(dinp: rdqkv.p, dpreatt: a.d(B * NH * T * T).p, datt: a.d(B * NH * T * T).p,
                                dout: dout.doubles.p, inp: rqkv.p, att: ratt.p, B: B, T: T, C: C, NH: NH)
            expectClose(dqkv.values, rdqkv.values, "attention dqkv (accumulate \(accumulate))")
        }
    }

    @Test(arguments: [1, 3])
    func gelu(threads: Int) {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 5)
        let N = 10_007
        let par = Parallel(threads: threads)
        let inp = a.f(random: N, &rng, scale: 6)
        let out = a.f(N), rout = a.d(N)
        K.geluForward(out: out.p, inp: inp.p, N: N, par: par)
        R.geluForward(out: rout.p, inp: inp.doubles.p, N: N)
        expectClose(out.values, rout.values, atol: 2e-7, rtol: 2e-6, "gelu out")
        let dout = a.f(random: N, &rng)
        let dinp = a.f(random: N, &rng), rdinp = dinp.doubles
        K.geluBackward(dinp: dinp.p, inp: inp.p, dout: dout.p, N: N, par: par)
        R.geluBackward(dinp: rdinp.p, inp: inp.doubles.p, dout: dout.doubles.p, N: N)
        expectClose(dinp.values, rdinp.values, atol: 2e-7, rtol: 2e-6, "gelu dinp")
        // In place, writing: dinp = gelu'(x)·dout over the same buffer.
        let inPlace = dout.copy(), rfresh = a.d(N)
        K.geluBackward(dinp: inPlace.p, inp: inp.p, dout: inPlace.p, N: N, accumulate: false, par: par)
        R.geluBackward(dinp: rfresh.p, inp: inp.doubles.p, dout: dout.doubles.p, N: N)
        expectClose(inPlace.values, rfresh.values, atol: 2e-7, rtol: 2e-6, "gelu dinp in place")
        // With the gate kept by forward.
        let th = a.f(N), out2 = a.f(N)
        K.geluForward(out: out2.p, gate: th.p, inp: inp.p, N: N, par: par)
        #expect(out2.values == out.values)
        let kept = dout.copy()
        K.geluBackward(dinp: kept.p, inp: inp.p, gate: th.p, dout: kept.p, N: N, accumulate: false, par: par)
        expectClose(kept.values, rfresh.values, atol: 2e-7, rtol: 2e-6, "gelu dinp from the kept gate")
    }

    @Test func residual() {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 6)
        let N = 5000, par = Parallel(threads: 2)
        let x = a.f(random: N, &rng), y = a.f(random: N, &rng), out = a.f(N), rout = a.d(N)
        K.residualForward(out: out.p, inp1: x.p, inp2: y.p, N: N, par: par)
        R.residualForward(out: rout.p, inp1: x.doubles.p, inp2: y.doubles.p, N: N)
        expectClose(out.values, rout.values, "residual out")
        let dout = a.f(random: N, &rng)
        let d1 = a.f(random: N, &rng), d2 = a.f(random: N, &rng)
        let (r1, r2) = (d1.doubles, d2.doubles)
        K.residualBackward(dinp1: d1.p, dinp2: d2.p, dout: dout.p, N: N, par: par)
        R.residualBackward(dinp1: r1.p, dinp2: r2.p, dout: dout.doubles.p, N: N)
        expectClose(d1.values, r1.values, "residual dinp1")
        expectClose(d2.values, r2.values, "residual dinp2")
    }

    /// The fused softmax + cross-entropy (forward and backward in one pass) against llm.c's three
    /// kernels; V = 50 padded to 64, with logits spread wide enough to test the exp approximation.
    @Test(arguments: [1, 3])
    func softmaxCrossEntropy(threads: Int) {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 7)
        let BT = 9, V = 50, Vp = 64
        let par = Parallel(threads: threads)
        let logits = a.f(random: BT * Vp, &rng, scale: 20)
        let targets = randomTokens(BT, vocab: V, &rng)
        let rlogits = logits.doubles, rprobs = a.d(BT * Vp), rlosses = a.d(BT)
        R.softmaxForward(probs: rprobs.p, logits: rlogits.p, BT: BT, V: V, Vp: Vp)
        targets.withUnsafeBufferPointer { tp in
            R.crossEntropyForward(losses: rlosses.p, probs: rprobs.p, targets: tp.baseAddress!, BT: BT, Vp: Vp)
        }
        // Inference: probabilities.
        let probs = a.f(BT * Vp)
        K.softmaxForward(probs: probs.p, logits: logits.p, BT: BT, V: V, Vp: Vp, par: par)
        expectClose(probs.values, rprobs.values, atol: 1e-7, rtol: 1e-5, "softmax probs")
        // Loss only.
        let losses = a.f(BT), work = logits.copy()
        targets.withUnsafeBufferPointer { tp in
            K.crossEntropyForward(losses: losses.p, logits: work.p, targets: tp.baseAddress!, BT: BT, V: V, Vp: Vp,
                                  dloss: nil, par: par)
        }
        expectClose(losses.values, rlosses.values, atol: 1e-5, rtol: 1e-5, "losses")
        #expect(work.values == logits.values, "loss-only pass must leave the logits alone")
        // Loss and dlogits.
        let dloss: Float = 0.125
        let rdlosses = a.d([Double](repeating: Double(dloss), count: BT)), rdlogits = a.d(BT * Vp)
        targets.withUnsafeBufferPointer { tp in
            K.crossEntropyForward(losses: losses.p, logits: work.p, targets: tp.baseAddress!, BT: BT, V: V, Vp: Vp,
                                  dloss: dloss, par: par)
            R.crossEntropySoftmaxBackward(dlogits: rdlogits.p, dlosses: rdlosses.p, probs: rprobs.p, targets: tp.baseAddress!,
                                          BT: BT, V: V, Vp: Vp)
        }
        expectClose(losses.values, rlosses.values, atol: 1e-5, rtol: 1e-5, "losses (training)")
        expectClose(work.values, rdlogits.values, atol: 1e-8, rtol: 1e-5, "dlogits")
    }

    @Test(arguments: [1, 3])
    func adamw(threads: Int) {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 8)
        let N = 1003
        let params = a.f(random: N, &rng), grads = a.f(random: N, &rng)
        let m = a.f(random: N, &rng, scale: 0.1), v = a.f(N)
        for i in 0..<N { v.p[i] = Float.random(in: 0..<0.01, using: &rng) }
        let (rp, rg, rm, rv) = (params.doubles, grads.doubles, m.doubles, v.doubles)
        let t = 3, lr: Float = 1e-3, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8, wd: Float = 0.1
        AdamW.kernel(params: params.p, grads: grads.p, m: m.p, v: v.p, count: N, lr: lr, beta1: b1, beta2: b2, eps: eps,
                     weightDecay: wd, bc1: 1 - Float.pow(b1, Float(t)), bc2: 1 - Float.pow(b2, Float(t)), gradientScale: 1,
                     par: Parallel(threads: threads))
        R.adamwUpdate(params: rp.p, grads: rg.p, m: rm.p, v: rv.p, count: N, learningRate: Double(lr), beta1: Double(b1),
                      beta2: Double(b2), eps: Double(eps), weightDecay: Double(wd), t: t)
        expectClose(params.values, rp.values, atol: 1e-7, rtol: 1e-6, "adamw params")
        expectClose(m.values, rm.values, atol: 1e-8, rtol: 1e-6, "adamw m")
        expectClose(v.values, rv.values, atol: 1e-10, rtol: 1e-6, "adamw v")
    }

    /// The non-BLAS kernels split work so that no result depends on the thread count: 1 and 3
    /// threads give the same bits (reductions walk rows in order within column slices).
    @Test func resultsDoNotDependOnThreadCount() {
        let a = Arena()
        defer { a.free() }
        var rng = SeededRNG(seed: 9)
        let B = 3, T = 37, C = 40, V = 29, BT = B * T
        let inp = a.f(random: BT * C, &rng), w = a.f(random: C, &rng), bias = a.f(random: C, &rng)
        let dout = a.f(random: BT * C, &rng), tokens = randomTokens(BT, vocab: V, &rng)
        let logits = a.f(random: BT * 32, &rng, scale: 8)
        var results: [[[Float]]] = []
        for threads in [1, 3] {
            let par = Parallel(threads: threads)
            let out = a.f(BT * C), mean = a.f(BT), rstd = a.f(BT), dinp = a.f(BT * C), dw = a.f(C), db = a.f(C)
            K.layernormForward(out: out.p, mean: mean.p, rstd: rstd.p, inp: inp.p, weight: w.p, bias: bias.p,
                               B: B, T: T, C: C, par: par)
            K.layernormBackward(dinp: dinp.p, dweight: dw.p, dbias: db.p, dout: dout.p, inp: inp.p, weight: w.p,
                                mean: mean.p, rstd: rstd.p, B: B, T: T, C: C, par: par)
            let dwte = a.f(V * C), dwpe = a.f(T * C), g = a.f(BT * C), gate = a.f(BT * C), losses = a.f(BT)
            let work = logits.copy()
            tokens.withUnsafeBufferPointer { tp in
                K.encoderBackward(dwte: dwte.p, dwpe: dwpe.p, dout: dout.p, inp: tp.baseAddress!, B: B, T: T, C: C, par: par)
                K.crossEntropyForward(losses: losses.p, logits: work.p, targets: tp.baseAddress!, BT: BT, V: V, Vp: 32,
                                      dloss: 0.01, par: par)
            }
            K.geluForward(out: g.p, gate: gate.p, inp: inp.p, N: BT * C, par: par)
            results.append([out, mean, rstd, dinp, dw, db, dwte, dwpe, g, gate, losses, work].map(\.values))
        }
        for (i, (one, three)) in zip(results[0], results[1]).enumerated() {
            #expect(one.map(\.bitPattern) == three.map(\.bitPattern), "output \(i)")
        }
    }
}
