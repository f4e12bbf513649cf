// `tokenmill verify`: re-reads every shard and checks it against the index.
//
// Per shard: the file exists (and is not only a temporary file), header magic/version match
// the index's token width, the size is exact, the header count and CRC-32 equal the index's,
// every token id is inside the vocabulary, the documents recorded in it number `documents`,
// each document's end-of-text token is where the index says, and the documents of a split tile
// its shards with no gap or overlap. Per split: token counts recounted from the shards equal
// `token_counts`; document lengths equal `length_counts`. Per source: documents, tokens and
// text bytes equal the sums over `documents`. Finally, `.bin` files the index does not know
// and leftover temporary files are reported.

import Common
import Foundation

/// A problem found by `verify`, naming the file.
public struct VerifyProblem: Codable, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

public struct VerifyProgress: Sendable {
    public var shardsDone: Int
    public var shardsTotal: Int
    public var bytesDone: Int64
    public var bytesTotal: Int64
    /// The shard being read.
    public var file: String
}

public enum CorpusVerifier {
    /// Checks the corpus in `directory`; returns every problem found (empty when all is well).
    /// Throws only when the index itself cannot be read.
    /// Shards are read on `threads` threads (default: the cores, at most 8).
    public static func verify(directory: String, threads: Int? = nil,
                              progress: ((VerifyProgress) -> Void)? = nil) throws -> [VerifyProblem] {
        let indexPath = FileSystem.join(directory, IndexSchema.fileName)
        guard FileSystem.exists(indexPath) else {
            throw ShardsError(.io, path: indexPath, "no index here (is \(directory) a corpus written by `tokenmill shard`?)")
        }
        let db = try Database(path: indexPath, readOnly: true)
        let settings = try CorpusSettings.read(from: db)
        var run = Run(directory: directory, db: db, settings: settings, progress: progress,
                      threads: threads ?? Swift.min(ProcessInfo.processInfo.activeProcessorCount, 8))
        try run.checkShards()
        try run.checkAggregates()
        try run.checkFiles()
        return run.problems
    }

    private struct ShardRow {
        var id: Int64, name: String, split: Split, seq: Int64, status: ShardStatus, tokens: Int64, documents: Int64, crc: UInt32
    }

    private struct Run {
        let directory: String
        let db: Database
        let settings: CorpusSettings
        let progress: ((VerifyProgress) -> Void)?
        let threads: Int
        var problems: [VerifyProblem] = []
        var shards: [ShardRow] = []
        /// Token counts recounted per split; nil when a shard of the split could not be read.
        var counts: [Split: [Int64]?] = [:]
        /// Per split, documents by length (tokens, EOT excluded), from the documents table.
        var lengthCounts: [Split: [Int64: Int64]] = [:]
        /// Per source id, from the documents table: documents, tokens (EOT included), text bytes.
        var sourceSums: [Int64: SourceSums] = [:]

        init(directory: String, db: Database, settings: CorpusSettings, progress: ((VerifyProgress) -> Void)?, threads: Int) {
            self.threads = threads
            self.directory = directory
            self.db = db
            self.settings = settings
            self.progress = progress
        }

        func path(_ name: String) -> String { FileSystem.join(directory, name) }

        mutating func problem(_ file: String, _ message: String) {
            problems.append(VerifyProblem(file: file, message: message))
        }

