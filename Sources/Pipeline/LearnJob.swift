import BPE
import Corpus
import Common
import Foundation

/// How a vocabulary is learned, defined once: `tokenmill learn`'s flags and a pipeline file's
/// `[tokenizer]` table (when it learns one) derive from these properties (`SettingsGroup`).
public struct VocabularySettings: SettingsGroup {
    /// Total vocabulary size including special tokens and the 256 byte tokens (required).
    public var vocabSize = 0
    /// The pre-tokenization rule that splits text into words.
    public var preTokenizer: PreTokenizerPattern = .gpt2
    /// Special tokens, given ids 0, 1, … in this order.
    public var specialTokens = ["<|endoftext|>"]
    /// Merge a pair only if it occurs at least this often (0 and 1 mean any pair).
    public var minFrequency: UInt64 = 0
    /// Learn from the first this many bytes of document text only (0 = all of it).
    public var maxBytes: Int64 = 0
    /// Counting threads (0 = all cores). With 1, reading and counting share one thread; with
    /// more, one extra thread reads and decompresses while the others count.
    public var threads = 0

    public init() {}

    public init(vocabSize: Int) { self.vocabSize = vocabSize }

    public static var aliases: [String: String] { ["special": "specialTokens"] }
    public static var sizeKeys: Set<String> { ["maxBytes"] }

    public var problem: SettingsProblem? {
        if vocabSize < 257 { return SettingsProblem("vocabSize", "must be at least 257 (256 byte tokens + 1), not \(vocabSize)") }
        if maxBytes < 0 { return SettingsProblem("maxBytes", "must be 0 or more, not \(maxBytes)") }
        if threads < 0 { return SettingsProblem("threads", "must be 0 or more, not \(threads)") }
        return nil
    }

    /// What the trainer needs of these.
    public var trainer: BPETrainerConfig {
        BPETrainerConfig(vocabSize: vocabSize, minFrequency: minFrequency, specialTokens: specialTokens, pattern: preTokenizer)
    }
}

/// What `tokenmill learn` does: read documents through the ingest stages, count pre-tokens on
/// every core, then run the BPE merge loop.
public struct LearnSettings: Sendable {
    /// Resolved input files, in order.
    public var inputs: [String]
    public var ingest: IngestOptions
    public var vocabulary: VocabularySettings
    /// With dedup, documents counted as duplicates from the start: what earlier ranks keep, when
    /// the inputs are counted across machines (`RankHashes.dropList`).
    public var dropHashes: [ContentHash] = []
    /// Asked about every document while counting and every 64 merges: false stops the learn,
    /// which throws `LearnInterrupted` (nothing is kept; a learn starts over).
    public var shouldContinue: (@Sendable () -> Bool)?

    public init(inputs: [String], ingest: IngestOptions = IngestOptions(), vocabulary: VocabularySettings) {
        self.inputs = inputs
        self.ingest = ingest
        self.vocabulary = vocabulary
    }

    var trainer: BPETrainerConfig { vocabulary.trainer }
    var ingestJob: Ingest {
        var ingest = Ingest(paths: inputs, options: self.ingest)
        ingest.knownHashes = dropHashes
        return ingest
    }
    var maxBytes: Int64? { vocabulary.maxBytes > 0 ? vocabulary.maxBytes : nil }
    var threads: Int { vocabulary.threads > 0 ? vocabulary.threads : ProcessInfo.processInfo.activeProcessorCount }
}

/// Where a learn is.
public enum LearnProgress: Sendable {
    /// Reading and counting: compressed bytes read of the total, documents and text bytes counted.
    case counting(done: Int64, total: Int64, documents: Int64, textBytes: Int64)
    /// The merge loop: merges done of merges wanted.
    case merging(done: Int, total: Int)
}

public struct LearnResult: Sendable {
    public var model: BPEModel
    public var ingest: IngestReport
    public var documents: Int64
    public var textBytes: Int64
    public var distinctWords: Int
    public var countSeconds: Double
    public var mergeSeconds: Double
    /// True when `maxBytes` cut the input short.
    public var sampled: Bool
}

