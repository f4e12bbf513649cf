import Corpus

/// A corpus split.
public enum Split: String, Codable, Sendable, CaseIterable, Comparable {
    case train
    case val

    public static func < (a: Split, b: Split) -> Bool { a == .train && b == .val }

    /// The split of a document: `val` when its content hash, read as a number in [0, 1),
    /// falls below `valFraction`. It depends on the content alone, not on order or threads.
    ///
    ///     Split.of(hash: ContentHash(hi: 1, lo: 0x0100_0000_0000_0000), valFraction: 0.005)  // .train
    public static func of(hash: ContentHash, valFraction: Double) -> Split {
        guard valFraction > 0 else { return .train }
        // Top 53 bits of a mix of both halves → [0, 1) exactly representable as a Double.
        var z = hash.hi ^ (hash.lo &* 0x9E37_79B9_7F4A_7C15)
        z = (z ^ (z >> 31)) &* 0xBF58_476D_1CE4_E5B9
        z ^= z >> 29
        let unit = Double(z >> 11) * 0x1p-53
        return unit < valFraction ? .val : .train
    }
}

/// One value per split, stored inline (no dictionary in hot paths).
struct PerSplit<Value> {
    var train: Value
    var val: Value

    init(_ make: (Split) -> Value) {
        train = make(.train)
        val = make(.val)
    }

    subscript(split: Split) -> Value {
        get { split == .train ? train : val }
        _modify {
            if split == .train { yield &train } else { yield &val }
        }
    }
}

/// The settings that fix a corpus's bytes. Recorded in `meta`; a run whose settings differ
/// from an existing index's is refused.
public struct CorpusSettings: Codable, Equatable, Sendable {
    public var tokenizerFingerprint: String
    public var vocabSize: Int
    /// The end-of-text token that precedes every document.
    public var eotID: UInt32
    public var tokenWidth: TokenWidth
    /// Target tokens per shard (a shard closes before a document that would overflow it).
    public var shardTokens: Int64
    public var valFraction: Double
    /// Fingerprint of the ingest options (normalisation, filters, dedup) that produced the documents.
    public var ingestFingerprint: String

    /// `tokenWidth` defaults to uint16 when the vocabulary fits, else uint32.
    public init(tokenizerFingerprint: String, vocabSize: Int, eotID: UInt32, tokenWidth: TokenWidth? = nil,
                shardTokens: Int64 = ShardSettings().shardTokens, valFraction: Double = ShardSettings().valFraction,
                ingestFingerprint: String = "") {
        self.tokenizerFingerprint = tokenizerFingerprint
        self.vocabSize = vocabSize
        self.eotID = eotID
        self.tokenWidth = tokenWidth ?? TokenWidth.forVocabulary(size: vocabSize)
        self.shardTokens = shardTokens
        self.valFraction = valFraction
        self.ingestFingerprint = ingestFingerprint
    }

    public func validate() throws {
        func bad(_ m: String) -> ShardsError { ShardsError(.invalidArgument, path: "", m) }
        guard vocabSize > 0, vocabSize <= Int(Int32.max) else { throw bad("vocabulary size \(vocabSize) out of range") }
        guard Int(eotID) < vocabSize else { throw bad("end-of-text id \(eotID) is outside the vocabulary of \(vocabSize)") }
        guard vocabSize - 1 <= Int(tokenWidth.maxTokenID) else {
            throw bad("a vocabulary of \(vocabSize) tokens does not fit \(tokenWidth.bytes)-byte tokens")
        }
        guard shardTokens >= 1, shardTokens <= ShardHeader.maxTokens else {
            throw bad("shard tokens \(shardTokens) must be between 1 and \(ShardHeader.maxTokens)")
        }
        guard valFraction >= 0, valFraction <= 1 else { throw bad("val fraction \(valFraction) must be between 0 and 1") }
    }

    /// (meta key, value) pairs, in the order they are stored.
    var metaEntries: [(String, SQLValue)] {
        [("format_version", .int(IndexSchema.formatVersion)),
         ("tokenizer_fingerprint", .text(tokenizerFingerprint)),
         ("vocab_size", .int(Int64(vocabSize))),
         ("eot_id", .int(Int64(eotID))),
         ("token_width", .int(Int64(tokenWidth.bytes))),
         ("shard_tokens", .int(shardTokens)),
         ("val_fraction", .double(valFraction)),
         ("ingest_fingerprint", .text(ingestFingerprint)),
         ("split_rule", .text("content-hash-v1"))]
    }

    /// Reads the settings recorded in an index.
    static func read(from db: Database) throws -> CorpusSettings {
        var meta: [String: SQLValue] = [:]
        for row in try db.rows("SELECT key, value FROM meta") {
            if let key = row[0].string { meta[key] = row[1] }
        }
        func need(_ key: String) throws -> SQLValue {
            guard let v = meta[key] else { throw ShardsError(.corrupt, path: db.path, "meta has no '\(key)'") }
            return v
        }
        guard let version = try need("format_version").int64 else {
            throw ShardsError(.corrupt, path: db.path, "meta format_version is not a number")
        }
        guard version == IndexSchema.formatVersion else {
            throw ShardsError(.mismatch, path: db.path,
                              "index format version \(version) is not supported (this TokenMill reads \(IndexSchema.formatVersion))")
        }
        func int(_ key: String) throws -> Int64 {
            guard let v = try need(key).int64 else { throw ShardsError(.corrupt, path: db.path, "meta \(key) is not a number") }
            return v
        }
        guard let width = TokenWidth(rawValue: Int(try int("token_width"))) else {
            throw ShardsError(.corrupt, path: db.path, "meta token_width must be 2 or 4")
        }
        return CorpusSettings(
            tokenizerFingerprint: try need("tokenizer_fingerprint").string ?? "",
            vocabSize: Int(try int("vocab_size")),
            eotID: UInt32(truncatingIfNeeded: try int("eot_id")),
            tokenWidth: width,
            shardTokens: try int("shard_tokens"),
            valFraction: try need("val_fraction").double ?? 0,
            ingestFingerprint: try need("ingest_fingerprint").string ?? "")
    }