        mutating func checkShards() throws {
            shards = try db.rows("SELECT id, path, split, seq, status, tokens, documents, crc32 FROM shards ORDER BY split = 'val', seq")
                .compactMap { r in
                    guard let split = r[2].string.flatMap(Split.init), let status = r[4].string.flatMap(ShardStatus.init) else {
                        return nil
                    }
                    return ShardRow(id: r[0].int64 ?? 0, name: r[1].string ?? "", split: split, seq: r[3].int64 ?? 0,
                                    status: status, tokens: r[5].int64 ?? 0, documents: r[6].int64 ?? 0,
                                    crc: UInt32(truncatingIfNeeded: r[7].int64 ?? 0))
                }
            let totalBytes = shards.reduce(Int64(0)) { $0 + ShardHeader(width: settings.tokenWidth, tokenCount: $1.tokens).fileSize }
            var bytesDone: Int64 = 0
            // The documents of a split in id order (shard by shard, offset by offset): the table in
            // rowid order, other splits' rows skipped here (a join on shards would have SQLite sort
            // each split in a temporary B-tree, slower than scanning the table once per split).
            let statement = try db.prepare("SELECT id, shard_id, token_offset, token_count, source_id, byte_count FROM documents ORDER BY id")
            let splitOf = Dictionary(shards.map { ($0.id, $0.split) }, uniquingKeysWith: { first, _ in first })
            // The shards' bytes are read on other threads, a few files ahead of this one, which
            // walks the documents against what each read found; in the order they are checked
            // here: a split's shards by number, the splits in turn.
            let ordered = Split.allCases.flatMap { split in shards.filter { $0.split == split } }
            let scanner = ShardScanner(settings: settings, files: ordered.map { path($0.name) }, threads: threads)
            defer { scanner.cancel() }
            var next = 0
            for split in Split.allCases {
                try statement.bind([])
                // The aggregates `checkAggregates` compares are summed on the way: each split's
                // lengths, and (on the first pass, which sees every row) the per-source totals.
                var docs = SplitDocuments(statement: statement, split: split, splitOf: splitOf,
                                          sumSources: split == Split.allCases.first)
                var hasDoc = try docs.step()
                counts[split] = [Int64](repeating: 0, count: settings.vocabSize)
                var carry: Int64 = 0  // tokens of a document that continue into the next shard
                var expectedSeq: Int64 = 0
                let rows = shards.filter { $0.split == split }
                for shard in rows {
                    if shard.seq != expectedSeq {
                        problem(path(shard.name), "\(split) shard number \(shard.seq) follows \(expectedSeq - 1): shards are missing from the index")
                    }
                    expectedSeq = shard.seq + 1
                    progress?(VerifyProgress(shardsDone: next, shardsTotal: shards.count,
                                             bytesDone: bytesDone, bytesTotal: totalBytes, file: path(shard.name)))
                    precondition(ordered[next].id == shard.id)
                    let scan = scanner.result(next)
                    next += 1
                    carry = try check(shard, scan, docs: &docs, hasDoc: &hasDoc, carry: carry, bytesDone: &bytesDone)
                }
                if hasDoc {
                    problem(db.path, "document \(docs.id) of the \(split) split is out of order (its shard comes before the previous document's)")
                }
                if carry != 0, let last = rows.last {
                    problem(path(last.name), "the last document of the \(split) split runs \(carry) tokens past the end of its last shard")
                }
                if hasDoc { try docs.drain() }
                lengthCounts[split] = docs.lengths
                if let sums = docs.sources { sourceSums = sums }
            }
            progress?(VerifyProgress(shardsDone: shards.count, shardsTotal: shards.count, bytesDone: totalBytes,
                                     bytesTotal: totalBytes, file: ""))
        }

