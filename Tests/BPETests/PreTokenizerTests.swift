import BPE
import Foundation
import Testing
import TestSupport

/// Splits `text` into pieces shown as strings (invalid UTF-8 shown with U+FFFD).
private func strings(_ pattern: PreTokenizerPattern, _ text: String) -> [String] {
    PreTokenizer(pattern).pieces(Array(text.utf8)).map { String(decoding: $0, as: UTF8.self) }
}

@Suite struct PreTokenizerTests {
    // MARK: Worked examples (the rules PERFORMANCE.md lists, and each pattern's own twists)

    @Test func gpt2Examples() {
        #expect(strings(.gpt2, "Hello world's  end") == ["Hello", " world", "'s", " ", " end"])
        #expect(strings(.gpt2, ".\"'s") == [".\"'", "s"])                    // contractions only where a match starts
        #expect(strings(.gpt2, "'S ’s") == ["'", "S", " ’", "s"])             // lowercase, ASCII apostrophe only
        #expect(strings(.gpt2, "a\u{3000}\u{3000}b") == ["a", "\u{3000}", "\u{3000}", "b"])   // gives back a character
        #expect(strings(.gpt2, "x  \n ") == ["x", "  \n "])                  // a final run is taken whole
        #expect(strings(.gpt2, "\tx") == ["\t", "x"])                        // only U+0020 is a prefix
        #expect(strings(.gpt2, "cafe\u{301}") == ["cafe", "\u{301}"])        // marks are not letters
        #expect(strings(.gpt2, "12345 ab") == ["12345", " ab"])
    }

    @Test func cl100kExamples() {
        #expect(strings(.cl100k, "I'M don'T we'll") == ["I", "'M", " don", "'T", " we", "'ll"])
        #expect(strings(.cl100k, "x'\u{17F}") == ["x", "'\u{17F}"])         // ſ folds to s
        #expect(strings(.cl100k, "12345678") == ["123", "456", "78"])
        #expect(strings(.cl100k, "\tfoo \"bar\"\n\n  x") == ["\tfoo", " \"", "bar", "\"\n\n", " ", " x"])
        #expect(strings(.cl100k, "a\n  ") == ["a", "\n  "])                  // \s++$ takes the final run whole
        #expect(strings(.cl100k, "a\n  b") == ["a", "\n", " ", " b"])
    }

    @Test func llama3Examples() {
        #expect(strings(.llama3, "a\n  ") == ["a", "\n", "  "])              // no \s++$: the newline goes first
        #expect(strings(.llama3, "x\r\n\r\n y") == ["x", "\r\n\r\n", " y"])
        #expect(strings(.llama3, "ITS'S") == ["ITS", "'S"])
    }

    @Test func o200kExamples() {
        #expect(strings(.o200k, "helloWorld HTTPServer") == ["hello", "World", " HTTPServer"])
        #expect(strings(.o200k, "HELLO world's") == ["HELLO", " world's"])   // the contraction stays on the word
        #expect(strings(.o200k, "a/b//\n/c") == ["a", "/b", "//\n/", "c"])
        #expect(strings(.o200k, "\u{301}ABC d") == ["\u{301}", "ABC", " d"])  // a mark alone before an upper run
    }

    @Test func invalidUTF8IsOneOtherCharacterPerByte() {
        let text: [UInt8] = [0x61, 0xFF, 0x62, 0x20, 0xC3, 0x20, 0xE4, 0xB8, 0x61, 0xED, 0xA0, 0x80, 0x20, 0x27, 0x73]
        let expected: [[UInt8]] = [[0x61], [0xFF], [0x62], [0x20, 0xC3], [0x20, 0xE4, 0xB8], [0x61],
                                   [0xED, 0xA0, 0x80], [0x20, 0x27], [0x73]]
        #expect(PreTokenizer(.gpt2).pieces(text) == expected)
        for pattern in PreTokenizerPattern.allCases {
            #expect(PreTokenizer(pattern).pieces(text).joined().elementsEqual(text))
        }
    }

