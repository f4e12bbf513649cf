// Code-point classes for the pre-tokenizers, and the UTF-8 decoding they share.
//
// The pre-tokenizer regexes ask four questions of a character: is it a letter (\p{L}), a number
// (\p{N}), white space (\s), and, for o200k only, is it in [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] ("upper")
// or in [\p{Ll}\p{Lm}\p{Lo}\p{M}] ("lower"). One byte of flags per code point answers all of them.
//
// The classes are those of Unicode 16.0 as tiktoken (fancy-regex) and Hugging Face tokenizers
// (Oniguruma) see them, generated into UnicodeClassData.swift by scripts/gen_unicode_tables.py.
// Swift's own `Unicode.Scalar.Properties` (Unicode 17.0 in Swift 6.3) would differ on ~4,700 code
// points new in 17.0 and on U+0295 (Ll in 16.0, Lo in 17.0).
//
// Invalid UTF-8: a byte that does not start a well-formed sequence (overlong forms, surrogates,
// values above U+10FFFF, truncated sequences, stray continuation bytes) is one character of one byte
// with no flags: not a letter, number or space, so it behaves like punctuation. Valid text never
// contains such bytes, so the regex oracles are unaffected; this only makes any byte string splittable.

/// The flags of one code point (an `OptionSet` over one byte).
public struct UnicodeClass: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `\p{L}`: Lu, Ll, Lt, Lm, Lo.
    public static let letter = UnicodeClass(rawValue: 1)
    /// `\p{N}`: Nd, Nl, No.
    public static let number = UnicodeClass(rawValue: 2)
    /// `\s`: the White_Space property (the same set as Zs, Zl, Zp plus U+0009-U+000D and U+0085).
    public static let space = UnicodeClass(rawValue: 4)
    /// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
    public static let upper = UnicodeClass(rawValue: 8)
    /// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
    public static let lower = UnicodeClass(rawValue: 16)

    /// The class of code point `value` (any value; surrogates and values past U+10FFFF have none).
    public static func of(_ value: UInt32) -> UnicodeClass {
        guard value < 0x110000 else { return [] }
        return UnicodeClass(rawValue: UnicodeClassTable.shared.flags(value))
    }
}

extension UnicodeClass {
    /// The generated runs, decoded: `starts[k]..<starts[k+1]` has flags `flags[k]`.
    /// Parsed from the compact text in UnicodeClassData.swift (a string literal compiles much faster
    /// than a 3,000-element array literal).
    static let decodedRuns: (starts: [UInt32], flags: [UInt8]) = {
        var starts: [UInt32] = [], flags: [UInt8] = []
        starts.reserveCapacity(runCount)
        flags.reserveCapacity(runCount)
        for cell in runs.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x0A }) {
            var start: UInt32 = 0, flag: UInt32 = 0, seenColon = false
            for byte in cell {
                if byte == UInt8(ascii: ":") { seenColon = true; continue }
                let digit = UInt32(byte >= 0x41 ? byte - 0x41 + 10 : byte - 0x30)
                if seenColon { flag = flag << 4 | digit } else { start = start << 4 | digit }
            }
            starts.append(start)
            flags.append(UInt8(truncatingIfNeeded: flag))
        }
        return (starts, flags)
    }()

    /// The class of `value` by binary search over the generated runs: the slow twin of the table.
    package static func bySearch(_ value: UInt32) -> UnicodeClass {
        let (starts, flags) = decodedRuns
        var low = 0, high = starts.count   // invariant: starts[low] <= value < starts[high]
        while high - low > 1 {
            let mid = (low + high) / 2
            if starts[mid] <= value { low = mid } else { high = mid }
        }
        return UnicodeClass(rawValue: flags[low])
    }
}

/// A two-level lookup table from code point to class flags, built once from the generated runs.
///
/// `blockIndex[cp >> 8]` names a 256-entry block of `blocks`; identical blocks are stored once
/// (140 distinct blocks: 45 KB in all). Block 0 covers U+0000-U+00FF, so `blocks[byte]` is the
/// class of an ASCII byte.
///
/// Safety: the two buffers are allocated once, filled before `shared` is published, never written
/// again and never freed, so reading them from any thread at any time is sound.
@usableFromInline
struct UnicodeClassTable: @unchecked Sendable {
    @usableFromInline let blockIndex: UnsafePointer<UInt16>
    @usableFromInline let blocks: UnsafePointer<UInt8>

    @usableFromInline static let shared = UnicodeClassTable()

