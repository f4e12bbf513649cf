import BPE
import Foundation
import TestSupport
import Testing

/// The names users type: special tokens as NAME=ID, pre-tokenizers with their aliases, presets;
/// parsed and decoded the same way everywhere.
@Suite struct NamesTests {
    @Test func specialTokensParseAtTheLastEquals() {
        #expect(SpecialToken(parsing: "<|endoftext|>=100257") == SpecialToken("<|endoftext|>", id: 100257))
        #expect(SpecialToken(parsing: "a=b=7") == SpecialToken("a=b", id: 7))
        #expect(SpecialToken(parsing: "==0") == SpecialToken("=", id: 0))
        #expect(SpecialToken(parsing: "x=4294967295") == SpecialToken("x", id: UInt32.max))
        for bad in ["", "=", "=5", "name", "name=", "name=x", "name=-1", "name=4294967296", "name=5 "] {
            #expect(SpecialToken(parsing: bad) == nil, "\(bad.debugDescription)")
        }
        #expect(SpecialToken("a=b", id: 7).description == "a=b=7")
    }

    @Test func specialTokensCodeAsTheStringUsersWrite() throws {
        let tokens = [SpecialToken("<|endoftext|>", id: 50256), SpecialToken("a=b", id: 7)]
        let data = try JSONEncoder().encode(tokens)
        #expect(String(decoding: data, as: UTF8.self) == #"["<|endoftext|>=50256","a=b=7"]"#)
        #expect(try JSONDecoder().decode([SpecialToken].self, from: data) == tokens)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([SpecialToken].self, from: Data(#"["=5"]"#.utf8)) }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([SpecialToken].self, from: Data(#"[{"text": "x", "id": 5}]"#.utf8))
        }
    }

    @Test func patternsByNameAndAlias() throws {
        #expect(PreTokenizerPattern.named("gpt4") == .cl100k)
        for p in PreTokenizerPattern.allCases { #expect(PreTokenizerPattern.named(p.rawValue) == p) }
        #expect(PreTokenizerPattern.named("GPT2") == nil && PreTokenizerPattern.named("") == nil)
        // The list users see holds every name that resolves, and only those.
        #expect(PreTokenizerPattern.names == ["gpt2", "gpt4", "cl100k", "o200k", "llama3"])
        #expect(Set(PreTokenizerPattern.names) == Set(PreTokenizerPattern.allCases.map(\.rawValue)).union(PreTokenizerPattern.aliases.keys))
    }

    @Test func patternsCodeByName() throws {
        let decoded = try JSONDecoder().decode([PreTokenizerPattern].self, from: Data(#"["gpt2", "gpt4", "cl100k", "o200k", "llama3"]"#.utf8))
        #expect(decoded == [.gpt2, .cl100k, .cl100k, .o200k, .llama3])
        // Encoding writes the pattern's own name, never an alias.
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == #"["gpt2","cl100k","cl100k","o200k","llama3"]"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([PreTokenizerPattern].self, from: Data(#"["gpt5"]"#.utf8)) }
        // A trainer config read from a settings file takes the alias too.
        let config = try JSONDecoder().decode(BPETrainerConfig.self, from: Data(
            #"{"vocabSize": 300, "minFrequency": 2, "specialTokens": [], "pattern": "gpt4"}"#.utf8))
        #expect(config == BPETrainerConfig(vocabSize: 300, minFrequency: 2, specialTokens: [], pattern: .cl100k))
    }

    @Test func presetsCodeByName() throws {
        let data = try JSONEncoder().encode(TokenizerPreset.allCases)
        #expect(String(decoding: data, as: UTF8.self) == #"["gpt2","r50k_base","p50k_base","cl100k_base","o200k_base","llama3"]"#)
        #expect(try JSONDecoder().decode([TokenizerPreset].self, from: data) == TokenizerPreset.allCases)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([TokenizerPreset].self, from: Data(#"["cl100k"]"#.utf8)) }
    }

    @Test func aPresetFillsInWhatIsNotGiven() {
        let mine = [SpecialToken("<|mine|>", id: 9)]
        #expect(TokenizerPreset.resolve(nil, pattern: nil, specials: []) == (nil, []))
        #expect(TokenizerPreset.resolve(nil, pattern: .o200k, specials: mine) == (.o200k, mine))
        let cl100k = TokenizerPreset.resolve(.cl100k_base, pattern: nil, specials: [])
        #expect(cl100k.pattern == .cl100k && cl100k.specials == TokenizerPreset.cl100k_base.specials)
        let given = TokenizerPreset.resolve(.cl100k_base, pattern: .gpt2, specials: mine)
        #expect(given.pattern == .gpt2 && given.specials == mine)
    }

    /// A rank file loaded with a preset has the preset's pattern and special tokens; given ones win.
    @Test func loadingARankFileWithAPreset() throws {
        let dir = try TempDir()
        // sharedModel's ranks, with its special token (id 0) left out: the preset's go past them.
        var ranks = sharedModel
        ranks.tokens[0] = []
        ranks.specials = []
        let file = try dir.write("v.tiktoken", ranks.tiktokenFile())
        let preset = try Tokenizer.load(file, preset: .gpt2)
        #expect(preset.pattern == .gpt2 && preset.specials == [SpecialToken("<|endoftext|>", id: 50256)])
        let given = try Tokenizer.load(file, pattern: .cl100k, preset: .gpt2, specials: [SpecialToken("<|x|>", id: 0)])
        #expect(given.pattern == .cl100k && given.specials == [SpecialToken("<|x|>", id: 0)])
    }
}
