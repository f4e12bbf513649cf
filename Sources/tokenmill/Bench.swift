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
        subcommands: [BenchEncode.self, BenchPattern.self, BenchTrain.self, BenchLoader.self])
}

struct BenchEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode the documents of the inputs on one thread; print MB/s as JSON.")

    @OptionGroup var tokenizerOptions: TokenizerOptions
    @OptionGroup var inputs: InputOptions

    @Option(name: .long, help: "Passes over the text (the best is reported).")
    var repeats = 3

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            var docs: [[UInt8]] = []
            var opts = inputs.ingestOptions
            opts.dedup = false
            Ingest(paths: try inputs.resolvedInputs(), options: opts).forEach { docs.append($0.text) }
            let bytes = docs.reduce(0) { $0 + $1.count }
            var best = Double.infinity
            var firstPass = 0.0
            var tokens = 0
            for pass in 0..<repeats {
                var enc = tokenizer.makeEncoder()   // a fresh (cold) cache each pass
                var ids: [UInt32] = []
                ids.reserveCapacity(bytes / 3)
                let t0 = DispatchTime.now().uptimeNanoseconds
                for d in docs {
                    ids.removeAll(keepingCapacity: true)
                    d.withUnsafeBufferPointer { enc.encode($0, into: &ids) }
                    tokens += ids.count
                }
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if pass == 0 { firstPass = dt }
                best = min(best, dt)
            }
            let out: [String: Any] = ["bytes": bytes, "documents": docs.count, "tokens": tokens / repeats,
                                      "seconds": best, "mb_per_s": Double(bytes) / best / 1e6,
                                      "first_pass_mb_per_s": Double(bytes) / firstPass / 1e6]
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
                try inputs.withUnsafeMutableBufferPointer { i in
                    try targets.withUnsafeMutableBufferPointer { t in try loader.nextBatch(inputs: i, targets: t) }
                }
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