    /// The first field where `other` (this run) differs from `self` (the index), described.
    func difference(from other: CorpusSettings) -> String? {
        let pairs: [(String, String, String)] = [
            ("tokenizer fingerprint", tokenizerFingerprint, other.tokenizerFingerprint),
            ("vocabulary size", "\(vocabSize)", "\(other.vocabSize)"),
            ("end-of-text id", "\(eotID)", "\(other.eotID)"),
            ("token width", "\(tokenWidth.bytes) bytes", "\(other.tokenWidth.bytes) bytes"),
            ("shard tokens", "\(shardTokens)", "\(other.shardTokens)"),
            ("val fraction", "\(valFraction)", "\(other.valFraction)"),
            ("ingest options fingerprint", ingestFingerprint, other.ingestFingerprint),
        ]
        for (name, mine, theirs) in pairs where mine != theirs {
            return "\(name) differs: the index has \(mine), this run has \(theirs)"
        }
        return nil
    }
}

/// One vocabulary entry, stored in the index so `stats` can show tokens without the tokenizer.
public struct VocabEntry: Equatable, Sendable {
    public var id: UInt32
    public var bytes: [UInt8]
    public var special: Bool
    public init(id: UInt32, bytes: [UInt8], special: Bool = false) {
        self.id = id
        self.bytes = bytes
        self.special = special
    }

    /// A readable form of token bytes: valid UTF-8 as is, except `\n`, `\t`, `\r`, `\\` and other
    /// control characters escaped; bytes that are not valid UTF-8 as `\xNN`.
    ///
    ///     VocabEntry.displayText([0x20, 0x68, 0x69])  // " hi"
    ///     VocabEntry.displayText([0x0A, 0xE2, 0x82])  // "\\n\\xE2\\x82"
    public static func displayText(_ bytes: [UInt8]) -> String {
        // Most tokens need no escape: valid UTF-8 without control characters or backslashes
        // is its own display form.
        if !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0x5C }), let s = String(validating: bytes, as: UTF8.self) {
            return s
        }
        return escapedDisplayText(bytes)
    }

    /// `displayText` character by character (what the shortcut must agree with).
    package static func escapedDisplayText(_ bytes: [UInt8]) -> String {
        var out = ""
        var i = 0
        func hex(_ b: UInt8) -> String {
            let digits = Array("0123456789ABCDEF")
            return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
        }
        while i < bytes.count {
            let b = bytes[i]
            let length = b < 0x80 ? 1 : b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0
            if length == 1 {
                switch b {
                case 0x0A: out += "\\n"
                case 0x09: out += "\\t"
                case 0x0D: out += "\\r"
                case 0x5C: out += "\\\\"
                case 0..<0x20, 0x7F: out += hex(b)
                default: out.unicodeScalars.append(Unicode.Scalar(b))
                }
                i += 1
                continue
            }
            if length > 1, i + length <= bytes.count,
               let s = String(validating: bytes[i..<i + length], as: UTF8.self), s.unicodeScalars.count == 1 {
                out += s
                i += length
            } else {
                out += hex(b)
                i += 1
            }
        }
        return out
    }
}

/// Where a shard stands in the index: being written (under its temporary name), or closed
/// (full, or the job ended) under its final name.
public enum ShardStatus: String, Codable, Sendable {
    case open
    case closed
}

/// Where a source stands in the index.
public enum SourceStatus: String, Codable, Sendable {
    /// Some (maybe no) records have been committed; resume from `records`.
    case partial
    case done
    /// The file stopped with an error (message in `SourceState.error`).
    case error
}

/// A source's row in the index.
public struct SourceState: Equatable, Sendable, Codable {
    public var id: Int64
    public var path: String
    public var fileBytes: Int64
    public var status: SourceStatus
    public var error: String?
    /// Records consumed (kept, duplicate and skipped): a resumed run re-reads from here.
    public var records: Int64
    public var documents: Int64
    public var tokens: Int64
    public var textBytes: Int64
    public var duplicates: Int64
    public var skipped: Int64
}

/// How far the current source has been read, as of the documents appended so far. The values
/// are totals for the source, not increments.
public struct SourceProgress: Equatable, Sendable {
    /// Records consumed, kept or not: a resumed run skips this many records.
    public var records: Int64
    /// Records skipped, per reason (duplicates included).
    public var skips: SkipTally
    public init(records: Int64, skips: SkipTally = SkipTally()) {
        self.records = records
        self.skips = skips
    }
}

/// Where a document was written. Its end-of-text token is at `tokenOffset` of the split's
/// shard `shardSeq`, followed by its `tokenCount` tokens; a document longer than the rest of the
/// shard continues at offset 0 of the split's next shard (`seq + 1`).
public struct DocumentLocation: Equatable, Sendable, Codable {
    public var id: Int64
    public var split: Split
    public var shardSeq: Int64
    public var tokenOffset: Int64
    public var tokenCount: Int64
}
