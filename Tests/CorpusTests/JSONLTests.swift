import Corpus
import Foundation
import Testing
import TestSupport

/// Writes random JSONL lines (nested values, every escape, surrogate pairs, lone surrogates,
/// repeated keys, CRLF, blank and broken lines) and, for each line, what Python's `json` says
/// the text field is. argv: output dir, seed.
private let jsonlOracle = #"""
import json, random, re, sys
out, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)

def rand_text():
    parts = []
    for _ in range(rng.randint(0, 40)):
        r = rng.random()
        if r < 0.45: parts.append(chr(rng.randint(0x20, 0x7E)))
        elif r < 0.58: parts.append(rng.choice('"\\/\n\r\t\b\f\x00\x01\x1f\x7f'))
        elif r < 0.72: parts.append(chr(rng.randint(0xA0, 0xD7FF)))
        elif r < 0.84: parts.append(chr(rng.randint(0x10000, 0x10FFFF)))
        elif r < 0.90: parts.append(chr(rng.randint(0xD800, 0xDFFF)))    # a lone surrogate
        else: parts.append(chr(rng.randint(0xE000, 0xFFFD)))
    return ''.join(parts)

def rand_key():
    return rng.choice(['id', 'meta', 'url', 'texts', 'Text', 'tex', '', 'text2', 'te"xt', rand_text()[:6]])

def rand_value(depth):
    r = rng.random()
    if depth > 3 or r < 0.45:
        return rng.choice([rng.randint(-10**6, 10**6), rng.random() * 1e3, -1.5e-7, 1e300, True, False,
                           None, rand_text(), float('nan'), float('inf'), float('-inf'), 0, -0.0,
                           12345678901234567890])
    if r < 0.7:
        return [rand_value(depth + 1) for _ in range(rng.randint(0, 4))]
    return {rand_key(): rand_value(depth + 1) for _ in range(rng.randint(0, 4))}

def dumps(v, ascii):
    return json.dumps(v, ensure_ascii=ascii)

def rand_line():
    pairs = [(rand_key(), rand_value(1)) for _ in range(rng.randint(0, 4))]
    r = rng.random()
    if r < 0.75: pairs.insert(rng.randint(0, len(pairs)), ('text', rand_text()))
    elif r < 0.85: pairs.insert(rng.randint(0, len(pairs)), ('text', rand_value(3)))
    if rng.random() < 0.08: pairs.append(('text', rng.choice([rand_text(), 7, None])))   # repeated key
    ascii = rng.random() < 0.5
    has_lone = any(re.search('[\ud800-\udfff]', dumps(p, False)) for p in pairs)
    ascii = ascii or has_lone     # raw lone surrogates cannot be written as UTF-8
    sp = lambda: rng.choice(['', ' ', '  ', '\t'])
    body = (sp() + ',' + sp()).join(dumps(k, ascii) + sp() + ':' + sp() + dumps(v, ascii) for k, v in pairs)
    line = sp() + '{' + sp() + body + sp() + '}' + sp()
    r = rng.random()
    if r < 0.04 and len(line) > 1: line = line[:rng.randint(1, len(line) - 1)]     # truncated
    elif r < 0.06: line = line + rng.choice(['x', ',', '}', ' {}'])                   # trailing junk
    elif r < 0.08 and len(line) > 2:                                                  # damaged byte
        i = rng.randint(0, len(line) - 1)
        line = line[:i] + rng.choice(['\\', '"', '{', ']', ':', '\\u12', '\\x']) + line[i + 1:]
    elif r < 0.09: line = rng.choice(['[1, 2]', '"text"', '3', 'null', '{"text" "x"}', '{"text": "x",}',
                                      '{"a": 01}', '{"a": 1.}', '{"a": -}', '{"a": .5}', '{"a": tru}',
                                      '{"text": "\\u00e9\\/\\ud83d\\ude00"}', '{"te\\u0078t": "esc key"}',
                                      '{"a": [1, {"b": [[], {}]}], "text": "n"}', '{"text": "\\ud800\\ud800\\udc00"}',
                                      '{"a": 1e5, "b": -0.0e-3, "c": 1E+2, "text": "nums"}'])
    elif r < 0.12: line = rng.choice(['', '   ', '\t', '\r'])                            # blank
    return line.encode('utf-8')

lines = [rand_line() for _ in range(1500)]
data = b''
for i, l in enumerate(lines):
    data += l
    if i + 1 < len(lines): data += rng.choice([b'\n', b'\n', b'\n', b'\r\n'])
open(out + '/random.jsonl', 'wb').write(data)

