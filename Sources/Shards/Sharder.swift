// `tokenmill shard`: inputs → ingest stages → BPE encoding on every core → shards + index.
//
// Work: sources are read (decompressed, cut into records: lines, paragraphs or files) in
// batches of about `batchBytes`; each batch goes through the ingest stages (JSON field, UTF-8,
// normalisation, length, content hash) on any thread, then is encoded into token ids,
// `threads` batches at a time, each thread with its own encoder, and its tokens are counted
// for the index (any thread, so that encoders only encode); the batches are written
// through a `ShardStore` in reading order (source by source), so the output is byte-identical
// for any thread count. Duplicates are decided in that order too, by the writer. Reading a
// source is sequential (a gzip stream cannot be split), so it does as little as it can.
// A pool of threads (`threads + 1` when there is a core for it, else `threads`) shares the
// five kinds of work (`ShardScheduler`): several sources are read at once, and on a machine
// without a spare core the thread that would wait for a preempted reader or writer does that
// work itself. At most `batchCapacity(threads:)` batches are in flight (6 + 4 × threads, 2 per
// thread beyond 16), which bounds memory (about 2.5 MiB per batch, recycled) whatever the corpus
// size; and malloc gives blocks of 1 MiB and more back to the system when they are freed (see
// `run`).
//
// Resume: sources the index calls done are skipped; a partial (or failed) one is read again
// from its start and its first `records` records are dropped (a gzip stream cannot seek); the
// dedup set is reloaded from the index. Commits happen after about `commitTokens` tokens,
// after a batch in which a shard filled up, and at the end; but while the writing thread has
// other work waiting (the next batch, or a batch to encode), at most one per `commitSeconds`.
// A source's end (status done or error) goes into the next commit, so a corpus of many small
// files is not a commit per file.
import Common
import BPE
import Corpus
import CSys
import Foundation

public struct ShardJobOptions: Sendable {
    /// Input files, in order (as `Inputs.resolve` gives them).
    public var inputs: [String]
    /// The corpus directory.
    public var output: String
    public var ingest: IngestOptions
    public var shardTokens: Int64
    public var valFraction: Double
    /// Encoding threads.
    public var threads: Int
    /// Commit after about this many tokens,
    public var commitTokens: Int64 = 32_000_000
    /// but while the writing thread has other work waiting (the next batch to write, or a batch
    /// to encode), not sooner than this many seconds after the last commit (a shard that filled
    /// up waits too, under its temporary name). A commit costs 5-20 ms of the writer's time
    /// (fsyncs, the token counts' blob: more with a larger vocabulary): with many encoders
    /// `commitTokens` come every few tens of milliseconds, and the writer, which is sequential,
    /// would spend its time committing. (When it has nothing waiting it commits sooner, but
    /// commits then take at most a tenth of its time.) A kill loses at most about this much
    /// work, plus a batch per encoder.
    public var commitSeconds: Double = 1
    /// Testing: false applies `commitSeconds` even when the writing thread has nothing waiting.
    package var commitWhenIdle = true
    /// Memory for the exact-dedup set (`SpillingDeduplicator`): half for its table, which
    /// holds about 8.4 million documents with the default, a quarter for a filter once it
    /// spills; beyond the table, sorted runs of hashes go to `DIR/dedup.tmp` and dedup stays
    /// exact, at the price of a disk lookup for the documents the filter does not rule out.
    public var dedupMemoryBytes: Int = 512 << 20
    /// Text per batch handed to an encoder.
    public var batchBytes: Int = 1 << 20
    /// Records what every thread did and when (`tokenmill shard --trace FILE`).
    public var trace: TaskTrace?
    /// Testing: after this many batches, stop as a kill would (nothing more committed).
    package var stopAfterBatches: Int?
    /// Asked after each batch is written; false stops the job at a clean point: what was written
    /// is committed, the report says `completed == false`, and the same job run again goes on
    /// from there (Ctrl-C in `tokenmill shard` and `tokenmill run`).
    public var shouldContinue: (@Sendable () -> Bool)?
    /// Threads doing the work (reading, encoding, writing); nil: `threads + 1` when there is a
    /// core for it, else `threads`. The output is the same.
    package var workers: Int?

    public init(inputs: [String], output: String, ingest: IngestOptions = IngestOptions(),
                shardTokens: Int64 = CorpusSettings.defaultShardTokens, valFraction: Double = CorpusSettings.defaultValFraction,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.inputs = inputs
        self.output = output
        self.ingest = ingest
        self.shardTokens = shardTokens
        self.valFraction = valFraction
        self.threads = threads
    }
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
        /// done, error, or skipped (done by an earlier run, or refused: see `error`).
        public var status: String
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
    /// Times the dedup set went over `dedupMemoryBytes` and wrote its table out to disk.
    public var dedupSpills = 0
}

