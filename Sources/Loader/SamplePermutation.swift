/// A seeded pseudo-random permutation of 0..<count, computed per index in O(1) time and
/// memory (a 6-round Feistel network over the smallest even-bit power of two ≥ count, with
/// cycle walking). Shuffled sampling uses one per epoch: the order depends only on the seed
/// and the epoch, never on the number of processes, and needs no table of count entries.
///
///     let p = SamplePermutation(count: 10, seed: 42, epoch: 0)
///     (0..<10).map(p.callAsFunction)   // a shuffle of 0...9, the same every run
public struct SamplePermutation: Sendable {
    public let count: UInt64
    public let epoch: UInt64
    private let halfBits: UInt64
    private let halfMask: UInt64
    private let keys: [UInt64]

    public init(count: UInt64, seed: UInt64, epoch: UInt64) {
        self.count = count
        self.epoch = epoch
        var bits: UInt64 = 2
        while bits < 64 && (UInt64(1) << bits) < count { bits += 2 }
        halfBits = bits / 2
        halfMask = (UInt64(1) << halfBits) - 1
        var state = seed ^ (epoch &* 0xD1B5_4A32_D192_ED03)
        keys = (0..<6).map { _ in SamplePermutation.splitmix(&state) }
    }

    static func splitmix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix(state)
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The position of `index` in the shuffled order (`index < count`).
    public func callAsFunction(_ index: UInt64) -> UInt64 {
        var x = index
        repeat {  // cycle walking: the network permutes the larger domain; stop once back in range
            var left = x >> halfBits, right = x & halfMask
            for key in keys {
                (left, right) = (right, left ^ (SamplePermutation.mix(right ^ key) & halfMask))
            }
            x = (left << halfBits) | right
        } while x >= count
        return x
    }
}
