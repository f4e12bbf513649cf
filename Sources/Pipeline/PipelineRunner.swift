import BPE
import Common
import Corpus
import Foundation
import GPT
import Shards

/// Runs a pipeline file's stages in order into its run directory:
///
///     vocab → shards → train → samples → report
///
/// Each stage has a fingerprint: a hash of its settings, of the inputs it reads (paths, sizes,
/// modification times) and of the fingerprint of the stage before. RUNDIR/pipeline.json records
/// the fingerprint of every finished stage, so a rerun skips a stage whose outputs are complete
/// and were made the same way; an interrupted stage resumes (sharding and training pick up
/// where they stopped); a changed setting re-runs that stage and the ones after it.
/// A run stopped at a clean point because `PipelineRunner.shouldContinue` said so; `stage` is
/// the stage it stopped in (or before).
public struct PipelineInterrupted: Error, Sendable {
    public var stage: PipelineStage
}

/// The stages of a pipeline run, in order; each writes `RUNDIR/<rawValue>` (the report,
/// `report.html`).
public enum PipelineStage: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable {
    case vocab, shards, train, samples, report
}

public final class PipelineRunner {
    public enum Event: Sendable {
        case stageStarted(PipelineStage, resuming: Bool)
        case stageSkipped(PipelineStage, reason: String)
        case stageFinished(PipelineStage, summary: String)
        case learn(LearnProgress)
        case shard(ShardJobProgress)
        case train(TrainingProgress)
        case note(String)
    }

    public let spec: PipelineSpec
    let emit: @Sendable (Event) -> Void
    /// Asked between stages, after each batch of sharding and after each training step; false
    /// stops the run at a clean point (a checkpoint for training, a commit for sharding) with
    /// `PipelineInterrupted`. Running the pipeline again goes on from there.
    public var shouldContinue: @Sendable () -> Bool = { true }
    var state: PipelineState

    public var vocabDirectory: String { join("vocab") }
    public var shardsDirectory: String { join("shards") }
    public var trainDirectory: String { join("train") }
    public var samplesPath: String { join("samples.json") }
    public var reportPath: String { join("report.html") }

    public init(spec: PipelineSpec, events: @escaping @Sendable (Event) -> Void = { _ in }) throws {
        self.spec = spec
        emit = events
        try FileSystem.makeDirectory(spec.runDir)
        state = PipelineState.read(PipelineState.path(spec.runDir))
    }

    func join(_ name: String) -> String { FileSystem.join(spec.runDir, name) }

    /// Per-file input errors met on the way (a corrupt file stops that file; the run goes on).
    public private(set) var inputErrors: [String] = []

