import GPT
import TestSupport
import Testing

/// The whole fast model against llm.c's forward/backward (the reference model, in Double), and
/// the reference model's gradient against finite differences.
@Suite struct ModelTests {
    /// A tiny model with random (not just initial) weights so every path carries signal.
    static func model(_ config: GPTConfig = tinyConfig, threads: Int = 1, seed: UInt64 = 11) throws -> GPT2 {
        let model = try GPT2(config: config, seed: seed, threads: threads)
        var rng = SeededRNG(seed: seed)
        model.withParameters { p in
            let V = config.vocabSize, C = config.channels
            for i in p.indices where !(i >= V * C && i < config.paddedVocabSize * C) {
                p[i] += Float.random(in: -0.3..<0.3, using: &rng)
            }
        }
        return model
    }

    @Test(arguments: [1, 2])
    func forwardAndBackwardMatchReference(threads: Int) throws {
        var rng = SeededRNG(seed: 12)
        let model = try Self.model(threads: threads)
        let B = 3, T = 7, V = tinyConfig.vocabSize
        let x = randomTokens(B * T, vocab: V, &rng), y = randomTokens(B * T, vocab: V, &rng)
        let reference = ReferenceGPT2<Double>(config: tinyConfig, params: model.parameters.map(Double.init))
        let (rloss, rgrads, _) = reference.run(inputs: x, targets: y, B: B, T: T, gradients: true)

        #expect(abs(Double(try model.loss(inputs: x, targets: y, batchSize: B, contextLength: T)) - rloss) < 1e-5 * rloss)
        model.zeroGradients()
        let loss = try model.forwardBackward(inputs: x, targets: y, batchSize: B, contextLength: T)
        #expect(abs(Double(loss) - rloss) < 1e-5 * rloss)
        let grads = model.gradientValues, ref = try #require(rgrads)
        // Per tensor, relative to the tensor's largest gradient.
        let sizes = tinyConfig.parameterSizes, offsets = tinyConfig.parameterOffsets
        for (i, name) in GPTConfig.tensorNames.enumerated() {
            let range = offsets[i]..<(offsets[i] + sizes[i])
            let scale = ref[range].map(abs).max() ?? 0
            expectClose(Array(grads[range]), Array(ref[range]), atol: 1e-4 * scale + 1e-9, rtol: 1e-3, "gradient of \(name)")
        }
        // The padding rows of wte get no gradient.
        let C = tinyConfig.channels
        #expect(grads[(V * C)..<(tinyConfig.paddedVocabSize * C)].allSatisfy { $0 == 0 })
    }

