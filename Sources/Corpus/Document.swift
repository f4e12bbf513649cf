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
