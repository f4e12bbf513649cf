import Foundation

// The JSON parser behind `JSONTree.parse`, and the UTF-8 check and scratch buffer it uses.

extension JSONTree {
    /// The parser, also usable as a cursor that streams through large values (a tokenizer's
    /// vocabulary and merges) without building a tree: `beginObject`/`nextMember`/`key`,
    /// `beginArray`/`nextItem`, `stringBytes`, `number`, and `value` for a subtree.
    ///
    /// Safety: `p` points to `end` readable bytes for the life of the parser (the caller's
    /// buffer, as `init` requires); every read is at an index checked to be below `end`.
    package struct Parser {
        let p: UnsafePointer<UInt8>
        let end: Int
        var i = 0
        /// Unescaped strings: the bytes `stringBytes` returns for them stay valid until the
        /// next string.
        let scratch = ScratchBytes()

        /// A parser of `buffer`, which must stay valid while the parser (or a string it returned) is used.
        package init(_ buffer: UnsafeBufferPointer<UInt8>) {
            // An empty buffer may have no base address; any valid pointer does for zero bytes.
            p = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
            end = buffer.count
        }

        package func error(_ message: String) -> SyntaxError { SyntaxError(offset: i, message: message) }

        /// Skips a UTF-8 byte order mark.
        package mutating func skipByteOrderMark() {
            if i == 0 && end >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { i = 3 }
        }

        /// The next byte after whitespace, without consuming it; nil at the end.
        package mutating func peek() -> UInt8? {
            skipSpace()
            return i < end ? p[i] : nil
        }

        /// Only whitespace is left.
        package mutating func expectEnd() throws(SyntaxError) {
            skipSpace()
            if i < end { throw error("unexpected data after the JSON value") }
        }

        /// Consumes the `{` of an object.
        package mutating func beginObject() throws(SyntaxError) {
            guard peek() == UInt8(ascii: "{") else { throw error("expected an object") }
            i += 1
        }

        /// Whether the object has another member (then `key` reads its key); consumes the `,`
        /// before it, or the closing `}`. `first` starts true for each object.
        package mutating func nextMember(_ first: inout Bool) throws(SyntaxError) -> Bool {
            guard try next(&first, closing: UInt8(ascii: "}"), in: "an object") else { return false }
            guard i < end, p[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            return true
        }

        /// `nextMember` and `nextItem`: false after the closing byte, else past the `,`.
        private mutating func next(_ first: inout Bool, closing: UInt8, in what: String) throws(SyntaxError) -> Bool {
            skipSpace()
            guard i < end else { throw error("unexpected end of JSON in \(what)") }
            if p[i] == closing {
                i += 1
                return false
            }
            if !first {
                guard p[i] == UInt8(ascii: ",") else { throw error("expected ',' or '\(Character(Unicode.Scalar(closing)))' in \(what)") }
                i += 1
                skipSpace()
            }
            first = false
            return true
        }

        /// A member's key and its `:`, the value's bytes next.
        package mutating func key() throws(SyntaxError) -> UnsafeBufferPointer<UInt8> {
            let k = try stringBytes()
            skipSpace()
            guard i < end, p[i] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
            i += 1
            skipSpace()
            return k
        }

        /// Consumes the `[` of an array.
        package mutating func beginArray() throws(SyntaxError) {
            guard peek() == UInt8(ascii: "[") else { throw error("expected an array") }
            i += 1
        }

        /// Whether the array has another item; consumes the `,` before it, or the closing `]`.
        package mutating func nextItem(_ first: inout Bool) throws(SyntaxError) -> Bool {
            try next(&first, closing: UInt8(ascii: "]"), in: "an array")
        }

        /// One value as a tree (for the small parts of a streamed document).
        package mutating func value() throws(SyntaxError) -> JSONTree {
            skipSpace()
            return try value(depth: 2)
        }

        mutating func skipSpace() {
            while i < end {
                switch p[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONTree {
            guard i < end else { throw error("unexpected end of JSON") }
            switch p[i] {
            case UInt8(ascii: "{"):
                guard depth < 512 else { throw error("nested too deeply") }
                return try object(depth: depth + 1)
            case UInt8(ascii: "["):
                guard depth < 512 else { throw error("nested too deeply") }
                return try array(depth: depth + 1)
            case UInt8(ascii: "\""):
                let bytes = try stringBytes()
                return .string(String(decoding: bytes, as: UTF8.self))
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .number(try number())
            default:
                throw error("unexpected character \(describe(p[i]))")
            }
        }

        func describe(_ byte: UInt8) -> String {
            byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16))"
        }

        mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let n = word.utf8CodeUnitCount
            guard i + n <= end, memcmp(p + i, word.utf8Start, n) == 0 else { throw error("invalid literal") }
            i += n
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONTree {
            i += 1  // {
            var members: [(key: String, value: JSONTree)] = []
            skipSpace()
            if i < end && p[i] == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard i < end, p[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = String(decoding: try stringBytes(), as: UTF8.self)
                skipSpace()
                guard i < end, p[i] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
                i += 1
                skipSpace()
                members.append((key, try value(depth: depth)))
                skipSpace()
                guard i < end else { throw error("unexpected end of JSON in an object") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw error("expected ',' or '}' in an object")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONTree {
            i += 1  // [
            var items: [JSONTree] = []
            skipSpace()
            if i < end && p[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth))
                skipSpace()
                guard i < end else { throw error("unexpected end of JSON in an array") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw error("expected ',' or ']' in an array")
            }
        }

        /// A string starting at the opening quote, as UTF-8 bytes (checked valid): they point
        /// into the input, or into a scratch buffer that the next string reuses.
        package mutating func stringBytes() throws(SyntaxError) -> UnsafeBufferPointer<UInt8> {
            let start = i
            guard i < end, p[i] == UInt8(ascii: "\"") else { throw error("expected a string") }
            i += 1
            var j = i
            // Fast path: no escapes.
            while j < end && p[j] != UInt8(ascii: "\"") && p[j] != UInt8(ascii: "\\") && p[j] >= 0x20 { j += 1 }
            if j < end && p[j] == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(start: p + i, count: j - i)
                guard isValidUTF8(bytes) else {
                    i = start
                    throw error("string is not valid UTF-8")
                }
                i = j + 1
                return bytes
            }
            scratch.removeAll()
            scratch.append(UnsafeBufferPointer(start: p + i, count: j - i))
            i = j
            while true {
                guard i < end else { throw error("unterminated string") }
                let c = p[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    guard isValidUTF8(scratch.bytes) else {
                        i = start
                        throw error("string is not valid UTF-8")
                    }
                    return scratch.bytes
                }
                if c < 0x20 { throw error("control character \(describe(c)) in a string") }
                if c != UInt8(ascii: "\\") {
                    scratch.append(c)
                    i += 1
                    continue
                }
                guard i + 1 < end else { throw error("unterminated string") }
                let e = p[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard i + 1 < end, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                            throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string")
                    }
                    for byte in UTF8.encode(Unicode.Scalar(scalar)!)! { scratch.append(byte) }
                default:
                    i -= 2
                    throw error("invalid escape \\\(describe(e))")
                }
            }
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard i + 4 <= end else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = p[i + k]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
            }
            i += 4
            return v
        }

        package mutating func number() throws(SyntaxError) -> Double {
            let start = i
            if p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < end, p[i] >= UInt8(ascii: "0") && p[i] <= UInt8(ascii: "9") else { throw error("invalid number") }
            if p[i] == UInt8(ascii: "0") {
                i += 1
            } else {
                while i < end && p[i] >= UInt8(ascii: "0") && p[i] <= UInt8(ascii: "9") { i += 1 }
            }
            var integral = true
            if i < end && p[i] == UInt8(ascii: ".") {
                integral = false
                i += 1
                let digits = i
                while i < end && p[i] >= UInt8(ascii: "0") && p[i] <= UInt8(ascii: "9") { i += 1 }
                guard i > digits else { throw error("invalid number") }
            }
            if i < end && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
                integral = false
                i += 1
                if i < end && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
                let digits = i
                while i < end && p[i] >= UInt8(ascii: "0") && p[i] <= UInt8(ascii: "9") { i += 1 }
                guard i > digits else { throw error("invalid number") }
            }
            let text = UnsafeBufferPointer(start: p + start, count: i - start)
            if integral && text.count <= 16 {
                // Exact in a Double: up to 15 digits and a sign.
                var v: Int64 = 0
                for c in text where c != UInt8(ascii: "-") { v = v * 10 + Int64(c - UInt8(ascii: "0")) }
                return Double(text[0] == UInt8(ascii: "-") ? -v : v)
            }
            guard let v = Double(String(decoding: text, as: UTF8.self)) else { throw error("invalid number") }
            return v
        }
    }
}

