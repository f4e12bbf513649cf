/// One document after the ingest stages, with where it came from.
public struct Document: Sendable {
    /// UTF-8 after the stages.
    public var text: [UInt8]
    /// Index of the source in the resolved input list.
    public var source: Int
    /// 0-based record number within the source, counting skipped records too. A record is a
    /// non-blank JSONL line, a line, a paragraph or a whole file, depending on the format.
    public var record: Int
    /// 1-based line where the record starts (1 for whole-file documents).
    public var line: Int
    /// Content hash of `text`.
    public var hash: ContentHash

    public init(text: [UInt8], source: Int, record: Int, line: Int, hash: ContentHash) {
        self.text = text
        self.source = source
        self.record = record
        self.line = line
        self.hash = hash
    }
}

/// A document as `DocumentReader.nextView()` gives it: its text is borrowed from the reader and
/// valid until the reader's next call.
public struct DocumentView {
    /// UTF-8 after the stages.
    public var text: UnsafeBufferPointer<UInt8>
    /// See `Document`.
    public var record: Int
    public var line: Int
    public var hash: ContentHash
}

/// Why a record did not become a document.
public enum SkipReason: String, Sendable, Codable, CaseIterable {
    /// The JSONL line is not a JSON object (or not valid JSON).
    case badJSON = "bad_json"
    /// The JSON object has no top-level text field.
    case missingField = "missing_field"
    /// The text field holds something other than a string (number, null, object, …).
    case notString = "not_string"
    /// Invalid UTF-8 with `invalidUTF8 = .drop`.
    case invalidUTF8 = "invalid_utf8"
    /// Shorter than `minLength` bytes after normalization (this includes empty documents).
    case tooShort = "too_short"
    /// Same content hash as an earlier document of the ingest.
    case duplicate
}

/// What one source produced, filled while it is read. `records` = `documents` + all skips.
public struct SourceStats: Sendable {
    /// How many bad JSON line numbers `badLines` keeps.
    public static let badLinesKept = 10

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
    public var skipped: [SkipReason: Int64] = [:]
    /// Records whose invalid UTF-8 (or escaped lone surrogates) was replaced by U+FFFD, counted
    /// when the replacement happens (a later stage may still skip the record).
    public var replacedInvalidUTF8: Int64 = 0
    /// Escaped lone surrogates (`\ud800` without its pair) seen in JSONL text fields.
    public var loneSurrogates: Int64 = 0
    /// The first `badLinesKept` line numbers of skipped bad JSON lines.
    public var badLines: [Int] = []
    /// The error that stopped this source, if any.
    public var error: CorpusError?

    public init(path: String) { self.path = path }

    /// All skipped records.
    public var skippedTotal: Int64 { skipped.values.reduce(0, +) }
}