    /// Runs every stage. Returns what the run produced.
    @discardableResult
    public func run() throws -> PipelineState {
        let inputs = try Inputs.resolve(spec.inputs)
        let inputsID = PipelineRunner.identity(of: inputs)
        let threads = spec.threads > 0 ? spec.threads : ProcessInfo.processInfo.activeProcessorCount

        // 1. Vocabulary: learned from the inputs, or loaded from a file.
        let vocabFP = fingerprint("vocab", spec.ingest.fingerprint, inputsID, describe(spec.tokenizer))
        try stage(.vocab, vocabFP, outputs: [vocabDirectory], complete: { FileSystem.exists(self.vocabTokenizerPath) }) { _ in
            switch spec.tokenizer {
            case .learn(var vocabulary):
                if vocabulary.threads == 0 { vocabulary.threads = threads }
                var settings = LearnSettings(inputs: inputs, ingest: spec.ingest, vocabulary: vocabulary)
                settings.shouldContinue = shouldContinue
                let result: LearnResult
                let emit = self.emit
                do {
                    result = try LearnJob.run(settings) { emit(.learn($0)) }
                } catch is LearnInterrupted {
                    throw PipelineInterrupted(stage: .vocab)
                }
                inputErrors += result.ingest.errors.map(\.description)
                try result.model.save(toDirectory: vocabDirectory)
                return "learned \(result.model.vocabSize) tokens from \(result.documents) documents in "
                    + String(format: "%.1fs", result.countSeconds + result.mergeSeconds)
            case let .load(file):
                let tok = try file.load()
                try tok.model.save(toDirectory: vocabDirectory)
                return "loaded \(tok.vocabSize) tokens from \(file.path)"
            }
        }
        let tokenizer = try Tokenizer.load(vocabDirectory)

        // 2. Shards (the shard job resumes an interrupted run by itself).
        // What fixes the corpus's bytes: not the threads, the dedup memory or the commit interval.
        let shardFP = fingerprint("shards", vocabFP, tokenizer.fingerprint,
                                  SettingsCoding.fingerprint(spec.shard, excluding: ["threads", "dedupMemory", "commitSeconds"]))
        try stage(.shards, shardFP, outputs: [shardsDirectory], complete: { self.state.stages[.shards]?.done == true }) { _ in
            var options = ShardJobOptions(inputs: inputs, output: shardsDirectory, ingest: spec.ingest, settings: spec.shard)
            options.shouldContinue = shouldContinue
            let report = try ShardJob.run(tokenizer: tokenizer, tokenizerFile: vocabTokenizerPath, options: options) { self.emit(.shard($0)) }
            inputErrors += report.errors
            if !report.completed { throw PipelineInterrupted(stage: .shards) }
            return "\(report.documents) documents, \(report.tokens) tokens"
        }

        // 3. Training (resumes from its latest checkpoint when interrupted).
        var trainFP = shardFP
        if let t = spec.train {
            // Threads change speed, not what is learned (but for the order of float sums).
            trainFP = fingerprint("train", shardFP, SettingsCoding.fingerprint(t, excluding: ["threads"]))
            try stage(.train, trainFP, outputs: [trainDirectory], complete: { self.state.stages[.train]?.done == true }) { resuming in
                let canResume = resuming && Trainer.latestCheckpoint(in: trainDirectory) != nil
                if !canResume { try FileSystem.removeTree(trainDirectory) }
                let result = try TrainJob.run(TrainJobOptions(dataDirectory: shardsDirectory, runDirectory: trainDirectory,
                                                              settings: t, resume: canResume)) {
                    self.emit(.train($0))
                    return self.shouldContinue()
                }
                if !shouldContinue() { throw PipelineInterrupted(stage: .train) }
                var s = "\(result.steps) steps"
                if let l = result.lastTrainLoss { s += String(format: ", train loss %.4f", l) }
                if let v = result.lastValidationLoss { s += String(format: ", val loss %.4f", v) }
                return s
            }
        }

        // 4. Samples: greedy (or sampled) continuations and next-token views of the prompts.
        if spec.train != nil && !spec.evaluate.prompts.isEmpty {
            let e = spec.evaluate
            let samplesFP = fingerprint("samples", trainFP, SettingsCoding.fingerprint(e))
            try stage(.samples, samplesFP, outputs: [samplesPath], complete: { FileSystem.exists(self.samplesPath) }) { _ in
                guard let checkpoint = Trainer.latestCheckpoint(in: trainDirectory) else {
                    throw PipelineError(spec.file, "no checkpoint in \(trainDirectory) to sample from")
                }
                let model = try GPT2(checkpoint: checkpoint.path, threads: threads)
                var samples: [RunSample] = []
                for prompt in e.prompts {
                    let ids = tokenizer.encode(Array(prompt.utf8)).map { Int32($0) }
                    let out = try model.generate(prompt: ids.isEmpty ? [Int32(tokenizer.eotID ?? 0)] : ids, maxTokens: e.maxTokens,
                                                 temperature: Float(e.temperature), topK: e.topK, seed: e.seed)
                    var continuation = out.map { UInt32($0) }
                    if let eot = tokenizer.eotID, let i = continuation.firstIndex(of: eot) { continuation = Array(continuation[..<i]) }
                    let next = try model.nextTokenDistribution(prompt: ids.isEmpty ? [Int32(tokenizer.eotID ?? 0)] : ids, top: e.nextTop)
                    samples.append(RunSample(
                        prompt: prompt, continuation: String(decoding: try tokenizer.decode(continuation), as: UTF8.self),
                        next: next.map { .init(id: Int($0.id), text: String(decoding: tokenizer.tokenBytes(UInt32($0.id)) ?? [], as: UTF8.self),
                                               probability: Double($0.probability)) }))
                }
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try enc.encode(samples).write(to: URL(fileURLWithPath: samplesPath), options: .atomic)
                return "\(samples.count) samples"
            }
        }

        // 5. The report: always rewritten (cheap), so it shows the latest state of the run.
        if spec.report {
            emit(.stageStarted(.report, resuming: false))
            let input = try RunReport.input(runDirectory: spec.runDir, title: "\(spec.name) — \(spec.runDir)")
            try Report.write(input, to: reportPath)
            emit(.stageFinished(.report, summary: reportPath))
        }
        return state
    }

