// `tokenmill shard`: inputs → ingest stages → BPE encoding on every core → shards + index.
//
// Work: sources are read (decompressed, cut into records: lines, paragraphs or files) in
// batches of about `batchBytes` (`SourceBatcher`); each batch goes through the ingest stages
// (`IngestStages`: JSON field, UTF-8, normalisation, length, content hash) on any thread, then
// is encoded into token ids, `threads` batches at a time, each thread with its own encoder,
// and its tokens are counted for the index (any thread, so that encoders only encode); the
// batches are written through a `ShardStore` in reading order (source by source) by the
// `BatchWriter`, so the output is byte-identical for any thread count. Duplicates are decided
// in that order too. A pool of threads (`threads + 1` when there is a core for it, else
// `threads`) shares the five kinds of work (`ShardScheduler`): several sources are read at
// once, and on a machine without a spare core the thread that would wait for a preempted
// reader or writer does that work itself. At most `batchCapacity(threads:)` batches are in
// flight, which bounds memory whatever the corpus size.
//
// Resume: sources the index calls done are skipped; a partial (or failed) one is read again
// from its start and its first `records` records are dropped (a gzip stream cannot seek); the
// dedup set is reloaded from the index.
import BPE
import Common
import Corpus
import Foundation
import Shards

public struct ShardJobOptions: Sendable {
    /// Input files, in order (as `Inputs.resolve` gives them).
    public var inputs: [String]
    /// The corpus directory.
    public var output: String
    public var ingest: IngestOptions
    public var settings: ShardSettings
    /// Commit after about this many tokens, but while the writing thread has other work waiting
    /// (the next batch to write, or a batch to encode), not sooner than `settings.commitSeconds`
    /// after the last commit (a shard that filled up waits too, under its temporary name). A
    /// commit's fsyncs and token-count blob take the writer a while, more with a larger
    /// vocabulary: with many encoders `commitTokens` come every few tens of milliseconds, and
    /// the writer, which is sequential, would spend its time committing. (When it has nothing
    /// waiting it commits sooner, but commits then take at most a tenth of its time.) A kill
    /// loses at most about `commitSeconds` of work, plus a batch per encoder.
    public var commitTokens: Int64 = 32_000_000
    /// Testing: false applies `commitSeconds` even when the writing thread has nothing waiting.
    package var commitWhenIdle = true
    /// Text per batch handed to an encoder.
    public var batchBytes: Int = 1 << 20
    /// Records what every thread did and when (`tokenmill shard --trace FILE`).
    public var trace: TaskTrace?
    /// The whole corpus, or the rank of a job split across machines: it shards its share of
    /// `inputs` (`CorpusPart.select`) into its own index part and shards, for `tokenmill merge`.
    public var part: CorpusPart = .whole
    /// Testing: after this many batches, stop as a kill would (nothing more committed).
    package var stopAfterBatches: Int?
    /// Asked after each batch is written; false stops the job at a clean point: what was written
    /// is committed, the report says `completed == false`, and the same job run again goes on
    /// from there (Ctrl-C in `tokenmill shard` and `tokenmill run`).
    public var shouldContinue: (@Sendable () -> Bool)?
    /// Threads doing the work (reading, encoding, writing); nil: `threads + 1` when there is a
    /// core for it, else `threads`. The output is the same.
    package var workers: Int?

    public init(inputs: [String], output: String, ingest: IngestOptions = IngestOptions(), settings: ShardSettings = ShardSettings()) {
        self.inputs = inputs
        self.output = output
        self.ingest = ingest
        self.settings = settings
    }

    /// Encoding threads.
    var threads: Int { settings.resolvedThreads }
}

public struct ShardJobProgress: Sendable {
    /// Input bytes (compressed size for .gz) of the sources this run reads, done and in all.
    public var bytesDone: Int64
    public var bytesTotal: Int64
    /// Written by this run.
    public var documents: Int64
    public var tokens: Int64
    /// 0-based index of the source being written, among `sources` inputs.
    public var source: Int
    public var sources: Int
    public var path: String
}

