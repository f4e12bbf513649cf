import ArgumentParser
import BPE
import Corpus
import Foundation

/// Hidden measurement commands used by `make bench` (bench/run.py). They time the library
/// in-process, so that process start-up and printing ids do not count.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measurements for make bench.", shouldDisplay: false,
        subcommands: [BenchEncode.self, BenchPattern.self])
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
