import BPE
import Foundation
import Testing
import TestSupport

/// Throughput of the pre-tokenizers, printed only with `TOKENMILL_BENCH=1`:
///
///     TOKENMILL_BENCH=1 swift test -c release --filter PreTokenizerBenchmarks
///
/// Text: real English (data/, licence texts; `TOKENMILL_BENCH_FILE` adds a file of your own) repeated
/// to ~24 MB, and the same mixed with generated words of other scripts (Cyrillic, Greek, Arabic,
/// Devanagari, Thai, CJK, emoji) to about 40% non-ASCII bytes. Time is this thread's CPU time
/// (best of 3), so other processes on a busy machine disturb it less than wall time.
@Suite struct PreTokenizerBenchmarks {
    static let enabled = ProcessInfo.processInfo.environment["TOKENMILL_BENCH"] == "1"

    @Test(.enabled(if: enabled, "set TOKENMILL_BENCH=1 to measure"))
    func throughput() throws {
        var english = Array(PreTokenizerInputs.realText(limit: 4_000_000).joined(separator: "\n\n").utf8)
        if let extra = ProcessInfo.processInfo.environment["TOKENMILL_BENCH_FILE"],
           let data = FileManager.default.contents(atPath: extra) {
            english += Array(data)
        }
        try #require(!english.isEmpty, "no real text found")
        let target = 24 << 20
        var englishText: [UInt8] = []
        while englishText.count < target { englishText += english }

        var rng = SeededRNG(seed: 7)
        let scripts: [ClosedRange<UInt32>] = [0x430...0x44F, 0x3B1...0x3C9, 0x627...0x64A, 0x915...0x939,
                                              0xE01...0xE30, 0x4E00...0x62FF, 0x1F600...0x1F64F]
        var mixed: [UInt8] = []
        var source = englishText.split(separator: 0x20, omittingEmptySubsequences: false).makeIterator()
        while mixed.count < target, let word = source.next() {
            if Int.random(in: 0..<10, using: &rng) < 3 {   // replace ~30% of the words
                let script = scripts[Int.random(in: 0..<scripts.count, using: &rng)]
                var w = String.UnicodeScalarView()
                for _ in 0..<Int.random(in: 1...7, using: &rng) {
                    w.append(Unicode.Scalar(UInt32.random(in: script, using: &rng)) ?? "x")
                }
                mixed += Array(String(w).utf8)
            } else {
                mixed += word
            }
            mixed.append(0x20)
        }
        let nonASCII = Double(mixed.filter { $0 >= 0x80 }.count) / Double(mixed.count)

        for (name, text) in [("english", englishText), (String(format: "mixed %.0f%% non-ASCII", nonASCII * 100), mixed)] {
            for pattern in PreTokenizerPattern.allCases {
                let pre = PreTokenizer(pattern)
                var best = Double.infinity, pieces = 0
                for _ in 0..<3 {
                    var count = 0, checksum = 0
                    let start = threadSeconds()
                    text.withUnsafeBufferPointer { buffer in
                        pre.split(buffer) { s, e in count &+= 1; checksum &+= e &- s }
                    }
                    let seconds = threadSeconds() - start
                    #expect(checksum == text.count)
                    best = min(best, seconds)
                    pieces = count
                }
                let mbps = Double(text.count) / best / 1e6
                let label = "\(pattern.rawValue), \(name):"
                print(label.padding(toLength: 34, withPad: " ", startingAt: 0)
                      + String(format: "%6.1f MB/s  (%.1f MB, %.2f bytes/piece)",
                               mbps, Double(text.count) / 1e6, Double(text.count) / Double(pieces)))
            }
        }
    }
}

/// CPU time of the calling thread, in seconds.
private func threadSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