/// Whether `b` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF),
/// as `String(validating:)` decides, without making a string.
package func isValidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
    let n = b.count
    var i = 0
    while i < n {
        let c = b[i]
        if c < 0x80 {
            i += 1
            continue
        }
        @inline(__always) func tail(_ k: Int) -> Bool { i + k < n && b[i + k] & 0xC0 == 0x80 }
        switch c {
        case 0xC2...0xDF:
            guard tail(1) else { return false }
            i += 2
        case 0xE0...0xEF:
            guard tail(1), tail(2) else { return false }
            if c == 0xE0 && b[i + 1] < 0xA0 { return false }   // overlong
            if c == 0xED && b[i + 1] >= 0xA0 { return false }  // a surrogate
            i += 3
        case 0xF0...0xF4:
            guard tail(1), tail(2), tail(3) else { return false }
            if c == 0xF0 && b[i + 1] < 0x90 { return false }   // overlong
            if c == 0xF4 && b[i + 1] >= 0x90 { return false }  // past U+10FFFF
            i += 4
        default:
            return false
        }
    }
    return true
}

/// A growable byte buffer whose bytes stay put until it is next changed (unlike an `Array`'s,
/// which may not be used outside `withUnsafeBufferPointer`).
///
/// Safety: `base` holds `capacity` bytes, the first `count` written; `reserve` makes room
/// before every write and frees the old bytes only when it moves them.
final class ScratchBytes {
    private var base = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
    private var capacity = 64
    private(set) var count = 0

    deinit { base.deallocate() }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    func removeAll() { count = 0 }

    private func reserve(_ n: Int) {
        guard count + n > capacity else { return }
        while count + n > capacity { capacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
    }

    func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress else { return }
        reserve(bytes.count)
        (base + count).update(from: from, count: bytes.count)
        count += bytes.count
    }
}
