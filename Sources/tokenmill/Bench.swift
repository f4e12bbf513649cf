import ArgumentParser
import BPE
import Corpus
import Foundation
import GPT
import Loader

/// Hidden measurement commands used by `make bench` (bench/run.py). They time the library
/// in-process, so that process start-up and printing ids do not count.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measurements for make bench.", shouldDisplay: false,
        subcommands: [BenchEncode.self, BenchLoad.self, BenchPattern.self, BenchTrain.self, BenchLoader.self, BenchDedup.self])
}

struct BenchEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode the documents of the inputs in memory; print MB/s as JSON.")

    @OptionGroup var tokenizerOptions: TokenizerOptions
    @OptionGroup var inputs: InputOptions

    @Option(name: .long, help: "Passes over the text (the best is reported).")
    var repeats = 3

    @Option(name: .long, help: "Encoding threads (each with its own encoder and cache).")
    var threads = 1

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            var docs: [[UInt8]] = []
            var opts = try inputs.ingest.settings()
            opts.dedup = false
            try Ingest(paths: try inputs.resolvedInputs(), options: opts).forEach { docs.append($0.text) }
            let bytes = docs.reduce(0) { $0 + $1.count }
            var best = Double.infinity
            var firstPass = 0.0
            var tokens = 0
            for pass in 0..<repeats {
                // A fresh (cold) cache each pass, as a sharding job starts with.
                let t0 = DispatchTime.now().uptimeNanoseconds
                tokens += Self.encode(docs, tokenizer, threads: threads)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if pass == 0 { firstPass = dt }
                best = min(best, dt)
            }
            let out: [String: Any] = ["bytes": bytes, "documents": docs.count, "tokens": tokens / repeats, "threads": threads,
                                      "seconds": best, "mb_per_s": Double(bytes) / best / 1e6,
                                      "first_pass_mb_per_s": Double(bytes) / firstPass / 1e6]
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// `threads` encoders, each with its own cache, taking batches of 64 documents in turn (as the
    /// sharder's encoders take batches), and the token count: how far encoding alone scales on
    /// this machine, with nothing else (reading, inflating, writing) sharing the cores. One
    /// thread goes through the documents in order.
    static func encode(_ docs: [[UInt8]], _ tokenizer: Tokenizer, threads: Int) -> Int {
        let batch = 64
        let next = BatchCounter()
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var enc = tokenizer.makeEncoder()
            var ids: [UInt32] = []
            ids.reserveCapacity(1 << 20)
            var tokens = 0
            while case let lo = next.take() * batch, lo < docs.count {
                for d in docs[lo..<min(lo + batch, docs.count)] {
                    ids.removeAll(keepingCapacity: true)
                    d.withUnsafeBufferPointer { enc.encode($0, into: &ids) }
                    tokens += ids.count
                }
            }
            next.add(tokens: tokens)
        }
        return next.tokens
    }
}

/// Numbers 0, 1, 2, … handed to whichever thread asks next, and the tokens the threads counted.
final class BatchCounter: @unchecked Sendable {
    // Safety (Sendable): `value` and `total` are read and written under `lock` only.
    private var value = 0
    private var total = 0
    private let lock = NSLock()
    func take() -> Int { lock.withLock { value += 1; return value - 1 } }
    func add(tokens: Int) { lock.withLock { total += tokens } }
    var tokens: Int { lock.withLock { total } }
}

