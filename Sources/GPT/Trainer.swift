import Foundation
import Common

/// One optimiser step as reported to the progress callback.
public struct TrainingProgress: Sendable {
    /// The step (from 0) this report is about; its loss was computed before its update.
    public var step: Int
    public var totalSteps: Int
    public var trainLoss: Float
    /// The validation loss (before this step's update), on eval steps.
    public var validationLoss: Float?
    public var learningRate: Float
    /// Global L2 norm of the gradient, before clipping.
    public var gradientNorm: Float
    public var milliseconds: Double
    public var tokensPerSecond: Double
    /// Of `milliseconds`, the all-reduce of a data-parallel run (nil for one process).
    public var allReduceMilliseconds: Double?
    /// The checkpoint written after this step, if any.
    public var checkpoint: String?
}

/// Pre-trains a GPT-2 on batches from a `BatchProvider`, llm.c style, into a run directory:
///
/// - `RUNDIR/log.jsonl`: one JSON object per step, e.g.
///   `{"step":0,"train_loss":8.3,"lr":0.0003,"grad_norm":1.9,"ms":103.5,"tokens_per_second":9893.1}`,
///   plus `"val_loss"` on eval steps. Step s's losses are computed before step s's update.
/// - `RUNDIR/model_%08d.bin` (llm.c checkpoint) + `.state` (`TrainerState`) after every
///   `checkpointEvery` steps and at the end; the number is the count of completed steps.
///
/// Same seed, settings and thread count give identical losses and checkpoints. Stopping after N
/// steps and resuming (`Trainer.resume`) gives exactly what an uninterrupted run gives.
///
///     var settings = TrainingSettings(vocabSize: 4096)
///     settings.steps = 100
///     let trainer = try Trainer(settings: settings, runDirectory: "out/run", train: trainData, validation: valData)
///     try trainer.run { p in print(p.step, p.trainLoss); return true }
public final class Trainer {
    public private(set) var settings: TrainingSettings
    public let runDirectory: String
    public let model: GPT2
    /// Completed optimiser steps.
    public private(set) var step: Int
    let optimizer: AdamW
    var random: GPTRandom
    let train: BatchProvider
    let validation: BatchProvider?
    private var inputs: [Int32]
    private var targets: [Int32]
    private var lastCheckpointStep: Int?
    /// `RUNDIR/train.lock`, held while this trainer lives: one run writes a directory at a time.
    private let lock: ExclusiveLock
    /// The ranks of a data-parallel run (one process by default).
    public let group: DataParallelGroup

    public var logPath: String { FileSystem.join(runDirectory, "log.jsonl") }

    /// The checkpoint path for `step` completed steps in `runDirectory`.
    public static func checkpointPath(runDirectory: String, step: Int) -> String {
        FileSystem.join(runDirectory, String(format: "model_%08d.bin", step))
    }

    /// A new run. The model is initialised from `settings.seed`, or loaded from the llm.c checkpoint
    /// `initCheckpoint` (whose vocabulary must be the data's; its layers, heads and channels replace
    /// the settings'). Creates `runDirectory` and starts a fresh `log.jsonl`; refuses a directory
    /// that already holds checkpoints (`GPTError.runExists`).
    public init(settings: TrainingSettings, runDirectory: String, train: BatchProvider,
                validation: BatchProvider? = nil, initCheckpoint: String? = nil, group: DataParallelGroup = .single) throws {
        var settings = settings
        settings.threads = settings.resolvedThreads
        let model: GPT2
        if let initCheckpoint {
            let config = try Checkpoint.readConfig(initCheckpoint)
            guard config.vocabSize == settings.vocabSize else {
                throw GPTError.vocabularyMismatch(path: initCheckpoint, checkpoint: config.vocabSize, data: settings.vocabSize)
            }
            guard settings.contextLength <= config.maxSequenceLength else {
                throw GPTError.invalidConfiguration("context length \(settings.contextLength) exceeds the checkpoint's "
                                                    + "maximum \(config.maxSequenceLength) (\(initCheckpoint))")
            }
            settings.layers = config.layers
            settings.heads = config.heads
            settings.channels = config.channels
            if let problem = settings.problem { throw GPTError.invalidConfiguration(problem.description) }
            model = try GPT2(checkpoint: initCheckpoint, threads: settings.threads)
        } else {
            if let problem = settings.problem { throw GPTError.invalidConfiguration(problem.description) }
            model = try GPT2(config: settings.modelConfig, seed: settings.seed, threads: settings.threads)
        }
        try Trainer.checkProviders(settings, train, validation)
        try Trainer.makeDirectory(runDirectory)
        lock = try Trainer.lock(runDirectory, rank: group.rank)
        if Trainer.latestCheckpoint(in: runDirectory) != nil { throw GPTError.runExists(directory: runDirectory) }
        self.group = group
        self.settings = settings
        self.runDirectory = runDirectory
        self.model = model
        self.train = train
        self.validation = validation
        step = 0
        optimizer = AdamW(parameterCount: model.parameterCount)
        random = GPTRandom(seed: settings.seed ^ 0x7472_6169_6E65_7221)
        inputs = Array(repeating: 0, count: settings.batchSize * settings.contextLength)
        targets = inputs
        if group.writes { try FileIO.writeAtomically(logPath, []) }
    }