public struct ShardJobReport: Sendable {
    public struct Source: Sendable, Equatable {
        public var path: String
        public enum Status: String, Sendable {
            /// Read to its end.
            case done
            /// Stopped by an error (see `error`); what was read before it is in the corpus.
            case error
            /// Not read: sharded by an earlier run, or refused because it changed since (see `error`).
            case skipped
        }
        public var status: Status
        public var error: String?
        /// Written by this run.
        public var documents: Int64
        public var tokens: Int64
    }
    public var sources: [Source] = []
    /// One line per input that failed, naming the file. Non-empty means the job is incomplete.
    public var errors: [String] = []
    public var documents: Int64 = 0
    public var tokens: Int64 = 0
    public var textBytes: Int64 = 0
    /// Input bytes read by this run.
    public var inputBytes: Int64 = 0
    public var seconds: Double = 0
    /// False when stopped early (`shouldContinue` said so, or the testing hook).
    public var completed = true
    /// Batches written (about `batchBytes` of text each; at least one per source read).
    public var batches = 0
    /// Threads that did the work, and the CPU seconds they spent reading (decompressing,
    /// parsing, the ingest stages), encoding and writing (shards, index; the shard bytes' own
    /// writing and CRC happen on a flusher thread beside it): reading one source and writing are
    /// sequential, so their shares bound how far more encoders could go.
    public var workers = 0
    public struct TaskSeconds: Sendable, Equatable {
        public var read: Double
        /// The ingest stages.
        public var process: Double
        public var encode: Double
        /// Counting each batch's tokens for the index.
        public var count: Double
        public var write: Double
    }
    public var taskSeconds = TaskSeconds(read: 0, process: 0, encode: 0, count: 0, write: 0)
    /// Times the dedup set went over `settings.dedupMemory` and wrote its table out to disk.
    public var dedupSpills = 0
}

