import Corpus
import Foundation
import Loader
import Shards
import Testing
import TestSupport

/// Writes a corpus of `documents` random documents of `length` tokens (all train), and
/// returns its directory.
func makeCorpus(documents: Int, length: Int, shardTokens: Int64, vocabSize: Int = 1000,
                seed: UInt64 = 1, valFraction: Double = 0) throws -> TempDir {
    let dir = try TempDir(prefix: "tokenmill-loader")
    var rng = SeededRNG(seed: seed)
    let settings = CorpusSettings(tokenizerFingerprint: "fp-test", vocabSize: vocabSize, eotID: UInt32(vocabSize - 1),
                                  shardTokens: shardTokens, valFraction: valFraction)
    let store = try ShardStore(directory: dir.path, settings: settings, vocab: [])
    _ = try store.beginSource(path: "input.txt", fileBytes: 1)
    for i in 0..<documents {
        let tokens = (0..<length).map { _ in UInt32.random(in: 0..<UInt32(vocabSize - 1), using: &rng) }
        try store.append(DocumentInfo(record: Int64(i), line: Int64(i + 1), byteCount: Int64(length),
                                      hash: ContentHash(hi: rng.next(), lo: rng.next())), tokens: tokens)
    }
    try store.endSource(progress: SourceProgress(records: Int64(documents)), end: .done)
    try store.finish()
    return dir
}

/// The split's shard files in glob (name) order, as llm.c's loader lists them.
func shardFiles(_ dir: TempDir, _ split: String = "train") throws -> [[UInt32]] {
    try FileManager.default.contentsOfDirectory(atPath: dir.path)
        .filter { $0.hasPrefix(split + "_") && $0.hasSuffix(".bin") }.sorted()
        .map { try ShardFile.readTokens(dir.file($0), 0..<ShardFile.inspect(dir.file($0)).tokenCount) }
}

/// A line-by-line re-implementation of llm.c's `llmc/dataloader.h` (no shuffling).
struct LLMCReference {
    let files: [[UInt32]]
    let B: Int, T: Int, P: Int, rank: Int
    var currentShard = 0, currentSample = 0, shardNumSamples = 0

    init(files: [[UInt32]], B: Int, T: Int, P: Int, rank: Int) {
        self.files = files; self.B = B; self.T = T; self.P = P; self.rank = rank
        for f in files { precondition(f.count >= P * B * T + 1, "llm.c asserts every shard holds a batch") }
        reset()
    }

    mutating func loadShard(_ i: Int) {
        let ntok = files[i].count
        shardNumSamples = (ntok * 2 - 2) / (P * B * T * 2)  // total_batch_size_bytes = P·B·T·2
    }

    mutating func reset() {
        currentShard = 0
        currentSample = 0
        loadShard(currentShard)
    }

    mutating func advance() {
        if currentShard == files.count - 1 { reset(); return }
        currentShard = (currentShard + 1) % files.count
        currentSample = 0
        loadShard(currentShard)
    }

    mutating func nextBatch() -> (inputs: [Int32], targets: [Int32]) {
        if currentSample >= shardNumSamples { advance() }
        let offset = currentSample * P * B * T + rank * B * T
        let buffer = files[currentShard][offset..<offset + B * T + 1].map { Int32($0) }
        currentSample += 1
        return (Array(buffer[0..<B * T]), Array(buffer[1...B * T]))
    }
}

func next(_ loader: DataLoader) throws -> (inputs: [Int32], targets: [Int32]) {
    var inputs = [Int32](repeating: -1, count: loader.batchSize * loader.contextLength)
    var targets = inputs
    try loader.nextBatch(inputs: &inputs, targets: &targets)
    return (inputs, targets)
}

