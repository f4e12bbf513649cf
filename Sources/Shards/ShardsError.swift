/// An error from the Shards module: a bad shard file, an index problem, an I/O failure.
///
/// The description is one line that names the file (and the byte offset when it is known):
///
///     train_000001.bin at offset 0: bad magic 12345 (expected 20240520 or 20240801)
public struct ShardsError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable, Codable {
        /// An operating-system call failed (open, read, write, rename, …).
        case io
        /// A shard file's header or size is wrong.
        case format
        /// SQLite reported an error.
        case sqlite
        /// The existing index was written with other settings or another tokenizer.
        case mismatch
        /// The caller passed a value out of range (batch size, shard size, token id, …).
        case invalidArgument
        /// The index and the files disagree in a way that recovery cannot repair.
        case corrupt
    }

    public var kind: Kind
    /// The file concerned (shard, index, state blob); empty when no file is involved.
    public var path: String
    /// Byte offset inside `path`, when known.
    public var offset: Int64?
    public var message: String

    public init(_ kind: Kind, path: String, offset: Int64? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.message = message
    }

    public var description: String {
        var s = path
        if let offset { s += " at offset \(offset)" }
        return s.isEmpty ? message : s + ": " + message
    }
}
