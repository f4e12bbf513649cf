import Common
import Corpus
import Foundation
import Testing
import TestSupport

@Suite struct StageTests {
    private func lines(_ text: String, _ change: (inout IngestOptions) -> Void) throws -> (docs: [String], stats: SourceReport) {
        let dir = try TempDir()
        var o = IngestOptions.with { $0.boundary = .line; $0.dedup = false }
        change(&o)
        let (docs, stats, error) = try readAll(try dir.write("t.txt", text), o)
        #expect(error == nil)
        return (texts(docs), stats)
    }

    @Test func defaultsPassBytesThrough() throws {
        let text = "  lead and trail  \r\ne\u{301} cafe\u{301}\t\u{3000}x\r\n"
        let dir = try TempDir()
        let (docs, _, _) = try readAll(try dir.write("t.txt", text))
        #expect(texts(docs) == [text])
    }

    @Test func minLengthCountsBytesAfterNormalization() throws {
        let (docs, stats) = try lines("abc\nab\n\u{E9}\nabcd\n", { $0.minLength = 3 })
        #expect(docs == ["abc", "abcd"])
        #expect(stats.skips.counts == [.tooShort: 2])
        let (ws, wsStats) = try lines("a    b\nab  \n", { $0.minLength = 3; $0.normalizeWhitespace = true })
        #expect(ws == ["a b"])
        #expect(wsStats.skips.counts == [.tooShort: 1])
    }

    @Test func dedupWithinAndAcrossSources() throws {
        let dir = try TempDir()
        let a = try dir.write("a.txt", "x\ny\nx\n")
        let b = try dir.write("b.txt.gz", Gzip.compress("y\nz\n"))
        let c = try dir.write("c.jsonl", "{\"text\": \"z\"}\n{\"text\": \"w\"}\n")
        let o = IngestOptions.with { $0.boundary = .line }
        var got: [(String, Int, Int)] = []
        let report = try Ingest(paths: [a, b, c], options: o).forEach { doc in
            got.append((String(decoding: doc.text, as: UTF8.self), doc.source, doc.record))
        }
        #expect(got.map(\.0) == ["x", "y", "z", "w"])
        #expect(got.map(\.1) == [0, 0, 1, 2])
        #expect(got.map(\.2) == [0, 1, 1, 1])
        #expect(report.sources.map { $0.skips.counts[.duplicate, default: 0] } == [1, 1, 1])
        #expect(report.documents == 4 && report.uniqueDocuments == 4 && report.records == 7)
        // Off: everything comes through.
        var all = 0
        try Ingest(paths: [a, b, c], options: .with { $0.boundary = .line; $0.dedup = false }).forEach { _ in all += 1 }
        #expect(all == 7)
    }

    @Test func lineEndings() throws {
        let dir = try TempDir()
        let o = IngestOptions.with { $0.normalizeLineEndings = true }
        let (docs, _, _) = try readAll(try dir.write("t.txt", "a\r\nb\rc\n\r\r\nd"), o)
        #expect(texts(docs) == ["a\nb\nc\n\n\nd"])
    }

    /// A document larger than the processor keeps room for (4 MiB) goes through its scratch
    /// buffers, which are then given back; the documents after it come out as from a processor
    /// that never gave anything back.
    @Test func scratchGivenBackAfterALargeDocument() throws {
        let options = IngestOptions.with { $0.normalizeLineEndings = true; $0.normalizeWhitespace = true }
        var processor = RecordProcessor(options: options, format: .text)
        var reference = RecordProcessor(options: options, format: .text)
        func run(_ p: inout RecordProcessor, _ text: String) -> [UInt8]? {
            var bytes = Array(text.utf8)
            return bytes.withUnsafeMutableBufferPointer { record in
                guard case .document(let out, _) = p.process(record) else { return nil }
                return Array(out)
            }
        }
        let large = String(repeating: "word \r\n\t", count: 800_000)   // every stage rewrites it
        let small = ["a\r\nb  c", "x\ty", "plain"]
        func expectSmallAsReference() {
            for text in small {
                let (got, expected) = (run(&processor, text), run(&reference, text))
                #expect(got == expected)
            }
        }
        let referenceLarge = run(&reference, large)
        let expectedLarge = try #require(referenceLarge)
        #expect(expectedLarge.count > 4 << 20)
        var got = run(&processor, large)
        #expect(got == expectedLarge)
        processor.releaseLargeBuffers()
        expectSmallAsReference()
        processor.releaseLargeBuffers()   // nothing to give back now
        got = run(&processor, large)
        #expect(got == expectedLarge)
        processor.releaseLargeBuffers()
        expectSmallAsReference()
    }