@Suite struct SequentialTests {
    @Test(arguments: [(1, 0), (2, 0), (2, 1), (3, 2)])
    func matchesLLMC(worldSize: Int, rank: Int) throws {
        // 31-token documents + EOT = 32; 6 documents per shard fill each shard exactly.
        let dir = try makeCorpus(documents: 24, length: 31, shardTokens: 192)
        let (B, T) = (2, 8)
        var reference = LLMCReference(files: try shardFiles(dir), B: B, T: T, P: worldSize, rank: rank)
        #expect(reference.files.count == 4)
        let loader = try DataLoader(directory: dir.path, options: .init(batchSize: B, contextLength: T, rank: rank,
                                                                          worldSize: worldSize, shuffle: false))
        // Several epochs: shard advance and wrap-around.
        for step in 0..<100 {
            let got = try next(loader)
            let want = reference.nextBatch()
            #expect(got.inputs == want.inputs, "step \(step)")
            #expect(got.targets == want.targets, "step \(step)")
        }
        #expect(loader.epoch >= 2)
    }

    @Test func uint32ShardsMatchLLMCIndexing() throws {
        let dir = try makeCorpus(documents: 12, length: 63, shardTokens: 256, vocabSize: 70_000)
        #expect(try ShardFile.inspect(dir.file("train_000000.bin")).width == .uint32)
        var reference = LLMCReference(files: try shardFiles(dir), B: 3, T: 16, P: 1, rank: 0)
        let loader = try DataLoader(directory: dir.path, options: .init(batchSize: 3, contextLength: 16, shuffle: false))
        for _ in 0..<20 {
            let got = try next(loader)
            let want = reference.nextBatch()
            #expect(got.inputs == want.inputs && got.targets == want.targets)
        }
        #expect(try next(loader).inputs.contains { $0 > 65_535 })
    }

    @Test func shardsTooSmallForABatchAreSkipped() throws {
        // 5 documents of 32 tokens in 96-token shards: shards of 96, 64; B·T·P + 1 = 65.
        let dir = try makeCorpus(documents: 5, length: 31, shardTokens: 96)
        let loader = try DataLoader(directory: dir.path, options: .init(batchSize: 4, contextLength: 16, shuffle: false))
        #expect(loader.shards.map(\.tokens) == [96])
        #expect(throws: ShardsError.self) {
            _ = try DataLoader(directory: dir.path, options: .init(batchSize: 8, contextLength: 16, shuffle: false))
        }
    }
}

@Suite struct ShuffledTests {
    @Test func permutationIsABijection() {
        for count in [1, 2, 3, 5, 16, 17, 100, 1000, 4097] as [UInt64] {
            for epoch in 0..<3 as Range<UInt64> {
                let p = SamplePermutation(count: count, seed: 42, epoch: epoch)
                #expect(Set((0..<count).map(p.callAsFunction)) == Set(0..<count))
            }
        }
        let a = SamplePermutation(count: 1000, seed: 42, epoch: 0), b = SamplePermutation(count: 1000, seed: 42, epoch: 1)
        let c = SamplePermutation(count: 1000, seed: 43, epoch: 0)
        #expect((0..<1000).map(a.callAsFunction) != (0..<1000).map(b.callAsFunction))
        #expect((0..<1000).map(a.callAsFunction) != (0..<1000).map(c.callAsFunction))
        #expect((0..<1000).map(a.callAsFunction) != Array(0..<1000), "not the identity")
    }

    @Test func globalOrderDoesNotDependOnTheNumberOfRanks() throws {
        let dir = try makeCorpus(documents: 40, length: 50, shardTokens: 500)
        let one = try DataLoader(directory: dir.path, options: .init(batchSize: 4, contextLength: 16, seed: 7))
        let ranks = try (0..<2).map {
            try DataLoader(directory: dir.path, options: .init(batchSize: 2, contextLength: 16, rank: $0, worldSize: 2, seed: 7))
        }
        for step in 0..<Int(one.rowsPerEpoch) {  // four epochs of rows
            let whole = try next(one)
            let parts = try ranks.map(next)
            #expect(whole.inputs == parts[0].inputs + parts[1].inputs, "step \(step)")
            #expect(whole.targets == parts[0].targets + parts[1].targets, "step \(step)")
        }
    }

