/// Two token ids side by side, the unit of a BPE merge.
public struct TokenPair: Hashable, Sendable, Codable {
    public var left: UInt32
    public var right: UInt32
    public init(_ left: UInt32, _ right: UInt32) {
        self.left = left
        self.right = right
    }
    @inlinable var key: UInt64 { UInt64(left) << 32 | UInt64(right) }
}

/// A byte-level BPE vocabulary as data: what a trainer produces and a file holds.
///
/// Two merge rules exist in the wild:
/// - **merge list** (Hugging Face, GPT-2's `vocab.bpe`): only the listed pairs merge, the
///   earlier in the list the sooner;
/// - **ranks** (tiktoken): any two adjacent parts whose joined bytes are a token merge, the
///   token with the lowest id (its rank) first.
/// For a vocabulary learned by BPE both give the same ids; `merges == nil` selects ranks.
public struct BPEModel: Sendable {
    /// id → bytes. Special tokens hold their UTF-8 text; ids nobody uses hold `[]`.
    public var tokens: [[UInt8]]
    public var specials: [SpecialToken]
    /// The merge list in priority order, or nil for the tiktoken rank rule.
    public var merges: [TokenPair]?
    public var pattern: PreTokenizerPattern
    /// HF's `ignore_merges`: a word that is itself a token is emitted whole, before any merging.
    public var ignoreMerges: Bool

    public init(tokens: [[UInt8]], specials: [SpecialToken], merges: [TokenPair]?,
                pattern: PreTokenizerPattern, ignoreMerges: Bool = false) {
        self.tokens = tokens
        self.specials = specials
        self.merges = merges
        self.pattern = pattern
        self.ignoreMerges = ignoreMerges
    }

    /// The model a trainer produces: specials first (ids 0…), then the bytes, then the merges.
    init(tokens: [[UInt8]], specialCount: Int, merges: [(UInt32, UInt32)], pattern: PreTokenizerPattern) {
        self.tokens = tokens
        self.specials = (0..<specialCount).map {
            SpecialToken(String(decoding: tokens[$0], as: UTF8.self), id: UInt32($0))
        }
        self.merges = merges.map { TokenPair($0.0, $0.1) }
        self.pattern = pattern
        self.ignoreMerges = false
    }

    /// Number of ids (one more than the largest id).
    public var vocabSize: Int { tokens.count }

    /// Whether `id` is a special token.
    public func isSpecial(_ id: UInt32) -> Bool { specials.contains { $0.id == id } }
}