public enum ShardJob {
    /// Shards `options.inputs` into `options.output` with `tokenizer`, resuming whatever the
    /// directory holds. `tokenizerFile` (a tokenizer.json, or a directory holding one) is
    /// copied to `DIR/tokenizer.json` so the corpus describes itself (without it, or for other
    /// formats, the model is written as Hugging Face JSON).
    ///
    /// Throws when the index cannot be opened or written, when it was made with other settings,
    /// or when the tokenizer has no end-of-text token; a bad input file is reported in
    /// `errors` (and recorded in the index) while the others go on.
    @discardableResult
    public static func run(tokenizer: Tokenizer, tokenizerFile: String? = nil, options: ShardJobOptions,
                           progress: ((ShardJobProgress) -> Void)? = nil) throws -> ShardJobReport {
        let started = ContinuousClock.now
        guard let eot = tokenizer.eotID else {
            throw ShardsError(.invalidArgument, path: tokenizerFile ?? "tokenizer",
                              "the tokenizer has no end-of-text token (<|endoftext|>) to put before each document")
        }
        let settings = CorpusSettings(tokenizerFingerprint: tokenizer.fingerprint, vocabSize: tokenizer.vocabSize, eotID: eot,
                                      shardTokens: options.settings.shardTokens, valFraction: options.settings.valFraction,
                                      ingestFingerprint: options.ingest.fingerprint)
        try settings.validate()
        let specialIDs = Set(tokenizer.specials.map(\.id))
        let vocab = (0..<tokenizer.vocabSize).map { id in
            VocabEntry(id: UInt32(id), bytes: tokenizer.tokenBytes(UInt32(id)) ?? [], special: specialIDs.contains(UInt32(id)))
        }
        // Across ranks, what earlier ranks keep (their hashing pass) is dropped as a duplicate;
        // read first, so that a missing hash list stops the job before it writes anything.
        let dropList = options.ingest.dedup ? try RankHashes.dropList(directory: options.output, part: options.part) : []
        let store = try ShardStore(directory: options.output, settings: settings, vocab: vocab, part: options.part)
        store.trace = options.trace
        // Closed here, not when freed: a worker thread may drop the last reference after this returns.
        defer { store.close() }
        // The tokenizer is saved beside the job: for a tiktoken rank file that means a
        // tokenizer.json with merges derived from the ranks, which nothing in the job waits for.
        // The job does not finish without it.
        let saving = DispatchGroup()
        let saved = SaveOutcome()
        if options.part.rank == 0 { spawn(saving) {
            let started = ContinuousClock.now
            do { try tokenizer.save(into: options.output, copying: tokenizerFile) } catch { saved.error = error }
            options.trace?.record("save tokenizer", since: started)
        } }  // by rank 0 only: ranks sharing the directory would write the same file at once
        defer { saving.wait() }  // also when the job throws: no thread writes into DIR after it ends

        let (plans, notRead, refused) = try plan(inputs(of: options), in: store)
        let dedup = options.ingest.dedup
            ? DocumentDeduplicator(memoryBytes: options.settings.dedupMemory << 20, directory: FileSystem.join(options.output, options.part.dedupDirectoryName))
            : nil
        // Closed here, not left to deinit: a worker thread may drop the last reference after
        // this returns, and the process may exit first.
        defer { dedup?.close() }
        if let dedup {
            try store.forEachDocumentHash { try dedup.reload($0) }
            for hash in dropList { try dedup.reload(hash) }
        }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workers = options.workers ?? Swift.max(options.threads, Swift.min(options.threads + 1, cores))
        let scheduler = ShardScheduler(plans: plans.count, encoders: options.threads, workers: workers,
                                       capacity: batchCapacity(threads: options.threads), window: Swift.max(2, workers),
                                       trace: options.trace)
        let writer = BatchWriter(store: store, plans: plans, options: options, dedup: dedup, progress: progress)
        writer.report.errors = refused
        writer.notRead = notRead
        let work = Work(scheduler: scheduler, plans: plans, writer: writer, tokenizer: tokenizer, settings: settings,
                        options: options, dedup: dedup)
        options.trace?.record("prepare", since: started)
        let threads = DispatchGroup()
        for _ in 1..<workers { spawn(threads) { work.run() } }
        work.run()
        threads.wait()
        if let error = scheduler.error { throw error }
        saving.wait()
        if let error = saved.error { throw error }

        if writer.report.completed {
            let finishing = ContinuousClock.now
            try store.finish()
            options.trace?.record("finish", since: finishing)
            writer.addNotRead(before: Int.max)
            writer.report.inputBytes = writer.bytesTotal
        }
        var report = writer.report
        report.taskSeconds = scheduler.seconds
        report.dedupSpills = dedup?.spills ?? 0
        report.workers = workers
        let elapsed = ContinuousClock.now - started
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return report
    }

    /// The inputs `options.part` reads, in order: all of them for the whole corpus.
    static func inputs(of options: ShardJobOptions) -> [String] { options.part.share(of: options.inputs) }

    /// A source to read, and from which record.
    struct Plan: Sendable {
        var index: Int
        var path: String
        var fileBytes: Int64
        /// What an earlier run committed of it: its first `records` records are dropped when it
        /// is read again, and its skips go on from there.
        var committed: SourceProgress
    }

    /// Which inputs to read and from where; the inputs an earlier run finished, and those that
    /// changed since they were sharded (refused: reading them again would put their documents
    /// in the corpus twice).
    static func plan(_ inputs: [String], in store: ShardStore) throws
        -> (plans: [Plan], notRead: [Int: ShardJobReport.Source], refused: [String]) {
        var plans: [Plan] = []
        var notRead: [Int: ShardJobReport.Source] = [:]
        var refused: [String] = []
        for (index, path) in inputs.enumerated() {
            let size = FileSystem.size(path) ?? 0
            guard let state = try store.source(path: path) else {
                plans.append(Plan(index: index, path: path, fileBytes: size, committed: SourceProgress(records: 0)))
                continue
            }
            if state.fileBytes != size && !(state.status == .error && state.records == 0) {
                let message = "\(path): input changed since it was sharded: it was \(state.fileBytes) bytes, now \(size)"
                    + (state.status == .done ? "; the corpus keeps what it held then (shard the new content into a new corpus)" : "")
                refused.append(message)
                notRead[index] = .init(path: path, status: .skipped, error: message, documents: 0, tokens: 0)
            } else if state.status == .done {
                notRead[index] = .init(path: path, status: .skipped, error: nil, documents: 0, tokens: 0)
            } else {
                plans.append(Plan(index: index, path: path, fileBytes: size, committed: try store.committedProgress(of: state)))
            }
        }
        return (plans, notRead, refused)
    }

