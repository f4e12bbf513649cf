import Foundation

/// Throughput measurements of training on this machine, for `make bench`.
///
///     print(try TrainingBenchmark.jsonReport(config: "A", threads: 1, steps: 10))
public enum TrainingBenchmark {
    /// The standard benchmark shapes: (model, batch size, sequence length).
    /// A: V 4096, L4, NH4, C128, B8, T128. B: V 8192, L6, NH6, C384, B4, T256.
    public static let standardConfigs: [String: (config: GPTConfig, batchSize: Int, contextLength: Int)] = [
        "A": (GPTConfig(maxSequenceLength: 128, vocabSize: 4096, layers: 4, heads: 4, channels: 128), 8, 128),
        "B": (GPTConfig(maxSequenceLength: 256, vocabSize: 8192, layers: 6, heads: 6, channels: 384), 4, 256),
    ]

    /// Runs standard config `name` ("A" or "B") and returns one JSON object (one line) with
    /// tokens/s, GFLOP/s, ms/step, single-thread sgemm GFLOP/s with the active OpenBLAS kernel, what
    /// the kernel selection did, and `BLAS.demonstrateSwitch` (generic kernel → switched kernel,
    /// with sgemm GFLOP/s for both). For `tokenmill bench-train`.
    public static func jsonReport(config name: String, threads: Int, steps: Int) throws -> String {
        guard let (config, B, T) = standardConfigs[name] else {
            throw GPTError.invalidConfiguration("unknown benchmark config \(name) (expected A or B)")
        }
        let selection = BLAS.prepare()
        // Training first, with the kernel a normal run gets; the switch demonstration after it
        // swaps OpenBLAS's kernels back and forth.
        let r = try training(config: config, batchSize: B, contextLength: T, threads: threads, steps: steps)
        let sgemm = sgemmGFLOPS(seconds: 0.3)
        let demo = BLAS.demonstrateSwitch()
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "'") + "\"" }
        return "{\"config\":\(q(name)),\"threads\":\(threads),\"steps\":\(steps),\"parameters\":\(config.parameterCount),"
            + "\"tokens_per_second\":\(f(r.tokensPerSecond)),\"gflops\":\(f(r.gflops)),\"ms_per_step\":\(f(r.millisecondsPerStep)),"
            + "\"sgemm_gflops\":\(f(sgemm)),\"sgemm_gflops_prescott\":\(f(demo.generic)),"
            + "\"switch_demo_core\":\(q(demo.core)),\"sgemm_gflops_after_switch\":\(f(demo.switched)),"
            + "\"openblas_core\":\(q(selection.core)),"
            + "\"openblas_initial_core\":\(q(selection.initialCore)),\"kernel_switched\":\(selection.switched),"
            + "\"cpu_has_avx512\":\(selection.cpuHasAVX512),\"note\":\(q(selection.note))}"
    }

    /// One measured configuration.
    public struct Result: Sendable {
        public var config: GPTConfig
        public var batchSize: Int
        public var contextLength: Int
        public var threads: Int
        public var steps: Int
        /// Mean time of a full optimiser step (forward, backward, AdamW).
        public var millisecondsPerStep: Double
        public var tokensPerSecond: Double
        /// Achieved training GFLOP/s by llm.c's estimate (`GPTConfig.trainingFLOPsPerToken`).
        public var gflops: Double
        /// Milliseconds per step in each kind of kernel (when profiled), plus "adamw" and "zero_grad".
        public var breakdown: [String: Double]
    }

    /// Trains a freshly initialised model on random tokens for `warmup + steps` steps (llm.c's CPU
    /// optimiser settings) and times the last `steps`.
    public static func training(config: GPTConfig, batchSize: Int, contextLength: Int, threads: Int,
                                steps: Int, warmup: Int = 1, seed: UInt64 = 1, profile: Bool = false) throws -> Result {
        let model = try GPT2(config: config, seed: seed, threads: threads)
        let optimizer = AdamW(parameterCount: model.parameterCount)
        var random = GPTRandom(seed: seed)
        let n = batchSize * contextLength
        let tokens = (0...n).map { _ in Int32(random.next() % UInt64(config.vocabSize)) }
        let inputs = Array(tokens[0..<n]), targets = Array(tokens[1...n])
        var elapsed: UInt64 = 0
        for s in 0..<(warmup + steps) {
            model.profiling = profile && s >= warmup
            let start = DispatchTime.now().uptimeNanoseconds
            model.timed("zero_grad") { model.zeroGradients() }
            try model.forwardBackward(inputs: inputs, targets: targets, batchSize: batchSize, contextLength: contextLength)
            model.timed("adamw") {
                _ = AdamW.gradientNorm(model: model)
                optimizer.update(model: model, t: s + 1, learningRate: 1e-4, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                                 weightDecay: 0)
            }
            if s >= warmup { elapsed += DispatchTime.now().uptimeNanoseconds - start }
        }
        let seconds = Double(elapsed) / 1e9
        let tps = Double(n * steps) / seconds
        return Result(config: config, batchSize: batchSize, contextLength: contextLength, threads: threads, steps: steps,
                      millisecondsPerStep: seconds * 1000 / Double(steps), tokensPerSecond: tps,
                      gflops: tps * config.trainingFLOPsPerToken(sequenceLength: contextLength) / 1e9,
                      breakdown: model.kernelSeconds.mapValues { $0 * 1000 / Double(steps) })
    }

    /// Single-threaded sgemm throughput in GFLOP/s for C (m×n) = A (m×k) · B (n×k)ᵀ, timed for about
    /// `seconds`, with the active OpenBLAS kernel.
    public static func sgemmGFLOPS(m: Int = 1024, n: Int = 1024, k: Int = 1024, seconds: Double = 0.5) -> Double {
        BLAS.prepare()
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: n * k), c = FloatBuffer(count: m * n)
        for i in 0..<(m * k) { a.base[i] = Float(i % 7) * 0.1 }
        for i in 0..<(n * k) { b.base[i] = Float(i % 5) * 0.1 }
        let start = DispatchTime.now().uptimeNanoseconds
        var reps = 0, elapsed = 0.0
        repeat {
            BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a.base, lda: k, b: b.base, ldb: k,
                       beta: 0, c: c.base, ldc: n)
            reps += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
        return 2 * Double(m) * Double(n) * Double(k) * Double(reps) / elapsed / 1e9
    }
}
