import ArgumentParser
import BPE

/// `--tokenizer` and what a tiktoken rank file needs besides (pattern, special tokens).
struct TokenizerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Tokenizer: a directory with tokenizer.json, a tokenizer.json, or a .tiktoken rank file.", valueName: "DIR|FILE"))
    var tokenizer: String

    @Option(name: .long, help: "Pre-tokenization rule for a .tiktoken file: gpt2, cl100k, o200k or llama3.")
    var pattern: PreTokenizerPattern?

    @Option(name: .long, help: "Well-known encoding for a .tiktoken file: sets pattern and special tokens (gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, llama3).")
    var preset: TokenizerPreset?

    @Option(name: .customLong("special"), parsing: .upToNextOption, help: ArgumentHelp("Special tokens of a .tiktoken file, as NAME=ID.", valueName: "NAME=ID"))
    var specials: [String] = []

    func validate() throws {
        for s in specials where parseSpecial(s) == nil {
            throw ValidationError("--special \(s): expected NAME=ID, e.g. '<|endoftext|>=100257'")
        }
    }

    func parseSpecial(_ s: String) -> SpecialToken? {
        guard let eq = s.lastIndex(of: "="), let id = UInt32(s[s.index(after: eq)...]), eq != s.startIndex else { return nil }
        return SpecialToken(String(s[..<eq]), id: id)
    }

    func load() throws -> Tokenizer {
        var pattern = self.pattern
        var specials = self.specials.compactMap(parseSpecial)
        if let preset {
            pattern = pattern ?? preset.pattern
            if specials.isEmpty { specials = preset.specials }
        }
        return try Tokenizer.load(tokenizer, pattern: pattern, specials: specials)
    }
}

extension PreTokenizerPattern: ExpressibleByArgument {}
extension TokenizerPreset: ExpressibleByArgument {}