    /// llm.c's backward (the reference model, Double) against central differences of its loss.
    @Test func referenceGradientMatchesFiniteDifferences() throws {
        var rng = SeededRNG(seed: 13)
        let model = try Self.model()
        let B = 2, T = 5, V = tinyConfig.vocabSize
        let x = randomTokens(B * T, vocab: V, &rng), y = randomTokens(B * T, vocab: V, &rng)
        var reference = ReferenceGPT2<Double>(config: tinyConfig, params: model.parameters.map(Double.init))
        let grads = try #require(reference.run(inputs: x, targets: y, B: B, T: T, gradients: true).grads)
        let sizes = tinyConfig.parameterSizes, offsets = tinyConfig.parameterOffsets
        let eps = 1e-5
        for (t, name) in GPTConfig.tensorNames.enumerated() {
            // A few entries per tensor (for wte, rows of tokens that occur, and a padding row).
            var picks = (0..<4).map { _ in offsets[t] + Int.random(in: 0..<sizes[t], using: &rng) }
            if name == "wte" { picks = [Int(x[0]) * 16 + 3, Int(y[1]) * 16 + 5, V * 16 + 1] }
            for i in picks {
                let saved = reference.params[i]
                reference.params[i] = saved + eps
                let up = reference.run(inputs: x, targets: y, B: B, T: T, gradients: false).loss
                reference.params[i] = saved - eps
                let down = reference.run(inputs: x, targets: y, B: B, T: T, gradients: false).loss
                reference.params[i] = saved
                let numeric = (up - down) / (2 * eps)
                #expect(abs(numeric - grads[i]) <= 1e-6 + 1e-4 * abs(grads[i]),
                        "\(name)[\(i - offsets[t])]: analytic \(grads[i]), numeric \(numeric)")
            }
        }
    }

    /// A coarse check straight on the Float model: the directional derivative along the gradient.
    @Test func fastGradientPredictsLossChange() throws {
        var rng = SeededRNG(seed: 14)
        let model = try Self.model()
        let B = 2, T = 8
        let x = randomTokens(B * T, vocab: 37, &rng), y = randomTokens(B * T, vocab: 37, &rng)
        model.zeroGradients()
        let loss0 = try model.forwardBackward(inputs: x, targets: y, batchSize: B, contextLength: T)
        let g = model.gradientValues
        let norm2 = g.reduce(0.0) { $0 + Double($1) * Double($1) }
        let h: Float = 1e-3 / Float(norm2.squareRoot())
        model.withParameters { p in for i in p.indices { p[i] -= h * g[i] } }
        let loss1 = try model.loss(inputs: x, targets: y, batchSize: B, contextLength: T)
        let predicted = Double(h) * norm2
        #expect(abs(Double(loss0 - loss1) - predicted) < 0.05 * predicted, "loss fell \(loss0 - loss1), predicted \(predicted)")
    }

    @Test func initialisationFollowsGPT2() throws {
        let config = GPTConfig(maxSequenceLength: 64, vocabSize: 300, layers: 3, heads: 4, channels: 64)
        let model = try GPT2(config: config, seed: 1)
        #expect(config.paddedVocabSize == 384)
        let p = model.parameters, sizes = config.parameterSizes, offsets = config.parameterOffsets
        func tensor(_ name: String) -> ArraySlice<Float> {
            let i = GPTConfig.tensorNames.firstIndex(of: name)!
            return p[offsets[i]..<(offsets[i] + sizes[i])]
        }
        func std(_ x: ArraySlice<Float>) -> Double {
            let m = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
            return (x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(x.count)).squareRoot()
        }
        for name in ["ln1w", "ln2w", "lnfw"] { #expect(tensor(name).allSatisfy { $0 == 1 }) }
        for name in ["ln1b", "ln2b", "lnfb", "qkvb", "attprojb", "fcb", "fcprojb"] { #expect(tensor(name).allSatisfy { $0 == 0 }) }
        let wte = tensor("wte")
        #expect(wte.suffix((384 - 300) * 64).allSatisfy { $0 == 0 }, "padding rows of wte are zero")
        #expect(abs(std(wte.prefix(300 * 64)) - 0.02) < 0.001)
        for name in ["wpe", "qkvw", "fcw"] { #expect(abs(std(tensor(name)) - 0.02) < 0.001, "\(name)") }
        let residualStd = 0.02 / (6.0).squareRoot()
        for name in ["attprojw", "fcprojw"] { #expect(abs(std(tensor(name)) - residualStd) < 0.0005, "\(name)") }
        #expect(try GPT2(config: config, seed: 1).parameters == p, "same seed, same weights")
        #expect(try GPT2(config: config, seed: 2).parameters != p)
    }

    @Test func badTokensAndShapesThrow() throws {
        let model = try Self.model()
        #expect(throws: GPTError.tokenOutOfRange(token: 37, position: 1, vocabSize: 37)) {
            try model.loss(inputs: [1, 37], targets: [1, 2], batchSize: 1, contextLength: 2)
        }
        #expect(throws: GPTError.self) { try model.loss(inputs: [1, 2], targets: [1, -1], batchSize: 1, contextLength: 2) }
        #expect(throws: GPTError.self) {   // T beyond maxT
            try model.loss(inputs: Array(repeating: 1, count: 9), targets: Array(repeating: 1, count: 9),
                           batchSize: 1, contextLength: 9)
        }
        #expect(throws: GPTError.invalidConfiguration("batch shape \(Int.max / 4)×8 is too large: its activations do not "
                                                      + "fit in memory")) {
            try model.loss(inputs: [1], targets: [1], batchSize: Int.max / 4, contextLength: 8)
        }
        #expect(throws: GPTError.invalidConfiguration("channels (10) must be a multiple of heads (3)")) {
            try GPT2(config: GPTConfig(maxSequenceLength: 4, vocabSize: 5, layers: 1, heads: 3, channels: 10), seed: 1)
        }
    }

    // MARK: generation

    /// The key/value-cache path gives the same next-token distribution as llm.c's full forward.
    @Test func nextTokenDistributionMatchesFullForward() throws {
        var rng = SeededRNG(seed: 15)
        let model = try Self.model()
        let reference = ReferenceGPT2<Double>(config: tinyConfig, params: model.parameters.map(Double.init))
        let Vp = tinyConfig.paddedVocabSize
        for length in [1, 5, 8, 12] {
            let prompt = randomTokens(length, vocab: 37, &rng)
            let window = Array(prompt.suffix(8))
            let probs = reference.run(inputs: window, targets: nil, B: 1, T: window.count, gradients: false).probs
            let last = Array(probs[((window.count - 1) * Vp)..<((window.count - 1) * Vp + 37)])
            let top = try model.nextTokenDistribution(prompt: prompt, top: 37)
            #expect(top.count == 37)
            #expect(zip(top, top.dropFirst()).allSatisfy { $0.probability >= $1.probability })
            var got = [Float](repeating: 0, count: 37)
            for (id, p) in top { got[Int(id)] = p }
            expectClose(got, last, atol: 1e-6, rtol: 1e-4, "distribution after \(length) tokens")
            expectClose(try model.nextTokenProbabilities(prompt), last, atol: 1e-6, rtol: 1e-4, "full forward, \(length) tokens")
        }
        #expect(try model.nextTokenDistribution(prompt: [3], top: 5).count == 5)
        #expect(throws: GPTError.self) { try model.nextTokenDistribution(prompt: [], top: 5) }
        #expect(throws: GPTError.self) { try model.generate(prompt: [99], maxTokens: 2) }
    }

    /// Greedy generation equals repeated argmax of the full forward, also past the context window.
    @Test func greedyGenerationIsArgmaxOfFullForward() throws {
        let model = try Self.model()
        let prompt: [Int32] = [1, 2, 3]
        let generated = try model.generate(prompt: prompt, maxTokens: 10, temperature: 0)
        #expect(generated.count == 10)
        var sequence = prompt
        for token in generated {
            let probs = try model.nextTokenProbabilities(sequence)
            let best = probs.indices.max { probs[$0] < probs[$1] || (probs[$0] == probs[$1] && $0 > $1) }!
            #expect(Int32(best) == token)
            sequence.append(token)
        }
    }

    @Test func samplingIsSeededAndRespectsTopK() throws {
        let model = try Self.model()
        let a = try model.generate(prompt: [5], maxTokens: 20, temperature: 1, topK: 0, seed: 7)
        #expect(try model.generate(prompt: [5], maxTokens: 20, temperature: 1, topK: 0, seed: 7) == a)
        #expect(try model.generate(prompt: [5], maxTokens: 20, temperature: 1, topK: 0, seed: 8) != a)
        // top-1 sampling is greedy.
        #expect(try model.generate(prompt: [5], maxTokens: 12, temperature: 1.5, topK: 1, seed: 3)
                == model.generate(prompt: [5], maxTokens: 12, temperature: 0))
        #expect(try model.generate(prompt: [5], maxTokens: 0).isEmpty)
    }
}
