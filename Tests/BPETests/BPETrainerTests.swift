import BPE
import Foundation
import TestSupport
import Testing

/// Learns with our trainer and with Hugging Face's (the oracle) on the same documents and
/// compares vocab and merges entry by entry.
func assertHFParity(_ docs: [String], vocabSize: Int, minFrequency: UInt64 = 0,
                    specials: [String] = ["<|endoftext|>"], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let dir = try TempDir()
    let docsJSON = try JSONSerialization.data(withJSONObject: docs)
    let docsPath = try dir.write("docs.json", [UInt8](docsJSON))
    let hfPath = dir.file("hf.json")
    _ = try Oracle.run("hf_train.py", [docsPath, "\(vocabSize)", "\(minFrequency)", hfPath] + specials)

    var counter = WordCounter(pattern: .gpt2)
    for d in docs { counter.count(Array(d.utf8)) }
    let model = try BPETrainer.train(words: counter, config: BPETrainerConfig(
        vocabSize: vocabSize, minFrequency: minFrequency, specialTokens: specials, pattern: .gpt2))

    let ours = try BPEModel.loadHuggingFaceJSON(Data(model.huggingFaceJSON().utf8), path: "ours")
    let theirs = try BPEModel.loadHuggingFaceJSON(Data(contentsOf: URL(fileURLWithPath: hfPath)), path: hfPath)
    #expect(ours.tokens.count == theirs.tokens.count, "vocab size", sourceLocation: sourceLocation)
    if let i = zip(ours.tokens, theirs.tokens).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        Issue.record("first differing id \(i): ours \(ours.tokens[i]) HF \(theirs.tokens[i])", sourceLocation: sourceLocation)
    }
    let om = ours.merges ?? [], tm = theirs.merges ?? []
    #expect(om.count == tm.count, "merge count", sourceLocation: sourceLocation)
    if let i = zip(om, tm).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        Issue.record("first differing merge \(i): ours \(om[i]) HF \(tm[i])", sourceLocation: sourceLocation)
    }
    #expect(ours.specials == theirs.specials, sourceLocation: sourceLocation)
}

@Suite struct BPETrainerTests {
    @Test func byteAlphabetOrderIsHFs() {
        // HF orders the initial alphabet by stand-in code point: '!'…'~', '¡'…'¬', '®'…'ÿ', then U+0100….
        let order = ByteLevel.bytesByCodePoint
        #expect(order.prefix(3) == [0x21, 0x22, 0x23])
        #expect(order[94] == 0xA1)
        #expect(order[188] == 0x00)           // first byte without a printable stand-in
        #expect(order.last == 0xAD)           // soft hyphen maps to U+0143, the last
        #expect(ByteLevel.encode(Array(" the\n".utf8)) == "Ġthe\u{010A}")
        #expect(ByteLevel.decode("Ġthe\u{010A}") == Array(" the\n".utf8))
    }

    @Test func minbpeStyleWorkedExample() throws {
        // "aaabdaaabac" is one word. (a,a) occurs 4 times and merges first: aa a b d aa a b a c.
        // Then (aa,a) and (a,b) tie at 2; HF takes the smaller pair of ids, (a,b) (minbpe would
        // take the first seen). Last, (aa,ab) occurs twice.
        var counter = WordCounter(pattern: .gpt2)
        counter.count(Array("aaabdaaabac".utf8))
        let model = try BPETrainer.train(words: counter, config: BPETrainerConfig(vocabSize: 256 + 3, specialTokens: []))
        #expect(model.tokens[256...].map { String(decoding: $0, as: UTF8.self) } == ["aa", "ab", "aaab"])
        #expect(model.merges?.count == 3)
    }

    /// `shouldContinue` is asked every 64 merges; false stops the loop with `.stopped`, and
    /// always true changes nothing.
    @Test func shouldContinueStopsTheMergeLoop() throws {
        var counter = WordCounter(pattern: .gpt2)
        counter.count(try Array(Data(contentsOf: URL(fileURLWithPath: Run.repoRoot + "/data/heldout.txt"))))
        let config = BPETrainerConfig(vocabSize: 800)
        // @unchecked: the trainer asks `shouldContinue` on the calling thread only.
        final class Asked: @unchecked Sendable { var n = 0 }
        let asked = Asked()
        #expect(throws: BPETrainerError.stopped) {
            try BPETrainer.train(words: counter, config: config, shouldContinue: {
                asked.n += 1
                return asked.n < 3
            })
        }
        #expect(asked.n == 3)
        let plain = try BPETrainer.train(words: counter, config: config)
        let going = try BPETrainer.train(words: counter, config: config, shouldContinue: { true })
        #expect(going.merges! == plain.merges! && going.tokens == plain.tokens && plain.tokens.count == 800)
    }

    @Test func rejectsTooSmallVocabulary() {
        let counter = WordCounter(pattern: .gpt2)
        #expect(throws: BPETrainerError.vocabTooSmall(100, minimum: 257)) {
            try BPETrainer.train(words: counter, config: BPETrainerConfig(vocabSize: 100))
        }
    }

    @Test(.enabled(if: Run.pythonHas("tokenizers"))) func hfParityOnTieHeavyCorpus() throws {
        // Words over a 3-letter alphabet: many equal counts (ties by pair id) and tokens reachable
        // by several merge paths (HF reuses the id of an existing token).
        var rng = SeededRNG(seed: 7)
        var docs: [String] = []
        for _ in 0..<300 {
            var words: [String] = []
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                let n = Int.random(in: 1...9, using: &rng)
                words.append(String((0..<n).map { _ in "abc".randomElement(using: &rng)! }))
            }
            docs.append(words.joined(separator: " "))
        }
        try assertHFParity(docs, vocabSize: 700)
        try assertHFParity(docs, vocabSize: 700, minFrequency: 3, specials: [])
    }

    @Test(.enabled(if: Run.pythonHas("tokenizers"))) func hfParityOnRandomUnicode() throws {
        var rng = SeededRNG(seed: 11)
        let docs = (0..<400).map { _ in rng.unicodeString(Int.random(in: 0...60, using: &rng)) }
        try assertHFParity(docs, vocabSize: 1500, specials: ["<|endoftext|>", "<pad>"])
    }

    @Test(.enabled(if: Run.pythonHas("tokenizers"))) func hfParityOnEnglishProse() throws {
        // Real text: this repository's design and style notes are prose enough; plus fixed lines.
        var docs: [String] = []
        for file in ["Tests/Oracles/hf_train.py", "Package.swift", "Makefile"] {
            if let s = try? String(contentsOfFile: Run.repoRoot + "/" + file, encoding: .utf8) {
                docs += s.components(separatedBy: "\n\n")
            }
        }
        docs += ["In the beginning God created the heaven and the earth.",
                 "And the earth was without form, and void; and darkness was upon the face of the deep."]
        try assertHFParity(docs, vocabSize: 2000)
    }
}
