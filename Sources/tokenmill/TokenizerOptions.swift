import ArgumentParser
import BPE

/// `--tokenizer` and what a tiktoken rank file needs besides (pattern, special tokens).
struct TokenizerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Tokenizer: a directory with tokenizer.json, a tokenizer.json, or a .tiktoken rank file.", valueName: "DIR|FILE"))
    var tokenizer: String?

    @Option(name: .long, help: "Pre-tokenization rule for a .tiktoken file: gpt2, cl100k, o200k or llama3.")
    var pattern: PreTokenizerPattern?

    @Option(name: .long, help: "Well-known encoding for a .tiktoken file: sets pattern and special tokens (gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, llama3).")
    var preset: TokenizerPreset?

    @Option(name: .customLong("special"), parsing: .upToNextOption, help: ArgumentHelp("Special tokens of a .tiktoken file, as NAME=ID.", valueName: "NAME=ID"))
    var specials: [String] = []

    func validate() throws {
        for s in specials where SpecialToken(parsing: s) == nil {
            throw ValidationError("--special \(s): expected NAME=ID, e.g. '<|endoftext|>=100257'")
        }
    }

    /// The --tokenizer path, for messages.
    var path: String { tokenizer ?? "" }

    func load() throws -> Tokenizer {
        guard let tokenizer else { throw ValidationError("missing --tokenizer DIR|FILE") }
        return try Tokenizer.load(tokenizer, pattern: pattern, preset: preset, specials: specials.compactMap(SpecialToken.init(parsing:)))
    }
}

extension PreTokenizerPattern: ExpressibleByArgument {}
extension TokenizerPreset: ExpressibleByArgument {}

/// A pre-tokenizer as `learn --pre-tokenizer` takes it: any name in `PreTokenizerPattern.names`
/// (aliases included, unlike `--pattern`, which takes the patterns' own names).
struct PreTokenizerName: ExpressibleByArgument {
    var pattern: PreTokenizerPattern
    var name: String

    init(_ pattern: PreTokenizerPattern) {
        self.pattern = pattern
        name = pattern.rawValue
    }

    init?(argument: String) {
        guard let pattern = PreTokenizerPattern.named(argument) else { return nil }
        self.pattern = pattern
        name = argument
    }

    static var allValueStrings: [String] { PreTokenizerPattern.names }
    var defaultValueDescription: String { name }
}
