import Foundation

/// Runs the model one position at a time with a key/value cache, for sampling. Each new token
/// costs matrix-vector products over the weights plus attention over the cached positions; the
/// result is the same (to float rounding) as a full forward pass over the sequence.
final class InferenceSession {
    let model: GPT2
    let maxT: Int
    // Safety: the views below are carved from `storage` (sizes from the model's config) and live
    // as long as this session; `logits` is read by callers only while they hold the session.
    private let storage: FloatBuffer
    private let keys: UnsafeMutablePointer<Float>      // (L, maxT, C)
    private let values: UnsafeMutablePointer<Float>    // (L, maxT, C)
    private let x: UnsafeMutablePointer<Float>         // (C) the residual stream
    private let ln: UnsafeMutablePointer<Float>        // (C)
    private let qkv: UnsafeMutablePointer<Float>       // (3C)
    private let atty: UnsafeMutablePointer<Float>      // (C)
    private let fch: UnsafeMutablePointer<Float>       // (4C)
    private let fchGelu: UnsafeMutablePointer<Float>   // (4C)
    private let scores: UnsafeMutablePointer<Float>    // (maxT)
    let logits: UnsafeMutablePointer<Float>            // (Vp)
    private let stats: UnsafeMutablePointer<Float>     // mean, rstd
    /// Tokens whose keys and values are in the cache.
    private(set) var length = 0

    init(model: GPT2) {
        self.model = model
        let c = model.config, C = c.channels
        maxT = c.maxSequenceLength
        let sizes = [c.layers * maxT * C, c.layers * maxT * C, C, C, 3 * C, C, 4 * C, 4 * C, maxT, c.paddedVocabSize, 2]
        let t: [UnsafeMutablePointer<Float>]
        (storage, t) = FloatBuffer.carve(sizes)
        keys = t[0]; values = t[1]; x = t[2]; ln = t[3]; qkv = t[4]; atty = t[5]
        fch = t[6]; fchGelu = t[7]; scores = t[8]; logits = t[9]; stats = t[10]
    }

    func reset() { length = 0 }

    /// Runs `token` at the next position (the cache must not be full); `logits` then holds the
    /// logits (Vp) for the position after it.
    func append(_ token: Int32) {
        let c = model.config, p = model.params, C = c.channels, NH = c.heads, hs = C / NH
        let one = Parallel(threads: 1), pos = length
        let scale = 1 / Float(hs).squareRoot()
        for i in 0..<C { x[i] = p.wte[Int(token) * C + i] + p.wpe[pos * C + i] }
        for l in 0..<c.layers {
            let w = p.layer(l, C)
            Kernels.layernormForward(out: ln, mean: stats, rstd: stats + 1, inp: x, weight: w.ln1w, bias: w.ln1b,
                                     B: 1, T: 1, C: C, par: one)
            qkv.update(from: w.qkvb, count: 3 * C)
            BLAS.sgemv(trans: false, m: 3 * C, n: C, alpha: 1, a: w.qkvw, lda: C, x: ln, beta: 1, y: qkv)
            let kc = keys + l * maxT * C, vc = values + l * maxT * C
            (kc + pos * C).update(from: qkv + C, count: C)
            (vc + pos * C).update(from: qkv + 2 * C, count: C)
            for h in 0..<NH {
                let q = qkv + h * hs
                for t in 0...pos {
                    let k = kc + t * C + h * hs
                    var s: Float = 0
                    for i in 0..<hs { s += q[i] * k[i] }
                    scores[t] = s * scale
                }
                Kernels.causalSoftmaxRow(scores, count: pos + 1, rowLength: pos + 1)
                let o = atty + h * hs
                o.update(repeating: 0, count: hs)
                for t in 0...pos {
                    let v = vc + t * C + h * hs, a = scores[t]
                    for i in 0..<hs { o[i] += a * v[i] }
                }
            }
            for i in 0..<C { x[i] += w.attprojb[i] }
            BLAS.sgemv(trans: false, m: C, n: C, alpha: 1, a: w.attprojw, lda: C, x: atty, beta: 1, y: x)
            Kernels.layernormForward(out: ln, mean: stats, rstd: stats + 1, inp: x, weight: w.ln2w, bias: w.ln2b,
                                     B: 1, T: 1, C: C, par: one)
            fch.update(from: w.fcb, count: 4 * C)
            BLAS.sgemv(trans: false, m: 4 * C, n: C, alpha: 1, a: w.fcw, lda: C, x: ln, beta: 1, y: fch)
            Kernels.geluForward(out: fchGelu, inp: fch, N: 4 * C, par: one)
            for i in 0..<C { x[i] += w.fcprojb[i] }
            BLAS.sgemv(trans: false, m: C, n: 4 * C, alpha: 1, a: w.fcprojw, lda: 4 * C, x: fchGelu, beta: 1, y: x)
        }
        Kernels.layernormForward(out: ln, mean: stats, rstd: stats + 1, inp: x, weight: p.lnfw, bias: p.lnfb,
                                 B: 1, T: 1, C: C, par: one)
        BLAS.sgemv(trans: false, m: c.paddedVocabSize, n: C, alpha: 1, a: p.wte, lda: C, x: ln, beta: 0, y: logits)
        length += 1
    }

