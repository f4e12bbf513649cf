import Corpus
import Foundation
import Loader
import Shards
import Testing
import TestSupport

/// Throughput of shard writing and of the loader. Runs only with TOKENMILL_BENCH=1
/// (`bench/shards/loader.sh`); prints one line per measurement.
@Suite struct LoaderBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["TOKENMILL_BENCH"] == "1"

    @Test(.enabled(if: enabled))
    func throughput() throws {
        let env = ProcessInfo.processInfo.environment
        let millions = Int(env["TOKENMILL_BENCH_MTOKENS"] ?? "") ?? 128
        let dir = try TempDir(prefix: "tokenmill-bench")
        let settings = CorpusSettings(tokenizerFingerprint: "bench", vocabSize: 50_257, eotID: 50_256,
                                      shardTokens: 64_000_000, valFraction: 0)
        var rng = SeededRNG(seed: 1)
        let docTokens = 1 << 20
        let doc = (0..<docTokens).map { _ in UInt32.random(in: 0..<50_256, using: &rng) }
        let store = try ShardStore(directory: dir.path, settings: settings, vocab: [])
        _ = try store.beginSource(path: "bench", fileBytes: 1)
        let documents = millions * 1_000_000 / docTokens
        var clock = ContinuousClock.now
        for i in 0..<documents {
            try store.append(DocumentInfo(record: Int64(i), line: Int64(i + 1), byteCount: 1, hash: ContentHash(hi: UInt64(i), lo: 0)),
                             tokens: doc)
        }
        try store.endSource(progress: SourceProgress(records: Int64(documents)), end: .done)
        try store.finish()
        var seconds = Double((ContinuousClock.now - clock).components.attoseconds) / 1e18 + Double((ContinuousClock.now - clock).components.seconds)
        let written = Double(documents * (docTokens + 1))
        print(String(format: "bench shard-write: %.0f M tokens in %.2f s = %.0f M tokens/s, %.0f MB/s of uint16 shard bytes (incl. token counting, fsync)",
                     written / 1e6, seconds, written / seconds / 1e6, written * 2 / seconds / 1e6))

        for (shuffle, B, T) in [(true, 16, 1024), (true, 8, 256), (false, 16, 1024)] {
            let loader = try DataLoader(directory: dir.path, options: .init(batchSize: B, contextLength: T, shuffle: shuffle))
            var inputs = [Int32](repeating: 0, count: B * T), targets = inputs
            let batches = Int(written) / (B * T)  // one epoch's worth of tokens
            for pass in 0..<2 {  // pass 0 warms the page cache
                clock = .now
                for _ in 0..<batches { try loader.nextBatch(inputs: &inputs, targets: &targets) }
                let d = ContinuousClock.now - clock
                seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
                let tokens = Double(batches * B * T)
                if pass == 1 {
                    print(String(format: "bench loader %@ B=%d T=%d: %.0f M tokens/s = %.2f GB/s of uint16 tokens (%.2f GB/s of int32 inputs+targets)",
                                 shuffle ? "shuffled" : "sequential", B, T, tokens / seconds / 1e6, tokens * 2 / seconds / 1e9,
                                 tokens * 8 / seconds / 1e9))
                }
            }
        }
    }
}
