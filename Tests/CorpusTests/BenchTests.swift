import Corpus
import Foundation
import Testing
import TestSupport

/// Throughput on a file named by `CORPUS_BENCH` (skipped otherwise), in MB/s of decompressed
/// input per second of this thread's CPU time (other builds on the machine do not count):
///
///     CORPUS_BENCH=/tmp/big.jsonl.gz swift test -c release --filter BenchTests
@Suite struct BenchTests {
    static let file = ProcessInfo.processInfo.environment["CORPUS_BENCH"]

    private func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    @Test(.enabled(if: file != nil)) func throughput() throws {
        let path = try #require(Self.file)
        // Inflate (or plain read) alone.
        let source = try ByteSource(path: path)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 20)
        defer { buffer.deallocate() }
        var t0 = cpuSeconds()
        var raw = 0
        while true {
            let n = try source.read(into: buffer, capacity: 1 << 20)
            if n == 0 { break }
            raw += n
        }
        let readSeconds = cpuSeconds() - t0
        var lines: [String] = []
        lines.append(String(format: "read only:       %7.1f MB/s (%d MB)", Double(raw) / readSeconds / 1e6, raw / 1_000_000))
        for (name, options) in [("no dedup", IngestOptions.with { $0.dedup = false }),
                                ("defaults", IngestOptions()),
                                ("no dedup", IngestOptions.with { $0.dedup = false }),
                                ("defaults", IngestOptions()),
                                ("all normalizers", IngestOptions.with {
                                    $0.normalizeLineEndings = true; $0.normalizeNFC = true; $0.normalizeWhitespace = true })] {
            t0 = cpuSeconds()
            var docBytes = 0
            let report = try Ingest(paths: [path], options: options).forEach { docBytes += $0.text.count }
            let s = cpuSeconds() - t0
            let label = (name + ":").padding(toLength: 17, withPad: " ", startingAt: 0)
            lines.append(label + String(format: "%7.1f MB/s input, %7.1f MB/s text, %d docs",
                                        Double(raw) / s / 1e6, Double(docBytes) / s / 1e6, report.documents))
        }
        // Dedup alone: 1M distinct random hashes into a fresh set.
        var rng = SeededRNG(seed: 1)
        let hashes = (0..<1_000_000).map { _ in ContentHash(hi: rng.next(), lo: rng.next()) }
        let seen = Deduplicator()
        t0 = cpuSeconds()
        for h in hashes { seen.insert(h) }
        lines.append(String(format: "dedup insert:    %7.1f ns per hash (1M)", (cpuSeconds() - t0) * 1e9 / 1e6))
        print(lines.joined(separator: "\n"))
    }
}