    @Test func whitespace() throws {
        let dir = try TempDir()
        let o = IngestOptions.with { $0.normalizeWhitespace = true }
        let text = "  a \t b\u{A0}\u{3000}c  \n\t\n d\u{2009}\u{200A}e \r\nf\u{200B}g\u{85}h   "
        let (docs, _, _) = try readAll(try dir.write("t.txt", text), o)
        // U+200B (zero width space) and U+0085 (NEL) are not space separators: kept.
        #expect(texts(docs) == [" a b c\n\n d e\r\nf\u{200B}g\u{85}h"])
    }

    @Test(.enabled(if: Run.pythonPath != nil))
    func whitespaceMatchesPythonDefinition() throws {
        var rng = SeededRNG(seed: 21)
        let spaces: [Unicode.Scalar] = [" ", "\t", "\u{A0}", "\u{1680}", "\u{2000}", "\u{2005}", "\u{200A}",
                                         "\u{202F}", "\u{205F}", "\u{3000}", "\u{200B}", "\u{85}", "\r", "\n"]
        var docs: [String] = []
        for _ in 0..<300 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...60, using: &rng) {
                s.append(Bool.random(using: &rng) ? spaces.randomElement(using: &rng)! : rng.scalar())
            }
            docs.append(String(s))
        }
        let dir = try TempDir()
        let path = try dir.write("w.jsonl", jsonLines(docs))
        let script = #"""
            import json, re, sys
            H = '[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+'
            for line in open(sys.argv[1], encoding='utf-8'):
                t = json.loads(line)['text']
                t = re.sub(H + '(?=[\r\n]|$)', '', t)
                t = re.sub(H, ' ', t)
                print(t.encode('utf-8').hex())
            """#
        let r = try Run.python(script, [path])
        try #require(r.status == 0, "\(r.err)")
        let (got, _, _) = try readAll(path, .with { $0.dedup = false; $0.minLength = 0; $0.normalizeWhitespace = true })
        let want = r.out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let nonEmpty = want.filter { !$0.isEmpty }
        #expect(got.map { $0.text.map { String(format: "%02x", $0) }.joined() } == nonEmpty)
    }

    @Test(.enabled(if: Run.pythonPath != nil))
    func nfcMatchesPythonUnicodedata() throws {
        var rng = SeededRNG(seed: 22)
        let combining: [Unicode.Scalar] = ["\u{301}", "\u{300}", "\u{323}", "\u{308}", "\u{327}", "\u{30A}",
                                           "\u{1161}", "\u{11A8}", "\u{3099}", "\u{FB2A}", "\u{212B}", "\u{2126}"]
        var docs: [String] = []
        for _ in 0..<400 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: s.append(combining.randomElement(using: &rng)!)
                case 1: s.append(["e", "a", "o", "A", "\u{1100}", "\u{AC00}", "\u{304B}", "\u{5D0}"].randomElement(using: &rng)!)
                default: s.append(rng.scalar())
                }
            }
            docs.append(String(s))
        }
        let dir = try TempDir()
        let path = try dir.write("n.jsonl", jsonLines(docs))
        let script = #"""
            import json, sys, unicodedata
            for line in open(sys.argv[1], encoding='utf-8'):
                print(unicodedata.normalize('NFC', json.loads(line)['text']).encode('utf-8').hex())
            """#
        let r = try Run.python(script, [path])
        try #require(r.status == 0, "\(r.err)")
        let (got, stats, _) = try readAll(path, .with { $0.dedup = false; $0.normalizeNFC = true })
        let want = r.out.split(separator: "\n").map(String.init)
        #expect(got.count == docs.count && stats.records == Int64(docs.count))
        let gotHex = got.map { $0.text.map { String(format: "%02x", $0) }.joined() }
        let mismatches = zip(gotHex, want).enumerated().filter { $1.0 != $1.1 }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ; first: \(mismatches.prefix(2))")
        // Something changed, so the test compared real work.
        #expect(zip(got, docs).contains { $0.text != Array($1.utf8) })
    }

    @Test func stagesRunInOrder() throws {
        // CR is turned into LF before whitespace runs, so the space before it is trailing.
        let dir = try TempDir()
        let o = IngestOptions.with { $0.normalizeLineEndings = true; $0.normalizeNFC = true; $0.normalizeWhitespace = true }
        let (docs, _, _) = try readAll(try dir.write("t.txt", Array("cafe\u{301}  \r\n\u{FF}x".utf8) + [0xFF]), o)
        #expect(texts(docs) == ["caf\u{E9}\n\u{FF}x\u{FFFD}"])
    }

    @Test func fingerprintIsStableAndCoversEverySetting() throws {
        let base = IngestOptions()
        #expect(base.fingerprint == #"ingest-v2 {"boundary":"file","dedup":true,"format":"auto","invalidUTF8":"replace","# +
                #""minLength":1,"normalize":[],"textField":"text"}"#)
        var variants: [IngestOptions] = [base]
        variants.append(.with { $0.format = .jsonl })
        variants.append(.with { $0.textField = "content" })
        variants.append(.with { $0.textField = "a\" b" })
        variants.append(.with { $0.boundary = .blank })
        variants.append(.with { $0.invalidUTF8 = .drop })
        variants.append(.with { $0.minLength = 5 })
        variants.append(.with { $0.dedup = false })
        variants.append(.with { $0.normalizeLineEndings = true })
        variants.append(.with { $0.normalizeNFC = true })
        variants.append(.with { $0.normalizeWhitespace = true })
        #expect(Set(variants.map(\.fingerprint)).count == variants.count)
        // The stages run in one order whatever order they are given in; 0 and 1 as minimum lengths are one.
        #expect(IngestOptions.with { $0.normalize = [.whitespace, .nfc] }.fingerprint
                == IngestOptions.with { $0.normalize = [.nfc, .whitespace] }.fingerprint)
        #expect(IngestOptions.with { $0.minLength = 0 }.fingerprint == base.fingerprint)
        // Codable round trip.
        let data = try JSONEncoder().encode(variants)
        #expect(try JSONDecoder().decode([IngestOptions].self, from: data) == variants)
        // Decoded over the defaults, as pipeline files and flags are.
        #expect(try SettingsCoding.decode([:]) == IngestOptions())
        #expect(try SettingsCoding.decode(["boundary": .string("blank")]) == IngestOptions.with { $0.boundary = .blank })
    }
}

/// One `{"text": …}` line per string.
func jsonLines(_ texts: [String]) -> [UInt8] {
    texts.flatMap { Array("{\"text\": ".utf8) + jsonString($0) + Array("}\n".utf8) }
}

/// `s` as a JSON string literal (escaped to ASCII).
func jsonString(_ s: String) -> [UInt8] {
    var out = "\""
    for u in s.utf16 {
        switch u {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(u)))
        default:
            let hex = String(u, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }
    return Array((out + "\"").utf8)
}
