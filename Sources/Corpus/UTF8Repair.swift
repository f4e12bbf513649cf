/// UTF-8 validation and repair over raw bytes.
///
/// Repair follows the Unicode "maximal subpart" practice that WHATWG's decoder and Python's
/// `bytes.decode("utf-8", "replace")` use: each maximal prefix of a valid sequence that cannot
/// be completed, and each byte that cannot start one, becomes one U+FFFD.
///
///     [0x61, 0xE2, 0x82, 0x41, 0xFF]  →  "a\u{FFFD}A\u{FFFD}"
enum UTF8Check {
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Offset of the first byte that is not part of valid UTF-8, or nil when all is valid.
    /// ASCII runs are checked 32, then 8 bytes at a time.
    static func firstInvalid(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        var i = 0
        while i < n {
            while i + 32 <= n {
                // Safety: bytes i..<i+32 lie inside the n bytes at p.
                let raw = UnsafeRawPointer(p + i)
                let any = raw.loadUnaligned(as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                    | raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
                if any & highBits != 0 { break }
                i += 32
            }
            while i + 8 <= n {
                // Safety: bytes i..<i+8 lie inside the n bytes at p.
                let word = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)) & highBits
                if word != 0 {
                    i += word.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
            while i < n && p[i] < 0x80 { i += 1 }
            guard i < n else { return nil }
            let length = validSequenceLength(p, i, n)
            if length == 0 { return i }
            i += length
        }
        return nil
    }

    /// Writes `p[0..<n]` to `out` (replacing its contents) with every maximal invalid subpart
    /// replaced by U+FFFD (EF BF BD).
    static func repair(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout ByteBuffer) {
        out.count = 0
        out.reserve(3 * n)
        let o = out.base
        var i = 0, w = 0
        while i < n {
            let b = p[i]
            if b < 0x80 {
                o[w] = b
                w += 1
                i += 1
                continue
            }
            let length = validSequenceLength(p, i, n)
            if length > 0 {
                for k in 0..<length { o[w + k] = p[i + k] }
                w += length
                i += length
            } else {
                o[w] = 0xEF; o[w + 1] = 0xBF; o[w + 2] = 0xBD
                w += 3
                i += maximalSubpart(p, i, n)
            }
        }
        out.count = w
    }

    /// The allowed range of the second byte after lead byte `b0` (Unicode Table 3-7).
    @inline(__always)
    private static func secondByteRange(_ b0: UInt8) -> ClosedRange<UInt8> {
        switch b0 {
        case 0xE0: return 0xA0...0xBF      // no overlong 3-byte forms
        case 0xED: return 0x80...0x9F      // no surrogates
        case 0xF0: return 0x90...0xBF      // no overlong 4-byte forms
        case 0xF4: return 0x80...0x8F      // nothing above U+10FFFF
        default: return 0x80...0xBF
        }
    }

    /// Continuation bytes that lead byte `b0` needs (0 for a byte that cannot lead).
    @inline(__always)
    private static func continuationCount(_ b0: UInt8) -> Int {
        if b0 < 0xC2 { return 0 }
        if b0 < 0xE0 { return 1 }
        if b0 < 0xF0 { return 2 }
        if b0 < 0xF5 { return 3 }
        return 0
    }

    /// Length of the valid multi-byte sequence at `p[i]` (a byte ≥ 0x80), or 0 if invalid.
    @inline(__always)
    private static func validSequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b0 = p[i]
        let need = continuationCount(b0)
        guard need > 0, i + need < n, secondByteRange(b0).contains(p[i + 1]) else { return 0 }
        if need >= 2 && p[i + 2] & 0xC0 != 0x80 { return 0 }
        if need == 3 && p[i + 3] & 0xC0 != 0x80 { return 0 }
        return need + 1
    }

    /// Bytes of the maximal invalid subpart at `p[i]` (at least 1): the lead byte and the
    /// continuation bytes that were still acceptable before the sequence broke off.
    private static func maximalSubpart(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b0 = p[i]
        let need = continuationCount(b0)
        guard need > 0, i + 1 < n, secondByteRange(b0).contains(p[i + 1]) else { return 1 }
        var k = 2
        while k <= need {
            if i + k >= n || p[i + k] & 0xC0 != 0x80 { return k }
            k += 1
        }
        return k
    }
}
