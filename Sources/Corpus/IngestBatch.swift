/// What the index records about a document besides its tokens: where it came from in its
/// source, its size and its content hash.
public struct DocumentInfo: Equatable, Sendable {
    /// 0-based record number within its source (skipped records counted).
    public var record: Int64
    /// 1-based line where the record starts.
    public var line: Int64
    /// UTF-8 bytes of the text.
    public var byteCount: Int64
    public var hash: ContentHash

    public init(record: Int64, line: Int64, byteCount: Int64, hash: ContentHash) {
        self.record = record
        self.line = line
        self.byteCount = byteCount
        self.hash = hash
    }
}

/// How a source's reading ended.
public enum SourceEnd: Equatable, Sendable {
    case done
    /// The file could not be opened, or stopped with an error (naming the file and the place).
    case failed(CorpusError)
}

/// Records of one source on their way through the ingest stages, then their documents: the
/// unit every ingest moves in (a `SourceBatcher` fills it, `IngestStages` turn its records into
/// documents and skips). Batches are meant to be recycled, so that their buffers are allocated,
/// and their pages touched, once.
///
/// A value: the reader and the stages take it `inout`, so that their per-record appends are
/// checked for exclusive access when compiling, not at run time per access as a class's
/// stored properties are.
public struct IngestBatch: Sendable {
    /// Which source (an index the caller chose), and which of its batches (from 0).
    public private(set) var source = 0
    public private(set) var index = 0
    public var isFirst: Bool { index == 0 }
    /// The records as read, one after the other; record i ends at `rawEnds[i]`, and is record
    /// `records[i]` of its source, starting on line `lines[i]`.
    package var raw: [UInt8] = []
    package var rawEnds: [Int] = []
    package var records: [Int64] = []
    package var lines: [Int64] = []
    /// How to process the records (the source's format, resolved).
    package var format = IngestOptions.Format.jsonl

    /// The documents the records gave, filled by the stages.
    public internal(set) var documents: [DocumentInfo] = []
    /// Where each document's text is: most are in `raw` (JSON is decoded in place), those a
    /// stage rewrote in `text`.
    package var spans: [TextSpan] = []
    package var text: [UInt8] = []
    /// Bytes of the documents' text.
    public internal(set) var textBytes = 0
    /// Records the stages skipped, and the documents they dropped as duplicates of documents
    /// already kept.
    public internal(set) var skips = SkipTally()
    /// Records whose invalid UTF-8 (or escaped lone surrogates) was replaced by U+FFFD, and the
    /// escaped lone surrogates seen.
    public internal(set) var replacedInvalidUTF8: Int64 = 0
    public internal(set) var loneSurrogates: Int64 = 0

    /// Records of the source consumed once this batch is done (kept or not): where a resumed
    /// read starts.
    public internal(set) var recordsRead: Int64 = 0
    /// Bytes of the source file consumed after this batch (for progress).
    public internal(set) var compressedOffset: Int64 = 0
    /// Set on the source's last batch.
    public package(set) var end: SourceEnd?

    public init() {}

    /// A document's text, in `raw` or (copied) in `text`.
    package struct TextSpan: Sendable {
        var inRaw: Bool
        var start: Int
        var count: Int
    }

    /// Document `i`'s text.
    public func text(of i: Int) -> ArraySlice<UInt8> {
        let span = spans[i]
        return span.inRaw ? raw[span.start..<span.start + span.count] : text[span.start..<span.start + span.count]
    }

    /// Calls `body` with each document's text, in order, without copying it.
    package func forEachText(_ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try raw.withUnsafeBufferPointer { raw in
            try text.withUnsafeBufferPointer { text in
                for (i, span) in spans.enumerated() {
                    let bytes = span.inRaw ? raw : text
                    try body(i, UnsafeBufferPointer(rebasing: bytes[span.start..<span.start + span.count]))
                }
            }
        }
    }

    /// Adds a record as read (the only copy of its bytes), growing by half again at least.
    mutating func append(_ record: RecordView) {
        if raw.capacity < raw.count + record.bytes.count {
            raw.reserveCapacity(Swift.max(raw.count + record.bytes.count, raw.capacity * 3 / 2))
        }
        raw.append(contentsOf: record.bytes)
        rawEnds.append(raw.count)
        records.append(Int64(record.record))
        lines.append(Int64(record.line))
    }

    /// Adds a document's text (the stages' output) that is not in `raw`, growing by half again
    /// at least.
    mutating func appendText(_ bytes: UnsafeBufferPointer<UInt8>) {
        if text.capacity < text.count + bytes.count {
            text.reserveCapacity(Swift.max(text.count + bytes.count, text.capacity * 3 / 2))
        }
        spans.append(TextSpan(inRaw: false, start: text.count, count: bytes.count))
        text.append(contentsOf: bytes)
    }

    /// Drops the documents `drop` picks (by index) as duplicates of documents kept before them,
    /// counting them in `skips`.
    package mutating func dropDuplicates(where drop: (Int) -> Bool) {
        var kept = 0
        for i in documents.indices {
            if drop(i) {
                skips.add(.duplicate, line: documents[i].line)
                textBytes -= Int(documents[i].byteCount)
                continue
            }
            documents[kept] = documents[i]
            spans[kept] = spans[i]
            kept += 1
        }
        documents.removeLast(documents.count - kept)
        spans.removeLast(spans.count - kept)
    }

    /// Frees the buffers that grew past what a batch of `batchBytes` of text needs (twice the
    /// text): the next batch starts them afresh.
    package mutating func shrink(toFit batchBytes: Int) {
        if raw.capacity > 2 * batchBytes { raw = [] }
        if text.capacity > 2 * batchBytes { text = [] }
    }

    /// Empties the batch for batch `index` of `source`.
    package mutating func reset(source: Int, index: Int) {
        self.source = source
        self.index = index
        raw.removeAll(keepingCapacity: true)
        rawEnds.removeAll(keepingCapacity: true)
        records.removeAll(keepingCapacity: true)
        lines.removeAll(keepingCapacity: true)
        documents.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        text.removeAll(keepingCapacity: true)
        textBytes = 0
        skips = SkipTally()
        replacedInvalidUTF8 = 0
        loneSurrogates = 0
        recordsRead = 0
        compressedOffset = 0
        end = nil
    }
}