    private init(settings: TrainingSettings, runDirectory: String, model: GPT2, state: TrainerState,
                 train: BatchProvider, validation: BatchProvider?, lock: ExclusiveLock, group: DataParallelGroup) {
        self.lock = lock
        self.group = group
        self.settings = settings
        self.runDirectory = runDirectory
        self.model = model
        self.train = train
        self.validation = validation
        step = state.step
        lastCheckpointStep = state.step
        optimizer = AdamW(parameterCount: model.parameterCount)
        optimizer.m.base.update(from: state.m.base, count: state.m.count)
        optimizer.v.base.update(from: state.v.base, count: state.v.count)
        random = GPTRandom(seed: 0)
        random.state = state.randomState
        inputs = Array(repeating: 0, count: settings.batchSize * settings.contextLength)
        targets = inputs
    }

    /// Continues the run in `runDirectory` from its latest checkpoint with a state file. With
    /// `settings`, they must equal the stored ones except steps, threads, evalEvery, evalBatches and
    /// checkpointEvery; without, the stored settings are used. `log.jsonl` keeps the steps before
    /// the checkpoint only.
    public static func resume(runDirectory: String, train: BatchProvider, validation: BatchProvider? = nil,
                              settings given: TrainingSettings? = nil, group: DataParallelGroup = .single) throws -> Trainer {
        guard let (fileStep, modelPath) = latestCheckpoint(in: runDirectory) else {
            throw GPTError.nothingToResume(directory: runDirectory)
        }
        let lock = try Trainer.lock(runDirectory, rank: group.rank)
        let statePath = TrainerState.path(forCheckpoint: modelPath)
        let config = try Checkpoint.readConfig(modelPath)
        let state = try TrainerState.read(statePath, parameterCount: config.parameterCount)
        guard state.step == fileStep else {
            throw GPTError.badState(path: statePath, reason: "records step \(state.step), but its name says \(fileStep)")
        }
        var settings = state.settings
        if var given {
            given.threads = given.resolvedThreads
            for d in SettingsCoding.differences(state.settings, given) where !TrainingSettings.resumeMayChange.contains(d.key) {
                throw GPTError.settingsMismatch(path: statePath, field: SettingsCoding.externalName(d.key),
                                                stored: "\(d.a)", given: "\(d.b)")
            }
            settings = given
        }
        if let problem = settings.problem { throw GPTError.invalidConfiguration(problem.description) }
        guard config.vocabSize == settings.vocabSize, config.layers == settings.layers,
              config.heads == settings.heads, config.channels == settings.channels else {
            throw GPTError.badState(path: statePath, reason: "its settings do not describe the model in \(modelPath)")
        }
        try checkProviders(settings, train, validation)
        try train.restoreState(state.loaderState)
        let model = try GPT2(checkpoint: modelPath, threads: settings.threads)
        let trainer = Trainer(settings: settings, runDirectory: runDirectory, model: model, state: state,
                              train: train, validation: validation, lock: lock, group: group)
        if group.writes { try trainer.truncateLog(before: state.step) }
        return trainer
    }

    /// The latest `model_NNNNNNNN.bin` in `directory` that has its `.state` beside it.
    public static func latestCheckpoint(in directory: String) -> (step: Int, path: String)? {
        guard let names = try? FileSystem.list(directory) else { return nil }
        var best: (Int, String)?
        for name in names where name.hasPrefix("model_") && name.hasSuffix(".bin") && name.count == 18 {
            guard let n = Int(name.dropFirst(6).dropLast(4)) else { continue }
            let path = FileSystem.join(directory, name)
            guard FileSystem.exists(TrainerState.path(forCheckpoint: path)) else { continue }
            if n > (best?.0 ?? -1) { best = (n, path) }
        }
        return best
    }

