/// Reads a whole input list in order: one `DocumentReader` per source, one `Deduplicator` for
/// all, per-source statistics, and per-file errors that stop only that file.
///
///     let inputs = try Inputs.resolve(["data/*.gz"])
///     let report = Ingest(paths: inputs, options: IngestOptions()).forEach { doc in
///         consume(doc.text)
///     }
///     for error in report.errors { print(error) }   // "data/x.gz: truncated gzip at …"
public struct Ingest: Sendable {
    public var paths: [String]
    public var options: IngestOptions

    public init(paths: [String], options: IngestOptions = IngestOptions()) {
        self.paths = paths
        self.options = options
    }

    /// Calls `body` with every document of every source, in order. A source that cannot be
    /// opened or turns out corrupt is recorded in the report and the next one is read; an error
    /// thrown by `body` stops the ingest and is rethrown. `progress`, if given, is called about
    /// every MiB of compressed input and at the end of each source.
    @discardableResult
    public func forEach(progress: ((IngestProgress) -> Void)? = nil,
                        _ body: (Document) throws -> Void) rethrows -> IngestReport {
        let seen = Deduplicator()
        var report = IngestReport()
        var done = IngestProgress(source: 0, sources: paths.count, path: "", compressedOffset: 0,
                                  fileBytes: 0, documents: 0)
        for (index, path) in paths.enumerated() {
            let reader: DocumentReader
            do {
                reader = try DocumentReader(path: path, source: index, options: options, dedup: seen)
            } catch {
                var stats = SourceStats(path: path)
                stats.error = error
                report.sources.append(stats)
                report.errors.append(error)
                continue
            }
            var nextReport: Int64 = 1 << 20
            while true {
                let document: Document?
                do { document = try reader.next() } catch {
                    report.errors.append(error)
                    break
                }
                guard let document else { break }
                try body(document)
                done.documents += 1
                if let progress, reader.compressedOffset >= nextReport {
                    nextReport = reader.compressedOffset + (1 << 20)
                    progress(done.at(index, reader))
                }
            }
            report.sources.append(reader.stats)
            progress?(done.at(index, reader))
        }
        report.uniqueDocuments = seen.count
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

    func at(_ index: Int, _ reader: DocumentReader) -> IngestProgress {
        var p = self
        p.source = index
        p.path = reader.path
        p.compressedOffset = reader.compressedOffset
        p.fileBytes = reader.stats.fileBytes
        return p
    }
}

/// The outcome of an ingest: one `SourceStats` per input path (in order, also for files that
/// failed) and the errors that stopped files.
public struct IngestReport: Sendable {
    public var sources: [SourceStats] = []
    public var errors: [CorpusError] = []
    /// Distinct content hashes seen (with dedup on).
    public var uniqueDocuments = 0

    public init() {}

    public var documents: Int64 { sources.reduce(0) { $0 + $1.documents } }
    public var documentBytes: Int64 { sources.reduce(0) { $0 + $1.documentBytes } }
    public var records: Int64 { sources.reduce(0) { $0 + $1.records } }
    /// Skips per reason, all sources.
    public var skipped: [SkipReason: Int64] {
        sources.reduce(into: [:]) { total, s in total.merge(s.skipped, uniquingKeysWith: +) }
    }
}