    @Test func anEpochVisitsEveryRowOnce() throws {
        let dir = try makeCorpus(documents: 30, length: 40, shardTokens: 400)
        let T = 16
        var rows: [[Int32]] = []
        for file in try shardFiles(dir) {
            for j in 0..<(file.count - 1) / T { rows.append(file[j * T..<j * T + T + 1].map { Int32($0) }) }
        }
        let loader = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: T, seed: 3))
        #expect(loader.rowsPerEpoch == Int64(rows.count))
        var seen: [[Int32]] = []
        var order: [[Int32]] = []
        for _ in 0..<rows.count {
            let b = try next(loader)
            #expect(Array(b.inputs.dropFirst()) == Array(b.targets.dropLast()))
            seen.append(b.inputs + [b.targets.last!])
        }
        order = seen
        #expect(seen.sorted { $0.lexicographicallyPrecedes($1) } == rows.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(order != rows, "shuffled")
        #expect(loader.epoch == 1)
        // The next epoch is another order of the same rows.
        var second: [[Int32]] = []
        for _ in 0..<rows.count { let b = try next(loader); second.append(b.inputs + [b.targets.last!]) }
        #expect(second != order)
        #expect(second.sorted { $0.lexicographicallyPrecedes($1) } == seen.sorted { $0.lexicographicallyPrecedes($1) })
    }
}

@Suite struct ResumeTests {
    @Test(arguments: [false, true])
    func restoredLoaderSeesTheSameBatches(shuffle: Bool) throws {
        let dir = try makeCorpus(documents: 40, length: 50, shardTokens: 500)
        let options = DataLoader.Options(batchSize: 3, contextLength: 16, rank: 1, worldSize: 2, shuffle: shuffle, seed: 9)
        let first = try DataLoader(directory: dir.path, options: options)
        for _ in 0..<17 { _ = try next(first) }
        let state = first.saveState()
        let expected = try (0..<40).map { _ in try next(first) }  // crosses epochs

        let resumed = try DataLoader(directory: dir.path, options: options)
        _ = try next(resumed)  // a prefetch in flight must not leak into the restored stream
        try resumed.restoreState(state)
        for (step, want) in expected.enumerated() {
            let got = try next(resumed)
            #expect(got.inputs == want.inputs && got.targets == want.targets, "step \(step)")
        }
        // reset() starts over.
        try resumed.reset()
        let fresh = try DataLoader(directory: dir.path, options: options)
        #expect(try next(resumed).inputs == next(fresh).inputs)
    }

    @Test func prefetchDoesNotChangeTheStream() throws {
        let dir = try makeCorpus(documents: 40, length: 50, shardTokens: 500)
        for shuffle in [false, true] {
            var options = DataLoader.Options(batchSize: 2, contextLength: 32, shuffle: shuffle)
            let a = try DataLoader(directory: dir.path, options: options)
            options.prefetch = false
            let b = try DataLoader(directory: dir.path, options: options)
            for _ in 0..<50 { #expect(try next(a).inputs == next(b).inputs) }
        }
    }

    @Test func mismatchedStatesAreRefused() throws {
        let dir = try makeCorpus(documents: 20, length: 50, shardTokens: 500)
        let a = try DataLoader(directory: dir.path, options: .init(batchSize: 2, contextLength: 16))
        let b = try DataLoader(directory: dir.path, options: .init(batchSize: 2, contextLength: 32))
        #expect {
            try b.restoreState(a.saveState())
        } throws: { error in
            (error as? ShardsError)?.description == "loader state: context length differs: the state has 16, this loader has 32"
        }
        #expect(throws: ShardsError.self) { try a.restoreState([1, 2, 3]) }
    }