/// Words counted for a learn: by `LearnJob.count`, or read from rank files and added up.
public struct WordCounts {
    public var counter: WordCounter
    public var ingest: IngestReport
    /// True when `maxBytes` cut the input short.
    public var sampled: Bool
    public var seconds: Double

    public init(counter: WordCounter, ingest: IngestReport = IngestReport(), sampled: Bool = false, seconds: Double = 0) {
        self.counter = counter
        self.ingest = ingest
        self.sampled = sampled
        self.seconds = seconds
    }
}

extension WordCounts {
    /// The counts in `paths` (`WordCounter.save`), added up; all must have one pre-tokenizer.
    public static func sum(_ paths: [String]) throws -> WordCounts {
        guard let first = paths.first else { throw LearnCountsMismatch(message: "no word counts to learn from") }
        var total = try WordCounter.load(first)
        for path in paths.dropFirst() {
            let counter = try WordCounter.load(path)
            guard counter.pattern == total.pattern else {
                throw LearnCountsMismatch(message: "\(path): counted with the \(counter.pattern.rawValue) pre-tokenizer, "
                                          + "\(first) with \(total.pattern.rawValue)")
            }
            total.merge(counter)
        }
        return WordCounts(counter: total)
    }
}

/// Counts made with another pre-tokenizer than the learn's.
public struct LearnCountsMismatch: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A learn stopped because `LearnSettings.shouldContinue` said so.
public struct LearnInterrupted: Error, Sendable {}

public enum LearnJob {
    /// Learns a vocabulary. Per-file input errors are in `result.ingest.errors` (the other files
    /// were read); an error of the trainer itself is thrown.
    public static func run(_ settings: LearnSettings, progress: (@Sendable (LearnProgress) -> Void)? = nil) throws -> LearnResult {
        let counted = try count(settings, progress: progress)
        return try learn(from: counted, settings, progress: progress)
    }

    /// The counting half of a learn: the words of `settings.inputs` after the ingest stages
    /// (`tokenmill learn --count-only` saves them, one file per rank).
    public static func count(_ settings: LearnSettings, progress: (@Sendable (LearnProgress) -> Void)? = nil) throws -> WordCounts {
        // Where each input starts in the concatenation of all inputs (compressed bytes), for progress.
        var fileStarts: [Int64] = [0]
        for path in settings.inputs { fileStarts.append(fileStarts.last! + (FileSystem.size(path) ?? 0)) }
        let start = Date()
        let counted: (WordCounter, IngestReport, Bool)
        if settings.threads == 1 {
            counted = try countInline(settings, fileStarts: fileStarts, progress: progress)
        } else {
            counted = try countParallel(settings, fileStarts: fileStarts, progress: progress)
        }
        if let keepGoing = settings.shouldContinue, !keepGoing() { throw LearnInterrupted() }
        return WordCounts(counter: counted.0, ingest: counted.1, sampled: counted.2, seconds: Date().timeIntervalSince(start))
    }

    /// The merge half: a vocabulary from counted words (of one count, or of ranks' counts added up).
    public static func learn(from counted: WordCounts, _ settings: LearnSettings,
                             progress: (@Sendable (LearnProgress) -> Void)? = nil) throws -> LearnResult {
        let (counter, report, sampled, countSeconds) = (counted.counter, counted.ingest, counted.sampled, counted.seconds)
        guard counter.pattern == settings.trainer.pattern else {
            throw LearnCountsMismatch(message: "the words were counted with the \(counter.pattern.rawValue) pre-tokenizer, "
                                      + "not \(settings.trainer.pattern.rawValue): give the same --pre-tokenizer")
        }
        let mergeStart = Date()
        var lastReport = Date()
        let model: BPEModel
        do {
            model = try BPETrainer.train(words: counter, config: settings.trainer, progress: { done, total in
                if let progress, done == total || Date().timeIntervalSince(lastReport) > 0.2 {
                    lastReport = Date()
                    progress(.merging(done: done, total: total))
                }
            }, shouldContinue: settings.shouldContinue)
        } catch BPETrainerError.stopped {
            throw LearnInterrupted()
        }
        return LearnResult(model: model, ingest: report, documents: counter.documents, textBytes: counter.bytes,
                           distinctWords: counter.distinctWords, countSeconds: countSeconds,
                           mergeSeconds: Date().timeIntervalSince(mergeStart), sampled: sampled)
    }