public enum Sharder {
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
        guard options.threads >= 1 else { throw ShardsError(.invalidArgument, path: "", "threads must be at least 1") }
        // glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB), so
        // after a source's 1 MiB read window or a large document's buffers are freed, such
        // blocks come from the per-thread heaps, where freed memory stays with the process.
        // A fixed 1 MiB threshold gives them back. Peak memory, 981 MB of text with a 9.4 MB
        // document, 32k vocabulary: 176 → 118 MB on 1 thread, 635 → 349 MB on 16, and with
        // `batchCapacity` 1078 → 620 MB on 64; for 1-2% of speed on 2 threads (more fresh
        // pages to fault in). 2 MiB kept more (820 MB on 64); 256 KiB cost 4% of speed.
        _ = tm_set_mmap_threshold(1 << 20)
        guard let eot = tokenizer.eotID else {
            throw ShardsError(.invalidArgument, path: tokenizerFile ?? "tokenizer",
                              "the tokenizer has no end-of-text token (<|endoftext|>) to put before each document")
        }
        let settings = CorpusSettings(tokenizerFingerprint: tokenizer.fingerprint, vocabSize: tokenizer.vocabSize, eotID: eot,
                                      shardTokens: options.shardTokens, valFraction: options.valFraction,
                                      ingestFingerprint: options.ingest.fingerprint)
        try settings.validate()
        let specialIDs = Set(tokenizer.specials.map(\.id))
        let vocab = (0..<tokenizer.vocabSize).map { id in
            VocabEntry(id: UInt32(id), bytes: tokenizer.tokenBytes(UInt32(id)) ?? [], special: specialIDs.contains(UInt32(id)))
        }
        let store = try ShardStore(directory: options.output, settings: settings, vocab: vocab)
        store.trace = options.trace
        // Closed here, not when freed: a worker thread may drop the last reference after this returns.
        defer { store.close() }
        // The tokenizer is saved beside the job: for a tiktoken rank file that means a
        // tokenizer.json with merges derived from the ranks (~150 ms at 100k ids), which nothing
        // in the job waits for. The job does not finish without it.
        let saving = DispatchGroup()
        let saved = SaveOutcome()
        spawn(saving) {
            let started = ContinuousClock.now
            do { try writeTokenizer(tokenizer, from: tokenizerFile, into: options.output) } catch { saved.error = error }
            options.trace?.record("save tokenizer", since: started)
        }
        defer { saving.wait() }  // also when the job throws: no thread writes into DIR after it ends

        // Plan: which sources to read, and from which record.
        var plans: [Plan] = []
        var skipped: [Int: ShardJobReport.Source] = [:]
        var refused: [String] = []
        for (index, path) in options.inputs.enumerated() {
            let size = FileSystem.size(path) ?? 0
            if let state = try store.source(path: path) {
                if state.fileBytes != size && !(state.status == .error && state.records == 0) {
                    // A finished source's shards hold what it was: reading it again would add its
                    // documents twice.
                    let message = "\(path): input changed since it was sharded: it was \(state.fileBytes) bytes, now \(size)"
                        + (state.status == .done ? "; the corpus keeps what it held then (shard the new content into a new corpus)" : "")
                    refused.append(message)
                    skipped[index] = .init(path: path, status: "skipped", error: message, documents: 0, tokens: 0)
                    continue
                }
                if state.status == .done {
                    skipped[index] = .init(path: path, status: "skipped", error: nil, documents: 0, tokens: 0)
                    continue
                }
                plans.append(Plan(index: index, path: path, fileBytes: size, skipRecords: state.records, duplicates: state.duplicates,
                                  skips: try store.skips(source: state.id)))
            } else {
                plans.append(Plan(index: index, path: path, fileBytes: size, skipRecords: 0, duplicates: 0))
            }
        }
        let dedup = options.ingest.dedup
            ? SharedDeduplicator(memoryBytes: options.dedupMemoryBytes, directory: options.output + "/dedup.tmp") : nil
        // Closed here, not left to deinit: a worker thread may drop the last reference after
        // this returns, and the process may exit first.
        defer { dedup?.close() }
        if let dedup {
            try store.forEachDocumentHash { try dedup.reload(ContentHash(hi: $0.hi, lo: $0.lo)) }
        }

