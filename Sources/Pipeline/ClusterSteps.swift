// A pipeline file run on a Slurm cluster: the same stages as `PipelineRunner`, cut into steps
// that array tasks run one rank each (count, hashes, shard), steps one job runs (learn, merge),
// and training (one process, or MPI ranks). The hashing pass comes first: counting and
// sharding both drop what earlier ranks keep, so the vocabulary and the corpus are one machine's. Every step reads its settings from the pipeline
// file, so the sbatch scripts carry no settings of their own: `tokenmill run FILE --step S`.
import BPE
import Common
import Corpus
import Foundation
import GPT
import Shards

/// The steps of a pipeline on a cluster, in the order they depend on each other.
public enum ClusterStep: String, CaseIterable, Sendable {
    case hashes, count, learn, shard, merge, train

    /// Whether it runs as an array job, one task per rank.
    public var isArray: Bool { self == .count || self == .hashes || self == .shard }
}

public enum ClusterSteps {
    /// Runs `step` of `spec` as rank `part` (array steps) or alone. Returns a one-line summary.
    public static func run(_ step: ClusterStep, spec: PipelineSpec, part: CorpusPart, group: DataParallelGroup = .single,
                           progress: ((TrainingProgress) -> Bool)? = nil) throws -> String {
        let runDir = spec.runDir
        let vocab = FileSystem.join(runDir, "vocab"), counts = FileSystem.join(runDir, "counts")
        let shards = FileSystem.join(runDir, "shards"), train = FileSystem.join(runDir, "train")
        let threads = spec.threads > 0 ? spec.threads : ProcessInfo.processInfo.activeProcessorCount
        func shardOptions() throws -> ShardJobOptions {
            var o = ShardJobOptions(inputs: try Inputs.resolve(spec.inputs), output: shards, ingest: spec.ingest, settings: spec.shard)
            if o.settings.threads == 0 { o.settings.threads = threads }
            o.part = part
            return o
        }
        switch step {
        case .count:
            guard case .learn(var v) = spec.tokenizer else { return "nothing to count: the tokenizer is loaded from a file" }
            if v.threads == 0 { v.threads = threads }
            var settings = LearnSettings(inputs: part.share(of: try Inputs.resolve(spec.inputs)), ingest: spec.ingest, vocabulary: v)
            // What earlier ranks keep is counted there, as one machine counts a document once.
            if spec.ingest.dedup { settings.dropHashes = try RankHashes.dropList(directory: shards, part: part) }
            let counted = try LearnJob.count(settings)
            let path = FileSystem.join(counts, part.wordCountsFileName)
            try counted.counter.save(to: path)
            return "counted \(counted.counter.documents) documents of \(part) → \(path)"
        case .learn:
            switch spec.tokenizer {
            case .learn(let v):
                let files = (0..<part.worldSize).map { FileSystem.join(counts, CorpusPart(rank: $0, worldSize: part.worldSize).wordCountsFileName) }
                let result = try LearnJob.learn(from: try WordCounts.sum(files), LearnSettings(inputs: [], ingest: spec.ingest, vocabulary: v))
                try result.model.save(toDirectory: vocab)
                return "learned \(result.model.vocabSize) tokens from \(part.worldSize) ranks' counts → \(vocab)"
            case .load(let file):
                let tokenizer = try file.load()
                try tokenizer.model.save(toDirectory: vocab)
                return "loaded \(tokenizer.vocabSize) tokens from \(file.path) → \(vocab)"
            }
        case .hashes:
            let report = try RankHashes.write(options: try shardOptions())
            return "hashed \(report.documents) documents of \(part) → \(report.path)"
        case .shard:
            let tokenizer = try Tokenizer.load(vocab)
            let report = try ShardJob.run(tokenizer: tokenizer, tokenizerFile: vocab, options: try shardOptions())
            if let error = report.errors.first { throw PipelineError(spec.file, "\(report.errors.count) input error(s), the first: \(error)") }
            return "sharded \(report.documents) documents, \(report.tokens) tokens as \(part)"
        case .merge:
            let r = try CorpusMerge.run(directory: shards)
            return "merged \(r.parts) parts: \(r.documents) documents, \(r.tokens) tokens → \(shards)"
        case .train:
            guard let settings = spec.train else { return "nothing to train: the file has no [train] table" }
            var o = TrainJobOptions(dataDirectory: shards, runDirectory: train, settings: settings,
                                    resume: Trainer.latestCheckpoint(in: train) != nil)
            o.group = group
            let result = try TrainJob.run(o, progress: progress)
            return "trained \(result.steps) steps → \(result.checkpoint ?? train)"
        }
    }

