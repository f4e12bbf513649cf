import BPE
import Corpus
import Foundation
import Pipeline
import Shards
import ShardsTestSupport
import Testing
import TestSupport

/// Shard throughput on the sample corpus (repeated to about TOKENMILL_BENCH_MB of text) with a
/// vocabulary learned from it, on 1 and 2 threads, against the single-thread encoder alone.
/// Runs only with TOKENMILL_BENCH=1 (`bench/shards/shard.sh`).
@Suite struct SharderBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOKENMILL_BENCH"] == "1"))
    func throughput() throws {
        let env = ProcessInfo.processInfo.environment
        let megabytes = Int(env["TOKENMILL_BENCH_MB"] ?? "") ?? 40
        let vocabSize = Int(env["TOKENMILL_BENCH_VOCAB"] ?? "") ?? 8192
        let dir = try TempDir(prefix: "tokenmill-shard-bench")
        let data = Run.repoRoot + "/data/"
        var options = IngestOptions()
        options.boundary = .blank
        options.dedup = false  // the copies repeat the same documents
        var texts: [[UInt8]] = []
        try Ingest(paths: [data + "bible-ot.jsonl.gz", data + "bible-nt.txt.gz", data + "fortunes.jsonl.gz"], options: options)
            .forEach { texts.append($0.text) }
        var counter = WordCounter(pattern: .gpt2)
        for t in texts { counter.count(t) }
        let tokenizer = try Tokenizer(BPETrainer.train(words: counter, config: BPETrainerConfig(vocabSize: vocabSize)))

        // Inputs: JSONL copies of the sample, gzipped by the system's gzip.
        let once = texts.map { t in String(decoding: try! JSONSerialization.data(withJSONObject: ["text": String(decoding: t, as: UTF8.self)]), as: UTF8.self) }
            .joined(separator: "\n") + "\n"
        let copies = max(1, megabytes * 1_000_000 / once.utf8.count)
        var inputs: [String] = []
        for i in 0..<min(copies, 8) {
            let path = try dir.write("part\(i).jsonl", String(repeating: once, count: (copies + 7 - i) / 8))
            if copies > 0 { try Run.process("/usr/bin/gzip", ["-1", "-f", path]) }
            inputs.append(path + ".gz")
        }
        inputs = inputs.filter { FileManager.default.fileExists(atPath: $0) }
        var textBytes: Int64 = 0
        try Ingest(paths: inputs, options: options).forEach { textBytes += Int64($0.text.count) }

        // The encoder alone, one thread, over the same text as the shard runs (a fresh encoder,
        // so its cache starts cold as the shard job's do).
        var encoder = tokenizer.makeEncoder()
        var ids: [UInt32] = []
        var clock = ContinuousClock.now
        for _ in 0..<(copies == 0 ? 1 : copies) {
            for t in texts { ids.removeAll(keepingCapacity: true); t.withUnsafeBufferPointer { encoder.encodeOrdinary($0, into: &ids) } }
        }
        let encodeMBs = Double(textBytes) / seconds(since: clock) / 1e6
        print(String(format: "bench encode 1 thread (vocab %d, fresh encoder): %.1f MB of text at %.1f MB/s", vocabSize,
                     Double(textBytes) / 1e6, encodeMBs))

        for threads in [1, 2] {
            let out = dir.file("out\(threads)")
            var job = ShardJobOptions(inputs: inputs, output: out, ingest: options)
            job.settings.threads = threads
            job.settings.shardTokens = 10_000_000
            clock = .now
            let cpu = cpuSeconds()
            let report = try ShardJob.run(tokenizer: tokenizer, options: job)
            let s = seconds(since: clock)
            print(String(format: "bench shard %d thread(s): %.1f MB of text in %.2f s = %.1f MB/s, %.1f M tokens/s (%.0f%% of %d × single-thread encode); CPU %.2f s (%.1f cores busy)",
                         threads, Double(textBytes) / 1e6, s, Double(textBytes) / s / 1e6, Double(report.tokens) / s / 1e6,
                         100 * Double(textBytes) / s / 1e6 / (encodeMBs * Double(threads)), threads,
                         cpuSeconds() - cpu, (cpuSeconds() - cpu) / s))
        }
        let peak = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("VmHWM") } ?? "VmHWM unknown"
        print("bench shard peak memory (test process): \(peak.split(separator: " ", omittingEmptySubsequences: true).dropFirst().joined(separator: " "))")
    }

    /// User + system CPU time of this process.
    func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(0, &usage)  // RUSAGE_SELF
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    }

    func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