    private static func checkProviders(_ s: TrainingSettings, _ train: BatchProvider, _ validation: BatchProvider?) throws {
        guard checkedProduct(s.batchSize, s.contextLength, s.gradAccumulation) != nil else {
            throw GPTError.invalidConfiguration("batch size \(s.batchSize) × context length \(s.contextLength) × "
                                                + "accumulation \(s.gradAccumulation) is too large")
        }
        for (name, p) in [("training", train), ("validation", validation)] {
            guard let p else { continue }
            guard p.batchSize == s.batchSize, p.contextLength == s.contextLength else {
                throw GPTError.badBatch("the \(name) data gives \(p.batchSize)×\(p.contextLength) batches, "
                                        + "the run needs \(s.batchSize)×\(s.contextLength)")
            }
        }
    }

    /// Takes `RUNDIR/train.lock` (`train.rank-N.lock` for the other ranks of a data-parallel
    /// run); a run directory another process is training into is refused.
    private static func lock(_ runDirectory: String, rank: Int) throws -> ExclusiveLock {
        do {
            return try ExclusiveLock(path: FileSystem.join(runDirectory, rank == 0 ? "train.lock" : "train.rank-\(rank).lock"),
                                     holder: "tokenmill train", writing: "this run directory")
        } catch {
            throw GPTError.io(path: error.path, reason: error.message)
        }
    }

    private static func makeDirectory(_ path: String) throws {
        do {
            try FileSystem.makeDirectory(path)
        } catch {
            throw GPTError.io(path: path, reason: "cannot create the run directory: \(error.message)")
        }
    }

    // MARK: running

    /// Trains until `settings.steps` steps are done, or `until` steps, or `progress` returns
    /// false; then writes a checkpoint if the last step has none yet.
    public func run(until stopStep: Int? = nil, progress: ((TrainingProgress) -> Bool)? = nil) throws {
        let end = min(settings.steps, stopStep ?? settings.steps)
        // Rank 0 writes the log and the checkpoints; the other ranks hold the same weights.
        var log = group.writes ? try LogFile(path: logPath) : nil
        while step < end {
            var report = try trainStep()
            // The step's log line goes out before its checkpoint, and reaches the disk first: a
            // run killed between the two resumes from the checkpoint with every step logged.
            try log?.append(Trainer.logLine(report))
            if settings.checkpointEvery > 0 && step % settings.checkpointEvery == 0 || step == settings.steps {
                try log?.sync()
                if group.writes { report.checkpoint = try saveCheckpoint() }
            }
            if let progress, !progress(report) { break }
        }
        if step > 0 && lastCheckpointStep != step && group.writes {
            try log?.sync()
            try saveCheckpoint()
        }
        try log?.close()
    }

    /// One optimiser step (with validation first on eval steps); returns its report.
    func trainStep() throws -> TrainingProgress {
        let s = step
        var validationLoss: Float?
        if settings.evalEvery > 0, let validation, s % settings.evalEvery == 0 || s == settings.steps - 1 {
            validationLoss = try evaluate(validation)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let lr = learningRate(step: s, totalSteps: settings.steps, peak: settings.learningRate,
                              warmup: settings.warmupSteps, minFraction: settings.minLearningRateFraction)
        model.zeroGradients()
        let B = settings.batchSize, T = settings.contextLength, accumulation = settings.gradAccumulation
        var lossSum = 0.0
        for _ in 0..<accumulation {
            try train.nextBatch(inputs: &inputs, targets: &targets)
            lossSum += Double(try model.forwardBackward(inputs: inputs, targets: targets, batchSize: B, contextLength: T,
                                                        lossScale: 1 / Float(accumulation)))
        }
        var allReduceMilliseconds: Double?
        if group.size > 1 {
            let reduceStart = DispatchTime.now().uptimeNanoseconds
            try model.withGradients { try group.average($0) }
            lossSum = try group.average(lossSum)
            allReduceMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - reduceStart) / 1e6
        }
        let trainLoss = Float(lossSum / Double(accumulation))
        guard trainLoss.isFinite else { throw GPTError.nonFiniteLoss(step: s) }
        let norm = AdamW.gradientNorm(model: model)
        let scale: Float = settings.gradClip > 0 && norm > settings.gradClip ? settings.gradClip / norm : 1
        optimizer.update(model: model, t: s + 1, learningRate: lr, beta1: settings.beta1, beta2: settings.beta2,
                         epsilon: settings.epsilon, weightDecay: settings.weightDecay, gradientScale: scale)
        step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return TrainingProgress(step: s, totalSteps: settings.steps, trainLoss: trainLoss, validationLoss: validationLoss,
                                learningRate: lr, gradientNorm: norm, milliseconds: seconds * 1000,
                                tokensPerSecond: Double(settings.tokensPerStep) / max(seconds, 1e-9),
                                allReduceMilliseconds: allReduceMilliseconds, checkpoint: nil)
    }

