import Shards
import Corpus
import Common
import BPE
import Foundation
import GPT
import Pipeline
import TestSupport
import Testing

/// Pipeline files: the spec a valid file gives, and errors that name the line.
@Suite struct PipelineFileTests {
    /// Writes `text` as a pipeline file; data paths point at the repository's sample corpus.
    func load(_ text: String) throws -> PipelineSpec {
        let dir = try TempDir()
        let path = try dir.write("p.toml", text)
        return try FileManager.default.withCurrentDirectory(Run.repoRoot) { try PipelineSpec.load(path) }
    }

    func expectError(_ text: String, line: Int, contains fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try TempDir()
        let path = try dir.write("p.toml", text)
        do {
            _ = try FileManager.default.withCurrentDirectory(Run.repoRoot) { try PipelineSpec.load(path) }
            Issue.record("expected an error containing \(fragment)", sourceLocation: sourceLocation)
        } catch let e as PipelineError {
            #expect(e.line == line, "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.hasPrefix("\(path):\(line): "), sourceLocation: sourceLocation)
            #expect(e.message.contains(fragment), "\(e)", sourceLocation: sourceLocation)
        }
    }

    static let valid = """
    name = "t"
    run_dir = "out/t"

    [inputs]
    paths = ["data/*.gz"]
    boundary = "blank"

    [tokenizer]
    vocab_size = 1000
    max_bytes = "1M"

    [train]
    layers = 2
    heads = 2
    channels = 64
    steps = 10
    """

    @Test func validFileGivesTheSpec() throws {
        let spec = try load(Self.valid)
        #expect(spec.name == "t")
        #expect(spec.runDir == "out/t")
        #expect(spec.ingest.boundary == .blank)
        #expect(spec.train?.steps == 10)
        #expect(spec.train?.contextLength == 128)        // default
        guard case let .learn(vocabulary) = spec.tokenizer else {
            Issue.record("expected learn")
            return
        }
        #expect(vocabulary.vocabSize == 1000)
        #expect(vocabulary.maxBytes == 1_000_000)
        #expect(vocabulary.preTokenizer == .gpt2 && vocabulary.specialTokens == ["<|endoftext|>"])
    }

    /// The tokenizer table: a pre-tokenizer by its name or alias; a file with a preset and
    /// special tokens as NAME=ID; each mistake named by its line.
    @Test func tokenizerTable() throws {
        let gpt4 = try load(Self.valid.replacingOccurrences(of: "max_bytes = \"1M\"", with: "pre_tokenizer = \"gpt4\"\nspecial = [\"<s>\", \"</s>\"]"))
        guard case let .learn(v) = gpt4.tokenizer else { Issue.record("expected learn"); return }
        #expect(v.preTokenizer == .cl100k && v.specialTokens == ["<s>", "</s>"])
        try expectError(Self.valid.replacingOccurrences(of: "max_bytes = \"1M\"", with: "pre_tokenizer = \"gtp2\""), line: 10,
                        contains: "tokenizer.pre_tokenizer must be one of \"gpt2\", \"gpt4\", \"cl100k\", \"o200k\", \"llama3\", not \"gtp2\"; did you mean 'gpt2'?")
        try expectError(Self.valid.replacingOccurrences(of: "max_bytes = \"1M\"", with: "max_bytes = \"lots\""), line: 10,
                        contains: "tokenizer.max_bytes must be a size")
        try expectError(Self.valid.replacingOccurrences(of: "vocab_size = 1000", with: "vocab_size = 100"), line: 9,
                        contains: "tokenizer.vocab_size must be at least 257")
        let dir = try TempDir()
        let ranks = try dir.write("r.tiktoken", "IQ== 0\nIg== 1\n")
        let file = try load(Self.valid.replacingOccurrences(of: "vocab_size = 1000\nmax_bytes = \"1M\"", with: """
            path = "\(ranks)"
            preset = "cl100k_base"
            special_ids = ["<|endoftext|>=2"]
            """))
        guard case let .load(f) = file.tokenizer else { Issue.record("expected load"); return }
        #expect(f.path == ranks && f.preset == .cl100k_base && f.specialIds == [SpecialToken("<|endoftext|>", id: 2)])
        try expectError(Self.valid.replacingOccurrences(of: "vocab_size = 1000\nmax_bytes = \"1M\"", with: """
            path = "\(ranks)"
            special_ids = ["<|endoftext|>"]
            """), line: 10, contains: "tokenizer.special_ids must be NAME=ID")
        try expectError(Self.valid.replacingOccurrences(of: "vocab_size = 1000\nmax_bytes = \"1M\"", with: """
            path = "\(ranks)"
            preset = "cl100k"
            """), line: 10, contains: "tokenizer.preset must be one of")
    }

    @Test func unknownKeyWithDidYouMean() throws {
        try expectError(Self.valid + "\nstpes = 3\n", line: 17, contains: "unknown key 'stpes' in [train]; did you mean 'steps'?")
        try expectError(Self.valid.replacingOccurrences(of: "[train]", with: "[trian]"), line: 12, contains: "unknown table [trian]; did you mean 'train'?")
    }

