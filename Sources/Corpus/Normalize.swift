#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The opt-in normalization stages. Each reads valid UTF-8 and writes its result to `out`
/// (replacing its contents); the `needs…` checks let the reader skip a stage that would not
/// change the text.
enum Normalize {
    private static let cr: UInt8 = 0x0D, lf: UInt8 = 0x0A

    // MARK: line endings

    static func needsLineEndings(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        n > 0 && memchr(p, Int32(cr), n) != nil
    }

    /// CRLF → LF, lone CR → LF.
    static func lineEndings(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout ByteBuffer) {
        out.count = 0
        out.reserve(n)
        let o = out.base
        var i = 0, w = 0
        while i < n {
            let b = p[i]
            i += 1
            if b == cr {
                o[w] = lf
                if i < n && p[i] == lf { i += 1 }
            } else {
                o[w] = b
            }
            w += 1
        }
        out.count = w
    }

    // MARK: NFC

    /// False when the text is NFC without looking further: every scalar below U+0300 (lead
    /// bytes below 0xCC) is NFC, since no canonical composition or reordering involves them alone.
    static func needsNFC(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i + 8 <= n {
            // Safety: bytes i..<i+8 lie inside the n bytes at p. Words without a high bit are ASCII.
            if UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                for k in i..<(i + 8) where p[k] >= 0xCC { return true }
            }
            i += 8
        }
        while i < n {
            if p[i] >= 0xCC { return true }
            i += 1
        }
        return false
    }

    /// Unicode Normalization Form C, by the standard library's normalizer (the one behind String
    /// comparison, with current Unicode data). Foundation's `precomposedStringWithCanonicalMapping`
    /// is not used: on Linux it leaves Hangul LV + T jamo uncomposed (U+AC00 U+11A8 stays two
    /// scalars instead of U+AC01), which the NFC test against Python caught.
    static func nfc(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout ByteBuffer) {
        let composed = String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)._nfcCodeUnits
        out.count = 0
        composed.withUnsafeBufferPointer { bytes in
            if let base = bytes.baseAddress { out.append(base, bytes.count) }
        }
    }

    // MARK: whitespace

    /// Length of the horizontal whitespace character at `p[i]`, or 0: tab and the Unicode
    /// space separators (Zs): U+0020, U+00A0, U+1680, U+2000–U+200A, U+202F, U+205F, U+3000.
    @inline(__always)
    static func horizontalSpaceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b = p[i]
        if b == 0x20 || b == 0x09 { return 1 }
        if b < 0xC2 { return 0 }
        if b == 0xC2 { return i + 1 < n && p[i + 1] == 0xA0 ? 2 : 0 }
        guard i + 2 < n else { return 0 }
        let b1 = p[i + 1], b2 = p[i + 2]
        switch b {
        case 0xE1: return b1 == 0x9A && b2 == 0x80 ? 3 : 0                       // U+1680
        case 0xE2:
            if b1 == 0x80 && (b2 <= 0x8A || b2 == 0xAF) { return 3 }             // U+2000-200A, U+202F
            return b1 == 0x81 && b2 == 0x9F ? 3 : 0                               // U+205F
        case 0xE3: return b1 == 0x80 && b2 == 0x80 ? 3 : 0                       // U+3000
        default: return 0
        }
    }

    /// Every run of horizontal whitespace becomes one U+0020; runs before "\n", "\r" or the
    /// end of the text are removed.
    static func whitespace(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout ByteBuffer) {
        out.count = 0
        out.reserve(n)
        let o = out.base
        var i = 0, w = 0
        var pendingSpace = false
        while i < n {
            // Bytes 0x21...0xC1 (printable ASCII, DEL, continuation bytes) are never spaces or
            // line ends, nor the lead byte of a Unicode space: copy them straight.
            var b = p[i]
            if b &- 0x21 < 0xC2 - 0x21 {
                if pendingSpace {
                    o[w] = 0x20
                    w += 1
                    pendingSpace = false
                }
                repeat {
                    o[w] = b
                    w += 1
                    i += 1
                    guard i < n else { break }
                    b = p[i]
                } while b &- 0x21 < 0xC2 - 0x21
                continue
            }
            let space = horizontalSpaceLength(p, i, n)
            if space > 0 {
                pendingSpace = true
                i += space
                continue
            }
            if b == lf || b == cr {
                pendingSpace = false
            } else if pendingSpace {
                o[w] = 0x20
                w += 1
                pendingSpace = false
            }
            o[w] = b
            w += 1
            i += 1
        }
        out.count = w
    }
}