        // Room for ~6 MB of text beyond the encoders' share: a commit (10-30 ms, its fsyncs
        // included) stalls writing for a while, and the encoders should not stall with it.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workers = options.workers ?? Swift.max(options.threads, Swift.min(options.threads + 1, cores))
        let scheduler = ShardScheduler(plans: plans.count, encoders: options.threads, workers: workers,
                                       capacity: batchCapacity(threads: options.threads), window: Swift.max(2, workers),
                                       trace: options.trace)
        let readers = plans.map { SourceReader(plan: $0, options: options) }
        let pool = BatchPool(batchBytes: options.batchBytes)
        let writer = Writer(store: store, plans: plans, options: options, dedup: dedup, progress: progress)
        writer.report.errors = refused
        writer.skipped = skipped
        let job = Job(scheduler: scheduler, readers: readers, pool: pool, writer: writer, tokenizer: tokenizer,
                      settings: settings, options: options, dedup: dedup)
        options.trace?.record("prepare", since: started)
        let threads = DispatchGroup()
        for _ in 1..<workers { spawn(threads) { job.work() } }
        job.work()
        threads.wait()
        if let error = scheduler.error { throw error }
        saving.wait()
        if let error = saved.error { throw error }

        if writer.report.completed {
            let finishing = ContinuousClock.now
            try store.finish(completing: writer.finalProgress)
            options.trace?.record("finish", since: finishing)
            writer.addSkipped(before: Int.max)
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

    /// How many batches may be in flight: 4 per encoding thread (one encoding, one waiting for
    /// an encoder, one being read or processed, one done but waiting for the batches before it
    /// to be written) and 6 more, so that a commit's pause does not stall the encoders; beyond
    /// 16 threads, 2 per thread. Each batch holds ~2.3 MB at 32k ids: on 64 threads, 166
    /// batches instead of 262 keep the peak at ~620 MB rather than ~850. (Measured on 2 cores,
    /// so for memory only: whether 2 per thread keep 64 encoders busy is not measured.)
    static func batchCapacity(threads: Int) -> Int {
        6 + 4 * Swift.min(threads, 16) + 2 * Swift.max(0, threads - 16)
    }

    // MARK: pieces

    struct Plan: Sendable {
        var index: Int
        var path: String
        var fileBytes: Int64
        /// Records already committed: dropped when the source is read again.
        var skipRecords: Int64
        /// Duplicates among those records.
        var duplicates: Int64
        /// Skips among those records, by reason.
        var skips: [String: SkipCount] = [:]
    }

    package enum End: Equatable {
        case done
        case failed(String)
    }

    /// Documents of one source on their way from the reader to the writer. Batches are recycled
    /// (`BatchPool`) so that their buffers are allocated, and their pages touched, only once.
    package final class Batch: @unchecked Sendable {
        /// Which source (index in the plans), and which of its batches (from 0).
        package private(set) var plan = 0
        package private(set) var index = 0
        var first: Bool { index == 0 }
        /// The records as read, one after the other; record i ends at `rawEnds[i]`, and is
        /// record `records[i]` of its source, starting on line `lines[i]`.
        package var raw: [UInt8] = []
        var rawEnds: [Int] = []
        var records: [Int64] = []
        var lines: [Int64] = []
        /// How to process the records (the source's format).
        var format = IngestOptions.Format.jsonl
        /// The documents the records gave, and where their text is: filled by the stages. Most
        /// texts are in `raw` (JSON is decoded in place), those a stage rewrote in `text`.
        var documents: [DocumentInfo] = []
        var spans: [TextSpan] = []
        package var text: [UInt8] = []
        /// Bytes of the documents' text.
        var textBytes = 0
        /// Records skipped by the ingest stages, per `SkipReason.allCases` index, and the line of
        /// the first bad JSON one.
        var skips = [Int64](repeating: 0, count: SkipReason.allCases.count)
        var firstBadLine: Int64?
        /// Token ids of all documents, one after the other; document i ends at `ends[i]`.
        package var tokens: [UInt32] = []
        var ends: [Int] = []
        /// Occurrences of each token id (end-of-text tokens included) per split: train's ids
        /// first, then val's. Counted by the encoding thread; the writer adds them to the
        /// index's counts and leaves them zero.
        var counts: [UInt32] = []
        /// The source's progress after this batch (what a commit records); the writer fills in
        /// the duplicates and skips.
        var progress = SourceProgress(records: 0)
        /// Where document i's split starts in `counts`.
        func countsOffset(of i: Int, _ settings: CorpusSettings) -> Int {
            Split.of(hash: documents[i].hash, valFraction: settings.valFraction) == .train ? 0 : settings.vocabSize
        }
        /// Documents dropped as duplicates of documents already written (before encoding).
        var duplicates: Int64 = 0
        var compressedOffset: Int64 = 0
        /// Set on the source's last batch.
        package var end: End?

        package init() {}

        /// Called by the stages when the batch's text is complete: makes room for its ids (half an
        /// id per byte of text, more than text needs; growing by half again at least, so that a
        /// recycled batch rarely grows) and, when that took new memory, touches its pages here so
        /// that encoding does not take the page faults.
        func prepareTokens() {
            let n = textBytes / 2 + spans.count
            guard tokens.capacity < n else { return }
            tokens.reserveCapacity(Swift.max(n, tokens.capacity * 3 / 2))
            // The pages ~0.4 ids per byte will use (8k vocabularies average ~0.34).
            tokens.append(contentsOf: repeatElement(0, count: Swift.min(tokens.capacity, textBytes * 2 / 5 + spans.count)))
            tokens.removeAll(keepingCapacity: true)
        }

        /// Adds a record as read (the only copy of its bytes), growing by half again at least.
        func append(_ record: RecordView) {
            if raw.capacity < raw.count + record.bytes.count {
                raw.reserveCapacity(Swift.max(raw.count + record.bytes.count, raw.capacity * 3 / 2))
            }
            raw.append(contentsOf: record.bytes)
            rawEnds.append(raw.count)
            records.append(Int64(record.record))
            lines.append(Int64(record.line))
        }

        func skip(_ reason: SkipReason, line: Int64) {
            skips[reason.index] += 1
            if reason == .badJSON && firstBadLine == nil { firstBadLine = line }
        }

        /// A document's text, in `raw` or (copied) in `text`.
        struct TextSpan {
            var inRaw: Bool
            var start: Int
            var count: Int
        }

        /// Adds a document's text (the stages' output) that is not in `raw`, growing by half
        /// again at least.
        func appendText(_ bytes: UnsafeBufferPointer<UInt8>) {
            if text.capacity < text.count + bytes.count {
                text.reserveCapacity(Swift.max(text.count + bytes.count, text.capacity * 3 / 2))
            }
            spans.append(TextSpan(inRaw: false, start: text.count, count: bytes.count))
            text.append(contentsOf: bytes)
        }

        /// Frees the buffers that grew past what a batch of `batchBytes` of text needs (twice
        /// the text, or an id per byte of it): the next batch starts them afresh.
        func shrink(toFit batchBytes: Int) {
            if raw.capacity > 2 * batchBytes { raw = [] }
            if text.capacity > 2 * batchBytes { text = [] }
            if tokens.capacity > batchBytes { tokens = [] }
        }

        package func reset(plan: Int, index: Int) {
            self.plan = plan
            self.index = index
            raw.removeAll(keepingCapacity: true)
            rawEnds.removeAll(keepingCapacity: true)
            records.removeAll(keepingCapacity: true)
            lines.removeAll(keepingCapacity: true)
            documents.removeAll(keepingCapacity: true)
            spans.removeAll(keepingCapacity: true)
            text.removeAll(keepingCapacity: true)
            textBytes = 0
            skips.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            firstBadLine = nil
            tokens.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            progress = SourceProgress(records: 0)
            duplicates = 0
            compressedOffset = 0
            end = nil
        }
    }

    /// Written batches, for the readers to fill again. Holds at most what was in flight at once,
    /// each batch at about `batchBytes` of text: one that grew past it for a large record gives
    /// the extra memory back when it returns (else every pooled batch would in time keep room
    /// for the largest document of the corpus, times the pool's size).
    package final class BatchPool: @unchecked Sendable {
        private let lock = NSLock()
        private var free: [Batch] = []
        private let batchBytes: Int

        package init(batchBytes: Int) {
            self.batchBytes = batchBytes
        }

        package func batch(plan: Int, index: Int) -> Batch {
            lock.lock()
            let batch = free.popLast() ?? Batch()
            lock.unlock()
            batch.reset(plan: plan, index: index)
            return batch
        }

        package func recycle(_ batch: Batch) {
            batch.shrink(toFit: batchBytes)
            lock.lock()
            free.append(batch)
            lock.unlock()
        }
    }

    /// The dedup set, shared by the writer (which decides, in reading order) and the stages
    /// (which drop a document whose hash is already there: it is a duplicate of one written,
    /// so of one that comes before it). Within `ShardJobOptions.dedupMemoryBytes`; beyond, it
    /// spills sorted runs to `DIR/dedup.tmp` (`SpillingDeduplicator`).
    final class SharedDeduplicator: @unchecked Sendable {
        private let lock = NSLock()
        private let set: SpillingDeduplicator

        init(memoryBytes: Int, directory: String) {
            set = SpillingDeduplicator(memoryBytes: memoryBytes, directory: directory)
        }

        func close() {
            lock.lock()
            defer { lock.unlock() }
            set.close()
        }

        var spills: Int {
            lock.lock()
            defer { lock.unlock() }
            return set.spills
        }

        /// Adds a hash of a document in the index (they are distinct).
        func reload(_ hash: ContentHash) throws {
            lock.lock()
            defer { lock.unlock() }
            try set.insertDistinct(hash)
        }

        /// Whether the stages may drop a document with this hash: it is in the in-memory part
        /// of the set (cheap; a duplicate of a spilled hash is found by the writer).
        func isKnownDuplicate(_ hash: ContentHash) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            return set.containsInMemory(hash)
        }

        /// Inserts each document's hash in order; `keep[i]` says whether document i was new.
        func insert(_ documents: [DocumentInfo], keep: inout [Bool]) throws {
            keep.removeAll(keepingCapacity: true)
            lock.lock()
            defer { lock.unlock() }
            for d in documents { keep.append(try set.insert(ContentHash(hi: d.hash.hi, lo: d.hash.lo))) }
        }
    }

