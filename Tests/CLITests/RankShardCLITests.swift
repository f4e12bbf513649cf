import Foundation
import TestSupport
import Testing

/// `tokenmill shard --rank R --world-size W` and `tokenmill merge`: ranks sharing a directory,
/// exact dedup across ranks, and a merged corpus equal to a one-machine run's.
@Suite(.serialized) struct RankShardCLITests {
    /// Four inputs, the third a copy of the first (its documents are duplicates that a rank
    /// other than the first one's must drop), the fourth one whole-file document.
    static let inputs: TempDir = {
        let dir = try! TempDir()
        let data = Run.repoRoot + "/data/"
        for (from, to) in [("bible-ot.jsonl.gz", "a.jsonl.gz"), ("fortunes.jsonl.gz", "b.jsonl.gz"),
                           ("bible-ot.jsonl.gz", "c.jsonl.gz"), ("bible-nt.txt.gz", "d.txt.gz")] {
            try! FileManager.default.copyItem(atPath: data + from, toPath: dir.file(to))
        }
        return dir
    }()

    static let vocab: TempDir = {
        let dir = try! TempDir()
        let r = try! Run.tokenmill(["learn", "--input", inputs.path, "--vocab-size", "1000", "--output", dir.path, "--quiet"])
        precondition(r.status == 0, r.err)
        return dir
    }()

    func shard(_ out: String, _ extra: [String] = [], environment: [String: String]? = nil) throws -> ProcessResult {
        try Run.tokenmill(["shard", "--tokenizer", Self.vocab.path, "--input", Self.inputs.path, "--shard-tokens", "300000",
                           "--output", out, "--quiet"] + extra, environment: environment)
    }

    func sql(_ dir: String, _ query: String) throws -> String {
        let r = try Run.process("/usr/bin/sqlite3", [dir + "/index.sqlite", query])
        #expect(r.status == 0, "\(r.err)")
        return r.out
    }

    /// Everything a corpus holds but for the shard names: each document (its source, record,
    /// length, hash and split), the sources' counts, token and length counts per split.
    func contents(_ dir: String) throws -> [String] {
        try ["""
            SELECT s.path, d.record, d.line, d.token_count, d.byte_count, d.hash_hi, d.hash_lo, sh.split
            FROM documents d JOIN sources s ON s.id = d.source_id JOIN shards sh ON sh.id = d.shard_id ORDER BY d.id
            """,
             "SELECT id, path, status, records, documents, tokens, text_bytes, duplicates, skipped FROM sources ORDER BY id",
             "SELECT split, token_id, count FROM token_counts ORDER BY split, token_id",
             "SELECT split, token_count, documents FROM length_counts ORDER BY split, token_count",
             "SELECT split, sum(tokens), sum(documents) FROM shards GROUP BY split"].map { try sql(dir, $0) }
    }