    private init() {
        let (starts, runFlags) = UnicodeClass.decodedRuns
        let blockCount = 0x110000 >> 8
        var distinct: [[UInt8]: UInt16] = [:]
        var ordered: [[UInt8]] = []
        let index = UnsafeMutablePointer<UInt16>.allocate(capacity: blockCount)
        var run = 0
        var uniform: [UInt8: UInt16] = [:]
        for block in 0..<blockCount {
            // Most blocks lie inside one run (unassigned planes, CJK, Hangul…): one flag for all.
            let first = UInt32(block << 8)
            while run + 1 < starts.count && starts[run + 1] <= first { run += 1 }
            if run + 1 == starts.count || starts[run + 1] > first | 0xFF {
                let flag = runFlags[run]
                if let known = uniform[flag] {
                    index[block] = known
                    continue
                }
                let number = UInt16(ordered.count)
                let entries = [UInt8](repeating: flag, count: 256)
                uniform[flag] = number
                distinct[entries] = number
                ordered.append(entries)
                index[block] = number
                continue
            }
            var entries = [UInt8](repeating: 0, count: 256)
            for low in 0..<256 {
                let cp = UInt32(block << 8 | low)
                while run + 1 < starts.count && starts[run + 1] <= cp { run += 1 }
                entries[low] = runFlags[run]
            }
            if let known = distinct[entries] {
                index[block] = known
            } else {
                let number = UInt16(ordered.count)
                distinct[entries] = number
                ordered.append(entries)
                index[block] = number
            }
        }
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: ordered.count * 256)
        for (number, entries) in ordered.enumerated() {
            for low in 0..<256 { table[number * 256 + low] = entries[low] }
        }
        blockIndex = UnsafePointer(index)
        blocks = UnsafePointer(table)
    }

    /// Flags of a code point below 0x110000.
    @inlinable @inline(__always)
    func flags(_ value: UInt32) -> UInt8 {
        blocks[Int(blockIndex[Int(value &>> 8)]) &<< 8 | Int(value & 0xFF)]
    }

    /// Flags of the character starting at `text[i]` (with `i < end`) and its length in bytes.
    /// ASCII is one load; a byte that does not start well-formed UTF-8 is flagless and one byte long.
    @inlinable @inline(__always)
    func classify(_ text: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (flags: UInt8, length: Int) {
        let b0 = text[i]
        if b0 < 0x80 { return (blocks[Int(b0)], 1) }
        return classifyMultibyte(text, i, end)
    }

    /// `classify` for a lead byte of 0x80 or more.
    @inlinable @inline(__always)
    func classifyMultibyte(_ text: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (flags: UInt8, length: Int) {
        let b0 = UInt32(text[i])
        if b0 < 0xE0 {
            // 2 bytes: C2..DF 80..BF (C0, C1 would be overlong; 80..BF are stray continuations).
            guard b0 >= 0xC2, i + 1 < end else { return (0, 1) }
            let b1 = UInt32(text[i + 1]) ^ 0x80
            guard b1 < 0x40 else { return (0, 1) }
            return (flags((b0 & 0x1F) << 6 | b1), 2)
        }
        if b0 < 0xF0 {
            // 3 bytes: E0 A0..BF, E1..EC 80..BF, ED 80..9F (no surrogates), EE..EF 80..BF; then 80..BF.
            guard i + 2 < end else { return (0, 1) }
            let b1 = UInt32(text[i + 1]) ^ 0x80, b2 = UInt32(text[i + 2]) ^ 0x80
            guard b1 < 0x40, b2 < 0x40 else { return (0, 1) }
            let value = (b0 & 0x0F) << 12 | b1 << 6 | b2
            guard value >= 0x800, value & 0xF800 != 0xD800 else { return (0, 1) }
            return (flags(value), 3)
        }
        // 4 bytes: F0 90..BF, F1..F3 80..BF, F4 80..8F; then 80..BF twice.
        guard b0 <= 0xF4, i + 3 < end else { return (0, 1) }
        let b1 = UInt32(text[i + 1]) ^ 0x80, b2 = UInt32(text[i + 2]) ^ 0x80, b3 = UInt32(text[i + 3]) ^ 0x80
        guard b1 < 0x40, b2 < 0x40, b3 < 0x40 else { return (0, 1) }
        let value = (b0 & 0x07) << 18 | b1 << 12 | b2 << 6 | b3
        guard value >= 0x10000, value < 0x110000 else { return (0, 1) }
        return (flags(value), 4)
    }
}
