/// Reads one source file as a stream of documents, running the ingest stages on each record
/// (a `RecordReader` and a `RecordProcessor` in turn, plus the de-duplication).
///
///     let reader = try DocumentReader(path: "data/fortunes.jsonl.gz", source: 0,
///                                     options: IngestOptions(), dedup: Deduplicator())
///     while let doc = try reader.next() { use(doc.text) }
///     print(reader.stats.documents, reader.stats.skipped)
///
/// Records: a non-blank JSONL line (blank lines are ignored, a UTF-8 byte order mark at the
/// start of a JSONL file is skipped), or for text a whole file, a paragraph or a line (see
/// `IngestOptions.Boundary`). Each record becomes a document or a counted skip.
///
/// Memory: the read window holds at least the record being read (so a whole file with
/// `boundary = .file`), plus scratch space of about the same size; otherwise it does not grow
/// with the file.
///
/// Threads: a reader keeps no global state and may run on any thread, one thread at a time.
/// `dedup` is shared as is: do not give the same `Deduplicator` to readers running at once.
public final class DocumentReader {
    public let path: String
    public let source: Int
    public let options: IngestOptions
    /// `.jsonl` or `.text`: the options' format, resolved for this path.
    public var format: IngestOptions.Format { records.format }

    private let records: RecordReader
    private let stages: RecordProcessor
    private let dedup: Deduplicator?
    private var counters: SourceStats
    private var finished = false

    /// Opens `path`. With `options.dedup`, documents are checked against `dedup` (or, when it is
    /// nil, against a set of this reader's own).
    /// - Throws: `CorpusError` `.fileNotFound` or `.unreadable`.
    public convenience init(path: String, source: Int, options: IngestOptions, dedup: Deduplicator?) throws(CorpusError) {
        try self.init(path: path, source: source, options: options, dedup: dedup,
                      windowCapacity: 1 << 20, inputCapacity: 256 << 10)
    }

    /// The same with chosen buffer sizes (tests use tiny ones to reach every refill path).
    package init(path: String, source: Int, options: IngestOptions, dedup: Deduplicator?,
                 windowCapacity: Int, inputCapacity: Int) throws(CorpusError) {
        records = try RecordReader(path: path, options: options, windowCapacity: windowCapacity, inputCapacity: inputCapacity)
        stages = RecordProcessor(options: options, format: records.format)
        self.path = path
        self.source = source
        self.options = options
        self.dedup = options.dedup ? (dedup ?? Deduplicator()) : nil
        counters = SourceStats(path: path)
        counters.fileBytes = records.fileBytes
    }

    /// What the source gave so far.
    public var stats: SourceStats {
        var s = counters
        s.compressedBytesRead = records.compressedOffset
        s.uncompressedBytes = records.uncompressedBytes
        s.records = Int64(records.records)
        s.replacedInvalidUTF8 = stages.replacedInvalidUTF8
        s.loneSurrogates = stages.loneSurrogates
        return s
    }

    /// Bytes of the file consumed so far (for progress).
    public var compressedOffset: Int64 { records.compressedOffset }

    /// Bytes the read window holds now (tests check that it stays small on long streams).
    package var windowCapacity: Int { records.windowCapacity }

    /// Whether the file was gzip (detected by its magic bytes).
    public var isGzip: Bool { records.isGzip }

    /// The next document, or nil at the end of the file.
    /// - Throws: `CorpusError` (`.corruptGzip`, `.truncatedGzip`, `.unreadable`); the source stops
    ///   there, later calls return nil, and `stats.error` keeps the error.
    public func next() throws(CorpusError) -> Document? {
        guard let view = try nextView() else { return nil }
        return Document(text: Array(view.text), source: source, record: view.record, line: view.line, hash: view.hash)
    }

    /// The next document without copying its text: `text` points into the reader's buffers and
    /// stays valid until the next call to `next` or `nextView`. Errors as for `next`.
    public func nextView() throws(CorpusError) -> DocumentView? {
        guard !finished else { return nil }
        do throws(CorpusError) {
            while let record = try records.next() {
                switch stages.process(record.bytes) {
                case .document(let text, let hash):
                    if let dedup, !dedup.insert(hash) {
                        counters.skipped[.duplicate, default: 0] += 1
                        continue
                    }
                    counters.documents += 1
                    counters.documentBytes += Int64(text.count)
                    return DocumentView(text: text, record: record.record, line: record.line, hash: hash)
                case .skipped(let reason):
                    counters.skipped[reason, default: 0] += 1
                    if reason == .badJSON && counters.badLines.count < SourceStats.badLinesKept {
                        counters.badLines.append(record.line)
                    }
                }
            }
            finished = true
            return nil
        } catch {
            finished = true
            counters.error = error
            throw error
        }
    }
}