    @Test func twoRanksMergeToTheOneMachineCorpus() throws {
        let dir = try TempDir()
        let one = dir.file("one"), two = dir.file("two")
        #expect(try shard(one).status == 0)
        for rank in ["0", "1"] {
            let r = try shard(two, ["--hashes-only", "--rank", rank, "--world-size", "2"])
            #expect(r.status == 0, "\(r.err)")
        }
        // Rank 1 first: the order the ranks run in does not matter once every hashing pass is done.
        for rank in ["1", "0"] {
            let r = try shard(two, ["--rank", rank, "--world-size", "2", "--threads", rank == "0" ? "1" : "2"])
            #expect(r.status == 0, "\(r.err)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: two).filter { $0.hasSuffix(".bin") }.sorted()
        #expect(names.contains("train_r00000_000000.bin") && names.contains("train_r00001_000000.bin"))
        let merged = try Run.tokenmill(["merge", two])
        #expect(merged.status == 0, "\(merged.err)")
        #expect(merged.out.hasPrefix("merged 2 parts: 4 sources, "))

        let expected = try contents(one), got = try contents(two)
        #expect(got == expected)
        #expect(expected[0].split(separator: "\n").count > 16_000)
        // The copy's documents were all dropped, by rank 1, as duplicates of rank 0's.
        #expect(try sql(two, "SELECT documents, duplicates FROM sources WHERE path LIKE '%c.jsonl.gz'") == "0|925\n")
        #expect(try Run.tokenmill(["verify", two]).status == 0)
        let stats = try Run.tokenmill(["stats", two, "--json"]), oneStats = try Run.tokenmill(["stats", one, "--json"])
        #expect(stats.status == 0)
        // The same but for the directory and the shard counts (each rank starts its own shards).
        func summary(_ s: String) -> Any {
            func strip(_ v: Any) -> Any {
                if let o = v as? [String: Any] {
                    return o.filter { $0.key != "directory" && $0.key != "shards" }.mapValues(strip)
                }
                if let a = v as? [Any] { return a.map(strip) }
                return v
            }
            return strip(try! JSONSerialization.jsonObject(with: Data(s.utf8)))
        }
        #expect(NSDictionary(dictionary: summary(stats.out) as! [String: Any]) == NSDictionary(dictionary: summary(oneStats.out) as! [String: Any]))
        // Merged once: a second merge is refused.
        let again = try Run.tokenmill(["merge", two])
        #expect(again.status != 0 && again.err.contains("index.sqlite: exists"))
    }

    /// Ranks count their shares of the inputs; a learn from the counts added up gives the
    /// tokenizer a learn over all the inputs gives, byte for byte.
    @Test func learningFromRankCountsMatchesOneLearn() throws {
        let dir = try TempDir()
        let inputs = ["a.jsonl.gz", "b.jsonl.gz", "d.txt.gz"].map { Self.inputs.file($0) }
        let whole = try Run.tokenmill(["learn", "--input"] + inputs + ["--vocab-size", "1500", "--output", dir.file("whole"), "--quiet"])
        #expect(whole.status == 0, "\(whole.err)")
        var files: [String] = []
        for rank in 0..<3 {
            let r = try Run.tokenmill(["learn", "--input"] + inputs + ["--count-only", "--rank", "\(rank)", "--world-size", "3",
                                                                       "--threads", "\(rank + 1)", "--output", dir.file("counts"), "--quiet"])
            #expect(r.status == 0, "\(r.err)")
            files.append(dir.file("counts/words.rank-0000\(rank)-of-00003.counts"))
        }
        let learned = try Run.tokenmill(["learn", "--from-counts"] + files + ["--vocab-size", "1500", "--output", dir.file("ranks"), "--quiet"])
        #expect(learned.status == 0, "\(learned.err)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("whole/tokenizer.json")))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("ranks/tokenizer.json")))
        #expect(a == b)
        let other = try Run.tokenmill(["learn", "--from-counts"] + files + ["--vocab-size", "1500", "--pre-tokenizer", "cl100k",
                                                                            "--output", dir.file("x"), "--quiet"])
        #expect(other.err == "tokenmill: the words were counted with the gpt2 pre-tokenizer, not cl100k: give the same --pre-tokenizer\n")
    }

    /// On a real one-host Slurm cluster: a hashing array, a shard array whose rank 1 is killed
    /// with SIGKILL on its first run and resubmitted alone, then the merge; the corpus is the
    /// one-machine corpus.
    @Test func slurmArraysShardAndMerge() throws {
        let cluster = try SlurmCluster()
        defer { cluster.stop() }
        let dir = try TempDir()
        let one = dir.file("one"), out = dir.file("out"), logs = dir.file("logs")
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        #expect(try shard(one).status == 0)
        let command = [Run.tokenmillPath, "shard", "--tokenizer", Self.vocab.path, "--input", Self.inputs.path,
                       "--shard-tokens", "300000", "--output", out, "--threads", "1", "--world-size", "2", "--quiet"].joined(separator: " ")
        let hashes = try cluster.sbatch(["--array=0-1", "-o", logs + "/hashes-%a.out", "--wrap", command + " --hashes-only"])
        // Rank 1's first run is killed with SIGKILL a moment after it starts.
        let killed = dir.file("killed")
        let script = """
            #!/bin/sh
            if [ "$SLURM_ARRAY_TASK_ID" = 1 ] && [ ! -e \(killed) ]; then
                touch \(killed); \(command) & pid=$!; sleep 0.05; kill -KILL $pid; wait $pid; exit $?
            fi
            exec \(command)
            """
        try script.write(toFile: dir.file("shard.sh"), atomically: true, encoding: .utf8)
        try cluster.sbatch(["--array=0-1", "--dependency=afterok:\(hashes)", "-o", logs + "/shard-%a.out", dir.file("shard.sh")])
        try cluster.waitForJobs()
        #expect(FileManager.default.fileExists(atPath: killed))
        // Resubmitted alone, rank 1 resumes (or starts again) and finishes.
        try cluster.sbatch(["--array=1", "-o", logs + "/shard-again-%a.out", dir.file("shard.sh")])
        try cluster.waitForJobs()
        let merge = try cluster.sbatch(["-o", logs + "/merge.out", "--wrap", "\(Run.tokenmillPath) merge \(out)"])
        try cluster.waitForJobs()
        let log = (try? String(contentsOfFile: logs + "/merge.out", encoding: .utf8)) ?? ""
        #expect(log.hasPrefix("merged 2 parts: 4 sources, "), "merge job \(merge): \(log)")
        #expect(try contents(out) == contents(one))
    }

    /// pipelines/slurm/submit.sh, the worked example, on a real cluster: count, learn, hashes,
    /// shard and merge give the vocabulary and the corpus of one machine.
    @Test func theWorkedSlurmExampleRuns() throws {
        let cluster = try SlurmCluster()
        defer { cluster.stop() }
        let dir = try TempDir()
        let input = dir.file("in")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for name in ["a.jsonl.gz", "b.jsonl.gz", "c.jsonl.gz", "d.txt.gz"] {
            try FileManager.default.copyItem(atPath: Self.inputs.file(name), toPath: input + "/" + name)
        }
        let out = dir.file("slurm")
        let env = cluster.environment.merging(["INPUT": input, "OUT": out, "RANKS": "3", "VOCAB": "1200",
                                               "TOKENMILL": Run.tokenmillPath]) { $1 }
        let submitted = try Run.process(Run.repoRoot + "/pipelines/slurm/submit.sh", [], environment: env)
        #expect(submitted.status == 0, "\(submitted.err)")
        try cluster.waitForJobs()
        let one = dir.file("one")
        #expect(try Run.tokenmill(["learn", "--input", input, "--vocab-size", "1200", "--output", one + "/vocab", "--quiet"]).status == 0)
        #expect(try Run.tokenmill(["shard", "--tokenizer", one + "/vocab", "--input", input, "--output", one + "/shards", "--quiet"]).status == 0)
        let a = try Data(contentsOf: URL(fileURLWithPath: one + "/vocab/tokenizer.json"))
        let b = (try? Data(contentsOf: URL(fileURLWithPath: out + "/vocab/tokenizer.json"))) ?? Data()
        #expect(a == b)
        let logs = ((try? FileManager.default.contentsOfDirectory(atPath: out + "/logs")) ?? []).sorted()
        #expect(logs.count == 11, "\(logs)")
        #expect(try contents(out + "/shards") == contents(one + "/shards"))
    }

    /// `tokenmill run FILE --slurm` on a real cluster: the chain of jobs gives the vocabulary and
    /// the corpus of `tokenmill run FILE` on one machine, and trains on it.
    @Test func aPipelineRunsOnSlurmUnchanged() throws {
        let cluster = try SlurmCluster()
        defer { cluster.stop() }
        let dir = try TempDir()
        // With the copy c.jsonl.gz, whose documents another rank keeps: dropped when counting
        // and when sharding, as one machine drops them.
        let inputs = ["a.jsonl.gz", "b.jsonl.gz", "c.jsonl.gz", "d.txt.gz"].map { "\"\(Self.inputs.file($0))\"" }.joined(separator: ", ")
        let pipeline = """
            name = "tiny"
            [inputs]
            paths = [\(inputs)]
            [tokenizer]
            vocab_size = 700
            [shard]
            shard_tokens = 300000
            [train]
            layers = 2
            heads = 2
            channels = 32
            context_length = 32
            batch_size = 4
            steps = 6
            eval_every = 0
            threads = 1
            """
        try pipeline.write(toFile: dir.file("tiny.toml"), atomically: true, encoding: .utf8)
        let dry = try Run.tokenmill(["run", dir.file("tiny.toml"), "--run-dir", dir.file("slurm"), "--slurm", "--dry-run", "--ranks", "2",
                                     "--time", "10:00"])
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("#SBATCH --array=0-1\n#SBATCH --time=10:00\nexec "))
        #expect(dry.out.contains("# sbatch --parsable --dependency=afterok:<job of shard> \(dir.file("slurm"))/slurm/05-merge.sbatch"))
        #expect(dry.out.contains("# sbatch --parsable \(dir.file("slurm"))/slurm/01-hashes.sbatch"))
        let submitted = try Run.tokenmill(["run", dir.file("tiny.toml"), "--run-dir", dir.file("slurm"), "--slurm", "--ranks", "2"],
                                          environment: cluster.environment)
        #expect(submitted.status == 0, "\(submitted.err)")
        #expect(submitted.out.hasSuffix("submitted 6 jobs; logs and scripts in \(dir.file("slurm"))/slurm\n"))
        try cluster.waitForJobs(seconds: 180)
        let one = try Run.tokenmill(["run", dir.file("tiny.toml"), "--run-dir", dir.file("one"), "--quiet"])
        #expect(one.status == 0, "\(one.err)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("one/vocab/tokenizer.json")))
        let b = (try? Data(contentsOf: URL(fileURLWithPath: dir.file("slurm/vocab/tokenizer.json")))) ?? Data()
        #expect(a == b)
        #expect(try contents(dir.file("slurm/shards")) == contents(dir.file("one/shards")))
        let status = try Run.tokenmill(["run", dir.file("tiny.toml"), "--run-dir", dir.file("slurm"), "--status", "--ranks", "2"])
        let run = dir.file("slurm")
        #expect(status.out == """
            hashes  2 of 2 ranks done
            count   2 of 2 ranks done
            learn   done (\(run)/vocab/tokenizer.json)
            shard   2 of 2 ranks done
            merge   done (\(run)/shards/index.sqlite)
            train   checkpoint at step 6 of 6

            """)
        // A step run by one rank of two: the other is named, with the command that resubmits it.
        let partly = dir.file("partly")
        #expect(try Run.tokenmill(["run", dir.file("tiny.toml"), "--run-dir", partly, "--step", "count", "--rank", "0",
                                   "--world-size", "2", "--quiet"]).status == 0)
        let half = try Run.tokenmill(["run", dir.file("tiny.toml"), "--run-dir", partly, "--status", "--ranks", "2"])
        #expect(half.out.hasPrefix("hashes  0 of 2 ranks done; not done: 0,1 (resubmit: sbatch --array=0,1 \(partly)/slurm/01-hashes.sbatch)\n"
                                   + "count   1 of 2 ranks done; not done: 1 (resubmit: sbatch --array=1 \(partly)/slurm/02-count.sbatch)\nlearn   not done\n"))
        let log = (try? String(contentsOfFile: dir.file("slurm/train/log.jsonl"), encoding: .utf8)) ?? ""
        #expect(log.split(separator: "\n").count == 6)
        #expect(FileManager.default.fileExists(atPath: dir.file("slurm/train/model_00000006.bin")))
    }

    @Test func aMissingPartOrHashListIsNamed() throws {
        let dir = try TempDir()
        let out = dir.file("c")
        #expect(try shard(out, ["--hashes-only", "--rank", "1", "--world-size", "2"]).status == 0)
        let early = try shard(out, ["--rank", "1", "--world-size", "2"])
        #expect(early.status != 0)
        #expect(early.err.contains("\(out)/dedup.rank-00000-of-00002.hashes: missing: rank 1 needs the hashing pass of ranks 0 to 1"))
        // Without dedup no hashing pass is needed; the merge then wants rank 0's part.
        #expect(try shard(out, ["--rank", "1", "--world-size", "2", "--no-dedup"]).status == 0)
        let merge = try Run.tokenmill(["merge", out])
        #expect(merge.status != 0)
        #expect(merge.err == "tokenmill: \(out)/index.rank-00000-of-00002.sqlite: missing: run the shard job of rank 0 of 2\n")
    }

    @Test func slurmArrayVariablesGiveTheRank() throws {
        let dir = try TempDir()
        let out = dir.file("s")
        let env = ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"]
        let r = try shard(out, ["--hashes-only"], environment: env)
        #expect(r.status == 0, "\(r.err)")
        #expect(FileManager.default.fileExists(atPath: out + "/dedup.rank-00001-of-00003.hashes"))
        let bad = try shard(out, ["--rank", "2", "--world-size", "2"])
        #expect(bad.err.contains("rank must be in 0..<2, not 2"))
        let half = try shard(out, ["--rank", "1"])
        #expect(half.err.contains("--rank needs --world-size"))
        let alone = try shard(out, ["--world-size", "2"], environment: ["SLURM_ARRAY_TASK_ID": "", "SLURM_PROCID": ""])
        #expect(alone.err.contains("--world-size needs --rank (outside Slurm)"))
    }
}