    /// Saved states carry the corpus identity: it must stay what earlier versions computed from
    /// the stats view's shard rows, or their checkpoints would no longer resume.
    @Test func corpusIdentityIsStable() throws {
        let dir = try makeCorpus(documents: 40, length: 50, shardTokens: 500)
        var identity: UInt64 = 0xCBF2_9CE4_8422_2325
        for row in try CorpusStats(directory: dir.path).shards().shards where row.split == .train {
            for b in "\(row.path) \(row.tokens) \(row.crc32);".utf8 { identity = (identity ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        let state = try DataLoader(directory: dir.path, options: .init(batchSize: 2, contextLength: 16)).saveState()
        let saved = (0..<8).reduce(UInt64(0)) { $0 | UInt64(state[8 + 8 * 5 + $1]) << (8 * UInt64($1)) }
        #expect(saved == identity)
    }
}

@Suite struct LoaderValidationTests {
    @Test func refusesAnotherTokenizerOrVocabulary() throws {
        let dir = try makeCorpus(documents: 10, length: 50, shardTokens: 500)
        #expect {
            _ = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: 8, expectedTokenizerFingerprint: "gpt2"))
        } throws: { error in
            (error as? ShardsError)?.description
                == dir.file("index.sqlite") + ": the corpus was sharded with tokenizer fp-test, the model expects gpt2"
        }
        #expect {
            _ = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: 8, expectedVocabSize: 50257))
        } throws: { error in
            (error as? ShardsError)?.description
                == dir.file("index.sqlite") + ": the corpus has a vocabulary of 1000 tokens, the model expects 50257"
        }
        _ = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: 8, expectedTokenizerFingerprint: "fp-test",
                                                               expectedVocabSize: 1000))
    }

    @Test func refusesBadShardsAndArguments() throws {
        let dir = try makeCorpus(documents: 10, length: 50, shardTokens: 500)
        #expect(throws: ShardsError.self) { _ = try DataLoader(directory: dir.path, options: .init(split: .val, batchSize: 1, contextLength: 8)) }
        #expect(throws: ShardsError.self) { _ = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: 8, rank: 2, worldSize: 2)) }
        #expect(throws: ShardsError.self) { _ = try DataLoader(directory: dir.path, options: .init(batchSize: Int.max / 2, contextLength: 8)) }
        #expect(throws: ShardsError.self) { _ = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: Int.max)) }
        let loader = try DataLoader(directory: dir.path, options: .init(batchSize: 2, contextLength: 8))
        var small = [Int32](repeating: 0, count: 15), enough = [Int32](repeating: 0, count: 16)
        #expect(throws: ShardsError.self) { try loader.nextBatch(inputs: &small, targets: &enough) }
        #expect(throws: ShardsError.self) { try loader.nextBatch(inputs: &enough, targets: &small) }
        // A truncated shard is refused at open, naming the file.
        let path = dir.file("train_000000.bin")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.dropLast(2).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: 8))
        } throws: { error in
            (error as? ShardsError)?.path == path
        }
    }
}

@Test func refusesAShardPathOutsideTheCorpus() throws {
    let dir = try makeCorpus(documents: 10, length: 50, shardTokens: 500)
    try Database(path: dir.file("index.sqlite")).execute("UPDATE shards SET path = '../elsewhere.bin' WHERE seq = 0")
    #expect {
        _ = try DataLoader(directory: dir.path, options: .init(batchSize: 1, contextLength: 8))
    } throws: { error in
        (error as? ShardsError)?.description == dir.file("index.sqlite") + ": shard path \"../elsewhere.bin\" is not a file "
            + "name in the corpus directory (it must have no '/' and no '..'); refusing to open it"
    }
}

/// The shape of GPT's `BatchProvider`: `extension DataLoader: BatchProvider {}` must compile there.
protocol BatchProviderShape: AnyObject {
    var batchSize: Int { get }
    var contextLength: Int { get }
    func nextBatch(inputs: inout [Int32], targets: inout [Int32]) throws
    func saveState() -> [UInt8]
    func restoreState(_ state: [UInt8]) throws
    func reset() throws
}

extension DataLoader: BatchProviderShape {}

@Test func dataLoaderServesThroughTheBatchProviderShape() throws {
    let dir = try makeCorpus(documents: 10, length: 50, shardTokens: 500)
    let provider: any BatchProviderShape = try DataLoader(directory: dir.path, options: .init(batchSize: 2, contextLength: 8))
    var inputs = [Int32](repeating: 0, count: 16), targets = inputs
    try provider.nextBatch(inputs: &inputs, targets: &targets)
    #expect(Array(inputs[1..<8]) == Array(targets[0..<7]))
    #expect(provider.saveState().count == 88)
}