        /// Checks one shard against what `scan` read of it; returns the carry into the next shard
        /// of its split.
        mutating func check(_ shard: ShardRow, _ scan: ShardScan, docs: inout SplitDocuments, hasDoc: inout Bool, carry: Int64,
                            bytesDone: inout Int64) throws -> Int64 {
            let file = path(shard.name)
            let hasTemporary = FileSystem.exists(ShardWriter.temporaryPath(for: file))
            if shard.status != .closed {
                // Written under its temporary name until it is closed: that file is not a problem of its own.
                problem(file, "the index says this shard is still open: sharding did not finish (rerun `tokenmill shard`)"
                        + (hasTemporary ? "" : "; its temporary file .tmp is missing too"))
            }
            guard let header = scan.header, let shardCounts = scan.counts else {
                if let error = scan.error {
                    problem(file, error.message + (error.offset.map { " (offset \($0))" } ?? ""))
                } else if shard.status == .closed {
                    problem(file, "missing" + (hasTemporary ? " (only its temporary file .tmp exists)" : ""))
                }
                counts[shard.split] = .some(nil)
                while hasDoc && docs.shardID == shard.id { hasDoc = try docs.step() }
                return max(0, carry - shard.tokens)
            }
            // Walk the documents that start here in offset order, checking the tiling and that an
            // end-of-text token sits at each offset (the scan listed where they are).
            var expectedOffset = carry  // the first document starts after the carried-in tokens
            var documents: Int64 = 0
            var tilingReported = false
            var eotReported = false
            var eot = 0  // the first end-of-text position not before the current document
            while hasDoc && docs.shardID == shard.id && docs.offset < header.tokenCount {
                let offset = docs.offset, count = docs.count
                if offset != expectedOffset && !tilingReported {
                    problem(file, "document \(docs.id) starts at token \(offset), expected \(expectedOffset) (documents overlap or leave a gap)")
                    tilingReported = true
                }
                while eot < scan.eots.count && scan.eots[eot] < offset { eot += 1 }
                if offset >= 0 && (eot == scan.eots.count || scan.eots[eot] != offset) && !eotReported {
                    let found = (try? ShardFile.readTokens(file, offset..<offset + 1))?.first.map { "\($0)" } ?? "unreadable"
                    problem(file, "document \(docs.id): token \(offset) is \(found), not the end-of-text token \(settings.eotID)")
                    eotReported = true
                }
                expectedOffset = offset + 1 + count
                documents += 1
                hasDoc = try docs.step()
            }
            while hasDoc && docs.shardID == shard.id {  // offsets beyond the file's tokens
                if !tilingReported {
                    problem(file, "document \(docs.id) starts at token \(docs.offset), beyond the shard's \(header.tokenCount) tokens")
                    tilingReported = true
                }
                documents += 1
                hasDoc = try docs.step()
            }
            bytesDone += header.fileSize
            if var split = counts[shard.split] ?? nil {
                split.withUnsafeMutableBufferPointer { total in
                    for (id, n) in shardCounts.enumerated() { total[id] += n }
                }
                counts[shard.split] = .some(split)
            }
            let vocab = UInt32(settings.vocabSize)
            if header.width != settings.tokenWidth {
                problem(file, "holds \(header.width.bytes)-byte tokens but the index says \(settings.tokenWidth.bytes)-byte")
            }
            if header.tokenCount != shard.tokens {
                problem(file, "header says \(header.tokenCount) tokens, the index says \(shard.tokens)")
            }
            if scan.crc != shard.crc {
                problem(file, "checksum mismatch: CRC-32 of the tokens is \(StatsFormat.hex32(scan.crc)), the index says \(StatsFormat.hex32(shard.crc))")
            }
            if let (offset, id) = scan.badID {
                problem(file, "token \(offset) is \(id), outside the vocabulary of \(vocab)")
            }
            if documents != shard.documents {
                problem(file, "\(documents) documents start here according to the documents table, the shards table says \(shard.documents)")
            }
            // `expectedOffset` is now where the last document (or the carried-in one) ends.
            if expectedOffset < header.tokenCount && !tilingReported {
                problem(file, "tokens \(expectedOffset)..<\(header.tokenCount) belong to no document")
            }
            return max(0, expectedOffset - header.tokenCount)
        }

        mutating func checkAggregates() throws {
            let index = db.path
            for split in Split.allCases {
                guard let recount = counts[split] ?? nil else { continue }
                var stored = [Int64](repeating: 0, count: settings.vocabSize)
                var outside = 0
                try db.prepare("SELECT token_id, count FROM token_counts WHERE split = ?").forEachRow([.text(split.rawValue)]) { row in
                    let id = Int(row.int64(0))
                    if id >= 0 && id < stored.count { stored[id] = row.int64(1) } else { outside += 1 }
                }
                // Counts of a job not yet finished, kept aside until its end.
                let pending = try IndexSchema.pendingTokenCounts(db, split: split, vocabSize: settings.vocabSize)
                for id in stored.indices { stored[id] += pending[id] }
                let differing = (0..<stored.count).filter { stored[$0] != recount[$0] }
                if let first = differing.first {
                    problem(index, "token_counts for \(split) differ from the shards for \(differing.count) ids "
                            + "(first: id \(first), index \(stored[first]), shards \(recount[first]))")
                }
                if outside > 0 { problem(index, "token_counts for \(split) has \(outside) ids outside the vocabulary") }
            }
            // Document lengths per split.
            var lengths: [String: [Int64: Int64]] = [:]
            try db.prepare("SELECT split, token_count, documents FROM length_counts").forEachRow { row in
                lengths[row.text(0), default: [:]][row.int64(1)] = row.int64(2)
            }
            for split in Split.allCases where (lengths[split.rawValue] ?? [:]) != (lengthCounts[split] ?? [:]) {
                problem(index, "length_counts for \(split) differ from the documents table")
            }
            // Per-source totals (summed while walking the documents).
            try db.prepare("SELECT id, path, documents, tokens, text_bytes FROM sources").forEachRow { row in
                let expected = sourceSums[row.int64(0)] ?? SourceSums()
                if expected != SourceSums(documents: row.int64(2), tokens: row.int64(3), bytes: row.int64(4)) {
                    problems.append(VerifyProblem(file: index, message:
                        "source \(row.text(1)): sources says \(row.int64(2)) documents, \(row.int64(3)) tokens, \(row.int64(4)) bytes; "
                        + "the documents table sums to \(expected.documents), \(expected.tokens), \(expected.bytes)"))
                }
            }
        }

