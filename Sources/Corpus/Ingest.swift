/// Reads a whole input list in order as one stream of documents: every source cut into batches
/// (`SourceBatcher`), the ingest stages (`IngestStages`), exact dedup across all sources
/// (`DocumentDeduplicator`), per-source reports, and per-file errors that stop only that file.
/// `learn` reads this way; the shard job runs the same pieces on many threads.
///
///     let inputs = try Inputs.resolve(["data/*.gz"])
///     let report = try Ingest(paths: inputs, options: IngestOptions()).forEach { doc in
///         consume(doc.text)
///     }
///     for error in report.errors { print(error) }   // "data/x.gz: truncated gzip at …"
public struct Ingest: Sendable {
    public var paths: [String]
    public var options: IngestOptions
    /// Memory for the exact-dedup set; beyond, it spills sorted runs to a temporary directory.
    public var dedupMemoryBytes = 512 << 20
    /// Text per batch.
    public var batchBytes = 1 << 20
    /// With dedup, documents to drop as duplicates from the start: the hashes an earlier rank of
    /// a job split across machines keeps (`RankHashes.dropList`).
    public var knownHashes: [ContentHash] = []

    public init(paths: [String], options: IngestOptions = IngestOptions()) {
        self.paths = paths
        self.options = options
    }

    /// Calls `body` with every document of every source, in order. A source that cannot be
    /// opened or turns out corrupt is recorded in the report and the next one is read; an error
    /// thrown by `body` (or by the dedup set's disk) stops the ingest and is rethrown.
    /// `progress` is called after each batch (about every MiB of text) and at the end of each
    /// source. Neither closure escapes, so the variables they share are checked for exclusive
    /// access when compiling, not at run time per document.
    @discardableResult
    public func forEach(progress: (IngestProgress) -> Void = { _ in }, _ body: (Document) throws -> Void) throws -> IngestReport {
        try read(progress: progress, continueWhile: { doc in
            try body(doc)
            return true
        })
    }

    /// Like `forEach`, but `body` returns whether to go on: returning false stops the ingest
    /// after that document, and the report covers what was read (`stoppedEarly` is set).
    @discardableResult
    public func read(progress: (IngestProgress) -> Void = { _ in },
                     continueWhile body: (Document) throws -> Bool) throws -> IngestReport {
        let dedup = options.dedup ? DocumentDeduplicator.temporary(memoryBytes: dedupMemoryBytes) : nil
        defer { dedup?.close() }
        if let dedup { for hash in knownHashes { try dedup.reload(hash) } }
        let stages = IngestStages(options: options)
        var batch = IngestBatch()
        var keep: [Bool] = []
        var report = IngestReport()
        var done = IngestProgress(source: 0, sources: paths.count, path: "", compressedOffset: 0, fileBytes: 0, documents: 0)
        for (index, path) in paths.enumerated() {
            let batcher = SourceBatcher(path: path, options: options)
            var source = SourceReport(path: path)
            var batchIndex = 0
            repeat {
                batch.reset(source: index, index: batchIndex)
                batchIndex += 1
                batcher.next(&batch, batchBytes: batchBytes)
                stages.process(&batch, dedup: dedup)
                if let dedup {
                    try dedup.keep(batch.documents, into: &keep)
                    batch.dropDuplicates { !keep[$0] }
                }
                source.add(batch, from: batcher)
                for i in batch.documents.indices {
                    let info = batch.documents[i]
                    let document = Document(text: Array(batch.text(of: i)), source: index, record: Int(info.record),
                                            line: Int(info.line), hash: info.hash)
                    source.documents += 1
                    source.documentBytes += info.byteCount
                    done.documents += 1
                    if try !body(document) {
                        report.sources.append(source)
                        report.stoppedEarly = true
                        progress(done.at(index, path, batch, source))
                        report.uniqueDocuments = dedup?.count ?? 0
                        return report
                    }
                }
                if batcher.isOpen { progress(done.at(index, path, batch, source)) }
            } while batch.end == nil
            if case .failed(let error) = batch.end {
                source.error = error
                report.errors.append(error)
            }
            report.sources.append(source)
        }
        report.uniqueDocuments = dedup?.count ?? 0
        return report
    }
}

/// Where an ingest is, for a progress display.
public struct IngestProgress: Sendable {
    /// Index of the source being read, and how many there are.
    public var source: Int
    public var sources: Int
    public var path: String
    /// Compressed bytes of this source consumed, and its size.
    public var compressedOffset: Int64
    public var fileBytes: Int64
    /// Documents delivered so far, all sources.
    public var documents: Int64

    func at(_ index: Int, _ path: String, _ batch: IngestBatch, _ source: SourceReport) -> IngestProgress {
        var p = self
        p.source = index
        p.path = path
        p.compressedOffset = batch.compressedOffset
        p.fileBytes = source.fileBytes
        return p
    }
}

/// The outcome of an ingest: one `SourceReport` per input path (in order, also for files that
/// failed) and the errors that stopped files.
public struct IngestReport: Sendable {
    public var sources: [SourceReport] = []
    public var errors: [CorpusError] = []
    /// Distinct content hashes seen (with dedup on).
    public var uniqueDocuments = 0
    /// The consumer stopped the ingest before the end of the inputs (e.g. `--max-bytes`).
    public var stoppedEarly = false

    public init() {}

    public var documents: Int64 { sources.reduce(0) { $0 + $1.documents } }
    public var documentBytes: Int64 { sources.reduce(0) { $0 + $1.documentBytes } }
    public var records: Int64 { sources.reduce(0) { $0 + $1.records } }
    /// Skips per reason, all sources.
    public var skips: SkipTally { sources.reduce(into: SkipTally()) { $0.add($1.skips) } }
}

/// What one source gave. `records` = `documents` + all skips.
public struct SourceReport: Sendable {
    public var path: String
    /// Size of the file on disk (0 when it could not be opened).
    public var fileBytes: Int64 = 0
    /// Bytes of the file consumed so far.
    public var compressedBytesRead: Int64 = 0
    /// Bytes after decompression (the file's bytes for plain files).
    public var uncompressedBytes: Int64 = 0
    public var records: Int64 = 0
    public var documents: Int64 = 0
    /// Total bytes of the documents' text.
    public var documentBytes: Int64 = 0
    public var skips = SkipTally()
    /// Records whose invalid UTF-8 (or escaped lone surrogates) was replaced by U+FFFD, counted
    /// when the replacement happens (a later stage may still skip the record).
    public var replacedInvalidUTF8: Int64 = 0
    /// Escaped lone surrogates (`\ud800` without its pair) seen in JSONL text fields.
    public var loneSurrogates: Int64 = 0
    /// The error that stopped this source, if any.
    public var error: CorpusError?

    public init(path: String) { self.path = path }

    /// A batch's counts, but its documents (counted as they are delivered).
    mutating func add(_ batch: IngestBatch, from batcher: SourceBatcher) {
        fileBytes = batcher.fileBytes
        compressedBytesRead = batch.compressedOffset
        uncompressedBytes = batcher.uncompressedBytes
        records = batch.recordsRead
        skips.add(batch.skips)
        replacedInvalidUTF8 += batch.replacedInvalidUTF8
        loneSurrogates += batch.loneSurrogates
    }
}
