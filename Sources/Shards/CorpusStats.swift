// `tokenmill stats`: answers from index.sqlite alone (never the shards, never a scan of
// `documents`): per-split totals come from `shards`, input figures from `sources`/`skips`,
// token frequencies from `token_counts` (one row per split and token id) and document
// lengths from `length_counts` (one row per split and distinct length).

import Common

/// The views of `tokenmill stats`.
public enum StatsView: Equatable, Sendable {
    case summary
    case top(Int)
    /// Count and rank of each id (the CLI passes the encoding of `--text` here).
    case tokens([UInt32])
    case sources
    case shards
    /// Document lengths, of one split or (nil) of both.
    case docs(Split?)
}

/// Statistics of a sharded corpus, read from its index.
///
///     let stats = try CorpusStats(directory: "out")
///     print(try stats.render(.top(20), json: false))
public struct CorpusStats {
    public let directory: String
    public let settings: CorpusSettings
    let db: Database

    public init(directory: String) throws {
        let path = FileSystem.join(directory, IndexSchema.fileName)
        guard FileSystem.exists(path) else {
            throw ShardsError(.io, path: path, "no index here (is \(directory) a corpus written by `tokenmill shard`?)")
        }
        self.directory = directory
        db = try Database(path: path, readOnly: true)
        settings = try CorpusSettings.read(from: db)
    }

    /// One view as text (aligned tables) or as JSON (the stable shape documented in docs/index-schema.md).
    public func render(_ view: StatsView, json: Bool) throws -> String {
        switch view {
        case .summary: let v = try summary(); return json ? StatsFormat.json(v) : StatsFormat.text(v)
        case .top(let n): let v = try top(n); return json ? StatsFormat.json(v) : StatsFormat.text(v)
        case .tokens(let ids): let v = try tokens(ids); return json ? StatsFormat.json(v) : StatsFormat.text(v)
        case .sources: let v = try sources(); return json ? StatsFormat.json(v) : StatsFormat.text(v)
        case .shards: let v = try shards(); return json ? StatsFormat.json(v) : StatsFormat.text(v)
        case .docs(let split): let v = try documentLengths(split: split); return json ? StatsFormat.json(v) : StatsFormat.text(v)
        }
    }

    // MARK: summary

    public func summary() throws -> StatsSummary {
        var splits: [SplitSummary] = Split.allCases.map {
            SplitSummary(split: $0, documents: 0, tokens: 0, textBytes: 0, shards: 0, bytesPerToken: nil)
        }
        var openShards: Int64 = 0
        for row in try db.rows("""
            SELECT split, count(*), sum(documents), sum(tokens), sum(text_bytes), sum(status = 'open')
            FROM shards GROUP BY split
            """) {
            guard let i = splits.firstIndex(where: { $0.split.rawValue == row[0].string }) else { continue }
            splits[i].shards = row[1].int64 ?? 0
            splits[i].documents = row[2].int64 ?? 0
            splits[i].tokens = row[3].int64 ?? 0
            splits[i].textBytes = row[4].int64 ?? 0
            splits[i].bytesPerToken = ratio(splits[i].textBytes, splits[i].tokens - splits[i].documents)
            openShards += row[5].int64 ?? 0
        }
        let src = try db.rows("""
            SELECT count(*), coalesce(sum(status = 'done'), 0), coalesce(sum(status = 'partial'), 0),
                   coalesce(sum(status = 'error'), 0), coalesce(sum(file_bytes), 0), coalesce(sum(records), 0),
                   coalesce(sum(duplicates), 0), coalesce(sum(skipped), 0)
            FROM sources
            """)[0].map { $0.int64 ?? 0 }
        let skips = try db.rows("SELECT reason, sum(count) FROM skips GROUP BY reason ORDER BY sum(count) DESC, reason")
            .map { SkipReasonCount(reason: $0[0].string ?? "", count: $0[1].int64 ?? 0) }
        let documents = splits.reduce(0) { $0 + $1.documents }
        let tokens = splits.reduce(0) { $0 + $1.tokens }
        let textBytes = splits.reduce(0) { $0 + $1.textBytes }
        return StatsSummary(
            directory: directory, tokenizerFingerprint: settings.tokenizerFingerprint, vocabSize: settings.vocabSize,
            tokenWidth: settings.tokenWidth.bytes, eotID: settings.eotID, shardTokens: settings.shardTokens,
            valFraction: settings.valFraction, splits: splits, documents: documents, tokens: tokens,
            inputBytes: src[4], textBytes: textBytes, bytesPerToken: ratio(textBytes, tokens - documents),
            sources: SourceCounts(total: src[0], done: src[1], partial: src[2], error: src[3]),
            shards: splits.reduce(0) { $0 + $1.shards }, openShards: openShards,
            records: src[5], duplicates: src[6], skipped: src[7], skips: skips)
    }