        /// `.bin` files the index does not know, and temporary files of shards it does not list
        /// as open. While sharding is unfinished (a shard open or a source partial), those are the
        /// shards the job wrote after its last commit, which a rerun replaces: one problem says so.
        mutating func checkFiles() throws {
            let known = Set(shards.map(\.name))
            let openTemporaries = Set(shards.filter { $0.status == .open }.map { ShardWriter.temporaryPath(for: $0.name) })
            var leftovers: [String] = []
            for name in try FileSystem.list(directory).sorted() {
                if name.hasSuffix(".bin") && !known.contains(name) {
                    problem(path(name), "not in the index")
                } else if CorpusPart.isAnyShardTemporaryName(name) && !openTemporaries.contains(name) {
                    leftovers.append(name)
                }
            }
            let partialSources = try db.scalar("SELECT count(*) FROM sources WHERE status = 'partial'")?.int64 ?? 0
            let unfinished = !openTemporaries.isEmpty || partialSources > 0
            if unfinished, let first = leftovers.first, let last = leftovers.last {
                let files = leftovers.count == 1 ? first : "\(leftovers.count) files, \(first) … \(last)"
                problem(leftovers.count == 1 ? path(first) : directory, "temporary files of shards written after the unfinished job's "
                        + "last commit (\(files)); rerunning `tokenmill shard` replaces them")
            } else {
                for name in leftovers { problem(path(name), "leftover temporary file not in the index") }
            }
        }
    }
}

/// The documents of one split, in id order, from a statement that lists every document in id
/// order; rows of other splits' shards (or of no shard) are skipped.
struct SplitDocuments {
    let statement: Statement
    let split: Split
    let splitOf: [Int64: Split]
    private(set) var id: Int64 = 0
    private(set) var shardID: Int64 = 0
    private(set) var offset: Int64 = 0
    private(set) var count: Int64 = 0
    /// The split's documents stepped over so far, by length.
    private(set) var lengths: [Int64: Int64] = [:]
    /// With `sumSources`: every row stepped over (any split, or no shard), summed by source id.
    private(set) var sources: [Int64: SourceSums]?

    /// `statement` lists `id, shard_id, token_offset, token_count, source_id, byte_count` of
    /// every document in id order.
    init(statement: Statement, split: Split, splitOf: [Int64: Split], sumSources: Bool) {
        self.statement = statement
        self.split = split
        self.splitOf = splitOf
        sources = sumSources ? [:] : nil
    }

    /// Moves to the split's next document; false after its last.
    mutating func step() throws -> Bool {
        while try statement.step() {
            let shard = statement.int64(1), tokens = statement.int64(3)
            if sources != nil {
                sources![statement.int64(4), default: SourceSums()].add(tokens: tokens + 1, bytes: statement.int64(5))
            }
            guard splitOf[shard] == split else { continue }
            (id, shardID, offset, count) = (statement.int64(0), shard, statement.int64(2), tokens)
            lengths[tokens, default: 0] += 1
            return true
        }
        return false
    }

    /// Steps over the rest (for the sums).
    mutating func drain() throws { while try step() {} }
}

/// A source's totals in the documents table.
struct SourceSums: Equatable {
    var documents: Int64 = 0
    /// Tokens, the end-of-text tokens included.
    var tokens: Int64 = 0
    var bytes: Int64 = 0
    mutating func add(tokens: Int64, bytes: Int64) {
        documents += 1
        self.tokens += tokens
        self.bytes += bytes
    }
}

/// What one read of a shard file found, for `verify`.
struct ShardScan {
    var header: ShardHeader?
    /// Why the file could not be read to its end (nil when it was, or when it is missing).
    var error: ShardsError?
    var crc: UInt32 = 0
    /// Occurrences of each id in the vocabulary; nil when the file is missing or unreadable.
    var counts: [Int64]?
    /// The first id outside the vocabulary, and its offset.
    var badID: (Int64, UInt32)?
    /// Offsets of the end-of-text tokens, ascending.
    var eots: [Int64] = []
}

