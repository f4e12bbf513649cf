import Corpus
import Testing
import TestSupport

@Suite struct HashTests {
    /// SMHasher's check for MurmurHash3_x64_128: hash keys {}, {0}, {0,1}, … {0…254} with seeds
    /// 256, 255, … 1, hash the 256 digests with seed 0, and read the first four bytes
    /// little-endian: 0x6384BA69.
    @Test func smhasherVerificationValue() {
        var digests: [UInt8] = []
        let key = (0..<256).map { UInt8($0) }
        for i in 0..<256 {
            let h = key.withUnsafeBytes { ContentHash(UnsafeRawBufferPointer(rebasing: $0[0..<i]), seed: UInt32(256 - i)) }
            for word in [h.hi, h.lo] { withUnsafeBytes(of: word.littleEndian) { digests += $0 } }
        }
        let final = digests.withUnsafeBytes { ContentHash($0, seed: 0) }
        #expect(UInt32(truncatingIfNeeded: final.hi) == 0x6384_BA69)
    }

    @Test func hexAndStability() {
        let empty = ContentHash([UInt8]())
        #expect(empty == ContentHash(hi: 0, lo: 0))
        #expect(empty.hex == String(repeating: "0", count: 32))
        let h = ContentHash(Array("hello".utf8))
        #expect(h.hex.count == 32)
        #expect(h.hex == String(h.hi, radix: 16).leftPad(16) + String(h.lo, radix: 16).leftPad(16))
        #expect(h.hex == "cbd8a7b341bd9b025b1e906a48ae1d19")   // the doc comment's example
        // Every length 0…40 (all tail cases) gives distinct hashes; same bytes → same hash.
        var rng = SeededRNG(seed: 4)
        let bytes = rng.bytes(40)
        let hashes = (0...40).map { ContentHash(Array(bytes[..<$0])) }
        #expect(Set(hashes).count == 41)
        #expect(hashes == (0...40).map { ContentHash(Array(bytes[..<$0])) })
    }

    @Test func deduplicatorGrowsAndRemembers() {
        let seen = Deduplicator()
        var rng = SeededRNG(seed: 8)
        let hashes = (0..<50_000).map { _ in ContentHash(hi: rng.next() % 1000, lo: rng.next() & 0xFFFF) }
        let firstTime = hashes.map { seen.insert($0) }
        var reference = Set<ContentHash>()
        #expect(firstTime == hashes.map { reference.insert($0).inserted })
        #expect(seen.count == reference.count)
        #expect(hashes.allSatisfy { seen.contains($0) })
        #expect(!seen.contains(ContentHash(hi: 5000, lo: 1)))
        #expect(seen.insert(ContentHash(hi: 0, lo: 0)) && !seen.insert(ContentHash(hi: 0, lo: 0)))
        #expect(seen.count == reference.count + 1)
    }
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