    @Test func regexTexts() {
        #expect(PreTokenizer(.gpt2).regex == #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#)
        #expect(PreTokenizer(.cl100k).regex == #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#)
        #expect(PreTokenizer(.llama3).regex == #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#)
        #expect(PreTokenizer(.o200k).regex == [
            #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
            #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
            #"\p{N}{1,3}"#, #" ?[^\s\p{L}\p{N}]+[\r\n/]*"#, #"\s*[\r\n]+"#, #"\s+(?!\S)"#, #"\s+"#,
        ].joined(separator: "|"))
    }

    // MARK: Fast against slow twin

    @Test(arguments: PreTokenizerPattern.allCases)
    func fastEqualsReference(_ pattern: PreTokenizerPattern) {
        var rng = SeededRNG(seed: 0x5EED_0000 + UInt64(PreTokenizerPattern.allCases.firstIndex(of: pattern)!))
        let scale = Int(ProcessInfo.processInfo.environment["TOKENMILL_ORACLE_SCALE"] ?? "") ?? 1
        var texts: [[UInt8]] = PreTokenizerInputs.nasty.map { Array($0.utf8) }
        texts += PreTokenizerInputs.tricky(&rng, count: 3000 * scale).map { Array($0.utf8) }
        texts += PreTokenizerInputs.unicode(&rng, count: 1500 * scale).map { Array($0.utf8) }
        // Arbitrary bytes, and valid text with bytes knocked out (truncated sequences).
        texts += (0..<1500 * scale).map { _ in rng.bytes(Int.random(in: 0...40, using: &rng)) }
        texts += (0..<1500 * scale).map { _ in
            var t = Array(rng.unicodeString(Int.random(in: 1...20, using: &rng)).utf8)
            t.remove(at: Int.random(in: 0..<t.count, using: &rng))
            return t
        }
        // Every byte value at every place of an 8-byte word of letters (the ASCII fast path's window).
        for byte in UInt8.min...UInt8.max {
            for place in 0..<9 {
                var t = Array("abcdefghIJKLMNOPqrstuvwx".utf8)
                t.insert(byte, at: 1 + place)
                texts.append(t)
            }
        }
        let fast = PreTokenizer(pattern)
        var failures = 0
        for text in texts {
            let got = fast.ranges(text)
            let want = PreTokenizerReference.matches(pattern, text)
            if got != want {
                failures += 1
                if failures <= 3 {
                    Issue.record("""
                        \(pattern): fast and reference differ on \(text) \
                        (\(String(decoding: text, as: UTF8.self).debugDescription))
                          fast:      \(describe(text, got.map { [$0.lowerBound, $0.upperBound] }))
                          reference: \(describe(text, want.map { [$0.lowerBound, $0.upperBound] }))
                        """)
                }
            }
            // The pieces tile the text.
            #expect(got.first?.lowerBound ?? 0 == 0 && got.last?.upperBound ?? 0 == text.count
                    && zip(got, got.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$0.isEmpty })
        }
        #expect(failures == 0, "\(failures) of \(texts.count) texts differ")
    }

    // MARK: Against the peers

    @Test(.enabled(if: PreTokenizerOracle.available, "needs Python with regex, tokenizers and tiktoken"),
          arguments: PreTokenizerPattern.allCases)
    func matchesPeers(_ pattern: PreTokenizerPattern) throws {
        var rng = SeededRNG(seed: 0x0AC1E + UInt64(PreTokenizerPattern.allCases.firstIndex(of: pattern)!))
        var texts = PreTokenizerInputs.nasty
        // TOKENMILL_ORACLE_SCALE=N runs N times as many random texts (for a deeper search by hand).
        let scale = Int(ProcessInfo.processInfo.environment["TOKENMILL_ORACLE_SCALE"] ?? "") ?? 1
        texts += PreTokenizerInputs.tricky(&rng, count: 700 * scale)
        texts += PreTokenizerInputs.unicode(&rng, count: 1000 * scale)
        texts += Self.realText
        if ProcessInfo.processInfo.environment["TOKENMILL_VERBOSE"] != nil {
            print("\(pattern): \(texts.count) texts, \(Self.realText.count) of real text (\(Self.realText.map(\.utf8.count).reduce(0, +)) bytes)")
        }
        let oracle = try PreTokenizerOracle.splits(pattern, texts)
        #expect(oracle.errors.isEmpty, "oracle errors: \(oracle.errors)")
        #expect(PreTokenizer(pattern).regex == oracle.regexText)

        let pre = PreTokenizer(pattern)
        let ours = texts.map { pre.ranges(Array($0.utf8)).map { [$0.lowerBound, $0.upperBound] } }
        let sensitive = texts.map(PreTokenizerInputs.hasVersionSensitiveScalar)
        for (name, theirs) in [("hf", oracle.hf), ("tiktoken", oracle.tiktoken), ("regex", oracle.regex)] {
            let theirs = try #require(theirs, "\(name) gave no answer")
            try #require(theirs.count == texts.count)
            var failures = 0, skipped = 0
            for k in texts.indices where ours[k] != theirs[k] {
                // Python's regex module knows Unicode 17, the peers 16: differences there are expected.
                if name == "regex" && sensitive[k] { skipped += 1; continue }
                failures += 1
                if failures <= 3 {
                    let text = Array(texts[k].utf8)
                    Issue.record("""
                        \(pattern) vs \(name) on \(texts[k].prefix(300).debugDescription):
                          ours:   \(describe(text, ours[k]).prefix(2000))
                          theirs: \(describe(text, theirs[k]).prefix(2000))
                        """)
                }
            }
            #expect(failures == 0, "\(pattern): \(failures) of \(texts.count) texts differ from \(name)")
            if name == "regex" && ProcessInfo.processInfo.environment["TOKENMILL_VERBOSE"] != nil {
                print("\(pattern): regex differs on \(skipped) of \(sensitive.filter { $0 }.count) texts with Unicode 17 code points")
            }
        }
    }

    /// A disagreement between the peers: Oniguruma (Hugging Face) reads cl100k's `\p{N}{1,3}+` as
    /// "1 to 3 numbers, one or more times", so a tokenizer.json that carries tiktoken's text splits
    /// digit runs whole. Exports to tokenizer.json must write `\p{N}{1,3}` instead.
    @Test(.enabled(if: Run.pythonHas("tokenizers"), "needs Python with tokenizers"))
    func onigurumaReadsIntervalPlusAsRepeat() throws {
        let script = #"""
            import json, sys
            from tokenizers import pre_tokenizers, Regex
            pat = sys.argv[1]
            print(json.dumps([p for p, _ in pre_tokenizers.Split(Regex(pat), behavior="isolated").pre_tokenize_str("a12345678")]))
            """#
        let result = try Run.python(script, [PreTokenizer(.cl100k).regex])
        #expect(result.out.trimmingCharacters(in: .whitespacesAndNewlines) == #"["a", "12345678"]"#, "\(result.err)")
        #expect(strings(.cl100k, "a12345678") == ["a", "123", "456", "78"])
    }

    /// Real text cut into pieces of ~2-8 KB (so a difference is easy to show).
    static let realText: [String] = {
        var out: [String] = []
        for text in PreTokenizerInputs.realText(limit: 40_000) {
            var rest = Substring(text)
            while !rest.isEmpty {
                let cut = rest.index(rest.startIndex, offsetBy: min(rest.count, 2000 + out.count % 7 * 1000))
                out.append(String(rest[..<cut]))
                rest = rest[cut...]
            }
        }
        return out
    }()

    // MARK: The class table

    @Test func classTableMatchesRunsAndSwift() {
        var tableVsRuns = 0, differsFromSwift: [UInt32] = []
        for value in UInt32(0)..<0x110000 {
            let fast = UnicodeClass.of(value)
            if fast != UnicodeClass.bySearch(value) { tableVsRuns += 1 }
            guard let scalar = Unicode.Scalar(value) else { continue }
            if fast != PreTokenizerInputs.swiftClass(scalar) {
                // Expected: code points new in Unicode 17 (Swift 6.3 knows them, the peers do not).
                if let age = scalar.properties.age, age.major < 17 { differsFromSwift.append(value) }
            }
        }
        #expect(tableVsRuns == 0)
        // U+0295 LATIN LETTER PHARYNGEAL VOICED FRICATIVE moved from Ll to Lo in Unicode 17.
        #expect(differsFromSwift == [0x295], "\(differsFromSwift.prefix(20).map { String($0, radix: 16) })")
        #expect(UnicodeClass.of(0x110000) == [] && UnicodeClass.of(0xD800) == [])
    }
}
