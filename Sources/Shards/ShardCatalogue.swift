// What a reader of a sharded corpus needs from its index, and nothing else: the settings the
// corpus was written with and, per split, its shards in order. Read once from index.sqlite; every
// shard path is checked to be a plain file name inside the corpus directory before it is handed out.

import Common

/// The shards of a corpus as its index lists them, for readers such as the DataLoader.
///
///     let catalogue = try ShardCatalogue(directory: "out")
///     catalogue.settings.vocabSize                        // 8192
///     catalogue.shards(.train).map(\.name)                // ["train_000000.bin", "train_000001.bin"]
public struct ShardCatalogue: Sendable {
    /// One closed shard of a split.
    public struct Shard: Sendable, Equatable {
        /// The file name in the corpus directory (`train_000000.bin`).
        public var name: String
        /// `directory/name`.
        public var path: String
        /// The position in its split: 0, 1, 2, …
        public var sequence: Int64
        public var tokens: Int64
        /// CRC-32 (zlib) of the token bytes after the header.
        public var crc32: UInt32
    }

    public let directory: String
    /// `directory/index.sqlite`.
    public let indexPath: String
    /// The settings recorded in the index: tokenizer fingerprint, vocabulary size, token width,
    /// end-of-text id, …
    public let settings: CorpusSettings
    private let closed: [Split: [Shard]]
    private let open: [Split: [String]]

    /// Reads the index of the corpus in `directory`. Throws when there is no index, when its
    /// settings cannot be read, and when a shard row names anything but a plain file name
    /// (a path with `/`, `..`, or nothing).
    public init(directory: String) throws {
        let indexPath = FileSystem.join(directory, IndexSchema.fileName)
        guard FileSystem.exists(indexPath) else {
            throw ShardsError(.io, path: indexPath, "no index here (is \(directory) a corpus written by `tokenmill shard`?)")
        }
        let db = try Database(path: indexPath, readOnly: true)
        settings = try CorpusSettings.read(from: db)
        var closed: [Split: [Shard]] = [.train: [], .val: []]
        var open: [Split: [String]] = [.train: [], .val: []]
        for row in try db.rows("SELECT path, split, seq, status, tokens, crc32 FROM shards ORDER BY split, seq") {
            guard let name = row[0].string, let split = row[1].string.flatMap(Split.init), let sequence = row[2].int64,
                  let status = row[3].string, let tokens = row[4].int64, let crc = row[5].int64 else {
                throw ShardsError(.corrupt, path: indexPath, "unreadable row in shards")
            }
            guard Self.isPlainFileName(name) else {
                throw ShardsError(.corrupt, path: indexPath, "shard path \"\(name)\" is not a file name in the corpus "
                                  + "directory (it must have no '/' and no '..'); refusing to open it")
            }
            if status == "closed" {
                closed[split, default: []].append(Shard(name: name, path: FileSystem.join(directory, name),
                                                        sequence: sequence, tokens: tokens,
                                                        crc32: UInt32(truncatingIfNeeded: crc)))
            } else {
                open[split, default: []].append(name)
            }
        }
        self.directory = directory
        self.indexPath = indexPath
        self.closed = closed
        self.open = open
    }

    /// The split's closed shards, in sequence order.
    public func shards(_ split: Split) -> [Shard] { closed[split] ?? [] }

    /// The file names of the split's shards that are still open (sharding did not finish).
    public func openShards(_ split: Split) -> [String] { open[split] ?? [] }

    /// Whether `name` names a file directly inside the corpus directory: not empty, no `/`, no
    /// `..`, no NUL.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && !name.contains("/") && !name.contains("..") && !name.utf8.contains(0)
    }
}