    @Test func wrongTypeNamesTheLine() throws {
        try expectError(Self.valid.replacingOccurrences(of: "steps = 10", with: "steps = \"10\""), line: 16,
                        contains: "train.steps must be a whole number, not \"10\"")
        try expectError(Self.valid.replacingOccurrences(of: "boundary = \"blank\"", with: "boundary = \"para\""), line: 6,
                        contains: "inputs.boundary must be one of \"file\", \"blank\" or \"line\", not \"para\"")
        try expectError(Self.valid.replacingOccurrences(of: "boundary = \"blank\"", with: "normalize = [\"nfd\"]"), line: 6,
                        contains: "inputs.normalize must be one of \"line-endings\", \"nfc\" or \"whitespace\", not \"nfd\"; did you mean 'nfc'?")
    }

    @Test func missingFilesNameTheLine() throws {
        try expectError(Self.valid.replacingOccurrences(of: "data/*.gz", with: "data/nothing*.gz"), line: 5, contains: "data/nothing*.gz")
        try expectError(Self.valid.replacingOccurrences(of: "vocab_size = 1000", with: "path = \"nope/tokenizer.json\""), line: 9,
                        contains: "nope/tokenizer.json: no such file")
        try expectError(Self.valid.replacingOccurrences(of: "vocab_size = 1000", with: "path = \"data/sun.jsonl.gz\""), line: 10,
                        contains: "[tokenizer] has both path (to load a tokenizer) and max_bytes (to learn one): choose one")
    }

    @Test func syntaxErrorNamesTheLine() throws {
        try expectError(Self.valid + "\nbroken = \n", line: 17, contains: "TOML syntax")
    }

    @Test func crossFieldChecks() throws {
        try expectError(Self.valid.replacingOccurrences(of: "channels = 64", with: "channels = 65"), line: 15,
                        contains: "train.channels must be a multiple of heads (2), not 65")
    }

    /// The optimiser keys reach the trainer's settings, by their names or their short aliases;
    /// out-of-range values name their line.
    @Test func optimiserKeysReachTheTrainer() throws {
        let spec = try load(Self.valid + "\nlr_min = 0.1\nbeta1 = 0.8\nbeta2 = 0.999\nepsilon = 1e-6\nthreads = 3\n")
        let s = try #require(spec.train)
        #expect(s.minLearningRateFraction == 0.1 && s.beta1 == 0.8 && s.beta2 == 0.999 && s.epsilon == 1e-6)
        #expect(s.layers == 2 && s.channels == 64 && s.steps == 10 && s.threads == 3)
        // The defaults are `TrainingSettings`' own, the CLI's.
        var expected = TrainingSettings()
        (expected.layers, expected.heads, expected.channels, expected.steps) = (2, 2, 64, 10)
        #expect(try load(Self.valid).train == expected)
        try expectError(Self.valid + "\nlr_min = 1.5\n", line: 17, contains: "train.lr_min must be in 0…1")
        try expectError(Self.valid + "\nbeta2 = 1\n", line: 17, contains: "train.beta2 must be in [0, 1)")
        try expectError(Self.valid + "\neps = 0\n", line: 17, contains: "train.eps must be more than 0")
        try expectError(Self.valid + "\nlearning_rate = -1\n", line: 17, contains: "train.learning_rate must be 0 or more")
    }

    /// Every table decodes into its settings group: a key of any group, set in the file, reaches it.
    @Test func everyTableDecodesIntoItsGroup() throws {
        let spec = try load(Self.valid.replacingOccurrences(of: "[tokenizer]", with: """
            text_field = "body"
            normalize = ["nfc", "whitespace"]
            min_length = 5
            dedup = false

            [shard]
            shard_tokens = "10M"
            val_fraction = 0.02
            dedup_memory = 64

            [evaluate]
            prompts = ["a"]
            top_k = 3

            [tokenizer]
            """))
        #expect(spec.ingest.textField == "body" && spec.ingest.normalize == [.nfc, .whitespace] && spec.ingest.minLength == 5
                && !spec.ingest.dedup)
        #expect(spec.shard.shardTokens == 10_000_000 && spec.shard.valFraction == 0.02 && spec.shard.dedupMemory == 64)
        #expect(spec.evaluate.prompts == ["a"] && spec.evaluate.topK == 3 && spec.evaluate.maxTokens == EvaluateSettings().maxTokens)
    }

    /// docs/pipelines.md lists every key of every table: the settings groups are the one
    /// definition, and the reference keeps up with them.
    @Test func theReferenceListsEveryKey() throws {
        let text = try String(contentsOfFile: Run.repoRoot + "/docs/pipelines.md", encoding: .utf8)
        func keys<T: SettingsGroup>(_ type: T.Type) -> [String] { SettingsCoding.settableNames(type).map(SettingsCoding.externalName) }
        let all = keys(RunSettings.self) + keys(IngestOptions.self) + keys(VocabularySettings.self) + keys(TokenizerFileSettings.self)
            + keys(ShardSettings.self) + keys(TrainingSettings.self) + keys(EvaluateSettings.self) + keys(ReportSettings.self)
        for key in all {
            #expect(text.contains("\n\(key) = ") || text.contains("\n# \(key) = "), "docs/pipelines.md lacks \(key)")
        }
    }

    @Test func shippedPipelinesLoad() throws {
        let dir = Run.repoRoot + "/pipelines"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".toml") }) ?? []
        for f in files {
            _ = try FileManager.default.withCurrentDirectory(Run.repoRoot) { try PipelineSpec.load(dir + "/" + f) }
        }
    }
}

extension FileManager {
    /// Runs `body` with the working directory set to `path` (tests resolve relative data paths).
    func withCurrentDirectory<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let old = currentDirectoryPath
        _ = changeCurrentDirectoryPath(path)
        defer { _ = changeCurrentDirectoryPath(old) }
        return try body()
    }
}