    var vocabTokenizerPath: String { FileSystem.join(vocabDirectory, "tokenizer.json") }

    /// Runs `body` unless the stage is done with the same fingerprint. A different fingerprint
    /// removes the stage's old outputs first; the same fingerprint without `done` resumes.
    func stage(_ name: PipelineStage, _ fp: String, outputs: [String], complete: () -> Bool,
               _ body: (_ resuming: Bool) throws -> String) throws {
        if !shouldContinue() { throw PipelineInterrupted(stage: name) }
        let previous = state.stages[name]
        if let previous, previous.fingerprint == fp, previous.done, complete() {
            emit(.stageSkipped(name, reason: "up to date"))
            return
        }
        let resuming = previous?.fingerprint == fp
        if !resuming {
            for o in outputs { try FileSystem.removeTree(o) }
        }
        emit(.stageStarted(name, resuming: resuming && previous != nil))
        state.stages[name] = PipelineState.Stage(fingerprint: fp, done: false, summary: nil)
        try state.write(PipelineState.path(spec.runDir))
        let summary = try body(resuming)
        state.stages[name] = PipelineState.Stage(fingerprint: fp, done: true, summary: summary)
        try state.write(PipelineState.path(spec.runDir))
        emit(.stageFinished(name, summary: summary))
    }

    /// What fixes the vocabulary: the learn settings but the threads, or the file and its contents' identity.
    func describe(_ t: PipelineSpec.TokenizerSource) -> String {
        switch t {
        case let .learn(v): return "learn " + SettingsCoding.fingerprint(v, excluding: ["threads"])
        case let .load(f): return "load " + SettingsCoding.fingerprint(f) + " " + PipelineRunner.identity(of: [f.path])
        }
    }

    func fingerprint(_ parts: String...) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for p in parts {
            for b in p.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            h = (h ^ 0xFF) &* 0x0000_0100_0000_01B3
        }
        return String(format: "%016llx", h)
    }

    /// Paths, sizes and modification times of the input files.
    static func identity(of paths: [String]) -> String {
        paths.map { p in
            let id = FileSystem.identity(p)
            return "\(p):\(id?.size ?? -1):\(id?.modified ?? 0)"
        }.joined(separator: "|")
    }
}

/// RUNDIR/pipeline.json: the fingerprint and status of every stage.
public struct PipelineState: Codable, Sendable {
    public struct Stage: Codable, Sendable {
        public var fingerprint: String
        public var done: Bool
        public var summary: String?
    }
    public var stages: [PipelineStage: Stage] = [:]

    public static func path(_ runDir: String) -> String { FileSystem.join(runDir, "pipeline.json") }

    static func read(_ path: String) -> PipelineState {
        guard let bytes = try? FileSystem.read(path),
              let s = try? JSONDecoder().decode(PipelineState.self, from: Data(bytes)) else { return PipelineState() }
        return s
    }

    func write(_ path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileSystem.writeAtomically(path, Array(enc.encode(self)))
    }
}
