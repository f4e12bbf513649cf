#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one JSONL line gave for the text field.
enum JSONFieldResult: Equatable {
    /// The field holds a string; its decoded UTF-8 is at the scanner's `decoded`.
    case text
    /// The line is a JSON object without the field.
    case missing
    /// The field holds something other than a string.
    case notString
    /// The line is not one valid JSON object.
    case bad
}

/// A hand-written scanner for one JSONL line: it checks that the line is exactly one JSON
/// object (RFC 8259, plus Python's NaN / Infinity / -Infinity and raw control characters inside
/// strings) and decodes the string value of one top-level field. Nested objects and arrays are
/// skipped, validated, up to `maxDepth` levels. When a key repeats, the last value wins (as in
/// Python's `json`).
///
/// Escapes: `\" \\ \/ \b \f \n \r \t \uXXXX`; a `\uD8xx\uDCxx` surrogate pair becomes one
/// 4-byte scalar; a lone surrogate becomes U+FFFD and is counted in `loneSurrogates`.
///
/// Strings are scanned eight bytes at a time for `"` and `\`; runs between escapes are copied
/// with memcpy. The scanner holds two raw pointers and is created per line.
struct JSONLineScanner {
    static let maxDepth = 1000

    private var p: UnsafePointer<UInt8>
    private let end: UnsafePointer<UInt8>
    /// Lone surrogate escapes in the decoded field value.
    private(set) var loneSurrogates = 0
    /// Whether the last decoded string was all ASCII (so valid UTF-8 without a further check).
    private(set) var decodedASCII = false
    /// Where the field's decoded text is after `extractFieldInPlace` returned `.text`.
    private(set) var decoded = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)

    /// Safety: `line` must point at `count` readable and writable bytes for the scanner's lifetime.
    init(_ line: UnsafeMutablePointer<UInt8>, count: Int) {
        p = UnsafePointer(line)
        end = p + count
    }

    /// Scans the whole line and decodes the top-level string field `field` over its own escaped
    /// form in the line, so the line must be writable (as a record in a batch or the read window
    /// is); the text is then at `decoded`, inside the line. A decoded string is never longer
    /// than its escaped form and is written behind the reading, so nothing not yet read is
    /// overwritten. `keyScratch` holds keys that contain escapes while they are compared.
    mutating func extractFieldInPlace(_ field: UnsafeBufferPointer<UInt8>, keyScratch: inout ByteBuffer) -> JSONFieldResult {
        decoded = UnsafeMutableBufferPointer(start: nil, count: 0)
        var result = JSONFieldResult.missing
        skipWhitespace()
        guard p < end, p.pointee == UInt8(ascii: "{") else { return .bad }
        p += 1
        skipWhitespace()
        if p < end && p.pointee == UInt8(ascii: "}") {
            p += 1
        } else {
            while true {
                guard p < end, p.pointee == UInt8(ascii: "\"") else { return .bad }
                p += 1
                let keyStart = p
                guard let (keyEnd, escaped) = skipStringBody() else { return .bad }
                let matches: Bool
                if !escaped {
                    matches = keyEnd - keyStart == field.count
                        && (field.isEmpty || memcmp(keyStart, field.baseAddress!, field.count) == 0)
                } else {
                    matches = keyEquals(keyStart, keyEnd, field, scratch: &keyScratch)
                }
                skipWhitespace()
                guard p < end, p.pointee == UInt8(ascii: ":") else { return .bad }
                p += 1
                skipWhitespace()
                if matches && p < end && p.pointee == UInt8(ascii: "\"") {
                    p += 1
                    loneSurrogates = 0
                    let target = UnsafeMutablePointer(mutating: p)
                    guard let n = decodeStringBody(into: target) else { return .bad }
                    decoded = UnsafeMutableBufferPointer(start: target, count: n)
                    result = .text
                } else {
                    guard skipValue(depth: 1) else { return .bad }
                    if matches {
                        decoded = UnsafeMutableBufferPointer(start: nil, count: 0)
                        loneSurrogates = 0
                        result = .notString
                    }
                }
                skipWhitespace()
                guard p < end else { return .bad }
                if p.pointee == UInt8(ascii: ",") {
                    p += 1
                    skipWhitespace()
                    continue
                }
                guard p.pointee == UInt8(ascii: "}") else { return .bad }
                p += 1
                break
            }
        }
        skipWhitespace()
        return p == end ? result : .bad
    }

    // MARK: strings

    /// Whether the escaped key `[start, end)` decodes to `field`.
    private mutating func keyEquals(_ start: UnsafePointer<UInt8>, _ keyEnd: UnsafePointer<UInt8>,
                                    _ field: UnsafeBufferPointer<UInt8>, scratch: inout ByteBuffer) -> Bool {
        let resume = p, savedSurrogates = loneSurrogates, savedASCII = decodedASCII
        defer {
            p = resume
            loneSurrogates = savedSurrogates
            decodedASCII = savedASCII
        }
        scratch.count = 0
        scratch.reserve(keyEnd - start + 1)
        p = start
        guard let n = decodeStringBody(into: scratch.base) else { return false }
        return n == field.count && (n == 0 || memcmp(scratch.base, field.baseAddress!, n) == 0)
    }

    /// Skips a string body (after its opening quote) up to and past the closing quote, checking
    /// its escapes. Returns the closing quote's position and whether the body held escapes.
    private mutating func skipStringBody() -> (UnsafePointer<UInt8>, Bool)? {
        var escaped = false
        var seen: UInt64 = 0
        while true {
            p = findQuoteOrBackslash(p, end, seen: &seen)
            guard p < end else { return nil }
            if p.pointee == UInt8(ascii: "\"") {
                let quote = p
                p += 1
                return (quote, escaped)
            }
            escaped = true
            guard end - p >= 2 else { return nil }
            switch p[1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                 UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                p += 2
            case UInt8(ascii: "u"):
                guard hex4(p + 2) != nil else { return nil }
                p += 6
            default:
                return nil
            }
        }
    }

    /// Decodes a string body (after its opening quote) into `out`, moving past the closing
    /// quote. Returns the number of bytes written (never more than the body's length).
    private mutating func decodeStringBody(into out: UnsafeMutablePointer<UInt8>) -> Int? {
        var o = out
        var seen: UInt64 = 0
        defer { decodedASCII = seen & 0x8080_8080_8080_8080 == 0 }
        while true {
            let stop = findQuoteOrBackslash(p, end, seen: &seen)
            guard stop < end else { return nil }
            let run = stop - p
            if run > 0 {
                // Safety: o only moves forward by at most what p moves, so the body fits in
                // `out` (its escaped form, in place, or a buffer as long). In place (o <= p) the
                // regions may overlap, which `update(from:count:)` allows.
                o.update(from: p, count: run)
                o += run
            }
            p = stop
            if p.pointee == UInt8(ascii: "\"") {
                p += 1
                return out.distance(to: o)
            }
            guard end - p >= 2 else { return nil }
            let c = p[1]
            p += 2
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): o.pointee = c
            case UInt8(ascii: "b"): o.pointee = 0x08
            case UInt8(ascii: "f"): o.pointee = 0x0C
            case UInt8(ascii: "n"): o.pointee = 0x0A
            case UInt8(ascii: "r"): o.pointee = 0x0D
            case UInt8(ascii: "t"): o.pointee = 0x09
            case UInt8(ascii: "u"):
                guard let unit = hex4(p) else { return nil }
                p += 4
                var scalar = unit
                if (0xD800...0xDBFF).contains(unit) {
                    if end - p >= 6, p[0] == UInt8(ascii: "\\"), p[1] == UInt8(ascii: "u"),
                       let low = hex4(p + 2), (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        p += 6
                    } else {
                        scalar = 0xFFFD
                        loneSurrogates += 1
                    }
                } else if (0xDC00...0xDFFF).contains(unit) {
                    scalar = 0xFFFD
                    loneSurrogates += 1
                }
                if scalar >= 0x80 { seen |= 0x80 }
                o += writeUTF8(scalar, o)
                continue
            default:
                return nil
            }
            o += 1
        }
    }

    /// The value of four hex digits at `q`, or nil.
    @inline(__always)
    private func hex4(_ q: UnsafePointer<UInt8>) -> UInt32? {
        guard end - q >= 4 else { return nil }
        var value: UInt32 = 0
        for k in 0..<4 {
            let c = q[k]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    // MARK: other values

    private mutating func skipWhitespace() {
        while p < end {
            let c = p.pointee
            guard c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A else { return }
            p += 1
        }
    }

    /// Skips one value of any kind, checking it.
    private mutating func skipValue(depth: Int) -> Bool {
        guard p < end else { return false }
        switch p.pointee {
        case UInt8(ascii: "\""):
            p += 1
            return skipStringBody() != nil
        case UInt8(ascii: "{"): return skipContainer(close: UInt8(ascii: "}"), keyed: true, depth: depth)
        case UInt8(ascii: "["): return skipContainer(close: UInt8(ascii: "]"), keyed: false, depth: depth)
        case UInt8(ascii: "t"): return skipLiteral("true")
        case UInt8(ascii: "f"): return skipLiteral("false")
        case UInt8(ascii: "n"): return skipLiteral("null")
        case UInt8(ascii: "N"): return skipLiteral("NaN")
        case UInt8(ascii: "I"): return skipLiteral("Infinity")
        case UInt8(ascii: "-"):
            if end - p >= 2 && p[1] == UInt8(ascii: "I") {
                p += 1
                return skipLiteral("Infinity")
            }
            return skipNumber()
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return skipNumber()
        default: return false
        }
    }

    /// Skips an object (`keyed`) or an array starting at `p`.
    private mutating func skipContainer(close: UInt8, keyed: Bool, depth: Int) -> Bool {
        guard depth < Self.maxDepth else { return false }
        p += 1
        skipWhitespace()
        if p < end && p.pointee == close {
            p += 1
            return true
        }
        while true {
            if keyed {
                guard p < end, p.pointee == UInt8(ascii: "\"") else { return false }
                p += 1
                guard skipStringBody() != nil else { return false }
                skipWhitespace()
                guard p < end, p.pointee == UInt8(ascii: ":") else { return false }
                p += 1
                skipWhitespace()
            }
            guard skipValue(depth: depth + 1) else { return false }
            skipWhitespace()
            guard p < end else { return false }
            if p.pointee == UInt8(ascii: ",") {
                p += 1
                skipWhitespace()
                continue
            }
            guard p.pointee == close else { return false }
            p += 1
            return true
        }
    }

    private mutating func skipLiteral(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard end - p >= n, memcmp(p, literal.utf8Start, n) == 0 else { return false }
        p += n
        return true
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func skipNumber() -> Bool {
        if p < end && p.pointee == UInt8(ascii: "-") { p += 1 }
        guard p < end, isDigit(p.pointee) else { return false }
        if p.pointee == UInt8(ascii: "0") { p += 1 } else { skipDigits() }
        if p < end && p.pointee == UInt8(ascii: ".") {
            p += 1
            guard p < end, isDigit(p.pointee) else { return false }
            skipDigits()
        }
        if p < end && (p.pointee == UInt8(ascii: "e") || p.pointee == UInt8(ascii: "E")) {
            p += 1
            if p < end && (p.pointee == UInt8(ascii: "+") || p.pointee == UInt8(ascii: "-")) { p += 1 }
            guard p < end, isDigit(p.pointee) else { return false }
            skipDigits()
        }
        return true
    }

    @inline(__always) private func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    private mutating func skipDigits() {
        while p < end && isDigit(p.pointee) { p += 1 }
    }
}

/// The first `"` or `\` in `[p, end)`, or `end`. Eight bytes at a time: a byte equal to `c`
/// is a zero byte of `word ^ c·0x0101…`, and the lowest flagged byte is always a true match.
/// Every byte passed over (and possibly a few after the match) is OR-ed into `seen`, so that
/// `seen & 0x80 == 0` proves them all ASCII.
@inline(__always)
func findQuoteOrBackslash(_ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>,
                          seen: inout UInt64) -> UnsafePointer<UInt8> {
    let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
    var q = start
    while end - q >= 8 {
        // Safety: q..<q+8 lies before `end`.
        let word = UInt64(littleEndian: UnsafeRawPointer(q).loadUnaligned(as: UInt64.self))
        seen |= word
        let quotes = word ^ (0x22 &* ones), backslashes = word ^ (0x5C &* ones)
        let hits = ((quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes) & highs
        if hits != 0 { return q + (hits.trailingZeroBitCount >> 3) }
        q += 8
    }
    while q < end && q.pointee != 0x22 && q.pointee != 0x5C {
        seen |= UInt64(q.pointee)
        q += 1
    }
    return q
}

/// Writes `scalar` (a valid non-surrogate scalar value) as UTF-8 at `o`; returns its length.
@inline(__always)
func writeUTF8(_ scalar: UInt32, _ o: UnsafeMutablePointer<UInt8>) -> Int {
    switch scalar {
    case 0..<0x80:
        o[0] = UInt8(scalar)
        return 1
    case 0x80..<0x800:
        o[0] = UInt8(0xC0 | scalar >> 6)
        o[1] = UInt8(0x80 | scalar & 0x3F)
        return 2
    case 0x800..<0x10000:
        o[0] = UInt8(0xE0 | scalar >> 12)
        o[1] = UInt8(0x80 | (scalar >> 6) & 0x3F)
        o[2] = UInt8(0x80 | scalar & 0x3F)
        return 3
    default:
        o[0] = UInt8(0xF0 | scalar >> 18)
        o[1] = UInt8(0x80 | (scalar >> 12) & 0x3F)
        o[2] = UInt8(0x80 | (scalar >> 6) & 0x3F)
        o[3] = UInt8(0x80 | scalar & 0x3F)
        return 4
    }
}
