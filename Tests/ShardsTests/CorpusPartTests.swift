import Shards
import Testing

@Suite struct CorpusPartTests {
    @Test func namesAreThePartsOwn() {
        let whole = CorpusPart.whole, p = CorpusPart(rank: 3, worldSize: 12)
        #expect(whole.indexFileName == "index.sqlite" && whole.shardName(split: .val, seq: 7) == "val_000007.bin")
        #expect(p.indexFileName == "index.rank-00003-of-00012.sqlite")
        #expect(p.lockFileName == "index.rank-00003-of-00012.sqlite.lock")
        #expect(p.shardName(split: .train, seq: 1_234_567) == "train_r00003_1234567.bin")
        #expect(p.isShardName("train_r00003_000000.bin") && p.isShardTemporaryName("val_r00003_000001.bin.tmp"))
        #expect(!p.isShardName("train_r00004_000000.bin") && !p.isShardName("train_000000.bin"))
        #expect(!whole.isShardName("train_r00003_000000.bin") && whole.isShardName("train_000000.bin"))
        #expect(CorpusPart(rank: 2, worldSize: 2).problem == "rank must be in 0..<2, not 2")
        #expect(CorpusPart(rank: 0, worldSize: 0).problem == "world size must be at least 1, not 0")
    }

    /// Contiguous runs of the inputs, balanced by bytes, every input read by exactly one rank.
    @Test func inputsAreSplitByBytes() {
        let inputs = (0..<10).map { "f\($0)" }
        let sizes: [Int64] = [100, 1, 1, 1, 1, 1, 1, 1, 1, 92]
        let parts = (0..<2).map { CorpusPart(rank: $0, worldSize: 2).select(inputs, sizes: sizes) }
        #expect(parts[0] == [0] && parts[1] == Array(1..<10))
        for world in 1...12 {
            let all = (0..<world).flatMap { CorpusPart(rank: $0, worldSize: world).select(inputs, sizes: sizes) }
            #expect(all == Array(0..<10))
        }
        let even = (0..<4).map { CorpusPart(rank: $0, worldSize: 4).select(inputs, sizes: Array(repeating: 5, count: 10)).count }
        #expect(even == [3, 2, 3, 2] || even.allSatisfy { $0 >= 2 && $0 <= 3 })
        #expect(CorpusPart(rank: 1, worldSize: 3).select(inputs, sizes: Array(repeating: 0, count: 10)) == [4, 5, 6])
    }
}
