import Foundation
import TestSupport
import Testing

/// `mpirun -np 2 tokenmill train`: data-parallel training over Open MPI. Same global batch,
/// same result: two ranks of batch 2 follow one process of batch 4, step for step.
@Suite(.serialized) struct MPITrainingTests {
    static let corpus: TempDir = {
        let dir = try! TempDir()
        let inputs = ["bible-ot.jsonl.gz", "fortunes.jsonl.gz"].map { Run.repoRoot + "/data/" + $0 }
        var r = try! Run.tokenmill(["learn", "--input"] + inputs + ["--vocab-size", "600", "--output", dir.file("vocab"), "--quiet"])
        precondition(r.status == 0, r.err)
        r = try! Run.tokenmill(["shard", "--tokenizer", dir.file("vocab"), "--input"] + inputs + ["--output", dir.file("shards"), "--quiet"])
        precondition(r.status == 0, r.err)
        return dir
    }()

    static let common = ["--steps", "6", "--layers", "2", "--channels", "32", "--heads", "2", "--context", "32", "--no-shuffle",
                         "--threads", "1", "--eval-every", "3", "--eval-batches", "2", "--quiet"]

    func mpirun(_ np: Int, _ arguments: [String]) throws -> ProcessResult {
        var args = ["--oversubscribe", "-np", "\(np)"]
        if getuid() == 0 { args.insert("--allow-run-as-root", at: 0) }
        return try Run.process("/usr/bin/mpirun", args + [Run.tokenmillPath] + arguments)
    }

    /// Each log line's numbers but the timings.
    func losses(_ run: String) throws -> [[String: Double]] {
        let text = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8)
        return text.split(separator: "\n").map { line in
            let o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return o.filter { ["step", "train_loss", "val_loss", "grad_norm", "lr"].contains($0.key) }.mapValues { ($0 as! NSNumber).doubleValue }
        }
    }

    func close(_ a: [[String: Double]], _ b: [[String: Double]]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            x.keys.sorted() == y.keys.sorted() && x.allSatisfy { k, v in abs(v - y[k]!) <= 1e-4 * max(1, abs(v)) }
        }
    }

    @Test func twoRanksFollowOneProcessAndResume() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/mpirun") else {
            Issue.record("/usr/bin/mpirun is missing: make setup installs openmpi-bin and libopenmpi-dev")
            return
        }
        let dir = try TempDir()
        let data = Self.corpus.file("shards")
        let one = try Run.tokenmill(["train", "--data", data, "--output", dir.file("one"), "--batch-size", "4"] + Self.common)
        #expect(one.status == 0, "\(one.err)")
        let two = try mpirun(2, ["train", "--data", data, "--output", dir.file("two"), "--batch-size", "2"] + Self.common)
        #expect(two.status == 0, "\(two.out)\(two.err)")
        let expected = try losses(dir.file("one"))
        #expect(expected.count == 6)
        let got = try losses(dir.file("two"))
        #expect(close(got, expected), "\(got)\n\(expected)")
        // Rank 0 alone writes: one log, one checkpoint per step written, the other rank's lock only.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.file("two")).sorted()
        #expect(names == ["log.jsonl", "model_00000006.bin", "model_00000006.state", "run.json", "train.lock", "train.rank-1.lock"])
        // Stopped at step 3 and resumed, on two ranks: the same steps.
        let first = try mpirun(2, ["train", "--data", data, "--output", dir.file("resumed"), "--batch-size", "2", "--stop-at", "3"] + Self.common)
        #expect(first.status == 0, "\(first.err)")
        let rest = try mpirun(2, ["train", "--data", data, "--output", dir.file("resumed"), "--resume", "--quiet"])
        #expect(rest.status == 0, "\(rest.err)")
        #expect(close(try losses(dir.file("resumed")), expected))
        // Stopped on two ranks of batch 2, resumed as one process of batch 4 (the same global
        // batch): the same steps. Another global batch is refused by name.
        let half = try mpirun(2, ["train", "--data", data, "--output", dir.file("regrouped"), "--batch-size", "2", "--stop-at", "3"] + Self.common)
        #expect(half.status == 0, "\(half.err)")
        let other = try Run.tokenmill(["train", "--data", data, "--output", dir.file("regrouped"), "--resume", "--batch-size", "2", "--quiet"])
        #expect(other.err.contains("global batch (batch size × world size) differs: the state has 2 × 2, this loader has 2 × 1"), "\(other.err)")
        let alone = try Run.tokenmill(["train", "--data", data, "--output", dir.file("regrouped"), "--resume", "--batch-size", "4", "--quiet"])
        #expect(alone.status == 0, "\(alone.err)")
        #expect(close(try losses(dir.file("regrouped")), expected))
    }
}