    /// What saving the tokenizer threw: set by its thread before it leaves its group, read after
    /// waiting for the group.
    final class SaveOutcome: @unchecked Sendable {
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

    /// One source cut into batches of records: `next` gives the next one. The scheduler lets one
    /// thread at a time read a source.
    final class SourceReader: @unchecked Sendable {
        private let plan: Plan
        private let options: IngestOptions
        private var current: RecordReader?

        init(plan: Plan, options: ShardJobOptions) {
            self.plan = plan
            self.options = options.ingest
        }

        /// Batch `index` (the one after the last) of about `batchBytes` of records; the last one
        /// has `end` set.
        func next(_ batch: Batch, batchBytes: Int) {
            if batch.index == 0 {
                do {
                    current = try RecordReader(path: plan.path, options: options)
                } catch {
                    batch.end = .failed(error.description)
                    batch.progress = SourceProgress(records: plan.skipRecords)
                    return
                }
            }
            guard let reader = current else { preconditionFailure("batches of a source are read in order") }
            while true {
                let record: RecordView?
                do { record = try reader.next() } catch {
                    batch.end = .failed(error.description)
                    break
                }
                guard let record else {
                    batch.end = .done
                    break
                }
                if Int64(record.record) < plan.skipRecords { continue }
                batch.append(record)
                if batch.raw.count >= batchBytes { break }
            }
            batch.format = reader.format
            batch.progress = SourceProgress(records: Int64(reader.records))
            batch.compressedOffset = reader.compressedOffset
            if batch.end != nil { current = nil }
        }
    }

