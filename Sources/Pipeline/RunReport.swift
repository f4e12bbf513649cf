import BPE
import Common
import Foundation
import GPT
import Shards

/// Gathers a report's data from a run directory: a pipeline run (RUNDIR/pipeline.json, with
/// vocab/, shards/, train/, samples.json) or a plain `tokenmill train` run (RUNDIR/run.json
/// names the corpus; log.jsonl beside it).
public enum RunReport {
    public static func input(runDirectory dir: String, title: String? = nil) throws -> ReportInput {
        func join(_ names: String...) -> String { names.reduce(dir) { FileSystem.join($0, $1) } }
        let trainDir = FileSystem.exists(join("train", "log.jsonl")) ? join("train") : dir
        let record = RunRecord.read(trainDir)
        var dataDir: String? = record?.data
        if FileSystem.exists(join("shards", IndexSchema.fileName)) { dataDir = join("shards") }

        var input = ReportInput(title: title ?? "TokenMill run — \(dir)")
        var facts: [ReportFact] = [ReportFact("run directory", dir)]
        let logPath = FileSystem.join(trainDir, "log.jsonl")
        if FileSystem.exists(logPath) {
            let tokensPerStep = record.map { UInt64($0.settings.tokensPerStep) }
            input.steps = try RunLog.read(logPath, tokensPerStep: tokensPerStep)
            if let r = record {
                let s = r.settings
                facts.append(ReportFact("model", "GPT-2, \(s.layers) layers, \(s.heads) heads, \(s.channels) channels, context \(s.contextLength), vocab \(s.vocabSize)"))
                facts.append(ReportFact("training", "\(s.steps) steps × \(s.tokensPerStep) tokens, lr \(s.learningRate), batch \(s.batchSize)\(s.shuffle ? ", shuffled" : ", sequential")"))
            }
            if let last = input.steps.last {
                facts.append(ReportFact("last train loss", String(format: "%.4f (step %d)", last.trainLoss, last.step)))
            }
            if let v = input.steps.last(where: { $0.validationLoss != nil }), let loss = v.validationLoss {
                facts.append(ReportFact("last val loss", String(format: "%.4f (step %d)", loss, v.step)))
            }
            if let c = Trainer.latestCheckpoint(in: trainDir) { facts.append(ReportFact("checkpoint", c.path)) }
        }
        if let dataDir, FileSystem.exists(FileSystem.join(dataDir, IndexSchema.fileName)) {
            let stats = try CorpusStats(directory: dataDir)
            let summary = try stats.summary()
            facts.append(ReportFact("corpus", "\(dataDir): \(summary.documents) documents, \(summary.tokens) tokens, "
                                    + "\(summary.sources.total) sources, \(summary.shards) shards"))
            facts.append(ReportFact("tokenizer", "vocab \(summary.vocabSize), fingerprint \(summary.tokenizerFingerprint)"))
            let top = try stats.top(summary.vocabSize)
            input.tokenCounts = top.tokens.map { UInt64(max(0, $0.count)) }.sorted(by: >)
            input.documentLengths = try stats.documentLengths().histogram.map {
                LengthBucket(lowerTokens: UInt64($0.lower), upperTokens: UInt64($0.upper) + 1, count: UInt64($0.documents))
            }
            input.sourceShares = try stats.sources().sources.map {
                SourceShare(name: FileSystem.fileName($0.path), tokens: UInt64(max(0, $0.tokens)))
            }
        }
        let samplesPath = join("samples.json")
        if let bytes = try? FileSystem.read(samplesPath), let samples = try? JSONDecoder().decode([RunSample].self, from: Data(bytes)) {
            input.samples = samples.map { GeneratedSample(prompt: $0.prompt, text: $0.continuation) }
        }
        input.summary = facts
        return input
    }
}

/// One generated sample as RUNDIR/samples.json stores it.
public struct RunSample: Codable, Sendable, Equatable {
    public var prompt: String
    public var continuation: String
    /// The most likely next tokens after the prompt, with probabilities.
    public var next: [NextToken]

    public struct NextToken: Codable, Sendable, Equatable {
        public var id: Int
        public var text: String
        public var probability: Double
    }
}
