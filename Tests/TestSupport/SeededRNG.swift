/// A small, fast, seeded random number generator (SplitMix64) for reproducible tests.
///
///     var rng = SeededRNG(seed: 42)
///     let x = Int.random(in: 0..<10, using: &rng)   // same every run
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }

    /// A random valid Unicode scalar, drawn from a mix of ASCII, Latin, CJK, emoji, combining
    /// marks, unusual whitespace and digits of other scripts, so that tests reach every class.
    public mutating func scalar() -> Unicode.Scalar {
        let pools: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0x20...0x7E, 0x20...0x7E, 0x09...0x0D,      // ASCII (weighted) and controls
            0x00A0...0x024F, 0x0300...0x036F,                       // Latin-1/Extended, combining marks
            0x0370...0x03FF, 0x0400...0x04FF, 0x0590...0x06FF,      // Greek, Cyrillic, Hebrew, Arabic
            0x0900...0x097F, 0x0E00...0x0E7F,                       // Devanagari, Thai
            0x1100...0x11FF, 0x2000...0x206F, 0x3000...0x303F,      // Hangul Jamo, punctuation/spaces, CJK punct
            0x3040...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3,      // kana, CJK, Hangul
            0xFF00...0xFFEF, 0x1F300...0x1FAFF, 0x10000...0x1FFFF,  // fullwidth, emoji, astral planes
            0x0660...0x0669, 0x0966...0x096F, 0x2160...0x2188,      // Arabic-Indic/Devanagari digits, Roman numerals
        ]
        while true {
            let pool = pools[Int.random(in: 0..<pools.count, using: &self)]
            if let s = Unicode.Scalar(UInt32.random(in: pool, using: &self)) { return s }
        }
    }

    /// A random valid UTF-8 string of `count` scalars.
    public mutating func unicodeString(_ count: Int) -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<count { s.append(scalar()) }
        return String(s)
    }
}