    // MARK: tokens

    /// Every token's count per split, indexed by id.
    private func tokenTotals() throws -> (train: [Int64], val: [Int64]) {
        var train = [Int64](repeating: 0, count: settings.vocabSize)
        var val = train
        try db.prepare("SELECT split, token_id, count FROM token_counts").forEachRow { row in
            let id = Int(row.int64(1))
            guard id >= 0, id < train.count else { return }
            if row.text(0) == Split.val.rawValue { val[id] += row.int64(2) } else { train[id] += row.int64(2) }
        }
        // A job not yet finished keeps its latest counts aside (`token_counts_pending`).
        let pending = try (IndexSchema.pendingTokenCounts(db, split: .train, vocabSize: settings.vocabSize),
                           IndexSchema.pendingTokenCounts(db, split: .val, vocabSize: settings.vocabSize))
        for id in train.indices {
            train[id] += pending.0[id]
            val[id] += pending.1[id]
        }
        return (train, val)
    }

    private func vocabularyRows(_ ids: [Int]) throws -> [Int: (text: String, special: Bool)] {
        var result: [Int: (String, Bool)] = [:]
        let stmt = try db.prepare("SELECT text, special FROM vocab WHERE id = ?")
        for id in ids {
            try stmt.forEachRow([.int(Int64(id))]) { row in result[id] = (row.text(0), row.int64(1) != 0) }
        }
        return result
    }

    private func tokenStats(_ ids: [Int], train: [Int64], val: [Int64]) throws -> TokenStats {
        let totals = zip(train, val).map { $0 + $1 }
        let sum = totals.reduce(0, +)
        // A closure literal, not `>`: Swift 6 mode wraps an operator passed as a value in a
        // closure of its own, which the sort then calls per comparison instead of inlining it.
        let descending = totals.sorted { $0 > $1 }
        // Rank = 1 + number of tokens with a strictly larger count (ties share a rank).
        func rank(_ count: Int64) -> Int64 {
            var lo = 0, hi = descending.count
            while lo < hi { let mid = (lo + hi) / 2; if descending[mid] > count { lo = mid + 1 } else { hi = mid } }
            return Int64(lo + 1)
        }
        let vocab = try vocabularyRows(ids)
        let rows = ids.map { id in
            TokenStat(id: UInt32(id), text: vocab[id]?.text ?? "", special: vocab[id]?.special ?? false,
                      count: totals[id], trainCount: train[id], valCount: val[id],
                      share: sum > 0 ? Double(totals[id]) / Double(sum) : 0, rank: rank(totals[id]))
        }
        return TokenStats(totalTokens: sum, distinctTokens: Int64(totals.filter { $0 > 0 }.count), tokens: rows)
    }

    /// The `n` most frequent tokens (ties by id).
    public func top(_ n: Int = 50) throws -> TokenStats {
        let (train, val) = try tokenTotals()
        let order = (0..<settings.vocabSize).sorted {
            let a = train[$0] + val[$0], b = train[$1] + val[$1]
            return a != b ? a > b : $0 < $1
        }
        return try tokenStats(Array(order.prefix(max(0, n))).filter { train[$0] + val[$0] > 0 }, train: train, val: val)
    }

    /// Count, share and frequency rank of each of `ids`, in the order given.
    public func tokens(_ ids: [UInt32]) throws -> TokenStats {
        if let bad = ids.first(where: { Int($0) >= settings.vocabSize }) {
            throw ShardsError(.invalidArgument, path: db.path,
                              "token id \(bad) is outside the vocabulary (size \(settings.vocabSize))")
        }
        let (train, val) = try tokenTotals()
        return try tokenStats(ids.map(Int.init), train: train, val: val)
    }

    // MARK: sources, shards