    /// The ingest stages for each format (with their scratch buffers): one per thread at once.
    struct Stages {
        let jsonl: RecordProcessor
        let text: RecordProcessor

        init(options: IngestOptions) {
            jsonl = RecordProcessor(options: options, format: .jsonl)
            text = RecordProcessor(options: options, format: .text)
        }
    }

    /// Runs the ingest stages on a batch's records: documents (their text left in `raw` where
    /// the stages left it, else copied into the batch) and skips. A document already written
    /// (`dedup`) is dropped here.
    static func process(_ batch: Batch, with stages: Stages, dedup: SharedDeduplicator?) {
        let processor = batch.format == .jsonl ? stages.jsonl : stages.text
        batch.raw.withUnsafeMutableBufferPointer { raw in
            guard let rawBase = raw.baseAddress else { return }
            var start = 0
            for (i, end) in batch.rawEnds.enumerated() {
                defer { start = end }
                switch processor.process(UnsafeMutableBufferPointer(rebasing: raw[start..<end])) {
                case .skipped(let reason):
                    batch.skip(reason, line: batch.lines[i])
                case .document(let text, let hash):
                    if let dedup, dedup.isKnownDuplicate(hash) {
                        batch.duplicates += 1
                        continue
                    }
                    batch.documents.append(DocumentInfo(record: batch.records[i], line: batch.lines[i], byteCount: Int64(text.count),
                                                        hash: DocumentHash(hi: hash.hi, lo: hash.lo)))
                    batch.textBytes += text.count
                    if let p = text.baseAddress, p >= rawBase + start, p + text.count <= rawBase + end {
                        batch.spans.append(Batch.TextSpan(inRaw: true, start: rawBase.distance(to: UnsafeMutablePointer(mutating: p)),
                                                          count: text.count))
                    } else {
                        batch.appendText(text)
                    }
                }
            }
        }
        processor.releaseLargeBuffers()   // the texts are in the batch now
        batch.prepareTokens()
    }

