import Common
import Foundation
import GPT
import Loader
import Shards

/// What `tokenmill train` does: open the corpus's train (and val) split through DataLoaders,
/// start a run (fresh, from an llm.c checkpoint, or resumed from the run's latest checkpoint)
/// and train, writing RUNDIR/log.jsonl, RUNDIR/model_%08d.bin (+ .state) and RUNDIR/run.json.
public struct TrainJobOptions: Sendable {
    public var dataDirectory: String
    public var runDirectory: String
    /// The model and optimisation settings; `vocabSize` is taken from the corpus.
    public var settings: TrainingSettings
    /// Start from this llm.c-format checkpoint (its vocabulary must be the corpus's).
    public var initCheckpoint: String?
    /// Continue from the run's latest checkpoint (an error if there is none).
    public var resume: Bool
    /// Stop (with a checkpoint) once this many steps are done, keeping the schedule of
    /// `settings.steps`: `--steps 2N --stop-at N`, then `--resume`, equals 2N steps in one go.
    public var stopAt: Int?
    /// The ranks of a data-parallel run (`mpirun -np N tokenmill train`): each reads its rows of
    /// every global batch (`settings.batchSize` is per rank, as in llm.c); rank 0 writes.
    public var group: DataParallelGroup = .single

    public init(dataDirectory: String, runDirectory: String, settings: TrainingSettings,
                initCheckpoint: String? = nil, resume: Bool = false) {
        self.dataDirectory = dataDirectory
        self.runDirectory = runDirectory
        self.settings = settings
        self.initCheckpoint = initCheckpoint
        self.resume = resume
    }
}

public struct TrainJobResult: Sendable {
    public var steps: Int
    public var lastTrainLoss: Float?
    public var lastValidationLoss: Float?
    public var checkpoint: String?
    public var parameters: Int
    public var resumedFrom: Int?
}

/// RUNDIR/run.json: what a run was trained on, checked when it resumes.
public struct RunRecord: Codable, Sendable, Equatable {
    public var data: String
    public var tokenizerFingerprint: String
    public var vocabSize: Int
    public var settings: TrainingSettings
    public var initCheckpoint: String?

    public static func path(_ runDirectory: String) -> String { FileSystem.join(runDirectory, "run.json") }

    /// The run's record, or nil when it has none (or one that cannot be read).
    public static func read(_ runDirectory: String) -> RunRecord? {
        guard let bytes = try? FileSystem.read(path(runDirectory)) else { return nil }
        return try? JSONDecoder().decode(RunRecord.self, from: Data(bytes))
    }

    /// Reads the settings as stored settings are read: over the defaults, so that a run recorded
    /// before a setting existed resumes with its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        data = try c.decode(String.self, forKey: .data)
        tokenizerFingerprint = try c.decode(String.self, forKey: .tokenizerFingerprint)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        initCheckpoint = try c.decodeIfPresent(String.self, forKey: .initCheckpoint)
        let stored = try c.decode(SettingValue.self, forKey: .settings)
        settings = try SettingsCoding.decodeStored(TrainingSettings.self, from: JSONEncoder().encode(stored))
    }

    init(data: String, tokenizerFingerprint: String, vocabSize: Int, settings: TrainingSettings, initCheckpoint: String?) {
        self.data = data
        self.tokenizerFingerprint = tokenizerFingerprint
        self.vocabSize = vocabSize
        self.settings = settings
        self.initCheckpoint = initCheckpoint
    }

    func write(_ runDirectory: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileSystem.writeAtomically(RunRecord.path(runDirectory), Array(try enc.encode(self)))
    }
}

public enum TrainJob {
    public static func run(_ o: TrainJobOptions, progress: ((TrainingProgress) -> Bool)? = nil) throws -> TrainJobResult {
        let corpus = try ShardCatalogue(directory: o.dataDirectory).settings
        var settings = o.settings
        settings.vocabSize = corpus.vocabSize

        if o.resume, let record = RunRecord.read(o.runDirectory), record.tokenizerFingerprint != corpus.tokenizerFingerprint {
            throw GPTError.invalidConfiguration("\(o.dataDirectory) was sharded with tokenizer \(corpus.tokenizerFingerprint), "
                                                + "but the run in \(o.runDirectory) trained on \(record.tokenizerFingerprint)")
        }
        func loader(_ split: Split, shuffle: Bool) throws -> DataLoader {
            try DataLoader(directory: o.dataDirectory, options: DataLoader.Options(
                split: split, batchSize: settings.batchSize, contextLength: settings.contextLength,
                rank: o.group.rank, worldSize: o.group.size, shuffle: shuffle, seed: settings.seed, expectedTokenizerFingerprint: corpus.tokenizerFingerprint,
                expectedVocabSize: corpus.vocabSize))
        }
        let train = try loader(.train, shuffle: settings.shuffle)
        // Evaluation reads the val split in order; a val split too small for one batch means no eval.
        let validation = settings.evalEvery > 0 ? try? loader(.val, shuffle: false) : nil

        let trainer: Trainer
        var resumedFrom: Int? = nil
        if o.resume {
            trainer = try Trainer.resume(runDirectory: o.runDirectory, train: train, validation: validation, settings: settings,
                                         group: o.group)
            resumedFrom = trainer.step
        } else {
            trainer = try Trainer(settings: settings, runDirectory: o.runDirectory, train: train, validation: validation,
                                  initCheckpoint: o.initCheckpoint, group: o.group)
            if o.group.writes { try RunRecord(data: o.dataDirectory, tokenizerFingerprint: corpus.tokenizerFingerprint,
                          vocabSize: corpus.vocabSize, settings: trainer.settings, initCheckpoint: o.initCheckpoint)
                .write(o.runDirectory) }
        }
        var last: TrainingProgress? = nil
        var lastVal: Float? = nil
        var checkpoint: String? = nil
        try trainer.run(until: o.stopAt) { p in
            last = p
            if let v = p.validationLoss { lastVal = v }
            if let c = p.checkpoint { checkpoint = c }
            return progress?(p) ?? true
        }
        return TrainJobResult(steps: trainer.step, lastTrainLoss: last?.trainLoss, lastValidationLoss: lastVal,
                              checkpoint: checkpoint ?? Trainer.latestCheckpoint(in: o.runDirectory)?.path,
                              parameters: trainer.model.parameterCount, resumedFrom: resumedFrom)
    }
}