expected = []
for number, raw in enumerate(data.split(b'\n'), 1):
    s = raw.decode('utf-8')
    if s.strip(' \t\r\f\v') == '': continue
    entry = {'line': number}
    try:
        obj = json.loads(s)
    except ValueError:
        obj = ValueError
    if obj is ValueError or not isinstance(obj, dict): entry['kind'] = 'bad_json'
    elif 'text' not in obj: entry['kind'] = 'missing_field'
    elif not isinstance(obj['text'], str): entry['kind'] = 'not_string'
    else:
        text = obj['text']
        entry['lone'] = len(re.findall('[\ud800-\udfff]', text))
        entry['hex'] = re.sub('[\ud800-\udfff]', '\ufffd', text).encode('utf-8').hex()
        entry['kind'] = 'text' if text else 'too_short'
    expected.append(entry)
json.dump(expected, open(out + '/expected.json', 'w'))
"""#

private struct Expected: Decodable {
    var line: Int
    var kind: String
    var hex: String?
    var lone: Int?
}

private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.utf8.makeIterator()
    while let a = it.next(), let b = it.next() {
        out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16)!)
    }
    return out
}

@Suite struct JSONLTests {
    let opts = IngestOptions.with { $0.dedup = false }

    @Test(.enabled(if: Run.pythonPath != nil), arguments: [1, 2, 3])
    func randomLinesMatchPythonJSON(seed: Int) throws {
        let dir = try TempDir()
        let r = try Run.python(jsonlOracle, [dir.path, String(seed)])
        try #require(r.status == 0, "\(r.err)")
        let expected = try JSONDecoder().decode([Expected].self,
                                                from: Data(contentsOf: URL(fileURLWithPath: dir.file("expected.json"))))
        let (docs, stats, error) = try readAll(dir.file("random.jsonl"), opts)
        #expect(error == nil)
        let wanted = expected.filter { $0.kind == "text" }
        #expect(docs.count == wanted.count)
        for (doc, want) in zip(docs, wanted) {
            #expect(doc.line == want.line)
            #expect(doc.text == bytes(hex: want.hex!), "line \(want.line)")
        }
        // Records are numbered over all non-blank lines, skipped ones included.
        let recordOfLine = Dictionary(uniqueKeysWithValues: expected.enumerated().map { ($1.line, $0) })
        #expect(docs.map(\.record) == wanted.map { recordOfLine[$0.line]! })
        #expect(stats.records == Int64(expected.count))
        for reason in SkipReason.allCases {
            #expect(stats.skips.counts[reason, default: 0] == Int64(expected.filter { $0.kind == reason.rawValue }.count),
                    "\(reason)")
        }
        let bad = expected.filter { $0.kind == "bad_json" }.map(\.line)
        #expect(stats.skips.firstLine(.badJSON) == bad.first.map(Int64.init))
        let lone = expected.compactMap(\.lone).reduce(0, +)
        #expect(stats.loneSurrogates == Int64(lone))
        #expect(stats.replacedInvalidUTF8 == Int64(expected.filter { ($0.lone ?? 0) > 0 }.count))
        #expect(lone > 0 && bad.count > 10)   // the generator reached these cases
    }

    private func read(_ lines: String, _ o: IngestOptions? = nil) throws -> (docs: [String], stats: SourceReport) {
        let dir = try TempDir()
        let (docs, stats, error) = try readAll(try dir.write("t.jsonl", lines), o ?? opts)
        #expect(error == nil)
        return (texts(docs), stats)
    }

    @Test func fieldAnywhereNestedValuesSkipped() throws {
        let (docs, stats) = try read("""
            {"meta": {"text": "nested, not this", "a": [1, {"text": 2}]}, "text": "top", "z": [[], {}]}
            {"a": ["}", "{", "\\"]"], "text": "after tricky strings"}
            {"text": "first", "x": 1, "text": "last wins"}
            {"x": {"y": {"z": [1, 2, {"w": null}]}}}
            {"text": null}
            {"text": ["a"]}
            {"text": {"text": "inner"}}

            """)
        #expect(docs == ["top", "after tricky strings", "last wins"])
        #expect(stats.skips.counts == [.missingField: 1, .notString: 3])
        #expect(stats.records == 7)
    }

    @Test func customFieldName() throws {
        let o = IngestOptions.with { $0.textField = "content"; $0.dedup = false }
        let (docs, stats) = try read("{\"text\": \"no\", \"content\": \"yes\"}\n{\"text\": \"no\"}\n", o)
        #expect(docs == ["yes"])
        #expect(stats.skips.counts == [.missingField: 1])
        let empty = IngestOptions.with { $0.textField = ""; $0.dedup = false }
        #expect(try read("{\"\": \"empty key\", \"text\": \"no\"}\n{\"text\": \"no\"}\n", empty).docs == ["empty key"])
    }

    @Test func badLinesAreCountedWithLineNumbers() throws {
        var lines: [String] = []
        for i in 1...30 { lines.append(i % 3 == 0 ? "{\"text\": \"bad \(i)\"" : "{\"text\": \"ok \(i)\"}") }
        let (docs, stats) = try read(lines.joined(separator: "\n"))
        #expect(docs.count == 20)
        #expect(stats.skips.counts == [.badJSON: 10])
        #expect(stats.skips.firstLine(.badJSON) == 3)
    }

    @Test func crlfLinesBlankLinesAndLastLineWithoutNewline() throws {
        let (docs, stats) = try read("{\"text\": \"a\"}\r\n\r\n   \n{\"text\": \"b\\r\\n\"}\r\n{\"text\": \"c\"}")
        #expect(docs == ["a", "b\r\n", "c"])
        #expect(stats.records == 3)
        let dir = try TempDir()
        let (all, _, _) = try readAll(try dir.write("x.jsonl", "{\"text\": \"a\"}\r\n\r\n   \n{\"text\": \"b\"}\n{\"text\": \"c\"}"), opts)
        #expect(all.map(\.line) == [1, 4, 5])
        #expect(all.map(\.record) == [0, 1, 2])
    }

    @Test func invalidBytesStillCheckedWhenAnEscapedKeyFollows() throws {
        // The ASCII shortcut of the scanner must describe the text value, not a later key.
        let dir = try TempDir()
        let line: [UInt8] = Array("{\"text\": \"a".utf8) + [0xFF] + Array("\", \"k\\u0065y\": 1}\n".utf8)
        let (docs, stats, _) = try readAll(try dir.write("k.jsonl", line), opts)
        #expect(texts(docs) == ["a\u{FFFD}"])
        #expect(stats.replacedInvalidUTF8 == 1)
    }

    @Test func byteOrderMarkAtStartIsSkipped() throws {
        let (docs, stats) = try read("\u{FEFF}{\"text\": \"bom\"}\n\u{FEFF}{\"text\": \"inner bom is bad\"}\n")
        #expect(docs == ["bom"])
        #expect(stats.skips.counts == [.badJSON: 1])
    }

    @Test func rawControlCharactersInStringsAreAccepted() throws {
        // Python's json (strict) rejects these; data in the wild has them, so the scanner keeps them.
        let (docs, _) = try read("{\"text\": \"tab\there\u{01}\"}\n")
        #expect(docs == ["tab\there\u{01}"])
    }

    @Test func nestingDepthLimit() throws {
        let ok = String(repeating: "[", count: 998) + String(repeating: "]", count: 998)
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        let (docs, stats) = try read("{\"a\": \(ok), \"text\": \"fine\"}\n{\"a\": \(deep), \"text\": \"too deep\"}\n")
        #expect(docs == ["fine"])
        #expect(stats.skips.counts == [.badJSON: 1])
    }

    @Test func extensionsChooseJSONL() throws {
        let o = IngestOptions()
        for name in ["a.jsonl", "a.JSONL", "a.ndjson", "a.jsonl.gz", "a.json.gz", "dir/x.ndjson.gz"] {
            #expect(o.resolvedFormat(for: name) == .jsonl, "\(name)")
        }
        for name in ["a.json", "a.txt", "a.txt.gz", "a", "jsonl", "a.jsonl.bz2"] {
            #expect(o.resolvedFormat(for: name) == .text, "\(name)")
        }
        let dir = try TempDir()
        let path = try dir.write("notes.txt", "{\"text\": \"x\"}\n")
        #expect(texts(try readAll(path).docs) == ["{\"text\": \"x\"}\n"])
        #expect(texts(try readAll(path, .with { $0.format = .jsonl }).docs) == ["x"])
        let jsonl = try dir.write("t.jsonl", "{\"text\": \"x\"}\n")
        #expect(texts(try readAll(jsonl, .with { $0.format = .text }).docs) == ["{\"text\": \"x\"}\n"])
    }

    @Test func longLinesAcrossWindowRefills() throws {
        // Lines longer than the 1 MiB window, gzip-compressed, mixed with short ones.
        var rng = SeededRNG(seed: 9)
        var lines: [String] = []
        var want: [String] = []
        for i in 0..<6 {
            let size = i % 2 == 0 ? 1_500_000 + i : 10 + i
            let text = String((0..<size).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x61...0x7A, using: &rng))) })
            want.append(text)
            lines.append("{\"id\": \(i), \"text\": \"\(text)\\n\"}")
        }
        let dir = try TempDir()
        let path = try dir.write("long.jsonl.gz", Gzip.compress(Array((lines.joined(separator: "\n") + "\n").utf8)))
        let (docs, _, error) = try readAll(path, opts)
        #expect(error == nil)
        #expect(texts(docs) == want.map { $0 + "\n" })
    }
}
