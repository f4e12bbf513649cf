import Common

/// The pre-tokenization pattern and special tokens of well-known tiktoken encodings, so a
/// rank file can be used as its model family uses it (`--preset cl100k_base`).
public enum TokenizerPreset: String, SettingsChoice {
    case gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, llama3

    public var pattern: PreTokenizerPattern {
        switch self {
        case .gpt2, .r50k_base, .p50k_base: return .gpt2
        case .cl100k_base: return .cl100k
        case .o200k_base: return .o200k
        case .llama3: return .llama3
        }
    }

    public var specials: [SpecialToken] {
        switch self {
        case .gpt2, .r50k_base, .p50k_base:
            return [SpecialToken("<|endoftext|>", id: 50256)]
        case .cl100k_base:
            return [SpecialToken("<|endoftext|>", id: 100257), SpecialToken("<|fim_prefix|>", id: 100258),
                    SpecialToken("<|fim_middle|>", id: 100259), SpecialToken("<|fim_suffix|>", id: 100260),
                    SpecialToken("<|endofprompt|>", id: 100276)]
        case .o200k_base:
            return [SpecialToken("<|endoftext|>", id: 199999), SpecialToken("<|endofprompt|>", id: 200018)]
        case .llama3:
            // Meta's Llama 3 tokenizer: 128,000 ranks, then 256 special tokens.
            let named = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                         "<|reserved_special_token_1|>", "<|reserved_special_token_2|>",
                         "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
                         "<|reserved_special_token_4|>", "<|eot_id|>"]
            var out = named.enumerated().map { SpecialToken($0.element, id: UInt32(128_000 + $0.offset)) }
            for i in 5..<(5 + 256 - named.count) {
                out.append(SpecialToken("<|reserved_special_token_\(i)|>", id: UInt32(128_000 + named.count + i - 5)))
            }
            return out
        }
    }
}

extension TokenizerPreset {
    /// The pattern and special tokens to read a rank file with: those given, and the preset's
    /// for what is not given (no pattern, no special tokens). Without a preset, those given.
    ///
    ///     TokenizerPreset.resolve(.cl100k_base, pattern: nil, specials: []).pattern == .cl100k
    public static func resolve(_ preset: TokenizerPreset?, pattern: PreTokenizerPattern?,
                               specials: [SpecialToken]) -> (pattern: PreTokenizerPattern?, specials: [SpecialToken]) {
        guard let preset else { return (pattern, specials) }
        return (pattern ?? preset.pattern, specials.isEmpty ? preset.specials : specials)
    }
}
