import BPE
import Foundation
import TestSupport
import Testing

/// A small vocabulary learned from generated prose-like text, shared by the tests below.
let sharedModel: BPEModel = {
    var rng = SeededRNG(seed: 3)
    let words = ["the", "of", "and", "to", "in", "is", "was", "that", "for", "it", "with", "as",
                 "his", "on", "be", "at", "by", "I", "this", "had", "not", "are", "but", "from",
                 "beginning", "created", "heaven", "earth", "darkness", "waters", "light", "day",
                 "night", "1984", "2024", "don't", "we'll", "Hello", "world", "café", "naïve",
                 "東京", "日本語", "Москва", "🙂", "e\u{301}", "\t", "  "]
    var counter = WordCounter(pattern: .gpt2)
    for _ in 0..<3000 {
        var doc = ""
        for _ in 0..<Int.random(in: 3...30, using: &rng) {
            doc += words.randomElement(using: &rng)!
            doc += ["", " ", " ", " ", ", ", ".\n", "\n\n"].randomElement(using: &rng)!
        }
        counter.count(Array(doc.utf8))
    }
    return try! BPETrainer.train(words: counter, config: BPETrainerConfig(vocabSize: 900))
}()

let sharedTokenizer = try! Tokenizer(sharedModel)

func heldOutTexts(_ seed: UInt64, count: Int) -> [String] {
    var rng = SeededRNG(seed: seed)
    var out = ["", "a", " ", "Hello world", "The beginning of the heaven and the earth.\n\n",
               "don't we'll  I'm", "東京 日本語", "🙂🙂🙂", "e\u{301}e\u{301}", String(repeating: "the", count: 200),
               String(repeating: "ab", count: 500), "  leading and trailing  ", "tabs\t\tand\r\nCRLF\r\n"]
    for _ in 0..<count { out.append(rng.unicodeString(Int.random(in: 0...80, using: &rng))) }
    return out
}

@Suite struct TokenizerTests {
    @Test func roundTripRandomBytes() throws {
        var rng = SeededRNG(seed: 1)
        var enc = sharedTokenizer.makeEncoder()
        for n in [0, 1, 2, 3, 17, 255, 1000, 5000] {
            for _ in 0..<20 {
                let bytes = rng.bytes(n)
                #expect(try sharedTokenizer.decode(enc.encode(bytes)) == bytes)
            }
        }
    }

    @Test func roundTripRandomUnicode() throws {
        var enc = sharedTokenizer.makeEncoder()
        for s in heldOutTexts(2, count: 500) {
            let bytes = Array(s.utf8)
            #expect(try sharedTokenizer.decode(enc.encode(bytes)) == bytes)
        }
    }

    @Test func fastMergesEqualReferenceTwin() {
        var rng = SeededRNG(seed: 5)
        var enc = sharedTokenizer.makeEncoder()
        let alphabet = Array("theandof ".utf8) + [0xC3, 0xA9]
        for _ in 0..<2000 {
            let n = Int.random(in: 1...300, using: &rng)
            let piece = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
            let reference = enc.referenceMerge(piece)
            #expect(enc.scanMerge(piece) == reference)
            #expect(enc.heapMerge(piece) == reference)
        }
    }