    /// How many batches may be in flight: 4 per encoding thread (one encoding, one waiting for
    /// an encoder, one being read or processed, one done but waiting for the batches before it
    /// to be written) and 6 more, so that a commit's pause does not stall the encoders; beyond
    /// 16 threads, 2 per thread, which keeps memory in bounds with many threads.
    static func batchCapacity(threads: Int) -> Int {
        6 + 4 * Swift.min(threads, 16) + 2 * Swift.max(0, threads - 16)
    }

    /// What each worker thread runs.
    final class Work: @unchecked Sendable {
        // Safety (Sendable): the scheduler hands out the tasks; the pools below are accessed
        // under `lock`; readers are used by one thread at a time (the scheduler's rule).
        let scheduler: ShardScheduler
        let readers: [SourceBatcher]
        let pool: BatchPool
        let writer: BatchWriter
        let tokenizer: Tokenizer
        let settings: CorpusSettings
        let ingest: IngestOptions
        let dedup: DocumentDeduplicator?
        let batchBytes: Int

        init(scheduler: ShardScheduler, plans: [Plan], writer: BatchWriter, tokenizer: Tokenizer,
             settings: CorpusSettings, options: ShardJobOptions, dedup: DocumentDeduplicator?) {
            self.scheduler = scheduler
            readers = plans.map { SourceBatcher(path: $0.path, options: options.ingest, skipRecords: $0.committed.records) }
            pool = BatchPool(batchBytes: options.batchBytes)
            self.writer = writer
            self.tokenizer = tokenizer
            self.settings = settings
            ingest = options.ingest
            self.dedup = dedup
            batchBytes = options.batchBytes
        }

        /// Encoders not in use. At most `threads` encode at once, and each takes the one used
        /// last, so that its piece cache is warm (with one encoder, whichever thread encodes).
        private var encoders: [TokenEncoder] = []
        /// Stages not in use (one per thread processing at once).
        private var stages: [IngestStages] = []
        private let lock = NSLock()

        func run() {
            scheduler.work(
                read: { plan, index in
                    let batch = pool.batch(plan: plan, index: index)
                    // The job's first batch is small, so that encoding starts sooner.
                    readers[plan].next(&batch.documents, batchBytes: plan == 0 && index == 0 ? Swift.min(64 << 10, batchBytes) : batchBytes)
                    return batch
                },
                process: { batch in
                    let mine = lock.withLock { stages.popLast() } ?? IngestStages(options: ingest)
                    mine.process(&batch.documents, dedup: dedup)
                    batch.prepareTokens()
                    lock.withLock { stages.append(mine) }
                },
                encode: { batch in
                    var encoder = lock.withLock { encoders.popLast() } ?? tokenizer.makeEncoder()
                    batch.encode(with: &encoder)
                    lock.withLock { encoders.append(encoder) }
                },
                count: { batch in batch.count(settings) },
                write: { batch in
                    defer { pool.recycle(batch) }
                    return try writer.write(batch, isIdle: { scheduler.writerIsIdle(after: batch) },
                                            readingIsDone: { scheduler.readingIsDone() })
                })
        }
    }

    /// What saving the tokenizer threw: set by its thread before it leaves its group, read after
    /// waiting for the group.
    final class SaveOutcome: @unchecked Sendable {
        // Safety (Sendable): written by one thread before `DispatchGroup.leave`, read after `wait`.
        var error: (any Error)?
    }

    static func spawn(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        let thread = Thread {
            body()
            group.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
