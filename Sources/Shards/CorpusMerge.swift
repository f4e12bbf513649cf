import Common
import Corpus
import Foundation

/// What `CorpusMerge.run` joined.
public struct MergeReport: Sendable, Equatable {
    public var parts: Int
    public var sources: Int64
    public var documents: Int64
    public var shards: Int64
    public var tokens: Int64
    public var seconds: Double
}

/// Joins the index parts that the ranks of a shard job wrote into one directory
/// (`index.rank-RRRRR-of-WWWWW.sqlite`, `CorpusPart`) into `index.sqlite`, as if one machine had
/// sharded the inputs in rank order: sources, documents and shards numbered on from the part
/// before, token and length counts added up. Shard bytes are not copied or read, only their
/// headers and sizes checked (`tokenmill verify` checks their CRC-32), so the cost grows with
/// the number of documents, not with the bytes.
///
///     let report = try CorpusMerge.run(directory: "out/shards")
///
/// Refused, by name: a missing part, a part whose job did not finish, parts written with other
/// settings or another tokenizer, a shard file missing or of the wrong size, and a directory
/// that already has `index.sqlite`.
public enum CorpusMerge {
    public static func run(directory: String) throws -> MergeReport {
        let started = ContinuousClock.now
        let indexPath = FileSystem.join(directory, IndexSchema.fileName)
        if FileSystem.exists(indexPath) {
            throw ShardsError(.invalidArgument, path: indexPath, "exists: this corpus is merged already (or was sharded on one machine)")
        }
        let parts = try findParts(directory)
        // Every part: finished, the same settings as rank 0, its shards present.
        var settings: CorpusSettings?
        for part in parts {
            let path = FileSystem.join(directory, part.indexFileName)
            let db = try Database(path: path, readOnly: true)
            let recorded = try CorpusSettings.read(from: db)
            if let first = settings, let difference = recorded.difference(from: first) {
                throw ShardsError(.mismatch, path: path, "differs from rank 0's index part: \(difference)")
            }
            settings = settings ?? recorded
            if try !isFinished(db) {
                throw ShardsError(.invalidArgument, path: path, "unfinished: \(part)'s shard job has not finished "
                                  + "(run it again with the same inputs and --rank \(part.rank) --world-size \(part.worldSize))")
            }
            for row in try db.rows("SELECT path, tokens FROM shards ORDER BY id") {
                let name = row[0].string ?? ""
                guard part.isShardName(name) else {
                    throw ShardsError(.corrupt, path: path, "lists shard \(name.debugDescription), not a file name of \(part)")
                }
                let shardPath = FileSystem.join(directory, name)
                let header = try ShardFile.inspect(shardPath)
                guard header.tokenCount == row[1].int64 ?? -1, header.width == recorded.tokenWidth else {
                    throw ShardsError(.corrupt, path: shardPath, "holds \(header.tokenCount) tokens, its index part says \(row[1].int64 ?? -1)")
                }
            }
        }
        guard let settings else { throw ShardsError(.invalidArgument, path: directory, "no index parts") }

        let temporary = indexPath + ".merge.tmp"
        try? FileSystem.remove(temporary)
        let counts = try build(temporary, directory: directory, parts: parts, settings: settings)
        do {
            try FileSystem.move(temporary, to: indexPath)
        } catch {
            throw ShardsError(.io, path: indexPath, error.message)
        }
        FileSystem.syncDirectory(directory)
        let elapsed = ContinuousClock.now - started
        return MergeReport(parts: parts.count, sources: counts[0], documents: counts[1], shards: counts[2], tokens: counts[3],
                           seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    /// Writes the joined index to `temporary` (closed when this returns); its sources,
    /// documents, shards and tokens.
    static func build(_ temporary: String, directory: String, parts: [CorpusPart], settings: CorpusSettings) throws -> [Int64] {
        let db = try Database(path: temporary)
        do {
            try db.execute("PRAGMA journal_mode = OFF")
            try db.execute("PRAGMA synchronous = OFF")
            try db.execute(IndexSchema.sql)
            try db.transaction {
                let meta = try db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)")
                for (key, value) in settings.metaEntries { try meta.run(.text(key), value) }
            }
            for (i, part) in parts.enumerated() {
                try db.execute("ATTACH DATABASE '\(FileSystem.join(directory, part.indexFileName).replacingOccurrences(of: "'", with: "''"))' AS part")
                try db.transaction {
                    if i == 0 { try db.execute("INSERT INTO vocab SELECT * FROM part.vocab") }
                    // Offsets: what the parts before this one hold.
                    let sourceBase = try db.scalar("SELECT coalesce(max(id), 0) FROM sources")?.int64 ?? 0
                    let shardBase = try db.scalar("SELECT coalesce(max(id), 0) FROM shards")?.int64 ?? 0
                    let documentBase = try db.scalar("SELECT coalesce(max(id) + 1, 0) FROM documents")?.int64 ?? 0
                    let trainBase = try db.scalar("SELECT count(*) FROM shards WHERE split = 'train'")?.int64 ?? 0
                    let valBase = try db.scalar("SELECT count(*) FROM shards WHERE split = 'val'")?.int64 ?? 0
                    try db.execute("""
                        INSERT INTO sources (id, path, file_bytes, status, error, records, documents, tokens, text_bytes, duplicates, skipped)
                        SELECT id + \(sourceBase), path, file_bytes, status, error, records, documents, tokens, text_bytes, duplicates, skipped
                        FROM part.sources ORDER BY id
                        """)
                    try db.execute("""
                        INSERT INTO skips (source_id, reason, count, first_line)
                        SELECT source_id + \(sourceBase), reason, count, first_line FROM part.skips
                        """)
                    try db.execute("""
                        INSERT INTO shards (id, path, split, seq, status, tokens, documents, text_bytes, crc32)
                        SELECT s.id + \(shardBase), s.path, s.split,
                               s.seq + CASE s.split WHEN 'train' THEN \(trainBase) ELSE \(valBase) END,
                               s.status, s.tokens, s.documents, s.text_bytes, s.crc32
                        FROM part.shards s ORDER BY s.id
                        """)
                    try db.execute("""
                        INSERT INTO documents (id, source_id, record, line, shard_id, token_offset, token_count, byte_count, hash_hi, hash_lo)
                        SELECT id + \(documentBase), source_id + \(sourceBase), record, line, shard_id + \(shardBase),
                               token_offset, token_count, byte_count, hash_hi, hash_lo
                        FROM part.documents ORDER BY id
                        """)
                    try db.execute("""
                        INSERT INTO token_counts (split, token_id, count) SELECT split, token_id, count FROM part.token_counts WHERE true
                        ON CONFLICT (split, token_id) DO UPDATE SET count = count + excluded.count
                        """)
                    try db.execute("""
                        INSERT INTO length_counts (split, token_count, documents) SELECT split, token_count, documents FROM part.length_counts WHERE true
                        ON CONFLICT (split, token_count) DO UPDATE SET documents = documents + excluded.documents
                        """)
                }
                try db.execute("DETACH DATABASE part")
            }
            try db.execute(IndexSchema.positionIndex)
            try db.execute("PRAGMA journal_mode = DELETE")
        } catch {
            try? FileSystem.remove(temporary)
            throw error
        }
        return try ["SELECT count(*) FROM sources", "SELECT count(*) FROM documents", "SELECT count(*) FROM shards",
                    "SELECT coalesce(sum(tokens), 0) FROM shards"].map { try db.scalar($0)?.int64 ?? 0 }
    }

    /// Whether the shard job of `part` in `directory` finished (its index part exists, with no
    /// open shard, no partial source and no counts left to fold).
    public static func isFinished(directory: String, part: CorpusPart) -> Bool {
        let path = FileSystem.join(directory, part.indexFileName)
        guard FileSystem.exists(path), let db = try? Database(path: path, readOnly: true) else { return false }
        return (try? isFinished(db)) ?? false
    }

    static func isFinished(_ db: Database) throws -> Bool {
        let open = try db.scalar("SELECT count(*) FROM shards WHERE status = 'open'")?.int64 ?? 0
        let partial = try db.scalar("SELECT count(*) FROM sources WHERE status = 'partial'")?.int64 ?? 0
        let pending = try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'token_counts_pending'")?.int64 == 1
            ? try db.scalar("SELECT count(*) FROM token_counts_pending")?.int64 ?? 0 : 0
        return open == 0 && partial == 0 && pending == 0
    }

    /// The parts in `directory`, rank 0 first; all of one world size and none missing.
    static func findParts(_ directory: String) throws -> [CorpusPart] {
        var found: [CorpusPart] = []
        let names: [String]
        do { names = try FileSystem.list(directory) } catch { throw ShardsError(.io, path: directory, error.message) }
        for name in names where name.hasPrefix("index.rank-") && name.hasSuffix(".sqlite") {
            let fields = name.dropFirst("index.rank-".count).dropLast(".sqlite".count).split(separator: "-")
            guard fields.count == 3, fields[1] == "of", let rank = Int(fields[0]), let world = Int(fields[2]) else { continue }
            let part = CorpusPart(rank: rank, worldSize: world)
            if part.problem == nil && part.indexFileName == name { found.append(part) }
        }
        guard let world = found.first?.worldSize else {
            throw ShardsError(.invalidArgument, path: directory, "no index parts (index.rank-RRRRR-of-WWWWW.sqlite) to merge")
        }
        if let other = found.first(where: { $0.worldSize != world }) {
            throw ShardsError(.invalidArgument, path: FileSystem.join(directory, other.indexFileName),
                              "is a part of \(other.worldSize) ranks, others of \(world)")
        }
        let ranks = Set(found.map(\.rank))
        let missing = (0..<world).filter { !ranks.contains($0) }
        if let first = missing.first {
            let more = missing.count > 1 ? " (and \(missing.count - 1) more)" : ""
            throw ShardsError(.invalidArgument, path: FileSystem.join(directory, CorpusPart(rank: first, worldSize: world).indexFileName),
                              "missing\(more): run the shard job of rank \(first) of \(world)")
        }
        return found.sorted { $0.rank < $1.rank }
    }
}