    static func countInline(_ s: LearnSettings, fileStarts: [Int64],
                            progress: (@Sendable (LearnProgress) -> Void)?) throws -> (WordCounter, IngestReport, Bool) {
        var counter = WordCounter(pattern: s.trainer.pattern)
        var sampled = false
        let report = try s.ingestJob.read(progress: { p in
            progress?(.counting(done: fileStarts[p.source] + p.compressedOffset, total: fileStarts.last!,
                                documents: counter.documents, textBytes: counter.bytes))
        }, continueWhile: { doc in
            if let keepGoing = s.shouldContinue, !keepGoing() { return false }
            counter.count(doc.text)
            if let max = s.maxBytes, counter.bytes >= max {
                sampled = true
                return false
            }
            return true
        })
        return (counter, report, sampled)
    }

    static func countParallel(_ s: LearnSettings, fileStarts: [Int64],
                              progress: (@Sendable (LearnProgress) -> Void)?) throws -> (WordCounter, IngestReport, Bool) {
        let queue = WorkQueue<[[UInt8]]>(capacity: 4 * s.threads)
        let batchBytes = 1 << 20
        let outcome = CountOutcome(counters: s.threads)
        let pattern = s.trainer.pattern

        runThreads(s.threads + 1) { index in
            if index == s.threads {
                // The reader: documents in batches of about a MiB.
                var batch: [[UInt8]] = []
                var batchSize = 0
                var counted: Int64 = 0
                var documents: Int64 = 0
                var sampled = false
                do {
                    let report = try s.ingestJob.read(progress: { p in
                        progress?(.counting(done: fileStarts[p.source] + p.compressedOffset, total: fileStarts.last!,
                                            documents: documents, textBytes: counted))
                    }, continueWhile: { doc in
                        if let keepGoing = s.shouldContinue, !keepGoing() { return false }
                        batchSize += doc.text.count
                        counted += Int64(doc.text.count)
                        documents += 1
                        batch.append(doc.text)
                        if batchSize >= batchBytes {
                            queue.put(batch)
                            batch = []
                            batchSize = 0
                        }
                        if let max = s.maxBytes, counted >= max {
                            sampled = true
                            return false
                        }
                        return true
                    })
                    outcome.read(report, sampled: sampled)
                } catch {
                    outcome.fail(error)
                }
                if !batch.isEmpty { queue.put(batch) }
                queue.close()
            } else {
                // One counter per thread (each owns its table).
                var counter = WordCounter(pattern: pattern)
                while let batch = queue.take() {
                    for text in batch { counter.count(text) }
                }
                outcome.counted(counter, thread: index)
            }
        }
        return try outcome.total()
    }

    /// What the counting threads of `countParallel` leave: each counter's table, and the
    /// reader's report or error.
    private final class CountOutcome: @unchecked Sendable {
        // Safety (Sendable): every stored `var` is read and written under `lock`. A counter is
        // handed over by its thread once it has stopped counting, so no two threads use one.
        private let lock = NSLock()
        private var counters: [WordCounter?]
        private var report = IngestReport()
        private var sampled = false
        private var failure: (any Error)?

        init(counters: Int) { self.counters = Array(repeating: nil, count: counters) }

        func counted(_ counter: WordCounter, thread: Int) { lock.withLock { counters[thread] = counter } }
        func read(_ report: IngestReport, sampled: Bool) { lock.withLock { (self.report, self.sampled) = (report, sampled) } }
        func fail(_ error: any Error) { lock.withLock { failure = error } }

        /// The counts merged, the report and whether `maxBytes` cut the input; or the reader's error.
        func total() throws -> (WordCounter, IngestReport, Bool) {
            try lock.withLock {
                if let failure { throw failure }
                let all = counters.compactMap { $0 }
                var total = all[0]
                for c in all.dropFirst() { total.merge(c) }
                return (total, report, sampled)
            }
        }
    }
}
