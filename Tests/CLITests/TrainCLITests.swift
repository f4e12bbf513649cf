import Foundation
import TestSupport
import Testing

/// `tokenmill train`, `generate`, `next` as a user runs them.
@Suite(.serialized) struct TrainCLITests {
    /// A small corpus (the sun texts) with a 300-token vocabulary, sharded once.
    static let corpus: TempDir = {
        let dir = try! TempDir()
        let sun = Run.repoRoot + "/data/sun.jsonl.gz"
        var r = try! Run.tokenmill(["learn", "--input", sun, "--vocab-size", "300", "--output", dir.file("vocab"), "--quiet"])
        precondition(r.status == 0, r.err)
        r = try! Run.tokenmill(["shard", "--tokenizer", dir.file("vocab"), "--input", sun, "--no-dedup", "--val-fraction", "0.05",
                                "--output", dir.file("shards"), "--quiet"])
        precondition(r.status == 0, r.err)
        return dir
    }()

    static let small = ["--layers", "2", "--heads", "2", "--channels", "32", "--context", "32", "--batch-size", "4",
                        "--eval-every", "5", "--threads", "2", "--quiet"]

    func train(_ out: String, _ extra: [String]) throws -> ProcessResult {
        try Run.tokenmill(["train", "--data", Self.corpus.file("shards"), "--output", out] + Self.small + extra)
    }

    /// log.jsonl without the timing fields.
    func losses(_ run: String) throws -> [String] {
        try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8).split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return "\(o["step"]!) \(o["train_loss"]!) \(o["val_loss"] ?? "-") \(o["lr"]!)"
        }
    }

    @Test func stopAndResumeEqualsOneRun() throws {
        let dir = try TempDir()
        #expect(try train(dir.file("whole"), ["--steps", "20"]).status == 0)
        let first = try train(dir.file("split"), ["--steps", "20", "--stop-at", "10"])
        #expect(first.status == 0, "\(first.err)")
        #expect(FileManager.default.fileExists(atPath: dir.file("split/model_00000010.bin")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("split/model_00000020.bin")))
        let second = try train(dir.file("split"), ["--steps", "20", "--resume"])
        #expect(second.status == 0, "\(second.err)")
        #expect(try losses(dir.file("split")) == losses(dir.file("whole")))
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("whole/model_00000020.bin")))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("split/model_00000020.bin")))
        #expect(a == b)
        // The checkpoint is llm.c's format: header [20240326, 3, maxT, V, L, NH, C, Vp].
        let header = a.prefix(32).withUnsafeBytes { raw in (0..<8).map { raw.load(fromByteOffset: $0 * 4, as: Int32.self) } }
        #expect(header == [20240326, 3, 32, 300, 2, 2, 32, 384])
    }

    @Test func sameSeedSameRun() throws {
        let dir = try TempDir()
        #expect(try train(dir.file("a"), ["--steps", "8", "--seed", "5"]).status == 0)
        #expect(try train(dir.file("b"), ["--steps", "8", "--seed", "5"]).status == 0)
        #expect(try train(dir.file("c"), ["--steps", "8", "--seed", "6"]).status == 0)
        #expect(try losses(dir.file("a")) == losses(dir.file("b")))
        #expect(try losses(dir.file("a")) != losses(dir.file("c")))
    }

    @Test func initFromACheckpointAndVocabularyMismatch() throws {
        let dir = try TempDir()
        #expect(try train(dir.file("base"), ["--steps", "80", "--lr", "3e-3"]).status == 0)
        let ck = dir.file("base/model_00000080.bin")
        let r = try Run.tokenmill(["train", "--data", Self.corpus.file("shards"), "--output", dir.file("tuned"), "--init", ck,
                                   "--context", "32", "--batch-size", "4", "--steps", "4", "--quiet", "--no-shuffle",
                                   "--lr", "1e-4", "--weight-decay", "0", "--grad-clip", "0", "--lr-min", "1", "--beta2", "0.999"])
        #expect(r.status == 0, "\(r.err)")
        // The first loss of the tuned run is the trained base model's: far below a fresh model's ln(300) ≈ 5.7.
        let first = try losses(dir.file("tuned"))[0].split(separator: " ")[1]
        #expect(Double(first)! < 4.5)

        // A corpus with another vocabulary is refused, naming the checkpoint.
        let other = try TempDir()
        let sun = Run.repoRoot + "/data/sun.jsonl.gz"
        _ = try Run.tokenmill(["learn", "--input", sun, "--vocab-size", "290", "--output", other.file("v"), "--quiet"])
        _ = try Run.tokenmill(["shard", "--tokenizer", other.file("v"), "--input", sun, "--output", other.file("s"), "--quiet"])
        let bad = try Run.tokenmill(["train", "--data", other.file("s"), "--output", other.file("run"), "--init", ck, "--quiet"])
        #expect(bad.status != 0)
        #expect(bad.err.contains(ck))
        #expect(bad.err.split(separator: "\n").count == 1)
    }

    @Test func generateAndNext() throws {
        let dir = try TempDir()
        #expect(try train(dir.file("run"), ["--steps", "10"]).status == 0)
        let args = ["--checkpoint", dir.file("run"), "--tokenizer", Self.corpus.file("vocab"), "--prompt", "The sun rises"]
        let g1 = try Run.tokenmill(["generate"] + args + ["--max-tokens", "12", "--temperature", "0.9", "--seed", "3"])
        let g2 = try Run.tokenmill(["generate"] + args + ["--max-tokens", "12", "--temperature", "0.9", "--seed", "3"])
        #expect(g1.status == 0, "\(g1.err)")
        #expect(g1.out == g2.out)
        #expect(g1.out.hasPrefix("The sun rises"))
        let n = try Run.tokenmill(["next"] + args + ["--top", "3", "--json"])
        #expect(n.status == 0, "\(n.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(n.out.utf8)) as! [String: Any]
        let next = obj["next"] as! [[String: Any]]
        #expect(next.count == 3)
        let p = next.map { ($0["probability"] as! NSNumber).doubleValue }
        #expect(p[0] >= p[1] && p[1] >= p[2] && p[0] <= 1)
    }

    @Test func newRunRefusesADirectoryWithCheckpoints() throws {
        let dir = try TempDir()
        #expect(try train(dir.file("run"), ["--steps", "3"]).status == 0)
        let again = try train(dir.file("run"), ["--steps", "3"])
        #expect(again.status != 0)
        #expect(again.err.contains("--resume") || again.err.contains("checkpoint"))
    }
}
