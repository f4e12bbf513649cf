/// A problem that stops one input (or the resolution of the inputs). It names the file and,
/// where it helps, the compressed byte offset or the line.
///
///     data/x.jsonl.gz: corrupt gzip at compressed offset 1234: invalid distance too far back
///
/// Bad records inside a readable file are not errors: they are skipped and counted in
/// `SourceReport`.
public struct CorpusError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The path does not exist.
        case fileNotFound = "file_not_found"
        /// The path exists but cannot be opened or read (permissions, a directory, an I/O error).
        case unreadable
        /// The gzip stream is damaged at `offset` (bad header, bad deflate data, bad checksum,
        /// garbage after a member).
        case corruptGzip = "corrupt_gzip"
        /// The file ends inside a gzip member; `offset` is where the data stops.
        case truncatedGzip = "truncated_gzip"
        /// An input pattern (glob or directory) matched no file; `path` is the pattern.
        case noMatch = "no_match"
    }

    public var kind: Kind
    /// The file (or, for `noMatch`, the pattern) concerned, as given.
    public var path: String
    /// Byte offset in the file (the compressed file for gzip) where the problem was found.
    public var offset: Int64?
    /// 1-based line, when the problem belongs to a line.
    public var line: Int?
    /// What went wrong, without the path: "corrupt gzip at compressed offset 1234: invalid block type".
    public var message: String

    public init(kind: Kind, path: String, offset: Int64? = nil, line: Int? = nil, message: String) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.line = line
        self.message = message
    }

    /// One line: "path: message".
    public var description: String { "\(path): \(message)" }

    static func fileNotFound(_ path: String) -> CorpusError {
        CorpusError(kind: .fileNotFound, path: path, message: "no such file or directory")
    }

    static func unreadable(_ path: String, _ reason: String, offset: Int64? = nil) -> CorpusError {
        let at = offset.map { " at offset \($0)" } ?? ""
        return CorpusError(kind: .unreadable, path: path, offset: offset, message: "cannot read\(at): \(reason)")
    }

    static func corruptGzip(_ path: String, offset: Int64, _ reason: String) -> CorpusError {
        CorpusError(kind: .corruptGzip, path: path, offset: offset,
                    message: "corrupt gzip at compressed offset \(offset): \(reason)")
    }

    static func truncatedGzip(_ path: String, offset: Int64) -> CorpusError {
        CorpusError(kind: .truncatedGzip, path: path, offset: offset,
                    message: "truncated gzip at compressed offset \(offset): unexpected end of file")
    }

    static func noMatch(_ pattern: String) -> CorpusError {
        CorpusError(kind: .noMatch, path: pattern, message: "no input file matches this pattern")
    }
}
