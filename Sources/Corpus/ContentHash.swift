/// A 128-bit content hash: MurmurHash3_x64_128 (Austin Appleby's public-domain function, seed 0),
/// the same on every run and platform. `hi` is the function's first output word (h1), `lo` the
/// second (h2). It is fast (several GB/s) and well mixed, not cryptographic: fine for dedup and
/// for the index, not against an adversary.
///
///     ContentHash(Array("hello".utf8)).hex   // "cbd8a7b341bd9b025b1e906a48ae1d19"
public struct ContentHash: Hashable, Sendable, Comparable {
    public var hi: UInt64
    public var lo: UInt64

    public init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    package init(_ bytes: UnsafeRawBufferPointer) {
        self.init(bytes, seed: 0)
    }

    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { ContentHash($0) }
    }

    /// MurmurHash3_x64_128 with any seed (tests check the function against SMHasher's
    /// verification value, which hashes with many seeds).
    package init(_ bytes: UnsafeRawBufferPointer, seed: UInt32) {
        (hi, lo) = murmur3x64_128(bytes.baseAddress, bytes.count, seed: seed)
    }

    /// 32 lowercase hex digits: `hi` then `lo`, each most significant digit first.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<16 {
            out[15 - i] = digits[Int((hi >> (4 * UInt64(i))) & 15)]
            out[31 - i] = digits[Int((lo >> (4 * UInt64(i))) & 15)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func < (a: ContentHash, b: ContentHash) -> Bool {
        (a.hi, a.lo) < (b.hi, b.lo)
    }
}

@inline(__always) private func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

@inline(__always) private func fmix(_ k: UInt64) -> UInt64 {
    var k = k
    k ^= k >> 33
    k &*= 0xFF51_AFD7_ED55_8CCD
    k ^= k >> 33
    k &*= 0xC4CE_B9FE_1A85_EC53
    k ^= k >> 33
    return k
}

/// MurmurHash3_x64_128 as in SMHasher's MurmurHash3.cpp (blocks read little-endian).
private func murmur3x64_128(_ data: UnsafeRawPointer?, _ length: Int, seed: UInt32) -> (UInt64, UInt64) {
    let c1: UInt64 = 0x87C3_7B91_1142_53D5
    let c2: UInt64 = 0x4CF5_AD43_2745_937F
    var h1 = UInt64(seed), h2 = UInt64(seed)
    let blocks = length / 16
    if let data {
        for i in 0..<blocks {
            // Safety: block i lies inside the `length` bytes at `data`.
            var k1 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 16 * i, as: UInt64.self))
            var k2 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 16 * i + 8, as: UInt64.self))
            k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
            h1 = rotl(h1, 27); h1 &+= h2; h1 = h1 &* 5 &+ 0x52DC_E729
            k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
            h2 = rotl(h2, 31); h2 &+= h1; h2 = h2 &* 5 &+ 0x3849_5AB5
        }
        let tail = data + 16 * blocks
        let rest = length & 15
        var k1: UInt64 = 0, k2: UInt64 = 0
        for i in 0..<rest {
            let byte = UInt64(tail.load(fromByteOffset: i, as: UInt8.self))
            if i < 8 { k1 |= byte << (8 * UInt64(i)) } else { k2 |= byte << (8 * UInt64(i - 8)) }
        }
        if rest > 8 { k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2 }
        if rest > 0 { k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1 }
    }
    h1 ^= UInt64(length); h2 ^= UInt64(length)
    h1 &+= h2; h2 &+= h1
    h1 = fmix(h1); h2 = fmix(h2)
    h1 &+= h2; h2 &+= h1
    return (h1, h2)
}
