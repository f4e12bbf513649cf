import Foundation
import GPT
import TestSupport
import Testing

@Suite struct TrainerTests {
    /// Tokens with some structure (a period-5 cycle over 5 of the 37 ids, 10% noise), so a model
    /// can learn them.
    static func corpus(_ n: Int, vocab: Int = 37, seed: UInt64 = 21) -> [Int32] {
        var rng = SeededRNG(seed: seed)
        return (0..<n).map { i in Int.random(in: 0..<10, using: &rng) == 0 ? Int32.random(in: 0..<Int32(vocab), using: &rng)
                                                                           : Int32((i % 5) * 7) }
    }

    static func settings(steps: Int = 6) -> TrainingSettings {
        var s = TrainingSettings(vocabSize: 37)
        s.layers = 2; s.heads = 2; s.channels = 16; s.contextLength = 8; s.batchSize = 2
        s.steps = steps
        s.learningRate = 1e-2
        s.warmupSteps = 2
        s.minLearningRateFraction = 0.1
        s.weightDecay = 0.1
        s.gradClip = 1
        s.evalEvery = 2
        s.evalBatches = 2
        s.checkpointEvery = 2
        s.seed = 5
        s.threads = 1
        return s
    }

    static func providers(_ s: TrainingSettings) throws -> (TokenArrayBatchProvider, TokenArrayBatchProvider) {
        (try TokenArrayBatchProvider(tokens: corpus(400), batchSize: s.batchSize, contextLength: s.contextLength),
         try TokenArrayBatchProvider(tokens: corpus(100, seed: 22), batchSize: s.batchSize, contextLength: s.contextLength))
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// The log lines as dictionaries.
    static func log(_ dir: String) throws -> [[String: Any]] {
        let text = String(decoding: try bytes((dir as NSString).appendingPathComponent("log.jsonl")), as: UTF8.self)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The numbers that must repeat exactly: losses, learning rates, gradient norms.
    static func numbers(_ log: [[String: Any]]) -> [[Double]] {
        log.map { line in ["step", "train_loss", "lr", "grad_norm", "val_loss"].map { (line[$0] as? Double) ?? -1 } }
    }

    @Test func logCheckpointsAndLearning() throws {
        let dir = try TempDir()
        var s = Self.settings(steps: 30)
        s.learningRate = 3e-2
        s.checkpointEvery = 10
        s.evalEvery = 10
        let (train, val) = try Self.providers(s)
        let trainer = try Trainer(settings: s, runDirectory: dir.path, train: train, validation: val)
        var reports: [TrainingProgress] = []
        try trainer.run { reports.append($0); return true }
        #expect(reports.map(\.step) == Array(0..<30))
        let log = try Self.log(dir.path)
        #expect(log.count == 30)
        for (i, line) in log.enumerated() {
            #expect(line["step"] as? Int == i)
            #expect((line["train_loss"] as? Double).map(Float.init) == reports[i].trainLoss, "loss printed exactly")
            #expect((line["lr"] as? Double).map(Float.init) == reports[i].learningRate)
            #expect((line["tokens_per_second"] as? Double ?? 0) > 0)
            #expect((line["val_loss"] != nil) == (i % 10 == 0 || i == 29), "val_loss on eval steps only")
        }
        let first = reports[0].trainLoss, last = reports.suffix(5).map(\.trainLoss).reduce(0, +) / 5
        #expect(abs(first - Float.log(37)) < 0.3, "initial loss ≈ ln V")
        #expect(last < first - 1, "it learns: \(first) → \(last)")
        #expect(reports[0].learningRate == 1.5e-2 && reports[1].learningRate == 3e-2, "warmup")
        for n in [10, 20, 30] {
            let model = Trainer.checkpointPath(runDirectory: dir.path, step: n)
            #expect(FileManager.default.fileExists(atPath: model))
            #expect(FileManager.default.fileExists(atPath: TrainerState.path(forCheckpoint: model)))
        }
        #expect(reports[9].checkpoint == Trainer.checkpointPath(runDirectory: dir.path, step: 10))
        #expect(Trainer.latestCheckpoint(in: dir.path)?.step == 30)
        // The final checkpoint holds the trained weights.
        #expect(try GPT2(checkpoint: Trainer.checkpointPath(runDirectory: dir.path, step: 30)).parameters == trainer.model.parameters)
    }

    @Test(arguments: [1, 2])
    func sameSeedSameRun(threads: Int) throws {
        var s = Self.settings()
        s.threads = threads
        var outputs: [([[Double]], [UInt8], [UInt8])] = []
        for _ in 0..<2 {
            let dir = try TempDir()
            let (train, val) = try Self.providers(s)
            try Trainer(settings: s, runDirectory: dir.path, train: train, validation: val).run()
            let model = Trainer.checkpointPath(runDirectory: dir.path, step: 6)
            outputs.append((Self.numbers(try Self.log(dir.path)), try Self.bytes(model),
                            try Self.bytes(TrainerState.path(forCheckpoint: model))))
        }
        #expect(outputs[0].0 == outputs[1].0)
        #expect(outputs[0].1 == outputs[1].1, "checkpoints identical")
        #expect(outputs[0].2 == outputs[1].2, "trainer states identical")
    }

    /// `keepCheckpoints`: only the latest N checkpoints stay (models and states), and the run
    /// resumes from the latest as usual; 0 keeps them all.
    @Test func onlyTheLatestCheckpointsAreKept() throws {
        var s = Self.settings(steps: 8)   // a checkpoint every 2 steps
        s.keepCheckpoints = 2
        let dir = try TempDir()
        do {
            let (train, val) = try Self.providers(s)
            try Trainer(settings: s, runDirectory: dir.path, train: train, validation: val).run()
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("model_") }.sorted()
        #expect(files == ["model_00000006.bin", "model_00000006.state", "model_00000008.bin", "model_00000008.state"])
        var longer = s
        longer.steps = 10
        let (train, val) = try Self.providers(s)
        let resumed = try Trainer.resume(runDirectory: dir.path, train: train, validation: val, settings: longer)
        #expect(resumed.step == 8)
        try resumed.run()
        #expect(Trainer.latestCheckpoint(in: dir.path)?.step == 10)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".bin") }.sorted()
                == ["model_00000008.bin", "model_00000010.bin"])
    }

    /// N steps, stop, resume, N more == 2N steps in one go, bit for bit.
    @Test func resumeIsExact() throws {
        let s = Self.settings(steps: 8)
        let straight = try TempDir(), split = try TempDir()
        do {
            let (train, val) = try Self.providers(s)
            try Trainer(settings: s, runDirectory: straight.path, train: train, validation: val).run()
        }
        do {
            let (train, val) = try Self.providers(s)
            try Trainer(settings: s, runDirectory: split.path, train: train, validation: val).run { $0.step < 2 }
            #expect(Trainer.latestCheckpoint(in: split.path)?.step == 3, "stopped after step 2 with a checkpoint")
        }
        do {
            let (train, val) = try Self.providers(s)   // fresh loaders: position comes from the state
            let trainer = try Trainer.resume(runDirectory: split.path, train: train, validation: val)
            #expect(trainer.step == 3)
            try trainer.run()
        }
        #expect(Self.numbers(try Self.log(split.path)) == Self.numbers(try Self.log(straight.path)))
        for n in [4, 6, 8] {
            let a = Trainer.checkpointPath(runDirectory: straight.path, step: n)
            let b = Trainer.checkpointPath(runDirectory: split.path, step: n)
            #expect(try Self.bytes(a) == Self.bytes(b), "model_\(n)")
            #expect(try Self.bytes(TrainerState.path(forCheckpoint: a)) == Self.bytes(TrainerState.path(forCheckpoint: b)))
        }
    }

    @Test func resumeDropsLogLinesPastTheCheckpointAndChecksSettings() throws {
        let dir = try TempDir()
        let s = Self.settings(steps: 8)
        let (train, val) = try Self.providers(s)
        try Trainer(settings: s, runDirectory: dir.path, train: train, validation: val).run(until: 5)
        // Pretend the run died after step 5's log line but before any later checkpoint.
        try FileManager.default.removeItem(atPath: Trainer.checkpointPath(runDirectory: dir.path, step: 5))
        #expect(try Self.log(dir.path).count == 5)
        do {
            let trainer = try Trainer.resume(runDirectory: dir.path, train: train, validation: val)
            #expect(trainer.step == 4)
            #expect(try Self.log(dir.path).count == 4)
            // One trainer per run directory while it lives (as two processes would be), new or resumed.
            func busy(_ dir: TempDir) -> GPTError {
                .io(path: dir.file("train.lock"), reason: "tokenmill train (pid \(getpid())) is writing this run directory: "
                    + "wait for it to end, or stop it, then run again")
            }
            #expect(throws: busy(dir)) { try Trainer.resume(runDirectory: dir.path, train: train, validation: val) }
            let fresh = try TempDir()
            let first = try Trainer(settings: s, runDirectory: fresh.path, train: train, validation: val)
            #expect(throws: busy(fresh)) { try Trainer(settings: s, runDirectory: fresh.path, train: train, validation: val) }
            withExtendedLifetime(first) {}
        }

        var changed = s
        changed.learningRate = 0.5
        let state = TrainerState.path(forCheckpoint: Trainer.checkpointPath(runDirectory: dir.path, step: 4))
        #expect(throws: GPTError.settingsMismatch(path: state, field: "learning_rate", stored: "0.01", given: "0.5")) {
            try Trainer.resume(runDirectory: dir.path, train: train, validation: val, settings: changed)
        }
        var longer = s
        longer.steps = 20
        longer.threads = 2
        #expect(try Trainer.resume(runDirectory: dir.path, train: train, validation: val, settings: longer).settings.steps == 20)
        #expect(try TrainerState.readSettings(state) == s)
        let empty = try TempDir()
        #expect(throws: GPTError.nothingToResume(directory: empty.path)) {
            try Trainer.resume(runDirectory: empty.path, train: train)
        }
        #expect(throws: GPTError.runExists(directory: dir.path)) {
            try Trainer(settings: s, runDirectory: dir.path, train: train, validation: val)
        }
    }

    /// A step is logged before its checkpoint is written, so a run killed between the two resumes
    /// from that checkpoint with every step in the log (CI once caught a kill in that gap). Made
    /// deterministic here: the checkpoint after step 3 cannot be written (a directory is in the way).
    @Test func aStepIsLoggedBeforeItsCheckpoint() throws {
        let dir = try TempDir()
        let s = Self.settings(steps: 8)
        let (train, val) = try Self.providers(s)
        let blocked = Trainer.checkpointPath(runDirectory: dir.path, step: 4)
        do {
            let trainer = try Trainer(settings: s, runDirectory: dir.path, train: train, validation: val)
            try FileManager.default.createDirectory(atPath: blocked + "/x", withIntermediateDirectories: true)
            #expect(throws: (any Error).self) { try trainer.run() }
        }
        #expect(try Self.log(dir.path).map { $0["step"] as? Int } == [0, 1, 2, 3])
        // Resuming from the checkpoint after step 1 keeps the two steps before it.
        try FileManager.default.removeItem(atPath: blocked)
        let again = try Trainer.resume(runDirectory: dir.path, train: train, validation: val)
        #expect(again.step == 2)
        try again.run()
        #expect(try Self.log(dir.path).map { $0["step"] as? Int } == Array(0..<8))
    }

    @Test func badStateFilesNameTheFile() throws {
        let dir = try TempDir()
        let s = Self.settings(steps: 2)
        let (train, val) = try Self.providers(s)
        try Trainer(settings: s, runDirectory: dir.path, train: train, validation: val).run()
        let state = TrainerState.path(forCheckpoint: Trainer.checkpointPath(runDirectory: dir.path, step: 2))
        var bytes = try Self.bytes(state)
        try dir.write("model_00000002.state", Array(bytes.dropLast(1)))
        #expect(throws: GPTError.badState(path: state, reason: "file is \(bytes.count - 1) bytes, but its header needs \(bytes.count)")) {
            try Trainer.resume(runDirectory: dir.path, train: train, validation: val)
        }
        // A parameter count whose moments no file could hold is refused, not trapped on.
        var huge = bytes
        for i in 16..<24 { huge[i] = 0xFF }
        try dir.write("model_00000002.state", huge)
        #expect(throws: GPTError.badState(path: state, reason: "file is \(bytes.count) bytes, but its header's parameter "
                                           + "count 18446744073709551615 (at offset 16) needs more than any file holds")) {
            try TrainerState.readSettings(state)
        }
        huge[23] = 0x0F   // fits in an Int, but not 8 bytes per parameter
        try dir.write("model_00000002.state", huge)
        #expect(throws: GPTError.self) { try Trainer.resume(runDirectory: dir.path, train: train, validation: val) }
        bytes[0] ^= 1
        try dir.write("model_00000002.state", bytes)
        #expect(throws: GPTError.badState(path: state, reason: "bad magic 20240900 at offset 0 (expected 20240901)")) {
            try Trainer.resume(runDirectory: dir.path, train: train, validation: val)
        }
    }

    @Test func initFromCheckpointChecksVocabulary() throws {
        let dir = try TempDir()
        let source = try GPT2(config: GPTConfig(maxSequenceLength: 16, vocabSize: 37, layers: 1, heads: 2, channels: 8), seed: 3)
        let path = dir.file("init.bin")
        try source.save(to: path)
        var s = Self.settings(steps: 1)
        let (train, val) = try Self.providers(s)
        let trainer = try Trainer(settings: s, runDirectory: dir.file("run"), train: train, validation: val, initCheckpoint: path)
        #expect(trainer.settings.layers == 1 && trainer.settings.channels == 8)
        #expect(trainer.model.config.maxSequenceLength == 16)
        #expect(trainer.model.parameters == source.parameters)
        s.vocabSize = 50
        #expect(throws: GPTError.vocabularyMismatch(path: path, checkpoint: 37, data: 50)) {
            try Trainer(settings: s, runDirectory: dir.file("run2"), train: train, initCheckpoint: path)
        }
        #expect("\(GPTError.vocabularyMismatch(path: path, checkpoint: 37, data: 50))"
                == "\(path): checkpoint vocabulary size 37 does not match the data's 50")
    }

    /// Two micro-batches of one sequence give the gradient of one batch of two (llm.c's
    /// sequential reader hands out the same rows either way).
    @Test func gradientAccumulationAveragesMicroBatches() throws {
        var one = Self.settings(steps: 3)
        one.evalEvery = 0
        var two = one
        two.batchSize = 1
        two.gradAccumulation = 2
        var losses: [[Float]] = []
        for s in [one, two] {
            let dir = try TempDir()
            let train = try TokenArrayBatchProvider(tokens: Self.corpus(400), batchSize: s.batchSize, contextLength: s.contextLength)
            var l: [Float] = []
            try Trainer(settings: s, runDirectory: dir.path, train: train).run { l.append($0.trainLoss); return true }
            losses.append(l)
        }
        for (a, b) in zip(losses[0], losses[1]) { #expect(abs(a - b) < 1e-5, "\(a) vs \(b)") }
    }

    @Test func learningRateSchedule() {
        func lr(_ s: Int) -> Float { learningRate(step: s, totalSteps: 110, peak: 1, warmup: 10, minFraction: 0.1) }
        #expect(lr(0) == 0.1 && lr(9) == 1)
        #expect(lr(10) == 1)
        #expect(abs(lr(60) - 0.55) < 1e-6, "halfway down the cosine")
        #expect(abs(lr(110) - 0.1) < 1e-6)
        #expect(learningRate(step: 50, totalSteps: 100, peak: 3e-4, warmup: 0, minFraction: 1) == 3e-4, "constant")
        #expect(abs(learningRate(step: 99, totalSteps: 100, peak: 1, warmup: 0, minFraction: 0)) < 1e-3)
    }

    /// One AdamW step by hand: weight decay reaches the 2-D matrices only, clipping scales the
    /// gradient first.
    @Test func adamwStepByHand() throws {
        let config = GPTConfig(maxSequenceLength: 1, vocabSize: 1, paddedVocabSize: 1, layers: 1, heads: 1, channels: 1)
        let model = try GPT2(config: config, seed: 1)
        // Tensors (each one element here, except qkvw/qkvb 3 and fcw/fcb 4).
        let n = config.parameterCount
        model.withParameters { p in for i in 0..<n { p[i] = Float(i + 1) * 0.1 } }
        model.withGradients { g in for i in 0..<n { g[i] = Float(i % 3) - 1 } }   // -1, 0, 1, ...
        let optimizer = AdamW(parameterCount: n)
        let lr: Float = 0.01, wd: Float = 0.5, scale: Float = 0.5
        optimizer.update(model: model, t: 1, learningRate: lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                         weightDecay: wd, gradientScale: scale)
        let p = model.parameters
        let matrices = Set(config.parameterOffsets.enumerated().filter { GPTConfig.isMatrix($0.offset) }
            .flatMap { $0.element..<($0.element + config.parameterSizes[$0.offset]) })
        for i in 0..<n {
            let p0 = Double(i + 1) * 0.1, g = (Double(i % 3) - 1) * Double(scale)
            // t = 1: m̂ = g, v̂ = g², so the step is lr·(g/(|g| + ε) + wd·p).
            let decay = matrices.contains(i) ? Double(wd) : 0
            let expected = p0 - Double(lr) * (g / (abs(g) + 1e-8) + decay * p0)
            #expect(abs(Double(p[i]) - expected) < 1e-6, "parameter \(i)")
        }
    }
}
