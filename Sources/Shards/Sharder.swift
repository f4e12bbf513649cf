// `tokenmill shard`: inputs → ingest stages → BPE encoding on every core → shards + index.
//
// Threads: a reader goes through the sources in order (decompressing, running the ingest
// stages, deduplicating) and cuts documents into batches of about `batchBytes` of text;
// `threads` encoders turn batches into token ids, each with its own encoder; the calling
// thread writes the batches in reading order through a `ShardStore`, so the output is
// byte-identical for any thread count. The reader has a thread of its own when there is a
// core to spare beside the encoders and the writer; otherwise the writer reads between writes
// (on two cores with one encoder: two busy threads, not three competing for two cores).
// At most 6 + 4 × threads batches are in flight, which bounds memory (about 2.5 MiB per batch,
// recycled) whatever the corpus size.
//
// Resume: sources the index calls done are skipped; a partial (or failed) one is read again
// from its start and its first `records` records are dropped (a gzip stream cannot seek); the
// dedup set is reloaded from the index. Commits happen after about `commitTokens` tokens,
// after a batch in which a shard filled up, and at each source's end (status done or error).
import BPE
import Corpus
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
    /// Commit after about this many tokens.
    public var commitTokens: Int64 = 32_000_000
    /// Text per batch handed to an encoder.
    public var batchBytes: Int = 1 << 20
    /// Testing: after this many batches, stop as a kill would (nothing more committed).
    package var stopAfterBatches: Int?
    /// Asked after each batch is written; false stops the job at a clean point: what was written
    /// is committed, the report says `completed == false`, and the same job run again goes on
    /// from there (Ctrl-C in `tokenmill shard` and `tokenmill run`).
    public var shouldContinue: (@Sendable () -> Bool)?
    /// Whether reading has a thread of its own; nil: when there is a core for it beside the
    /// encoders and the writer (else the writer reads between writes). The output is the same.
    package var readerThread: Bool?

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
        try writeTokenizer(tokenizer, from: tokenizerFile, into: options.output)

        // Plan: which sources to read, and from which record.
        var report = ShardJobReport()
        var plans: [Plan] = []
        var skipped: [Int: ShardJobReport.Source] = [:]
        /// The report lists the inputs in order: skipped ones and those read.
        func addSkipped(before index: Int) {
            for i in skipped.keys.sorted() where i < index { report.sources.append(skipped.removeValue(forKey: i)!) }
        }
        for (index, path) in options.inputs.enumerated() {
            let size = FileSystem.size(path) ?? 0
            if let state = try store.source(path: path) {
                if state.status == .done {
                    skipped[index] = .init(path: path, status: "skipped", error: nil, documents: 0, tokens: 0)
                    continue
                }
                if state.fileBytes != size && !(state.status == .error && state.records == 0) {
                    let message = "\(path): input changed since it was sharded: it was \(state.fileBytes) bytes, now \(size)"
                    report.errors.append(message)
                    skipped[index] = .init(path: path, status: "skipped", error: message, documents: 0, tokens: 0)
                    continue
                }
                plans.append(Plan(index: index, path: path, fileBytes: size, skipRecords: state.records, duplicates: state.duplicates))
            } else {
                plans.append(Plan(index: index, path: path, fileBytes: size, skipRecords: 0, duplicates: 0))
            }
        }
        let dedup = Deduplicator()
        if options.ingest.dedup {
            try store.forEachDocumentHash { dedup.insert(ContentHash(hi: $0.hi, lo: $0.lo)) }
        }

        // Room for ~6 MB of text beyond the workers' share: a commit (10-30 ms, its fsyncs included)
        // stalls the writer for a while, and the encoders should not stall with it.
        let work = OrderedWork<Batch>(capacity: 6 + 4 * options.threads)
        let pool = BatchPool()
        let reader = BatchReader(plans: plans, options: options, dedup: dedup, pool: pool)
        let readerThread = options.readerThread ?? (ProcessInfo.processInfo.activeProcessorCount >= options.threads + 2)
        let threads = DispatchGroup()
        if readerThread {
            spawn(threads) {
                defer { work.close() }
                while let batch = reader.next() {
                    guard work.put(batch) else { return }
                }
            }
        }
        for _ in 0..<options.threads {
            spawn(threads) { encode(work, tokenizer: tokenizer) }
        }
        defer {
            work.cancel()
            threads.wait()
        }
        /// The next encoded batch in reading order. Without a reader thread, this thread reads
        /// whenever it has nothing to write and there is room, so that reading and writing share
        /// one core and the encoders have the others.
        func nextEncoded() -> Batch? {
            if readerThread { return work.result() }
            while true {
                if let batch = work.tryResult() { return batch }
                guard work.acceptsMore else { return work.result() }
                if let batch = reader.next() { work.put(batch) } else { work.close() }
            }
        }

        // Write, in reading order.
        let bytesTotal = plans.reduce(Int64(0)) { $0 + $1.fileBytes }
        var bytesBefore: Int64 = 0
        var sinceCommit: Int64 = 0
        var batches = 0
        var finalProgress: SourceProgress?
        var outcome = ShardJobReport.Source(path: "", status: "", error: nil, documents: 0, tokens: 0)
        while let batch = nextEncoded() {
            let plan = plans[batch.plan]
            if batch.first {
                _ = try store.beginSource(path: plan.path, fileBytes: plan.fileBytes)
                outcome = .init(path: plan.path, status: "partial", error: nil, documents: 0, tokens: 0)
            }
            try batch.tokens.withUnsafeBufferPointer { tokens in
                var start = 0
                for (i, info) in batch.documents.enumerated() {
                    let end = batch.ends[i]
                    try store.append(info, tokens: UnsafeBufferPointer(rebasing: tokens[start..<end]))
                    let count = Int64(end - start + 1)
                    outcome.tokens += count
                    report.tokens += count
                    sinceCommit += count
                    report.textBytes += info.byteCount
                    start = end
                }
            }
            outcome.documents += Int64(batch.documents.count)
            report.documents += Int64(batch.documents.count)
            switch batch.end {
            case .done? where batch.plan == plans.count - 1:
                finalProgress = batch.progress  // committed by `finish`, with the last shards
            case .done?:
                try store.commit(progress: batch.progress, done: true)
                sinceCommit = 0
            case .failed(let message)?:
                try store.failSource(message: message, progress: batch.progress)
                report.errors.append(message)
                outcome.error = message
                sinceCommit = 0
            case nil:
                if sinceCommit >= options.commitTokens || store.uncommittedShardCloses > 0 {
                    try store.commit(progress: batch.progress)
                    sinceCommit = 0
                }
            }
            if let end = batch.end {
                outcome.status = end == .done ? "done" : "error"
                addSkipped(before: plan.index)
                report.sources.append(outcome)
                bytesBefore += plan.fileBytes
            }
            progress?(ShardJobProgress(bytesDone: batch.end == nil ? bytesBefore + batch.compressedOffset : bytesBefore,
                                       bytesTotal: bytesTotal, documents: report.documents, tokens: report.tokens,
                                       source: plan.index, sources: options.inputs.count, path: plan.path))
            pool.recycle(batch)
            batches += 1
            report.batches = batches
            if let stop = options.stopAfterBatches, batches >= stop {
                report.completed = false
                return report  // as if killed: what is not committed is lost
            }
            if let keepGoing = options.shouldContinue, finalProgress == nil, !keepGoing() {
                // Asked to stop: commit what was written (a finished source already is).
                try store.commit(progress: batch.end == nil ? batch.progress : nil)
                report.completed = false
                return report
            }
        }
        if work.isCancelled {
            throw ShardsError(.corrupt, path: options.output, "sharding stopped unexpectedly")
        }
        try store.finish(completing: finalProgress)
        addSkipped(before: Int.max)
        report.inputBytes = bytesTotal
        let elapsed = ContinuousClock.now - started
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return report
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
    }

    enum End: Equatable {
        case done
        case failed(String)
    }

    /// Documents of one source on their way from the reader to the writer. Batches are recycled
    /// (`BatchPool`) so that their buffers are allocated, and their pages touched, only once.
    final class Batch: @unchecked Sendable {
        private(set) var plan = 0
        private(set) var first = false
        /// The documents' text, one after the other; document i ends at `textEnds[i]`.
        var text: [UInt8] = []
        var textEnds: [Int] = []
        var documents: [DocumentInfo] = []
        var textBytes: Int { text.count }
        /// Token ids of all documents, one after the other; document i ends at `ends[i]`.
        var tokens: [UInt32] = []
        var ends: [Int] = []
        /// The source's progress after this batch (what a commit records).
        var progress = SourceProgress(records: 0)
        var compressedOffset: Int64 = 0
        /// Set on the source's last batch.
        var end: End?

        /// Called by the reader when the batch is full: makes room for its ids (half an id per byte
        /// of text, more than text needs; growing by half again at least, so that a recycled batch
        /// rarely grows) and, when that took new memory, touches its pages here so that the
        /// encoder, the busiest thread, does not take the page faults.
        func prepareTokens() {
            let n = textBytes / 2 + textEnds.count
            guard tokens.capacity < n else { return }
            tokens.reserveCapacity(Swift.max(n, tokens.capacity * 3 / 2))
            // The pages ~0.4 ids per byte will use (8k vocabularies average ~0.34).
            tokens.append(contentsOf: repeatElement(0, count: Swift.min(tokens.capacity, textBytes * 2 / 5 + textEnds.count)))
            tokens.removeAll(keepingCapacity: true)
        }

        /// Makes room for `n` more bytes of text, growing by half again at least.
        func reserveText(_ n: Int) {
            if text.capacity < text.count + n { text.reserveCapacity(Swift.max(text.count + n, text.capacity * 3 / 2)) }
        }

        func reset(plan: Int, first: Bool) {
            self.plan = plan
            self.first = first
            text.removeAll(keepingCapacity: true)
            textEnds.removeAll(keepingCapacity: true)
            documents.removeAll(keepingCapacity: true)
            tokens.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            progress = SourceProgress(records: 0)
            compressedOffset = 0
            end = nil
        }
    }

    /// Written batches, for the reader to fill again. Holds at most what was in flight at once.
    final class BatchPool: @unchecked Sendable {
        private let lock = NSLock()
        private var free: [Batch] = []

        func batch(plan: Int, first: Bool) -> Batch {
            lock.lock()
            let batch = free.popLast() ?? Batch()
            lock.unlock()
            batch.reset(plan: plan, first: first)
            return batch
        }

        func recycle(_ batch: Batch) {
            lock.lock()
            free.append(batch)
            lock.unlock()
        }
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

    /// Every planned source in order, cut into batches: `next()` gives the next one. Used by
    /// one thread at a time (the reader thread, or the writer between writes).
    final class BatchReader: @unchecked Sendable {
        private let plans: [Plan]
        private let options: ShardJobOptions
        private let readerOptions: IngestOptions
        private let dedup: Deduplicator
        private let pool: BatchPool
        /// The plan being read, and its open reader (nil before its first batch).
        private var p = 0
        private var current: DocumentReader?
        private var duplicates: Int64 = 0
        private var batchesMade = 0

        init(plans: [Plan], options: ShardJobOptions, dedup: Deduplicator, pool: BatchPool) {
            self.plans = plans
            self.options = options
            var readerOptions = options.ingest
            readerOptions.dedup = false  // deduplicated here, so that re-read records are not counted twice
            self.readerOptions = readerOptions
            self.dedup = dedup
            self.pool = pool
        }

        /// The next batch, or nil after the last source's last batch (its `end` is set). The
        /// first one is small (64 KiB), so that the encoders start sooner.
        func next() -> Batch? {
            guard p < plans.count else { return nil }
            defer { batchesMade += 1 }
            let plan = plans[p]
            let batch = pool.batch(plan: p, first: current == nil)
            if current == nil {
                duplicates = plan.duplicates
                do {
                    current = try DocumentReader(path: plan.path, source: plan.index, options: readerOptions, dedup: nil)
                } catch {
                    batch.end = .failed(error.description)
                    batch.progress = SourceProgress(records: plan.skipRecords, duplicates: duplicates)
                    p += 1
                    return batch
                }
            }
            let reader = current!
            while true {
                let document: DocumentView?
                do { document = try reader.nextView() } catch {
                    batch.end = .failed(error.description)
                    break
                }
                guard let document else {
                    batch.end = .done
                    break
                }
                if Int64(document.record) < plan.skipRecords { continue }
                if options.ingest.dedup && !dedup.insert(document.hash) {
                    duplicates += 1
                    continue
                }
                batch.documents.append(DocumentInfo(record: Int64(document.record), line: Int64(document.line),
                                                    byteCount: Int64(document.text.count),
                                                    hash: DocumentHash(hi: document.hash.hi, lo: document.hash.lo)))
                batch.reserveText(document.text.count)
                batch.text.append(contentsOf: document.text)  // the only copy of the text
                batch.textEnds.append(batch.text.count)
                if batch.textBytes >= (batchesMade == 0 ? min(64 << 10, options.batchBytes) : options.batchBytes) {
                    snapshot(reader, into: batch)
                    return batch
                }
            }
            snapshot(reader, into: batch)
            current = nil
            p += 1
            return batch
        }

        /// Records the source's progress so far in `batch` (what a commit after it records), and
        /// makes room for its ids.
        private func snapshot(_ reader: DocumentReader, into batch: Batch) {
            batch.prepareTokens()
            let stats = reader.stats
            var skips: [String: SkipCount] = [:]
            for (reason, count) in stats.skipped where reason != .duplicate && count > 0 {
                skips[reason.rawValue] = SkipCount(count: count, firstLine: reason == .badJSON ? stats.badLines.first.map(Int64.init) : nil)
            }
            batch.progress = SourceProgress(records: stats.records, duplicates: duplicates, skips: skips)
            batch.compressedOffset = reader.compressedOffset
        }
    }

    /// An encoder thread.
    static func encode(_ work: OrderedWork<Batch>, tokenizer: Tokenizer) {
        var encoder = tokenizer.makeEncoder()
        while let (seq, batch) = work.take() {
            // The reader made room for the ids (`Batch.prepareTokens`).
            batch.text.withUnsafeBufferPointer { text in
                var start = 0
                for end in batch.textEnds {
                    encoder.encodeOrdinary(UnsafeBufferPointer(rebasing: text[start..<end]), into: &batch.tokens)
                    batch.ends.append(batch.tokens.count)
                    start = end
                }
            }
            work.complete(seq, batch)
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