/// Reads shard files on `threads` threads, in order and at most a window of files ahead of the
/// thread that takes the results (`result(i)`, in order), so that memory stays bounded.
final class ShardScanner: @unchecked Sendable {
    // Safety (Sendable): `results`, `nextToScan`, `taken` and `cancelled` are read and written
    // with `condition` locked; the rest is set in `init`.
    private let files: [String]
    private let settings: CorpusSettings
    private let window: Int
    private var results: [ShardScan?]
    private var nextToScan = 0
    private var taken = 0
    private var cancelled = false
    private let condition = NSCondition()

    init(settings: CorpusSettings, files: [String], threads: Int) {
        self.files = files
        self.settings = settings
        let threads = Swift.max(1, Swift.min(threads, files.count))
        window = 2 * threads
        results = [ShardScan?](repeating: nil, count: files.count)
        for _ in 0..<threads where !files.isEmpty {
            let thread = Thread { [self] in work() }
            thread.name = "verify scan"
            thread.start()
        }
    }

    /// Stops the threads after the files they are reading (they hold the scanner until then).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// What file `i` held; waits for it. Each is taken once, in order.
    func result(_ i: Int) -> ShardScan {
        condition.lock()
        defer { condition.unlock() }
        while results[i] == nil { condition.wait() }
        let scan = results[i]!
        results[i] = nil
        taken = i + 1
        condition.broadcast()
        return scan
    }

    private func work() {
        while true {
            condition.lock()
            while !cancelled && nextToScan < files.count && nextToScan >= taken + window { condition.wait() }
            guard !cancelled && nextToScan < files.count else { condition.unlock(); return }
            let i = nextToScan
            nextToScan += 1
            condition.unlock()
            let scan = Self.scan(files[i], settings: settings)
            condition.lock()
            results[i] = scan
            condition.broadcast()
            condition.unlock()
        }
    }

    static func scan(_ file: String, settings: CorpusSettings) -> ShardScan {
        var out = ShardScan()
        guard FileSystem.exists(file) else { return out }
        var counts = [Int64](repeating: 0, count: settings.vocabSize)
        var crc: UInt32 = 0
        var badID: (Int64, UInt32)?
        var eots: [Int64] = []
        do {
            out.header = try ShardFile.scan(file) { chunk, first in
                crc = ShardFile.crc32(chunk, continuing: crc)
                if settings.tokenWidth == .uint16 {
                    tally(chunk.bindMemory(to: UInt16.self), first: first, vocab: UInt32(settings.vocabSize),
                          eot: settings.eotID, into: &counts, badID: &badID, eots: &eots)
                } else {
                    tally(chunk.bindMemory(to: UInt32.self), first: first, vocab: UInt32(settings.vocabSize),
                          eot: settings.eotID, into: &counts, badID: &badID, eots: &eots)
                }
            }
            out.counts = counts
        } catch let error as ShardsError {
            out.header = nil
            out.error = error
        } catch {
            out.header = nil
            out.error = ShardsError(.io, path: file, "\(error)")
        }
        out.crc = crc
        out.badID = badID
        out.eots = eots
        return out
    }

    /// Adds a chunk's ids to `counts`, notes the first id outside the vocabulary and where the
    /// end-of-text tokens are. Through buffer pointers, once per chunk: counting through a
    /// captured optional array would run a uniqueness check per id.
    /// The chunk's little-endian ids are read in place (the buffer is aligned: `ShardFile.scan`
    /// reads into a 16-byte aligned buffer, whole tokens at a time).
    static func tally<Word: FixedWidthInteger & UnsignedInteger>(
        _ ids: UnsafeBufferPointer<Word>, first: Int64, vocab: UInt32, eot: UInt32, into counts: inout [Int64],
        badID: inout (Int64, UInt32)?, eots: inout [Int64]) {
        counts.withUnsafeMutableBufferPointer { c in
            for i in 0..<ids.count {
                let id = UInt32(truncatingIfNeeded: Word(littleEndian: ids[i]))
                if id < vocab {
                    c[Int(id)] += 1
                    if id == eot { eots.append(first + Int64(i)) }
                } else if badID == nil {
                    badID = (first + Int64(i), id)
                }
            }
        }
    }
}