    /// Fills the cache from `tokens` (the last `maxT` of them) and leaves the logits of the
    /// position after the last.
    func prefill(_ tokens: ArraySlice<Int32>) {
        reset()
        for t in tokens.suffix(maxT) { append(t) }
    }
}

extension GPT2 {
    private func checkPrompt(_ prompt: [Int32]) throws {
        guard !prompt.isEmpty else { throw GPTError.invalidConfiguration("the prompt must hold at least one token") }
        for (i, t) in prompt.enumerated() where t < 0 || Int(t) >= config.vocabSize {
            throw GPTError.tokenOutOfRange(token: t, position: i, vocabSize: config.vocabSize)
        }
    }

    /// Samples up to `maxTokens` tokens after `prompt` and returns them (without the prompt).
    ///
    /// Each step predicts the next token from the last `maxSequenceLength` tokens, picks one, and
    /// appends it. `temperature` 0 picks the most likely token (lowest id on ties); otherwise the
    /// logits are divided by `temperature`, cut to the `topK` most likely (0 = all) and sampled
    /// with a generator seeded by `seed` — the same arguments give the same tokens.
    ///
    ///     let ids = try model.generate(prompt: [50256], maxTokens: 20, temperature: 0.8, topK: 40, seed: 1)
    ///
    /// - Complexity: O(maxTokens · (parameters + layers · context · channels)) with a key/value
    ///   cache; once the sequence outgrows the context, each token re-reads the whole window.
    public func generate(prompt: [Int32], maxTokens: Int, temperature: Float = 1, topK: Int = 0,
                         seed: UInt64 = 0) throws -> [Int32] {
        try checkPrompt(prompt)
        guard temperature >= 0, topK >= 0, maxTokens >= 0 else {
            throw GPTError.invalidConfiguration("temperature, top-k and max tokens must not be negative")
        }
        let session = InferenceSession(model: self)
        var sequence = prompt
        session.prefill(sequence[...])
        var random = GPTRandom(seed: seed)
        var generated: [Int32] = []
        for _ in 0..<maxTokens {
            let next = sample(session.logits, temperature: temperature, topK: topK, random: &random)
            generated.append(next)
            sequence.append(next)
            if generated.count == maxTokens { break }
            if session.length == session.maxT {
                // Slide the window: the next prediction sees the last maxT tokens at positions 0..<maxT.
                session.prefill(sequence.suffix(session.maxT))
            } else {
                session.append(next)
            }
        }
        return generated
    }

    /// The `top` most likely next tokens after `prompt` with their probabilities, most likely
    /// first (lower id first on ties).
    public func nextTokenDistribution(prompt: [Int32], top: Int) throws -> [(id: Int32, probability: Float)] {
        try checkPrompt(prompt)
        let session = InferenceSession(model: self)
        session.prefill(prompt[...])
        let probs = GPT2.softmax(session.logits, count: config.vocabSize, temperature: 1)
        let order = probs.indices.sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }
        return order.prefix(max(0, top)).map { (Int32($0), Float(probs[$0])) }
    }

    /// Softmax of `logits[0..<count] / temperature`, in Double.
    static func softmax(_ logits: UnsafePointer<Float>, count: Int, temperature: Float) -> [Double] {
        var mx = -Double.infinity
        for i in 0..<count { mx = max(mx, Double(logits[i])) }
        let t = Double(temperature)
        var probs = (0..<count).map { Foundation.exp((Double(logits[$0]) - mx) / t) }
        let sum = probs.reduce(0, +)
        for i in probs.indices { probs[i] /= sum }
        return probs
    }

    func sample(_ logits: UnsafePointer<Float>, temperature: Float, topK: Int, random: inout GPTRandom) -> Int32 {
        let V = config.vocabSize
        if temperature == 0 {
            var best = 0
            for i in 1..<max(V, 1) where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        var probs = GPT2.softmax(logits, count: V, temperature: temperature)
        if topK > 0 && topK < V {
            let order = probs.indices.sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }
            var keep = [Bool](repeating: false, count: V)
            for i in order.prefix(topK) { keep[i] = true }
            var sum = 0.0
            for i in 0..<V { if keep[i] { sum += probs[i] } else { probs[i] = 0 } }
            for i in 0..<V { probs[i] /= sum }
        }
        let coin = random.nextDouble()
        var cdf = 0.0, last = 0
        for i in 0..<V where probs[i] > 0 {
            cdf += probs[i]
            last = i
            if coin < cdf { return Int32(i) }
        }
        return Int32(last)
    }
}
