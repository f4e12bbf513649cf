import BPE
import Foundation
import TestSupport
import Testing

/// The tokenizer-file JSON reader against Foundation's JSONSerialization.
@Suite struct JSONTreeTests {
    /// A canonical rendering of both parsers' trees: objects as ordered key/value lists.
    func render(_ tree: JSONTree) -> String {
        switch tree {
        case .object(let members): return "{" + members.map { "\($0.key.debugDescription):\(render($0.value))" }.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(render).joined(separator: ",") + "]"
        case .string(let s): return s.debugDescription
        case .number(let n): return "\(n)"
        case .bool(let b): return "\(b)"
        case .null: return "null"
        }
    }


    func randomValue(_ rng: inout SeededRNG, depth: Int) -> (json: String, expected: String) {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
        case 0:
            let s = rng.unicodeString(Int.random(in: 0...12, using: &rng))
            return (escape(s, &rng), s.debugDescription)
        case 1:
            let n = Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / [1, 1, 8, 1000].randomElement(using: &rng)!
            let text = n.rounded() == n && Bool.random(using: &rng) ? String(Int64(n)) : "\(n)"
            return (text, "\(Double(text)!)")
        case 2: return Bool.random(using: &rng) ? ("true", "true") : ("false", "false")
        case 3: return ("null", "null")
        case 4:
            let items = (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) }
            return ("[ " + items.map(\.json).joined(separator: " ,\n") + "]", "[" + items.map(\.expected).joined(separator: ",") + "]")
        default:
            let members = (0..<Int.random(in: 0...4, using: &rng)).map { _ -> (String, String, (json: String, expected: String)) in
                let key = rng.unicodeString(Int.random(in: 0...5, using: &rng))
                return (key, escape(key, &rng), randomValue(&rng, depth: depth + 1))
            }
            return ("{" + members.map { "\($0.1)\t: \($0.2.json)" }.joined(separator: ",") + " }",
                    "{" + members.map { "\($0.0.debugDescription):\($0.2.expected)" }.joined(separator: ",") + "}")
        }
    }

    /// A JSON string literal for `s`, escaping some characters at random (\uXXXX, surrogate pairs, short escapes).
    func escape(_ s: String, _ rng: inout SeededRNG) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            let v = scalar.value
            let forced = v < 0x20 || scalar == "\"" || scalar == "\\"
            if forced || Int.random(in: 0..<4, using: &rng) == 0 {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "/": out += "\\/"
                default:
                    if v >= 0x10000 {
                        let u = v - 0x10000
                        out += String(format: "\\u%04X\\u%04x", 0xD800 + (u >> 10), 0xDC00 + (u & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", v)
                    }
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    @Test func randomDocumentsParseToTheirValues() throws {
        var rng = SeededRNG(seed: 41)
        for _ in 0..<400 {
            let (json, expected) = randomValue(&rng, depth: 0)
            let tree = try JSONTree.parse(Array(json.utf8))
            #expect(render(tree) == expected, "\(json)")
            // Foundation agrees that it is valid JSON.
            #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)) != nil, "\(json)")
        }
    }

    @Test func accessors() throws {
        let tree = try JSONTree.parse(Array(#" {"a": [1, "x", 2.5e1], "b": {"c": true}, "a2": null, "d": 4294967295} "#.utf8))
        #expect(tree["a"]?[1]?.string == "x")
        #expect(tree["a"]?[2]?.number == 25)
        #expect(tree["a"]?[0]?.integer(in: 0...1) == 1)
        #expect(tree["a"]?[2]?.integer(in: 0...100) == 25)
        #expect(tree["a"]?[3] == nil)
        #expect(tree["b"]?["c"]?.bool == true)
        #expect(tree["d"]?.integer(in: 0...Int64(UInt32.max - 1)) == nil)
        #expect(tree["missing"] == nil)
        #expect(tree.members?.map(\.key) == ["a", "b", "a2", "d"])
        // A byte order mark before the value is skipped (offsets still count it).
        #expect(try JSONTree.parse([0xEF, 0xBB, 0xBF] + Array(#"{"k": "v"}"#.utf8))["k"]?.string == "v")
        #expect(throws: JSONTree.SyntaxError.self) { try JSONTree.parse([0xEF, 0xBB, 0xBF, 0x7B]) }
    }

    /// The UTF-8 check that every JSON string goes through agrees with the standard library's:
    /// at the edges (overlong forms, surrogates, past U+10FFFF, cut short) and on random bytes.
    @Test func utf8CheckAgreesWithTheStandardLibrary() {
        var cases: [[UInt8]] = [[0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0x9F, 0xBF], [0xE0, 0xA0, 0x80],
                                [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xEF, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF],
                                [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
                                [0xE2, 0x82], [0xE2, 0x82, 0x41], [0x80], [0xFF], [], Array("Ġthe €".utf8)]
        var rng = SeededRNG(seed: 77)
        let pool: [UInt8] = [0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        for _ in 0..<20_000 {
            // Whole characters (1-4 bytes) mixed with stray lead, continuation and other bytes.
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<7: bytes += Array(String(rng.scalar()).utf8)
                case 7, 8: bytes.append(pool.randomElement(using: &rng)!)
                default: bytes.append(UInt8.random(in: 0x80...0xBF, using: &rng))
                }
            }
            cases.append(bytes)
        }
        var valid = 0
        for bytes in cases {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            valid += expected ? 1 : 0
            #expect(bytes.withUnsafeBufferPointer { isValidUTF8($0) } == expected, "\(bytes.map { String($0, radix: 16) })")
        }
        #expect(valid > 1_000 && valid < cases.count - 1_000, "both kinds are tried")
    }

    /// Strict RFC 8259 (Foundation, more lenient, takes the trailing comma).
    @Test func errorsNameWhatAndWhere() {
        let cases: [(String, String)] = [
            (#"{"a": 1,}"#, "expected a string key at byte 8"),
            (#"[1 2]"#, "expected ',' or ']' in an array at byte 3"),
            (#"{"a" 1}"#, "expected ':' after a key at byte 5"),
            (#"{"a": 1"#, "unexpected end of JSON in an object at byte 7"),
            (#""abc"#, "unterminated string at byte 4"),
            (#"["\ud800"]"#, "lone surrogate \\ud800 in a string at byte 8"),
            (#"["\q"]"#, "invalid escape \\'q' at byte 2"),
            (#"[01]"#, "expected ',' or ']' in an array at byte 2"),
            (#"[1.]"#, "invalid number at byte 3"),
            (#"[tru]"#, "invalid literal at byte 1"),
            (#"{} x"#, "unexpected data after the JSON value at byte 3"),
            ("", "unexpected end of JSON at byte 0"),
            ("[\"a\u{1}\"]", "control character 0x1 in a string at byte 3"),
        ]
        for (json, message) in cases {
            #expect(throws: JSONTree.SyntaxError.self, "\(json)") { try JSONTree.parse(Array(json.utf8)) }
            do {
                _ = try JSONTree.parse(Array(json.utf8))
            } catch {
                #expect(error.description == message, "\(json)")
            }
        }
        // Invalid UTF-8 inside a string.
        #expect(throws: JSONTree.SyntaxError.self) { try JSONTree.parse([0x22, 0xFF, 0x22]) }
        // Nesting is bounded.
        #expect(throws: JSONTree.SyntaxError.self) { try JSONTree.parse(Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8)) }
    }
}