struct BenchLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load a tokenizer in-process and encode a word; print the best time as JSON, and the part that builds its tables.")

    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: .long, help: "Loads (the best is reported).")
    var repeats = 5

    func run() throws {
        try reportingErrors {
            var best = Double.infinity, bestInit = Double.infinity
            var vocab = 0
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let tokenizer = try tokenizerOptions.load()
                var encoder = tokenizer.makeEncoder()  // up to a first encode, as the peers are timed
                _ = encoder.encode(Array("Hello world".utf8))
                let t1 = DispatchTime.now().uptimeNanoseconds
                _ = try Tokenizer(tokenizer.model)
                let t2 = DispatchTime.now().uptimeNanoseconds
                best = min(best, Double(t1 - t0) / 1e9)
                bestInit = min(bestInit, Double(t2 - t1) / 1e9)
                vocab = tokenizer.vocabSize
            }
            let out: [String: Any] = ["seconds": best, "tables_seconds": bestInit, "vocab_size": vocab]
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

struct BenchPattern: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pattern", abstract: "Print a pre-tokenizer's regex.")
    @Option(name: .long) var pattern: PreTokenizerPattern = .gpt2
    func run() { print(PreTokenizer(pattern).regex) }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Training throughput of a standard config; prints JSON.")
    @Option(name: .long, help: "A (V 4096, L4, NH4, C128, B8, T128) or B (V 8192, L6, NH6, C384, B4, T256).") var config = "A"
    @Option(name: .long) var threads = 1
    @Option(name: .long) var steps = 10
    @Flag(name: .long, help: "Print milliseconds per step in each kind of kernel instead.") var profile = false
    func run() throws {
        try reportingErrors {
            if profile {
                guard let (c, B, T) = TrainingBenchmark.standardConfigs[config] else { throw CommandError("unknown config \(config)") }
                let r = try TrainingBenchmark.training(config: c, batchSize: B, contextLength: T, threads: threads, steps: steps, profile: true)
                print(String(format: "%.0f tok/s, %.1f ms/step", r.tokensPerSecond, r.millisecondsPerStep))
                for (k, v) in r.breakdown.sorted(by: { $0.value > $1.value }) { print(String(format: "%-24@ %7.2f ms", k as NSString, v)) }
                return
            }
            print(try TrainingBenchmark.jsonReport(config: config, threads: threads, steps: steps))
        }
    }
}

struct BenchLoader: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loader", abstract: "DataLoader throughput on a sharded corpus; prints JSON.")
    @Option(name: .long) var data: String
    @Option(name: .long) var batchSize = 16
    @Option(name: .long) var context = 1024
    @Flag(name: .long) var sequential = false
    @Option(name: .long) var seconds = 2.0
    func run() throws {
        try reportingErrors {
            let loader = try DataLoader(directory: data, options: DataLoader.Options(
                split: .train, batchSize: batchSize, contextLength: context, shuffle: !sequential, seed: 1))
            let n = batchSize * context
            var inputs = [Int32](repeating: 0, count: n), targets = inputs
            var batches = 0
            var checksum: Int64 = 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            while elapsed < seconds {
                try loader.nextBatch(inputs: &inputs, targets: &targets)
                checksum &+= Int64(inputs[batches % n])
                batches += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            }
            let tokens = Double(batches * n)
            let bytes = tokens * Double(loader.settings.tokenWidth.bytes)
            let out: [String: Any] = ["batches": batches, "tokens_per_second": tokens / elapsed,
                                      "gb_per_s": bytes / elapsed / 1e9, "shuffle": !sequential, "checksum": checksum]
            print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

struct BenchDedup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Insert synthetic document hashes into the exact-dedup set within a memory budget; print JSON.",
        discussion: "Every tenth insert repeats an earlier hash (a duplicate); the answers are checked against that.")
    @Option(name: .long) var documents = 20_000_000
    @Option(name: .long, help: ArgumentHelp("The set's memory budget.", valueName: "MiB")) var memory = 256
    @Option(name: .long, help: "Directory for the spilled runs.") var directory = "bench/out/dedup.tmp"

    /// SplitMix64: a bijection of the 64-bit integers, so hash i (hi = f(2i)) differs from every other.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    func run() throws {
        try reportingErrors {
            let seen = SpillingDeduplicator(memoryBytes: memory << 20, directory: directory)
            defer { seen.close() }
            func hash(_ i: UInt64) -> ContentHash { ContentHash(hi: Self.mix(2 &* i), lo: Self.mix(2 &* i &+ 1)) }
            var fresh: UInt64 = 0, wrong = 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            for k in 0..<documents {
                if k % 10 == 9 {
                    let earlier = Self.mix(UInt64(k) ^ 0x5555) % fresh
                    if try seen.insert(hash(earlier)) { wrong += 1 }
                } else {
                    if try !seen.insert(hash(fresh)) { wrong += 1 }
                    fresh += 1
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if wrong > 0 || seen.count != Int(fresh) {
                throw CommandError("dedup gave \(wrong) wrong answers and \(seen.count) distinct hashes, expected \(fresh)")
            }
            let out: [String: Any] = ["documents": documents, "distinct": Int(fresh), "seconds": seconds,
                                      "m_docs_per_s": Double(documents) / seconds / 1e6, "spills": seen.spills,
                                      "runs": seen.runCount, "memory_mib": memory,
                                      "run_lookups": seen.runLookups, "run_hits": seen.runHits]
            print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}
