/// GPT-2's byte-level alphabet: every byte gets a printable stand-in character, so that byte
/// strings can be written as text in `tokenizer.json` (vocab keys and merges).
///
/// Bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves; the other 68 bytes (controls,
/// space, DEL, NBSP, soft hyphen…) map to U+0100, U+0101, … in byte order. So `" the"` is
/// written `"Ġthe"` (space → U+0120 `Ġ`) and `"\n"` is `"Ċ"`.
public enum ByteLevel {
    /// `scalar[b]`: the stand-in code point of byte `b`.
    public static let scalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if isPrintable(UInt8(b)) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The 256 bytes in the order of their stand-in code points. Hugging Face's trainer gives
    /// the initial alphabet ids in this order (after the special tokens).
    public static let bytesByCodePoint: [UInt8] = (0..<256).map { UInt8($0) }
        .sorted { scalar[Int($0)] < scalar[Int($1)] }

    /// Inverse of `scalar`, for code points below 512 (every stand-in is below 324).
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for b in 0..<256 { table[Int(scalar[b])] = Int16(b) }
        return table
    }()

    @inline(__always)
    static func isPrintable(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The byte-level text of `bytes`: `encode([0x20, 0x61]) == "Ġa"`.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(scalar[Int(b)])!) }
        return String(s)
    }

    /// `decode` for text given as UTF-8 bytes (nil for bytes that are not UTF-8, too).
    static func decode(utf8 b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            let c = b[i]
            let length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4
            guard i + length <= b.count else { return nil }
            var v = length == 1 ? Int(c) : Int(c) & (0x7F >> length)
            for k in 1..<length {
                guard b[i + k] & 0xC0 == 0x80 else { return nil }
                v = v << 6 | Int(b[i + k] & 0x3F)
            }
            i += length
            guard v < byteOfScalar.count, byteOfScalar[v] >= 0 else { return nil }
            out.append(UInt8(byteOfScalar[v]))
        }
        return out
    }

    /// The bytes behind a byte-level string, or nil if it holds a character outside the alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars {
            let v = Int(u.value)
            guard v < byteOfScalar.count, byteOfScalar[v] >= 0 else { return nil }
            out.append(UInt8(byteOfScalar[v]))
        }
        return out
    }
}
