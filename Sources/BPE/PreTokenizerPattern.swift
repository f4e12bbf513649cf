import Common

/// The pre-tokenization regexes we reproduce.
///
/// Users name a pattern by its raw value or an alias (`gpt4` is GPT-4's cl100k); `named(_:)`
/// reads both, `names` lists them, and the `Codable` form is the name (aliases accepted when
/// decoding, the pattern's own name written when encoding).
public enum PreTokenizerPattern: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, split exactly as
    /// Hugging Face tokenizers' `ByteLevel(use_regex=True)` does (and tiktoken's r50k_base).
    case gpt2
    /// GPT-4's cl100k_base (tiktoken): case-insensitive contractions, numbers in threes, newlines apart.
    case cl100k
    /// GPT-4o's o200k_base (tiktoken): like cl100k, but words split at lower→upper case changes and
    /// keep a trailing contraction.
    case o200k
    /// Llama 3 (tiktoken pattern from meta-llama/llama3): cl100k without possessive quantifiers and
    /// without the `\s++$` branch.
    case llama3
}

extension PreTokenizerPattern {
    /// Other names for a pattern: the model it came with.
    public static let aliases: [String: PreTokenizerPattern] = ["gpt4": .cl100k]

    /// Every name users may type (each pattern's own name and the aliases), in the order help
    /// texts list them.
    public static let names = ["gpt2", "gpt4", "cl100k", "o200k", "llama3"]

    /// The pattern `name` means (a pattern's own name or an alias), or nil.
    ///
    ///     PreTokenizerPattern.named("gpt4") == .cl100k
    ///     PreTokenizerPattern.named("cl100k") == .cl100k
    public static func named(_ name: String) -> PreTokenizerPattern? {
        PreTokenizerPattern(rawValue: name) ?? aliases[name]
    }
}

extension PreTokenizerPattern: Codable {
    /// Decodes a name, aliases included. (Encoding, which `RawRepresentable` provides, writes
    /// the pattern's own name.)
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let pattern = PreTokenizerPattern.named(name) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "must be one of " + PreTokenizerPattern.names.map { "\"\($0)\"" }.joined(separator: ", ")
                    + ", not \(name.debugDescription)" + didYouMean(name, PreTokenizerPattern.names))
        }
        self = pattern
    }
}
