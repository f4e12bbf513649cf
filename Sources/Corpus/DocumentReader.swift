/// One source as a stream of documents, one at a time: the same batches, stages and dedup as
/// `Ingest`, for code that wants a single file.
///
///     let reader = try DocumentReader(path: "data/fortunes.jsonl.gz", source: 0, options: IngestOptions())
///     while let doc = try reader.next() { use(doc.text) }
///     print(reader.stats.documents, reader.stats.skips)
///
/// Threads: one thread at a time.
public final class DocumentReader {
    public let path: String
    public let source: Int
    public let options: IngestOptions

    private let batcher: SourceBatcher
    private let stages: IngestStages
    private let dedup: DocumentDeduplicator?
    private let ownsDedup: Bool
    private var batch = IngestBatch()
    private var cursor = 0
    private var keep: [Bool] = []
    private var report: SourceReport
    private var batches = 0

    /// Opens `path`. With `options.dedup`, documents are checked against `dedup` (shared with
    /// other readers read one after the other), or against a set of this reader's own.
    /// - Throws: `CorpusError` `.fileNotFound` or `.unreadable`.
    public convenience init(path: String, source: Int, options: IngestOptions, dedup: DocumentDeduplicator? = nil) throws(CorpusError) {
        try self.init(batcher: SourceBatcher(path: path, options: options), source: source, options: options, dedup: dedup)
    }

    /// The same with chosen buffer sizes (tests use tiny ones to reach every refill path).
    package convenience init(path: String, source: Int, options: IngestOptions, dedup: DocumentDeduplicator? = nil,
                             windowCapacity: Int, inputCapacity: Int) throws(CorpusError) {
        try self.init(batcher: SourceBatcher(path: path, options: options, skipRecords: 0, windowCapacity: windowCapacity,
                                             inputCapacity: inputCapacity),
                      source: source, options: options, dedup: dedup)
    }

    private init(batcher: SourceBatcher, source: Int, options: IngestOptions, dedup: DocumentDeduplicator?) throws(CorpusError) {
        self.batcher = batcher
        path = batcher.path
        self.source = source
        self.options = options
        stages = IngestStages(options: options)
        ownsDedup = options.dedup && dedup == nil
        self.dedup = options.dedup ? dedup ?? DocumentDeduplicator.temporary() : nil
        report = SourceReport(path: path)
        try batcher.open()
        batch.reset(source: source, index: 0)   // empty, not at its end: `next` reads the first batch
    }

    deinit { if ownsDedup { dedup?.close() } }

    /// What the source gave so far.
    public var stats: SourceReport { report }

    /// Whether the file was gzip (detected by its magic bytes).
    public var isGzip: Bool { batcher.isGzip }

    /// Bytes the read window holds now (tests check that it stays small on long streams).
    package var windowCapacity: Int { batcher.readWindowCapacity }

    /// The next document, or nil at the end of the file.
    /// - Throws: `CorpusError` (`.corruptGzip`, `.truncatedGzip`, `.unreadable`); the source stops
    ///   there, later calls return nil, and `stats.error` keeps the error.
    public func next() throws(CorpusError) -> Document? {
        while cursor == batch.documents.count {
            if let end = batch.end {
                if case .failed(let error) = end, report.error == nil {
                    report.error = error
                    throw error
                }
                return nil
            }
            readBatch()
        }
        let info = batch.documents[cursor]
        let document = Document(text: Array(batch.text(of: cursor)), source: source, record: Int(info.record), line: Int(info.line),
                                hash: info.hash)
        cursor += 1
        report.documents += 1
        report.documentBytes += info.byteCount
        return document
    }

    private func readBatch() {
        batch.reset(source: source, index: batches)
        batches += 1
        cursor = 0
        batcher.next(&batch, batchBytes: 1 << 20)
        stages.process(&batch, dedup: dedup)
        if let dedup {
            // An in-memory set cannot fail; a spilling one reports a disk error as the source's.
            do {
                try dedup.keep(batch.documents, into: &keep)
                batch.dropDuplicates { !keep[$0] }
            } catch {
                batch.end = .failed(CorpusError(kind: .unreadable, path: path, message: "dedup set: \(error)"))
            }
        }
        report.add(batch, from: batcher)
    }
}
