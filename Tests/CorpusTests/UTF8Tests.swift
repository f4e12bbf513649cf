import Corpus
import Foundation
import Testing
import TestSupport

/// Random byte strings leaning towards UTF-8 shapes: valid sequences, truncated ones, stray
/// continuation bytes, overlongs, surrogates and bytes above U+10FFFF.
private func utf8ishBytes(_ rng: inout SeededRNG, count: Int, avoid: Set<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    while out.count < count {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0...3: out.append(UInt8.random(in: 0x20...0x7E, using: &rng))
        case 4...5: out += Array(String(rng.scalar()).utf8)
        case 6: out += Array(String(rng.scalar()).utf8).dropLast()
        case 7: out.append(UInt8.random(in: 0x80...0xFF, using: &rng))
        case 8: out += [[0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xF4, 0x90, 0x80, 0x80],
                        [0xF0, 0x9F], [0xF8, 0x88, 0x80, 0x80, 0x80]][Int.random(in: 0..<6, using: &rng)]
        default: out += [UInt8.random(in: 0xC2...0xF4, using: &rng), UInt8.random(in: 0x80...0xBF, using: &rng)]
        }
    }
    return out.filter { !avoid.contains($0) }
}

@Suite struct UTF8Tests {
    /// One document per line; bytes are raw (no JSON), so the line boundary keeps them as they are.
    private func lineFile(_ lines: [[UInt8]], _ dir: TempDir) throws -> String {
        try dir.write("u.txt", Array(lines.joined(separator: [0x0A])))
    }

    @Test func replaceMatchesSwiftDecoding() throws {
        var rng = SeededRNG(seed: 5)
        let lines = (0..<3000).map { _ in utf8ishBytes(&rng, count: Int.random(in: 1...60, using: &rng), avoid: [0x0A, 0x0D]) }
            .filter { !$0.isEmpty }
        let dir = try TempDir()
        let o = IngestOptions.with { $0.boundary = .line; $0.dedup = false }
        let (docs, stats, _) = try readAll(try lineFile(lines, dir), o)
        #expect(docs.count == lines.count)
        for (doc, line) in zip(docs, lines) {
            #expect(doc.text == Array(String(decoding: line, as: UTF8.self).utf8), "\(line)")
        }
        let invalid = lines.filter { String(validating: $0, as: UTF8.self) == nil }.count
        #expect(stats.replacedInvalidUTF8 == Int64(invalid))
        #expect(invalid > 1000 && invalid < lines.count)
    }

    @Test(.enabled(if: Run.pythonPath != nil))
    func replaceAndDropMatchPython() throws {
        var rng = SeededRNG(seed: 6)
        // Inside JSON strings: no quote, backslash, newline or other control characters.
        let avoid = Set<UInt8>([0x22, 0x5C]).union(0..<0x20)
        let values = (0..<800).map { _ in utf8ishBytes(&rng, count: Int.random(in: 1...40, using: &rng), avoid: avoid) }
        var file: [UInt8] = []
        for v in values { file += Array("{\"id\": 1, \"text\": \"".utf8) + v + Array("\"}\n".utf8) }
        let dir = try TempDir()
        let path = try dir.write("u.jsonl", file)
        let script = """
            import json, sys
            for line in open(sys.argv[1], 'rb').read().split(b'\\n')[:-1]:
                try:
                    line.decode('utf-8'); valid = 1
                except UnicodeDecodeError:
                    valid = 0
                text = json.loads(line.decode('utf-8', 'replace'))['text']
                print(valid, text.encode('utf-8').hex())
            """
        let r = try Run.python(script, [path])
        try #require(r.status == 0, "\(r.err)")
        let rows = r.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: false) }
        #expect(rows.count == values.count)

        let (replaced, stats, _) = try readAll(path, .with { $0.dedup = false })
        let wantReplaced = rows.map { String($0.count > 1 ? $0[1] : "") }
        #expect(replaced.map { $0.text.map { String(format: "%02x", $0) }.joined() } == wantReplaced)
        let invalid = rows.filter { $0[0] == "0" }.count
        #expect(stats.replacedInvalidUTF8 == Int64(invalid))

        let (kept, dropStats, _) = try readAll(path, .with { $0.dedup = false; $0.invalidUTF8 = .drop })
        #expect(kept.count == values.count - invalid)
        #expect(dropStats.skips.counts == [.invalidUTF8: Int64(invalid)])
        #expect(kept.map(\.line) == rows.indices.filter { rows[$0][0] == "1" }.map { $0 + 1 })
    }

    @Test func knownReplacements() throws {
        let cases: [([UInt8], String)] = [
            ([0x61, 0xE2, 0x82, 0x41, 0xFF], "a\u{FFFD}A\u{FFFD}"),
            ([0xF0, 0x80, 0x80, 0x41], "\u{FFFD}\u{FFFD}\u{FFFD}A"),        // overlong: each byte
            ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),               // surrogate
            ([0xF4, 0x8F, 0xBF], "\u{FFFD}"),                                // truncated at the end
            ([0xE0, 0xA0], "\u{FFFD}"),
            ([0xC3, 0xA9, 0x80], "é\u{FFFD}"),
        ]
        let dir = try TempDir()
        for (i, (bytes, want)) in cases.enumerated() {
            let (docs, _, _) = try readAll(try dir.write("k\(i).txt", bytes))
            #expect(texts(docs) == [want])
        }
    }

    @Test func loneSurrogatesFollowTheInvalidUTF8Setting() throws {
        let dir = try TempDir()
        let path = try dir.write("s.jsonl", "{\"text\": \"a\\ud800b\"}\n{\"text\": \"ok \\ud83d\\ude00\"}\n")
        let (docs, stats, _) = try readAll(path)
        #expect(texts(docs) == ["a\u{FFFD}b", "ok 😀"])
        #expect(stats.loneSurrogates == 1 && stats.replacedInvalidUTF8 == 1)
        let (kept, dropStats, _) = try readAll(path, .with { $0.invalidUTF8 = .drop })
        #expect(texts(kept) == ["ok 😀"])
        #expect(dropStats.skips.counts == [.invalidUTF8: 1])
    }
}
