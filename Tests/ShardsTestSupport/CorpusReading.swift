import Foundation
import Shards
import Testing

// Reading a sharded corpus back, independently of the code that wrote it, for the tests of
// the store and of the shard job.

/// The whole file.
public func readFile(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Every file of a directory (name → bytes), and the index's tables as text rows.
public func snapshot(_ directory: String) throws -> (files: [String: [UInt8]], tables: [String: [String]]) {
    var files: [String: [UInt8]] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) where !name.hasPrefix("index.sqlite") {
        files[name] = try readFile(directory + "/" + name)
    }
    var tables: [String: [String]] = [:]
    let db = try Database(path: directory + "/index.sqlite", readOnly: true)
    for table in ["meta", "vocab", "sources", "skips", "shards", "documents", "token_counts", "token_counts_pending", "length_counts"] {
        tables[table] = try db.rows("SELECT * FROM \(table) ORDER BY 1, 2").map { "\($0)" }
    }
    return (files, tables)
}

/// Occurrences of each token id per split in the committed part of every shard (an open shard
/// is read under its temporary name, up to the tokens the index records), read byte by byte.
public func committedTokenCounts(_ directory: String, vocabSize: Int) throws -> (train: [Int64], val: [Int64]) {
    let db = try Database(path: directory + "/index.sqlite", readOnly: true)
    var counts = ["train": [Int64](repeating: 0, count: vocabSize), "val": [Int64](repeating: 0, count: vocabSize)]
    for row in try db.rows("SELECT split, path, status, tokens FROM shards") {
        var path = directory + "/" + row[1].string!
        if row[2].string == "open" { path = ShardWriter.temporaryPath(for: path) }
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let width = vocabSize > 65_536 ? 4 : 2
        for i in 0..<Int(row[3].int64!) {
            var id = 0
            for b in 0..<width { id |= Int(bytes[1024 + i * width + b]) << (8 * b) }
            counts[row[0].string!]![id] += 1
        }
    }
    return (counts["train"]!, counts["val"]!)
}

/// Every document's tokens (end-of-text first), rebuilt from the index and the shards.
public func documentsFromShards(_ directory: String) throws -> [[UInt32]] {
    let db = try Database(path: directory + "/index.sqlite", readOnly: true)
    var streams: [String: [UInt32]] = [:]
    var starts: [String: [Int64: Int]] = [:]
    for row in try db.rows("SELECT split, seq, path FROM shards ORDER BY split, seq") {
        let split = row[0].string!, path = directory + "/" + row[2].string!
        starts[split, default: [:]][row[1].int64!] = streams[split, default: []].count
        streams[split, default: []] += try ShardFile.readTokens(path, 0..<ShardFile.inspect(path).tokenCount)
    }
    return try db.rows("""
        SELECT s.split, s.seq, d.token_offset, d.token_count FROM documents d JOIN shards s ON s.id = d.shard_id ORDER BY d.id
        """).map { r in
        let split = r[0].string!
        let start = starts[split]![r[1].int64!]! + Int(r[2].int64!)
        return Array(streams[split]![start...start + Int(r[3].int64!)])
    }
}

/// Reads document `id` back through the index: its end-of-text token and text tokens,
/// following the rule that a document continues at offset 0 of the split's next shard.
public func readDocument(_ directory: String, _ id: Int64) throws -> (eot: UInt32, tokens: [UInt32], split: String) {
    let db = try Database(path: directory + "/index.sqlite", readOnly: true)
    let row = try #require(try db.rows("""
        SELECT d.token_offset, d.token_count, s.split, s.seq FROM documents d JOIN shards s ON s.id = d.shard_id WHERE d.id = ?
        """, .int(id)).first)
    var offset = row[0].int64!, left = row[1].int64! + 1, seq = row[3].int64!
    let split = row[2].string!
    var out: [UInt32] = []
    while left > 0 {
        let path = directory + "/" + CorpusPart.whole.shardName(split: Split(rawValue: split)!, seq: seq)
        let count = try ShardFile.inspect(path).tokenCount
        let n = min(left, count - offset)
        out += try ShardFile.readTokens(path, offset..<offset + n)
        left -= n
        offset = 0
        seq += 1
    }
    return (out[0], Array(out.dropFirst()), split)
}