    /// Encodes a batch's documents into its token array (`process` made room for the ids).
    static func encode(_ batch: Batch, with encoder: inout TokenEncoder) {
        batch.raw.withUnsafeBufferPointer { raw in
            batch.text.withUnsafeBufferPointer { text in
                for span in batch.spans {
                    let bytes = span.inRaw ? raw : text
                    encoder.encodeOrdinary(UnsafeBufferPointer(rebasing: bytes[span.start..<span.start + span.count]), into: &batch.tokens)
                    batch.ends.append(batch.tokens.count)
                }
            }
        }
    }

    /// Counts a batch's tokens per split (end-of-text tokens included), off the writer's path
    /// and off the encoders'.
    static func count(_ batch: Batch, settings: CorpusSettings) {
        let vocab = settings.vocabSize
        if batch.counts.count != 2 * vocab { batch.counts = [UInt32](repeating: 0, count: 2 * vocab) }
        batch.counts.withUnsafeMutableBufferPointer { counts in
            batch.tokens.withUnsafeBufferPointer { tokens in
                var start = 0
                for (i, end) in batch.ends.enumerated() {
                    let c = UnsafeMutableBufferPointer(rebasing: counts[batch.countsOffset(of: i, settings)...])
                    c[Int(settings.eotID)] += 1
                    // Ids come from the tokenizer, so below `vocab`; the store checks them again.
                    for t in tokens[start..<end] where Int(t) < vocab { c[Int(t)] += 1 }
                    start = end
                }
            }
        }
    }

    /// What each worker thread runs.
    final class Job: @unchecked Sendable {
        let scheduler: ShardScheduler
        let readers: [SourceReader]
        let pool: BatchPool
        let writer: Writer
        let tokenizer: Tokenizer
        let settings: CorpusSettings
        let ingest: IngestOptions
        let dedup: SharedDeduplicator?
        let batchBytes: Int

        init(scheduler: ShardScheduler, readers: [SourceReader], pool: BatchPool, writer: Writer, tokenizer: Tokenizer,
             settings: CorpusSettings, options: ShardJobOptions, dedup: SharedDeduplicator?) {
            self.settings = settings
            ingest = options.ingest
            self.dedup = dedup
            batchBytes = options.batchBytes
            self.scheduler = scheduler
            self.readers = readers
            self.pool = pool
            self.writer = writer
            self.tokenizer = tokenizer
        }

        /// Encoders not in use. At most `threads` encode at once, and each takes the one used
        /// last, so that its piece cache is warm (with one encoder, whichever thread encodes).
        private var encoders: [TokenEncoder] = []
        /// Stages not in use (one per thread processing at once).
        private var stages: [Stages] = []
        private let encodersLock = NSLock()

        func work() {
            scheduler.work(
                read: { plan, index in
                    let batch = pool.batch(plan: plan, index: index)
                    // The job's first batch is small, so that encoding starts sooner.
                    readers[plan].next(batch, batchBytes: plan == 0 && index == 0 ? Swift.min(64 << 10, batchBytes) : batchBytes)
                    return batch
                },
                process: { batch in
                    encodersLock.lock()
                    let mine = stages.popLast() ?? Stages(options: ingest)
                    encodersLock.unlock()
                    Sharder.process(batch, with: mine, dedup: dedup)
                    encodersLock.lock()
                    stages.append(mine)
                    encodersLock.unlock()
                },
                encode: { batch in
                    encodersLock.lock()
                    var encoder = encoders.popLast() ?? tokenizer.makeEncoder()
                    encodersLock.unlock()
                    Sharder.encode(batch, with: &encoder)
                    encodersLock.lock()
                    encoders.append(encoder)
                    encodersLock.unlock()
                },
                count: { batch in Sharder.count(batch, settings: settings) },
                write: { batch in
                    defer { pool.recycle(batch) }
                    return try writer.write(batch, isIdle: { scheduler.writerIsIdle(after: batch) },
                                            readingIsDone: { scheduler.readingIsDone() })
                })
        }
    }

