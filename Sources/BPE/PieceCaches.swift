// The encoder's direct-mapped caches of short and medium pieces, in front of its general cache.

/// A direct-mapped cache of the pieces of 2-7 bytes that encode to one or two ids, in front of
/// the encoder's general piece cache. Most pieces of text are this short (" the", ",", " of"),
/// and their key is the piece itself in one word (its bytes, and its length in the top byte),
/// so a hit costs a load, a multiply and a compare: no hashing of bytes, no key compared in an
/// arena, no ids copied from a side array. A slot another piece takes is overwritten (the
/// newest wins); 2^14 slots (256 KB) stay near the core.
///
/// Safety: `slots` is `memory.base`, `2 << bits` words kept alive by this value (copies share
/// them); `slot(_:)` is below `2 << bits` by its shift, and a slot is two words.
struct ShortPieceCache {
    static let maxPiece = 7
    static let bits = 14
    static let idMask: UInt64 = 0x7FFF_FFFF
    private let memory = Allocation<UInt64>(count: 2 << bits, repeating: 0)
    /// Slot i is words 2i (the key; 0 when empty, as a key's length byte is never 0) and 2i + 1
    /// (the value: first id in bits 0-30, second in 31-61, the number of ids, 1 or 2, in 62-63),
    /// so that a lookup touches one cache line.
    private var slots: UnsafeMutablePointer<UInt64> { memory.base }

    /// The ids of the piece with this key, if cached: the first two (the second is 0 when
    /// there is one) and how many there are.
    @inline(__always)
    func lookup(_ key: UInt64) -> (first: UInt32, second: UInt32, count: Int)? {
        let slot = Self.slot(key)
        guard slots[slot] == key else { return nil }
        let v = slots[slot + 1]
        return (UInt32(truncatingIfNeeded: v & Self.idMask), UInt32(truncatingIfNeeded: (v >> 31) & Self.idMask),
                Int(truncatingIfNeeded: v >> 62))
    }

    /// The key of a piece of 2-7 bytes.
    @inline(__always)
    static func key(_ p: UnsafePointer<UInt8>, _ n: Int, end: UnsafePointer<UInt8>) -> UInt64 {
        packedBytes(p, n, end: end) | UInt64(n) << 56
    }

    /// The key's word in `slots` (its value follows).
    @inline(__always)
    static func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits)) << 1
    }

    /// Keeps the ids of the piece with this key when they are one or two small enough to pack.
    @inline(__always)
    func remember(_ key: UInt64, _ ids: UnsafeBufferPointer<UInt32>) {
        let count = ids.count
        guard count == 1 || count == 2 else { return }
        let first = UInt64(ids[0]), second = count == 2 ? UInt64(ids[1]) : 0
        guard first <= Self.idMask && second <= Self.idMask else { return }
        let slot = Self.slot(key)
        slots[slot] = key
        slots[slot + 1] = first | second << 31 | UInt64(count) << 62
    }
}

/// `ShortPieceCache`'s twin for pieces of 8-15 bytes (" language", " government") that encode
/// to at most three ids: the key is the piece in two words (the second with the length in its
/// top byte), a slot is 32 bytes with the ids, 2^13 slots (256 KB).
///
/// Safety: `slots` is `memory.base`, `4 << bits` words kept alive by this value (copies share
/// them); `slot(_:_:)` is below `4 << bits` by its shift, and a slot is four words.
struct MediumPieceCache {
    static let maxPiece = 15
    static let bits = 13
    private let memory = Allocation<UInt64>(count: 4 << bits, repeating: 0)
    /// Slot i is words 4i...4i+3: the two key words (0, 0 when empty: a key's length byte is
    /// never 0), the first two ids, and the third id with the number of ids (1-3) in bits 32-63.
    private var slots: UnsafeMutablePointer<UInt64> { memory.base }

    /// The ids of the piece with this key, if cached: all three (0 past the last) and how many
    /// there are.
    @inline(__always)
    func lookup(_ k0: UInt64, _ k1: UInt64) -> (UInt32, UInt32, UInt32, count: Int)? {
        let s = slots + Self.slot(k0, k1)
        guard s[0] == k0 && s[1] == k1 else { return nil }
        let ids01 = s[2], id2 = s[3]
        return (UInt32(truncatingIfNeeded: ids01), UInt32(truncatingIfNeeded: ids01 >> 32), UInt32(truncatingIfNeeded: id2),
                Int(truncatingIfNeeded: id2 >> 32))
    }

    /// The two key words of a piece of 8-15 bytes.
    @inline(__always)
    static func key(_ p: UnsafePointer<UInt8>, _ n: Int, end: UnsafePointer<UInt8>) -> (UInt64, UInt64) {
        (packedBytes(p, 8, end: end), packedBytes(p + 8, n - 8, end: end) | UInt64(n) << 56)
    }

    /// The first word of the key's slot.
    @inline(__always)
    static func slot(_ k0: UInt64, _ k1: UInt64) -> Int {
        Int(truncatingIfNeeded: ((k0 &* 0xC2B2_AE3D_27D4_EB4F ^ k1) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits)) << 2
    }

    /// Keeps the ids of the piece with this key when there are at most three.
    @inline(__always)
    func remember(_ k0: UInt64, _ k1: UInt64, _ ids: UnsafeBufferPointer<UInt32>) {
        let count = ids.count
        guard count >= 1 && count <= 3 else { return }
        let s = slots + Self.slot(k0, k1)
        s[0] = k0
        s[1] = k1
        s[2] = UInt64(ids[0]) | (count > 1 ? UInt64(ids[1]) << 32 : 0)
        s[3] = (count > 2 ? UInt64(ids[2]) : 0) | UInt64(count) << 32
    }
}

/// Bytes `p[0..<n]` (n ≤ 8) in one little-endian word, the rest zero: one 8-byte read when it
/// does not reach past `end`, else byte by byte. The piece caches' keys.
///
/// Safety: `p..<end` is readable (the text being encoded), and `n <= end - p`.
@inline(__always)
func packedBytes(_ p: UnsafePointer<UInt8>, _ n: Int, end: UnsafePointer<UInt8>) -> UInt64 {
    if end - p >= 8 {
        let word = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
        return n == 8 ? word : word & (1 &<< UInt64(8 * n) &- 1)
    }
    var v: UInt64 = 0
    for i in 0..<n { v |= UInt64(p[i]) << UInt64(8 * i) }
    return v
}