    public func sources() throws -> SourceStats {
        var skipsBySource: [Int64: [SkipReasonCount]] = [:]
        for row in try db.rows("SELECT source_id, reason, count, first_line FROM skips ORDER BY source_id, count DESC, reason") {
            skipsBySource[row[0].int64 ?? 0, default: []].append(
                SkipReasonCount(reason: row[1].string ?? "", count: row[2].int64 ?? 0, firstLine: row[3].int64))
        }
        let rows = try db.rows("""
            SELECT id, path, status, error, file_bytes, records, documents, tokens, text_bytes, duplicates, skipped
            FROM sources ORDER BY id
            """).map { r throws -> SourceStat in
            let id = r[0].int64 ?? 0, documents = r[6].int64 ?? 0, tokens = r[7].int64 ?? 0, text = r[8].int64 ?? 0
            guard let status = r[2].string.flatMap(SourceStatus.init) else {
                throw ShardsError(.corrupt, path: db.path, "source \(id) has an unknown status '\(r[2].string ?? "")'")
            }
            return SourceStat(id: id, path: r[1].string ?? "", status: status, error: r[3].string,
                              fileBytes: r[4].int64 ?? 0, records: r[5].int64 ?? 0, documents: documents,
                              tokens: tokens, textBytes: text, bytesPerToken: ratio(text, tokens - documents),
                              duplicates: r[9].int64 ?? 0, skipped: r[10].int64 ?? 0, skips: skipsBySource[id] ?? [])
        }
        return SourceStats(sources: rows)
    }

    public func shards() throws -> ShardStats {
        ShardStats(shards: try db.rows("""
            SELECT path, split, seq, status, tokens, documents, text_bytes, crc32 FROM shards
            ORDER BY split = 'val', seq
            """).map { r throws in
            guard let split = r[1].string.flatMap(Split.init), let status = r[3].string.flatMap(ShardStatus.init) else {
                throw ShardsError(.corrupt, path: db.path, "shard \(r[0].string ?? "") has an unknown split or status")
            }
            return ShardStat(path: r[0].string ?? "", split: split, seq: r[2].int64 ?? 0, status: status,
                      tokens: r[4].int64 ?? 0, documents: r[5].int64 ?? 0, textBytes: r[6].int64 ?? 0,
                      crc32: StatsFormat.hex32(UInt32(truncatingIfNeeded: r[7].int64 ?? 0)))
        })
    }

    // MARK: document lengths

    /// Percentiles (nearest rank) and a log2 histogram of document lengths in tokens (the
    /// end-of-text token excluded), over one split or (nil) both.
    public func documentLengths(split: Split? = nil) throws -> LengthStats {
        var byLength: [Int64: Int64] = [:]
        var perSplit: [String: Int64] = [:]
        let sql = "SELECT split, token_count, documents FROM length_counts" + (split == nil ? "" : " WHERE split = ?")
        for row in try db.prepare(sql).rows(split.map { [.text($0.rawValue)] } ?? []) {
            let n = row[2].int64 ?? 0
            byLength[row[1].int64 ?? 0, default: 0] += n
            perSplit[row[0].string ?? "", default: 0] += n
        }
        var stats = LengthStats.from(lengths: byLength.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                     train: perSplit[Split.train.rawValue] ?? 0, val: perSplit[Split.val.rawValue] ?? 0)
        stats.split = split?.rawValue
        return stats
    }
}

func ratio(_ a: Int64, _ b: Int64) -> Double? { b > 0 ? Double(a) / Double(b) : nil }

// MARK: - Result types (their JSON shape is the stable contract; keys are snake_case)

public struct SplitSummary: Codable, Equatable, Sendable {
    public var split: Split
    public var documents: Int64
    /// Tokens in the split's shards, one end-of-text token per document included.
    public var tokens: Int64
    public var textBytes: Int64
    public var shards: Int64
    /// Text bytes per token, end-of-text tokens excluded.
    public var bytesPerToken: Double?
}

public struct SourceCounts: Codable, Equatable, Sendable {
    public var total: Int64, done: Int64, partial: Int64, error: Int64
}

public struct SkipReasonCount: Codable, Equatable, Sendable {
    public var reason: String
    public var count: Int64
    public var firstLine: Int64?
    public init(reason: String, count: Int64, firstLine: Int64? = nil) {
        self.reason = reason
        self.count = count
        self.firstLine = firstLine
    }
}

public struct StatsSummary: Codable, Equatable, Sendable {
    public var directory: String
    public var tokenizerFingerprint: String
    public var vocabSize: Int
    /// Bytes per token in the shards (2 or 4).
    public var tokenWidth: Int
    public var eotID: UInt32
    public var shardTokens: Int64
    public var valFraction: Double
    /// Always both splits, train first.
    public var splits: [SplitSummary]
    public var documents: Int64
    public var tokens: Int64
    /// Input file bytes as read (compressed size for .gz).
    public var inputBytes: Int64
    public var textBytes: Int64
    public var bytesPerToken: Double?
    public var sources: SourceCounts
    public var shards: Int64
    public var openShards: Int64
    /// Records read from the inputs: documents + duplicates + skipped.
    public var records: Int64
    public var duplicates: Int64
    public var skipped: Int64
    /// Skipped records by reason, most frequent first.
    public var skips: [SkipReasonCount]
}