    /// Writes batches through the store in reading order; the scheduler lets one thread at a
    /// time write.
    final class Writer: @unchecked Sendable {
        let store: ShardStore
        let plans: [Plan]
        let options: ShardJobOptions
        let dedup: SharedDeduplicator?
        /// Called after each batch, from whichever thread wrote it (never two at once).
        let progress: ((ShardJobProgress) -> Void)?
        var report = ShardJobReport()
        /// Inputs not read (done before, or refused), by index: listed in the report in order.
        var skipped: [Int: ShardJobReport.Source] = [:]
        let bytesTotal: Int64
        /// The last source's progress: committed by `finish`, with the last shards.
        var finalProgress: SourceProgress?
        private var bytesBefore: Int64 = 0
        private var sinceCommit: Int64 = 0
        /// When the last commit ended, and how long it took.
        private var lastCommit = ContinuousClock.now
        private var lastCommitCost = Duration.zero
        /// Whether `store.finishEarly()` ran.
        private var finishedEarly = false
        private var outcome = ShardJobReport.Source(path: "", status: "", error: nil, documents: 0, tokens: 0)
        /// Duplicates and skips of the source being written.
        private var duplicates: Int64 = 0
        private var skips: [String: SkipCount] = [:]
        private var keep: [Bool] = []

        init(store: ShardStore, plans: [Plan], options: ShardJobOptions, dedup: SharedDeduplicator?,
             progress: ((ShardJobProgress) -> Void)?) {
            self.store = store
            self.plans = plans
            self.options = options
            self.dedup = dedup
            self.progress = progress
            bytesTotal = plans.reduce(Int64(0)) { $0 + $1.fileBytes }
        }

        /// Takes a dropped document's tokens back out of the batch's counts.
        private func uncount(_ batch: Batch, document i: Int, tokens: UnsafeBufferPointer<UInt32>) {
            let settings = store.settings
            let base = batch.countsOffset(of: i, settings)
            batch.counts.withUnsafeMutableBufferPointer { counts in  // no uniqueness check per id
                counts[base + Int(settings.eotID)] -= 1
                for t in tokens where Int(t) < settings.vocabSize { counts[base + Int(t)] -= 1 }
            }
        }

        func addSkipped(before index: Int) {
            for i in skipped.keys.sorted() where i < index { report.sources.append(skipped.removeValue(forKey: i)!) }
        }