    /// The mean loss over `evalBatches` batches from the start of `data`.
    public func evaluate(_ data: BatchProvider) throws -> Float {
        try data.reset()
        let B = settings.batchSize, T = settings.contextLength
        var sum = 0.0
        for _ in 0..<settings.evalBatches {
            try data.nextBatch(inputs: &inputs, targets: &targets)
            sum += Double(try model.loss(inputs: inputs, targets: targets, batchSize: B, contextLength: T))
        }
        sum = try group.average(sum)
        return settings.evalBatches > 0 ? Float(sum / Double(settings.evalBatches)) : .nan
    }

    /// Writes `model_%08d.bin` and its `.state` for the completed steps; returns the model path.
    @discardableResult
    public func saveCheckpoint() throws -> String {
        let path = Trainer.checkpointPath(runDirectory: runDirectory, step: step)
        try model.save(to: path)
        let state = TrainerState(step: step, settings: settings, randomState: random.state,
                                 loaderState: train.saveState(), m: optimizer.m, v: optimizer.v)
        try state.write(to: TrainerState.path(forCheckpoint: path))
        lastCheckpointStep = step
        if settings.keepCheckpoints > 0 { try removeCheckpoints(keeping: settings.keepCheckpoints) }
        return path
    }

    /// Removes all but the latest `keep` checkpoints (model and state), the state first, so
    /// that a checkpoint cut short by a kill is one `latestCheckpoint` does not take.
    private func removeCheckpoints(keeping keep: Int) throws {
        let names = (try? FileSystem.list(runDirectory)) ?? []
        let steps = names.compactMap { name -> Int? in
            guard name.hasPrefix("model_") && name.hasSuffix(".bin") && name.count == 18 else { return nil }
            return Int(name.dropFirst(6).dropLast(4))
        }.sorted()
        for old in steps.dropLast(keep) {
            let model = Trainer.checkpointPath(runDirectory: runDirectory, step: old)
            do {
                try FileSystem.remove(TrainerState.path(forCheckpoint: model))
                try FileSystem.remove(model)
            } catch {
                throw GPTError.io(path: error.path, reason: error.message)
            }
        }
    }

    // MARK: log

    static func json(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }

    static func logLine(_ p: TrainingProgress) -> String {
        var line = "{\"step\":\(p.step),\"train_loss\":\(json(p.trainLoss)),\"lr\":\(json(p.learningRate))"
        line += ",\"grad_norm\":\(json(p.gradientNorm))"
        line += ",\"ms\":\(String(format: "%.3f", p.milliseconds)),\"tokens_per_second\":\(String(format: "%.1f", p.tokensPerSecond))"
        if let v = p.validationLoss { line += ",\"val_loss\":\(json(v))" }
        if let a = p.allReduceMilliseconds { line += ",\"allreduce_ms\":\(String(format: "%.3f", a))" }
        return line + "}\n"
    }

    /// Keeps the log lines of steps before `resumeStep` (a killed run may have logged past its
    /// last checkpoint).
    private func truncateLog(before resumeStep: Int) throws {
        guard FileSystem.exists(logPath) else { return }
        let data = try FileIO.checked { try FileSystem.read(logPath) }
        var kept: [UInt8] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let prefix = Array("{\"step\":".utf8)
            guard line.starts(with: prefix) else { continue }
            let digits = line.dropFirst(prefix.count).prefix { $0 >= 48 && $0 <= 57 }
            guard let n = Int(String(decoding: digits, as: UTF8.self)), n < resumeStep else { continue }
            kept += line
            kept.append(UInt8(ascii: "\n"))
        }
        try FileIO.writeAtomically(logPath, kept)
    }
}

/// `log.jsonl` opened for appending (created if missing).
private struct LogFile {
    let file: PosixFile
    var end: Int64

    init(path: String) throws {
        file = try FileIO.checked { try PosixFile.openForWriting(path, truncate: false) }
        end = try FileIO.size(file)
    }

    mutating func append(_ line: String) throws {
        let bytes = Array(line.utf8)
        try FileIO.checked { try bytes.withUnsafeBytes { try file.write($0, at: end) } }
        end += Int64(bytes.count)
    }

    func sync() throws { try FileIO.checked { try file.sync() } }

    func close() throws { try FileIO.checked { try file.closeChecked() } }
}