    /// Texts with more ids than the encoder's output buffer holds (16k), and a piece longer than
    /// it: the same ids as encoding line by line, and as the heap merge of the long piece alone.
    @Test func longTextsAndPiecesPastTheOutputBuffer() throws {
        var rng = SeededRNG(seed: 12)
        let words = ["the", "beginning", "and", "of", "heaven", "earth", "café", "東京", "1984", "don't"]
        var lines: [[UInt8]] = []
        for _ in 0..<3000 {
            lines.append(Array(((0..<8).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ") + "\n").utf8))
        }
        var enc = sharedTokenizer.makeEncoder()
        let whole = enc.encode(Array(lines.joined()))
        #expect(whole.count > 1 << 14)
        var fresh = sharedTokenizer.makeEncoder()
        #expect(whole == lines.flatMap { fresh.encode($0) })
        // One 40,000-byte piece (letters only), alone and between other text.
        let long = (0..<40_000).map { _ in Array("abcdefghij".utf8).randomElement(using: &rng)! }
        let alone = enc.encode(long)
        #expect(alone == enc.heapMerge(long))
        #expect(enc.encode(Array("the ".utf8) + long + Array(" end".utf8))
                == enc.encode(Array("the ".utf8)) + alone + enc.encode(Array(" end".utf8)))
        #expect(try sharedTokenizer.decode(alone) == long)
    }

    /// More distinct pieces than the encoder's cache holds (2^16): it is emptied in place and
    /// refilled, and the ids stay those of fresh encoders that never fill it.
    @Test func cacheEmptiedInPlaceKeepsIdsExact() {
        var rng = SeededRNG(seed: 14)
        let letters = Array("abcdefghijklmnopqrstuvwxyz".utf8)
        let words = (0..<90_000).map { _ in
            " " + String(decoding: (0..<Int.random(in: 4...9, using: &rng)).map { _ in letters.randomElement(using: &rng)! }, as: UTF8.self)
        }
        var one = sharedTokenizer.makeEncoder()
        let whole = one.encode(Array(words.joined().utf8))
        var chunked: [UInt32] = []
        for start in stride(from: 0, to: words.count, by: 15_000) {
            var fresh = sharedTokenizer.makeEncoder()
            chunked += fresh.encode(Array(words[start..<min(start + 15_000, words.count)].joined().utf8))
        }
        #expect(whole == chunked)
    }

    /// The caches of 2-7 and 8-15 byte pieces: more distinct pieces than their slots (so slots
    /// are taken over), each piece alone (its key read byte by byte, at the end of the text)
    /// and inside a long text (read a word at a time, bytes past the piece masked off), give
    /// the ids of the reference merge every time, hit or miss; longer pieces pass beside them.
    @Test func shortPieceCachesKeepIdsExact() throws {
        var rng = SeededRNG(seed: 21)
        let letters = Array("abcdefghijklmnopqrstuvwxyz").map(String.init) + ["é", "東", "ß"]
        func word(_ count: Int) -> [UInt8] {
            (0..<count).flatMap { _ in Array(letters.randomElement(using: &rng)!.utf8) }
        }
        // Pieces share stems, so that many differ only in their last bytes (a key that lost a
        // byte would give one piece another's ids), and a vocabulary learned from them encodes
        // most in one to three ids (the ones the caches keep).
        let stems = (0..<300).map { _ in word(Int.random(in: 0...12, using: &rng)) }
        var distinct = Set<[UInt8]>()
        while distinct.count < 40_000 {
            let piece = Array(" ".utf8) + stems.randomElement(using: &rng)! + word(Int.random(in: 1...2, using: &rng))
            if piece.count <= 17 { distinct.insert(piece) }
        }
        let pieces = distinct.sorted { $0.lexicographicallyPrecedes($1) }
        var counter = WordCounter(pattern: .gpt2)
        for piece in pieces { counter.count(piece) }
        let tokenizer = try Tokenizer(try BPETrainer.train(words: counter, config: BPETrainerConfig(vocabSize: 3000)))
        var enc = tokenizer.makeEncoder()
        let reference = pieces.map { enc.referenceMerge($0) }   // no cache involved
        let cached = zip(pieces, reference).filter { $0.1.count <= 3 }.map(\.0.count)
        #expect(cached.filter { $0 <= 7 }.count > 2000 && cached.filter { $0 >= 8 && $0 <= 15 }.count > 10_000)
        var draws: [Int] = []
        for _ in 0..<120_000 { draws.append(Int.random(in: 0..<min(pieces.count, draws.count / 4 + 64), using: &rng)) }
        var mismatches = 0
        for i in draws where enc.encode(pieces[i]) != reference[i] { mismatches += 1 }
        #expect(mismatches == 0)
        let text = Array(draws.map { pieces[$0] }.joined())
        let expected = Array(draws.map { reference[$0] }.joined())
        // Where the ids first differ (nil when equal): a short message for 200,000 ids.
        func firstDifference(_ ids: [UInt32]) -> Int? {
            ids.indices.first { $0 >= expected.count || ids[$0] != expected[$0] }
                ?? (ids.count == expected.count ? nil : ids.count)
        }
        #expect(firstDifference(enc.encode(text)) == nil)
        var fresh = tokenizer.makeEncoder()
        #expect(firstDifference(fresh.encode(text)) == nil)
        #expect(try tokenizer.decode(expected) == text)
    }

    @Test func byteKeyTableRemoveAllKeepsWorking() {
        var table = ByteKeyTable(capacity: 16)
        for i in 0..<5000 { table.add(Array("key\(i)".utf8), UInt64(i)) }
        #expect(table.count == 5000 && table.lookup(Array("key4999".utf8)) == 4999)
        table.removeAll()
        #expect(table.count == 0)
        #expect(table.lookup(Array("key1".utf8)) == nil && table.lookup(Array("key4999".utf8)) == nil)
        for i in 0..<7000 { table.add(Array("other\(i)".utf8), UInt64(i + 1)) }
        #expect(table.count == 7000)
        #expect(table.lookup(Array("other6999".utf8)) == 7000 && table.lookup(Array("key3".utf8)) == nil)
    }

    @Test func cachedEncodingEqualsUncached() {
        // The same text twice through one encoder: the second pass is served from the cache.
        var enc = sharedTokenizer.makeEncoder()
        for s in heldOutTexts(9, count: 200) {
            let bytes = Array(s.utf8)
            let first = enc.encode(bytes)
            #expect(enc.encode(bytes) == first)
            var fresh = sharedTokenizer.makeEncoder()
            #expect(fresh.encode(bytes) == first)
        }
    }

    @Test func specialTokensOnlyWhenAllowed() throws {
        let text = Array("a<|endoftext|>b".utf8)
        let eot = try #require(sharedTokenizer.eotID)
        #expect(sharedTokenizer.encode(text, allowSpecial: true).contains(eot))
        #expect(!sharedTokenizer.encode(text).contains(eot))
        #expect(try sharedTokenizer.decode(sharedTokenizer.encode(text, allowSpecial: true)) == text)
    }

    @Test func decodeRejectsUnknownIDs() {
        #expect(throws: TokenizerError.unknownID(100_000, position: 1, vocabSize: 900)) {
            try sharedTokenizer.decode([1, 100_000])
        }
    }

    @Test func fingerprintDependsOnContent() throws {
        var other = sharedModel
        other.specials = [SpecialToken("<|endoftext|>", id: 0)]
        other.tokens[0] = Array("<|endoftext|>".utf8)
        #expect(try Tokenizer(other).fingerprint == sharedTokenizer.fingerprint)
        other.merges?.removeLast()
        #expect(try Tokenizer(other).fingerprint != sharedTokenizer.fingerprint)
    }

    @Test(.enabled(if: Run.pythonHas("tokenizers"))) func hfEncodeParity() throws {
        let dir = try TempDir()
        let path = try dir.write("tokenizer.json", sharedModel.huggingFaceJSON())
        let texts = heldOutTexts(4, count: 300)
        let theirs = try Oracle.encode(texts, ["hf", path])
        let loaded = try Tokenizer.load(path)
        var enc = loaded.makeEncoder()
        for (t, ids) in zip(texts, theirs) {
            #expect(enc.encode(Array(t.utf8)) == ids, "text \(t.debugDescription)")
        }
    }

    @Test(.enabled(if: Run.pythonHas("tiktoken"))) func tiktokenParityThroughExport() throws {
        let dir = try TempDir()
        let path = try dir.write("vocab.tiktoken", sharedModel.tiktokenFile())
        let texts = heldOutTexts(6, count: 300)
        let pattern = PreTokenizer(.gpt2).regex
        let theirs = try Oracle.encode(texts, ["tiktoken", path, pattern, #"{"<|endoftext|>": 0}"#])
        let loaded = try Tokenizer.load(path, pattern: .gpt2, specials: [SpecialToken("<|endoftext|>", id: 0)])
        #expect(loaded.vocabSize == sharedTokenizer.vocabSize)
        var enc = loaded.makeEncoder()
        var native = sharedTokenizer.makeEncoder()
        for (t, ids) in zip(texts, theirs) {
            #expect(enc.encode(Array(t.utf8)) == ids, "text \(t.debugDescription)")
            // A learned vocabulary gives the same ids under either merge rule.
            #expect(native.encode(Array(t.utf8)) == ids, "merge-list rule vs rank rule: \(t.debugDescription)")
        }
    }

    /// Names that JSON must escape: special tokens with quotes, backslashes and control
    /// characters, and tokens holding the bytes `"` and `\` (which byte-level text keeps as
    /// themselves). The file parses, and every name and merge reads back as the bytes it stands for.
    @Test func tokenizerJSONEscapesWhatJSONNeeds() throws {
        var tokens = (0..<256).map { [UInt8($0)] }
        tokens += [Array("\"\\".utf8), Array("\\\"".utf8), Array("a\"".utf8)]  // merges of bytes 0x22, 0x5C, 0x61
        let specialText = "<|q\"b\\s\n\r\t\u{1}\u{1F}é|>"
        tokens.append(Array(specialText.utf8))
        let merges = [TokenPair(0x22, 0x5C), TokenPair(0x5C, 0x22), TokenPair(0x61, 0x22)]
        let model = BPEModel(tokens: tokens, specials: [SpecialToken(specialText, id: 259)], merges: merges, pattern: .gpt2)
        let json = model.huggingFaceJSON()
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let added = try #require(root["added_tokens"] as? [[String: Any]])
        #expect(added.first?["content"] as? String == specialText)
        let vocab = try #require((root["model"] as? [String: Any])?["vocab"] as? [String: Int])
        #expect(vocab["\"\\"] == 256 && vocab["\\\""] == 257 && vocab["a\""] == 258 && vocab[specialText] == 259)
        let back = try BPEModel.loadHuggingFaceJSON(Data(json.utf8), path: "escapes.json")
        #expect(back.tokens == model.tokens)
        #expect(back.merges == merges)
        #expect(back.specials == model.specials)
    }

    /// Rank files' base64 is decoded by hand: it gives Foundation's bytes for every encoded byte
    /// string; on random strings of base64 characters and padding, what it accepts Foundation
    /// decodes to the same bytes (Foundation also takes some malformed padding, such as "sx=V",
    /// which it refuses).
    @Test func base64AgreesWithFoundation() {
        var rng = SeededRNG(seed: 64)
        var out: [UInt8] = []
        func ours(_ text: String) -> [UInt8]? {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBufferPointer { Base64.decode($0, into: &out) } ? out : nil
        }
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = Data(bytes).base64EncodedString()
            #expect(ours(text) == bytes, "\(text)")
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ *")
        for _ in 0..<20000 {
            let text = String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            if let decoded = ours(text) { #expect(Data(base64Encoded: text).map { [UInt8]($0) } == decoded, "\(text.debugDescription)") }
        }
        #expect(ours("QQ==") == [0x41] && ours("QUI=") == [0x41, 0x42] && ours("QUJD") == [0x41, 0x42, 0x43] && ours("") == [])
        for bad in ["Q", "QQ=", "QQ=A", "Q===", "QQ==QUJD", "sx=V", "ZIDi=", "QU-D", "QU D"] { #expect(ours(bad) == nil, "\(bad)") }
    }

    @Test func legacyMergeStringsLoad() throws {
        // Older tokenizer.json files write merges as "a b" strings.
        let json = sharedModel.huggingFaceJSON()
        var legacy = ""
        var inMerges = false
        for line in json.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.contains("\"merges\"") { inMerges = true }
            if inMerges, line.hasPrefix("      ["), let data = line.trimmingCharacters(in: CharacterSet(charactersIn: " ,")).data(using: .utf8),
               let pair = try JSONSerialization.jsonObject(with: data) as? [String] {
                legacy += "      " + Oracle.jsonLine(pair[0] + " " + pair[1]) + (line.hasSuffix(",") ? "," : "") + "\n"
            } else {
                legacy += line + "\n"
            }
        }
        let model = try BPEModel.loadHuggingFaceJSON(Data(legacy.utf8), path: "legacy.json")
        #expect(model.merges == sharedModel.merges)
        #expect(model.tokens == sharedModel.tokens)
    }

    @Test func badFilesNameTheFileAndPlace() throws {
        let dir = try TempDir()
        let notJSON = try dir.write("bad.json", "{ not json")
        #expect(throws: TokenizerFileError.self) { try Tokenizer.load(notJSON) }
        do {
            _ = try Tokenizer.load(notJSON)
        } catch {
            #expect("\(error)".hasPrefix(notJSON + ": invalid JSON"))
        }
        let badRanks = try dir.write("bad.tiktoken", "IQ== 0\nnot-a-line\n")
        do {
            _ = try Tokenizer.load(badRanks, pattern: .gpt2)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "\(badRanks):2: expected \"<base64 token> <rank>\"")
        }
        // Each line of a rank file is checked: where it goes wrong is named by line.
        for (text, line, message) in [("IQ== 0\r\nIg== 1\nIQ== 2\n", 3, "token is empty or appears twice"),
                                      ("IQ== 0\nIg== 0\n", 2, "rank 0 appears twice"),
                                      ("IQ== 0\n 1\n", 2, "token is empty or appears twice"),
                                      ("IQ== 0\nIQ 1\n", 2, "expected \"<base64 token> <rank>\""),
                                      ("IQ== 0\nIg== -1\n", 2, "expected \"<base64 token> <rank>\""),
                                      ("IQ== 0\nIg== 1x\n", 2, "expected \"<base64 token> <rank>\"")] {
            let file = try dir.write("ranks.tiktoken", text)
            #expect(throws: TokenizerFileError("\(file):\(line)", message)) { try Tokenizer.load(file, pattern: .gpt2) }
        }
        #expect(throws: TokenizerFileError(dir.file("missing"), "no such file or directory")) {
            try Tokenizer.load(dir.file("missing"))
        }
        let ranksNoPattern = try dir.write("v.tiktoken", sharedModel.tiktokenFile())
        #expect(throws: TokenizerFileError.self) { try Tokenizer.load(ranksNoPattern) }
    }

    /// A tokenizer.json's vocabulary and merges are checked against each other, each problem
    /// named; a name given twice keeps its last id, as Python's json does.
    @Test func inconsistentVocabularyAndMergesAreNamed() throws {
        // The 256 byte tokens, then "ab" (256) made by merging "a" and "b".
        func json(extraVocab: String = "", merges: String = "[[\"a\", \"b\"]]") -> Data {
            var vocab = (0..<256).map { "\"\(ByteLevel.encode([UInt8($0)]).unicodeScalars.map { String(format: "\\u%04x", $0.value) }.joined())\": \($0)" }
            vocab.append("\"ab\": 256")
            let text = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\(vocab.joined(separator: ", "))\(extraVocab)}, \"merges\": \(merges)},"
                + " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}}"
            return Data(text.utf8)
        }
        func failure(_ data: Data) -> String {
            do {
                _ = try BPEModel.loadHuggingFaceJSON(data, path: "t.json")
                return "no error"
            } catch { return "\(error)" }
        }
        let good = try BPEModel.loadHuggingFaceJSON(json(), path: "t.json")
        #expect(good.tokens[256] == Array("ab".utf8) && good.merges?.count == 1)
        #expect(failure(json(extraVocab: ", \"ba\": 256")) == "t.json: id 256 is used twice in vocab")
        #expect(failure(json(merges: "[[\"a\", \"zz\"]]")) == "t.json: merge 0 (a zz) names a token not in vocab")
        #expect(failure(json(merges: "[[\"b\", \"a\"]]")) == "t.json: merge 0 (b a) makes a token not in vocab")
        // "ab" again, with another id: the last one counts and 256 is left empty.
        let twice = try BPEModel.loadHuggingFaceJSON(json(extraVocab: ", \"ab\": 257"), path: "t.json")
        #expect(twice.tokens[257] == Array("ab".utf8) && twice.tokens[256].isEmpty)
        // The same name twice with the same id is not an error.
        #expect(failure(json(extraVocab: ", \"ab\": 256")) == "no error")
        #expect(failure(json(extraVocab: ", \"ba\": \"x\"")) == "t.json: vocab entry \"ba\" has no valid id")
        #expect(failure(json(merges: "[[\"a\", \"b\", \"c\"]]")) == "t.json: merge 0 is neither a [\"a\",\"b\"] pair nor an \"a b\" string")
        #expect(failure(json(merges: "[\"a b c\"]")) == "t.json: merge 0: \"a b c\" is not two tokens")
        #expect(failure(json(merges: "[[\"a\", \"b\"] [\"a\", \"b\"]]")).hasPrefix("t.json: invalid JSON: expected ',' or ']' in an array at byte "))
    }

    /// The loader streams the vocabulary and the merges; it reads the same model whatever the
    /// file's layout: keys in another order (merges before vocab, model last), names written
    /// with escapes, a byte order mark, a key given twice (the last counts, as in Python).
    @Test func aTokenizerJSONLoadsTheSameWhateverItsLayout() throws {
        let canonical = sharedModel.huggingFaceJSON()
        let object = try JSONSerialization.jsonObject(with: Data(canonical.utf8))
        let sorted = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        #expect(sorted.range(of: "\"merges\"")!.lowerBound < sorted.range(of: "\"vocab\"")!.lowerBound)
        let escaped = canonical.replacingOccurrences(of: "Ġ", with: "\\u0120").replacingOccurrences(of: "Ċ", with: "\\u010A")
        #expect(escaped != canonical)
        let twice = "\u{FEFF}{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"x\": 0}}, " + canonical.dropFirst()
        for (name, text) in [("canonical", canonical), ("sorted", sorted), ("escaped", escaped), ("model twice", twice)] {
            let model = try BPEModel.loadHuggingFaceJSON(Data(text.utf8), path: name)
            #expect(model.tokens == sharedModel.tokens, "\(name)")
            #expect(model.merges == sharedModel.merges, "\(name)")
            #expect(model.specials == sharedModel.specials && model.pattern == sharedModel.pattern, "\(name)")
        }
    }

    @Test func llmcExportLayout() throws {
        let bytes = try sharedModel.llmcTokenizerFile(eotID: 0)
        let header = bytes.withUnsafeBytes { raw in (0..<4).map { raw.load(fromByteOffset: $0 * 4, as: UInt32.self) } }
        #expect(header == [20240328, 2, UInt32(sharedModel.vocabSize), 0])
        // Walk the records: every token back, nothing left over.
        var at = 1024
        for t in sharedModel.tokens {
            let n = Int(bytes[at])
            #expect(Array(bytes[(at + 1)..<(at + 1 + n)]) == t)
            at += 1 + n
        }
        #expect(at == bytes.count)
    }
}