        /// Writes the next batch in reading order; false: stop here (asked to, or the testing hook).
        /// `isIdle` says whether this thread has nothing else waiting (`ShardScheduler.writerIsIdle`),
        /// `readingIsDone` whether every source has been read (`ShardScheduler.readingIsDone`).
        func write(_ batch: Batch, isIdle: () -> Bool, readingIsDone: () -> Bool = { false }) throws -> Bool {
            let plan = plans[batch.plan]
            if batch.first {
                _ = try store.beginSource(path: plan.path, fileBytes: plan.fileBytes)
                outcome = .init(path: plan.path, status: "partial", error: nil, documents: 0, tokens: 0)
                duplicates = plan.duplicates
                skips = plan.skips
            }
            duplicates += batch.duplicates
            for (reason, count) in zip(SkipReason.allCases, batch.skips) where count > 0 {
                var skip = skips[reason.rawValue] ?? SkipCount(count: 0)
                skip.count += count
                if reason == .badJSON && skip.firstLine == nil { skip.firstLine = batch.firstBadLine }
                skips[reason.rawValue] = skip
            }
            if let dedup { try dedup.insert(batch.documents, keep: &keep) }
            try batch.tokens.withUnsafeBufferPointer { tokens in
                var start = 0
                for (i, info) in batch.documents.enumerated() {
                    let end = batch.ends[i]
                    defer { start = end }
                    if dedup != nil && !keep[i] {
                        duplicates += 1
                        uncount(batch, document: i, tokens: UnsafeBufferPointer(rebasing: tokens[start..<end]))
                        continue
                    }
                    try store.append(info, tokens: UnsafeBufferPointer(rebasing: tokens[start..<end]), countTokens: false)
                    let count = Int64(end - start + 1)
                    outcome.tokens += count
                    outcome.documents += 1
                    report.tokens += count
                    report.documents += 1
                    sinceCommit += count
                    report.textBytes += info.byteCount
                }
            }
            // A new index's vocabulary, a part per batch (~4 ms), before the first commit needs it.
            try store.insertVocabulary(upTo: 4096)
            let vocab = store.settings.vocabSize
            batch.counts.withUnsafeMutableBufferPointer { counts in  // sized by `encode`, which every batch goes through
                store.addTokenCounts(UnsafeMutableBufferPointer(rebasing: counts[0..<vocab]), split: .train)
                store.addTokenCounts(UnsafeMutableBufferPointer(rebasing: counts[vocab...]), split: .val)
            }
            var progress = batch.progress
            progress.duplicates = duplicates
            progress.skips = skips
            switch batch.end {
            case .done? where batch.plan == plans.count - 1:
                finalProgress = progress  // committed by `finish`, with the last shards
            case .done?:
                try store.endSource(progress: progress)
            case .failed(let message)?:
                try store.endSource(progress: progress, error: message)
                report.errors.append(message)
                outcome.error = message
            case nil:
                break
            }
            // At a source's end, an eighth of `commitTokens` is enough: the final commit, which
            // nothing overlaps, then has less to write.
            let due = batch.end == nil ? options.commitTokens : options.commitTokens / 8
            // Due, and either free or `commitSeconds` since the last. Free: nothing else waits for
            // this thread, and commits would not take more than a tenth of its time (a commit's cost
            // grows with the vocabulary: its token counts' blob, 10-20 ms in all at 131k ids).
            // Without that limit, a source's end every few batches meant a commit each time the
            // writer was free: when a commit still wrote a row per token id, half the writer's
            // time at 32k ids on one encoding thread, and the encoder 3-5% slower beside it.
            let sinceLast = lastCommit.duration(to: .now)
            if finalProgress == nil, sinceCommit >= due || store.uncommittedShardCloses > 0,
               sinceLast >= .seconds(options.commitSeconds) || (options.commitWhenIdle && sinceLast >= lastCommitCost * 9 && isIdle()) {
                let started = ContinuousClock.now
                try store.commit(progress: batch.end == nil ? progress : nil)
                options.trace?.record("commit", since: started)
                sinceCommit = 0
                lastCommit = .now
                lastCommitCost = started.duration(to: lastCommit)
            }
            // The job's end, started early: once every source is read, the writer waits for the
            // last batches to be encoded, and in that time adds the token counts so far to the
            // index's rows and builds its position index, which `finish` would do after them
            // (~20 ms for this corpus at 8k ids, ~90 ms at 131k).
            if !finishedEarly, readingIsDone(), isIdle() {
                let started = ContinuousClock.now
                try store.finishEarly()
                options.trace?.record("finish early", since: started)
                finishedEarly = true
            }
            if let end = batch.end {
                outcome.status = end == .done ? "done" : "error"
                addSkipped(before: plan.index)
                report.sources.append(outcome)
                bytesBefore += plan.fileBytes
            }
            self.progress?(ShardJobProgress(bytesDone: batch.end == nil ? bytesBefore + batch.compressedOffset : bytesBefore,
                                            bytesTotal: bytesTotal, documents: report.documents, tokens: report.tokens,
                                            source: plan.index, sources: options.inputs.count, path: plan.path))
            report.batches += 1
            if let stop = options.stopAfterBatches, report.batches >= stop {
                report.completed = false
                return false  // as if killed: what is not committed is lost
            }
            if let keepGoing = options.shouldContinue, finalProgress == nil, !keepGoing() {
                // Asked to stop: commit what was written (a finished source already is).
                try store.commit(progress: batch.end == nil ? progress : nil)
                report.completed = false
                return false
            }
            return true
        }
    }

    /// Saves the tokenizer into the corpus directory (tokenizer.json, plus the rank file and its
    /// sidecar for tiktoken vocabularies), unless the one there already is it. A Hugging Face
    /// tokenizer.json the tokenizer was loaded from (or `file`, when it has the same
    /// fingerprint) is copied as it is.
    static func writeTokenizer(_ tokenizer: Tokenizer, from file: String?, into directory: String) throws {
        let target = FileSystem.join(directory, "tokenizer.json")
        var source = tokenizer.jsonFile
        if source == nil, tokenizer.model.merges != nil, var candidate = file {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
                candidate = FileSystem.join(candidate, "tokenizer.json")
            }
            if let data = FileManager.default.contents(atPath: candidate), data.first == UInt8(ascii: "{"),
               (try? Tokenizer.load(candidate))?.fingerprint == tokenizer.fingerprint {
                source = candidate
            }
        }
        if let source, let data = FileManager.default.contents(atPath: source) {
            if FileManager.default.contents(atPath: target) == data { return }
            let tmp = target + ".tmp"
            do {
                try data.write(to: URL(fileURLWithPath: tmp))
            } catch {
                throw ShardsError(.io, path: tmp, "cannot write: \(error.localizedDescription)")
            }
            try FileSystem.move(tmp, to: target)
            return
        }
        if FileSystem.exists(target), (try? Tokenizer.load(directory))?.fingerprint == tokenizer.fingerprint { return }
        do {
            try tokenizer.model.save(toDirectory: directory)
        } catch {
            throw ShardsError(.io, path: directory, "cannot save the tokenizer: \(error)")
        }
    }
}

extension SkipReason {
    /// Place in `allCases` (batches count skips in an array).
    var index: Int { Self.allCases.firstIndex(of: self)! }
}