    /// What the steps of a cluster run of `spec` have done, a line a step: which ranks finished,
    /// and how to resubmit those that did not. `ranks` is the array size the run was submitted with.
    public static func status(spec: PipelineSpec, ranks: Int) -> [String] {
        let runDir = spec.runDir
        let parts = (0..<ranks).map { CorpusPart(rank: $0, worldSize: ranks) }
        func line(_ step: ClusterStep, done: (CorpusPart) -> Bool) -> String {
            let missing = parts.filter { !done($0) }.map(\.rank)
            let name = step.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
            if missing.isEmpty { return "\(name) \(ranks) of \(ranks) ranks done" }
            let list = missing.map(String.init).joined(separator: ",")
            return "\(name) \(ranks - missing.count) of \(ranks) ranks done; not done: \(list) "
                + "(resubmit: sbatch --array=\(list) \(scriptPath(step, spec: spec)))"
        }
        var lines: [String] = []
        let shards = FileSystem.join(runDir, "shards")
        lines.append(line(.hashes) { FileSystem.exists(FileSystem.join(shards, $0.hashesFileName)) })
        if steps(of: spec).contains(.count) {
            lines.append(line(.count) { FileSystem.exists(FileSystem.join(runDir, "counts", $0.wordCountsFileName)) })
        }
        let vocab = FileSystem.join(runDir, "vocab", "tokenizer.json")
        lines.append("learn   " + (FileSystem.exists(vocab) ? "done (\(vocab))" : "not done"))
        lines.append(line(.shard) { CorpusMerge.isFinished(directory: shards, part: $0) })
        let merged = FileSystem.join(shards, IndexSchema.fileName)
        lines.append("merge   " + (FileSystem.exists(merged) ? "done (\(merged))" : "not done"))
        if let train = spec.train {
            let step = Trainer.latestCheckpoint(in: FileSystem.join(runDir, "train"))?.step ?? 0
            lines.append("train   checkpoint at step \(step) of \(train.steps)")
        }
        return lines
    }

    /// Where `tokenmill run --slurm` submits from: how many ranks, and what every job asks of Slurm.
    public struct SlurmOptions: Sendable {
        public var ranks: Int
        public var trainRanks: Int
        /// Written into every script as `#SBATCH` lines (`--partition=P`, `--cpus-per-task=C`, `--time=T`, …).
        public var sbatchArguments: [String]
        public init(ranks: Int, trainRanks: Int = 1, sbatchArguments: [String] = []) {
            self.ranks = ranks
            self.trainRanks = trainRanks
            self.sbatchArguments = sbatchArguments
        }
    }

    /// The steps a pipeline has on a cluster, in the order they run: counting only when the
    /// vocabulary is learned, training only with a `[train]` table.
    public static func steps(of spec: PipelineSpec) -> [ClusterStep] {
        ClusterStep.allCases.filter { step in
            switch step {
            case .count: if case .learn = spec.tokenizer { return true } else { return false }
            case .train: return spec.train != nil
            default: return true
            }
        }
    }

    /// `RUNDIR/slurm/NN-STEP.sbatch`, numbered in the order the steps run.
    public static func scriptPath(_ step: ClusterStep, spec: PipelineSpec) -> String {
        let number = (steps(of: spec).firstIndex(of: step) ?? 0) + 1
        return FileSystem.join(spec.runDir, "slurm", String(format: "%02d-%@.sbatch", number, step.rawValue))
    }

    /// The sbatch script of each step: the steps the pipeline has, in order, with their paths.
    public static func scripts(spec: PipelineSpec, file: String, tokenmill: String, options: SlurmOptions)
        -> [(step: ClusterStep, path: String, text: String)] {
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let logs = FileSystem.join(spec.runDir, "slurm")
        return steps(of: spec).map { step in
            var lines = ["#!/bin/sh", "#SBATCH --job-name=\(spec.name)-\(step.rawValue)"]
            let log = step.isArray ? "\(step.rawValue)-%a.out" : "\(step.rawValue).out"
            lines.append("#SBATCH --output=\(FileSystem.join(logs, log))")
            if step.isArray { lines.append("#SBATCH --array=0-\(options.ranks - 1)") }
            for argument in options.sbatchArguments { lines.append("#SBATCH \(argument)") }
            if step == .train && options.trainRanks > 1 { lines.append("#SBATCH --ntasks=\(options.trainRanks)") }
            var command = "\(quote(tokenmill)) run \(quote(file)) --run-dir \(quote(spec.runDir)) --step \(step.rawValue)"
            if step.isArray || step == .learn { command += " --world-size \(options.ranks)" }
            if step == .train && options.trainRanks > 1 {
                command = "mpirun -np \(options.trainRanks) " + command
            }
            lines.append("exec " + command)
            return (step, scriptPath(step, spec: spec), lines.joined(separator: "\n") + "\n")
        }
    }
}