public struct TokenStat: Codable, Equatable, Sendable {
    public var id: UInt32
    /// Display form of the token's bytes (see `VocabEntry.displayText`).
    public var text: String
    public var special: Bool
    public var count: Int64
    public var trainCount: Int64
    public var valCount: Int64
    /// count / all tokens of both splits.
    public var share: Double
    /// 1 + the number of tokens with a strictly larger count.
    public var rank: Int64
}

public struct TokenStats: Codable, Equatable, Sendable {
    public var totalTokens: Int64
    /// Tokens of the vocabulary that occur at least once.
    public var distinctTokens: Int64
    public var tokens: [TokenStat]
}

public struct SourceStat: Codable, Equatable, Sendable {
    public var id: Int64
    public var path: String
    public var status: SourceStatus
    public var error: String?
    public var fileBytes: Int64
    public var records: Int64
    public var documents: Int64
    public var tokens: Int64
    public var textBytes: Int64
    public var bytesPerToken: Double?
    public var duplicates: Int64
    public var skipped: Int64
    public var skips: [SkipReasonCount]
}

public struct SourceStats: Codable, Equatable, Sendable {
    public var sources: [SourceStat]
}

public struct ShardStat: Codable, Equatable, Sendable {
    public var path: String
    public var split: Split
    public var seq: Int64
    public var status: ShardStatus
    public var tokens: Int64
    public var documents: Int64
    public var textBytes: Int64
    /// CRC-32 of the token bytes as 8 lowercase hex digits.
    public var crc32: String
}

public struct ShardStats: Codable, Equatable, Sendable {
    public var shards: [ShardStat]
}

public struct LengthStats: Codable, Equatable, Sendable {
    public struct Percentile: Codable, Equatable, Sendable {
        public var percent: Double
        public var tokens: Int64
    }
    /// Documents with lengths in [lower, upper].
    public struct Bucket: Codable, Equatable, Sendable {
        public var lower: Int64
        public var upper: Int64
        public var documents: Int64
    }
    /// The split described ("train" or "val"); nil (absent in JSON): both.
    public var split: String?
    public var documents: Int64
    public var trainDocuments: Int64
    public var valDocuments: Int64
    /// Sum of document lengths (end-of-text tokens excluded).
    public var tokens: Int64
    public var mean: Double?
    public var min: Int64?
    public var max: Int64?
    /// Nearest-rank percentiles 1, 5, 10, 25, 50, 75, 90, 95, 99.
    public var percentiles: [Percentile]
    /// Log2 buckets [0,0], [1,1], [2,3], [4,7], … from the shortest to the longest document.
    public var histogram: [Bucket]

    public static let percents: [Double] = [1, 5, 10, 25, 50, 75, 90, 95, 99]

    /// Builds the statistics from (length, documents) pairs sorted by length.
    public static func from(lengths: [(Int64, Int64)], train: Int64, val: Int64) -> LengthStats {
        let documents = lengths.reduce(0) { $0 + $1.1 }
        let tokens = lengths.reduce(0) { $0 + $1.0 * $1.1 }
        var percentiles: [Percentile] = []
        if documents > 0 {
            var cumulative: Int64 = 0
            var i = 0
            for p in percents {
                // Nearest rank: the smallest length whose cumulative count reaches ⌈p/100 · N⌉.
                let target = Swift.max(1, Int64((p / 100 * Double(documents)).rounded(.up)))
                while cumulative + lengths[i].1 < target { cumulative += lengths[i].1; i += 1 }
                percentiles.append(Percentile(percent: p, tokens: lengths[i].0))
            }
        }
        func bucket(_ length: Int64) -> Int { length <= 0 ? 0 : 64 - length.leadingZeroBitCount }
        var histogram: [Bucket] = []
        if let first = lengths.first, let last = lengths.last {
            for b in bucket(first.0)...bucket(last.0) {
                let lower: Int64 = b == 0 ? 0 : 1 << (b - 1)
                let upper: Int64 = b == 0 ? 0 : (b == 64 ? Int64.max : (1 << b) - 1)
                histogram.append(Bucket(lower: lower, upper: upper, documents: 0))
            }
            let base = bucket(first.0)
            for (length, n) in lengths { histogram[bucket(length) - base].documents += n }
        }
        return LengthStats(split: nil, documents: documents, trainDocuments: train, valDocuments: val, tokens: tokens,
                           mean: documents > 0 ? Double(tokens) / Double(documents) : nil,
                           min: lengths.first?.0, max: lengths.last?.0, percentiles: percentiles, histogram: histogram)
    }
}
