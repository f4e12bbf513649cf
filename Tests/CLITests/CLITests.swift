import Foundation
import TestSupport
import Testing

/// The command line as a user meets it: round trips through encode/decode, exports, and the
/// one-line errors with a non-zero exit status.
@Suite struct CLITests {
    static let sample = Run.repoRoot + "/data/fortunes.jsonl.gz"

    /// A vocabulary learned once for the CLI tests.
    static let vocab: TempDir = {
        let dir = try! TempDir()
        let r = try! Run.tokenmill(["learn", "--input", sample, "--vocab-size", "1200", "--output", dir.path, "--quiet"])
        precondition(r.status == 0, r.err)
        return dir
    }()

    @Test func encodeDecodeRoundTripOfRandomBytes() throws {
        var rng = SeededRNG(seed: 42)
        for n in [0, 1, 100, 5000] {
            let bytes = rng.bytes(n)
            let enc = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path], stdin: bytes)
            #expect(enc.status == 0, "\(enc.err)")
            let dec = try Run.tokenmill(["decode", "--tokenizer", Self.vocab.path], stdin: enc.stdout)
            #expect(dec.status == 0, "\(dec.err)")
            #expect(dec.stdout == bytes)
        }
    }

    @Test func encodePrintsOneLineOfIds() throws {
        let r = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path + "/tokenizer.json"], stdin: Array("Hello world".utf8))
        #expect(r.status == 0)
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines[0].split(separator: " ").allSatisfy { UInt32($0) != nil })
    }

    /// The input may be any readable file: a pipe (here /dev/stdin when it is one, as with a
    /// shell's `<(zcat x.gz)`) or a device reads to its end; a path that cannot be read says why.
    @Test func inputFilesArePipesDevicesOrFiles() throws {
        let fromStdin = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path], stdin: Array("Hello world".utf8))
        let fromPipe = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path, "/dev/stdin"], stdin: Array("Hello world".utf8))
        #expect(fromPipe.status == 0, "\(fromPipe.err)")
        #expect(fromPipe.out == fromStdin.out && !fromStdin.out.isEmpty)
        let empty = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path, "/dev/null"])
        #expect(empty.status == 0 && empty.out == "\n", "\(empty.err)")
        let missing = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path, "/no/such/file"])
        #expect(missing.status != 0 && missing.err.contains("/no/such/file: No such file or directory"), "\(missing.err)")
        let directory = try Run.tokenmill(["decode", "--tokenizer", Self.vocab.path, Self.vocab.path])
        #expect(directory.status != 0 && directory.err.contains("\(Self.vocab.path): Is a directory"), "\(directory.err)")
    }

    @Test func allowSpecial() throws {
        let text = Array("a<|endoftext|>b".utf8)
        let plain = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path], stdin: text)
        let special = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path, "--allow-special"], stdin: text)
        #expect(!plain.out.split(separator: " ").contains("0"))
        #expect(special.out.split(separator: " ").contains("0"))
    }

    @Test func exportTiktokenAndLlmcAndReload() throws {
        let dir = try TempDir()
        let tk = dir.file("v.tiktoken")
        let r = try Run.tokenmill(["export", "--tokenizer", Self.vocab.path, "--format", "tiktoken", "--output", tk])
        #expect(r.status == 0, "\(r.err)")
        let text = Array("The quick brown fox, 1234 times!".utf8)
        let a = try Run.tokenmill(["encode", "--tokenizer", Self.vocab.path], stdin: text)
        let b = try Run.tokenmill(["encode", "--tokenizer", tk, "--pattern", "gpt2", "--special", "<|endoftext|>=0"], stdin: text)
        #expect(a.out == b.out)
        let l = try Run.tokenmill(["export", "--tokenizer", Self.vocab.path, "--format", "llmc", "--output", dir.file("v.bin")])
        #expect(l.status == 0, "\(l.err)")
        let bin = try Data(contentsOf: URL(fileURLWithPath: dir.file("v.bin")))
        #expect(bin.prefix(4) == Data([0xC8, 0xD7, 0x34, 0x01]))   // 20240328 little-endian
    }

    @Test func errorsAreOneLineNamingTheFile() throws {
        let dir = try TempDir()
        let missing = dir.file("nope.json")
        let r1 = try Run.tokenmill(["encode", "--tokenizer", missing], stdin: [])
        #expect(r1.status != 0)
        #expect(r1.err == "tokenmill: \(missing): no such file or directory\n")

        let ids = try dir.write("ids.txt", "12 x7 5")
        let r2 = try Run.tokenmill(["decode", "--tokenizer", Self.vocab.path, ids])
        #expect(r2.status != 0)
        #expect(r2.err == "tokenmill: \(ids): item 2 (\"x7\") is not a token id\n")

        let r3 = try Run.tokenmill(["decode", "--tokenizer", Self.vocab.path], stdin: Array("1 999999".utf8))
        #expect(r3.err == "tokenmill: <stdin>: token id 999999 at position 1 is not in the vocabulary (size 1200)\n")

        let r4 = try Run.tokenmill(["learn", "--input", dir.file("none*.gz"), "--vocab-size", "300", "--output", dir.file("o")])
        #expect(r4.status != 0)
        #expect(r4.err.split(separator: "\n").count == 1)
        #expect(r4.err.contains(dir.file("none*.gz")))
    }

    @Test func learnGoesOnPastACorruptFileAndFails() throws {
        let dir = try TempDir()
        // A gzip stream cut in half: that file stops with its offset, the good one is learned.
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.sample))
        let cut = try dir.write("cut.jsonl.gz", [UInt8](good.prefix(good.count / 2)))
        let r = try Run.tokenmill(["learn", "--input", Self.sample, cut, "--vocab-size", "400", "--output", dir.file("o"), "--quiet"])
        #expect(r.status != 0)
        #expect(r.err.contains(cut))
        #expect(r.err.contains("offset"))
        #expect(FileManager.default.fileExists(atPath: dir.file("o/tokenizer.json")))
    }

    @Test func helpIsThere() throws {
        for cmd in ["learn", "encode", "decode", "export"] {
            let r = try Run.tokenmill([cmd, "--help"])
            #expect(r.status == 0)
            #expect(r.out.contains("USAGE"))
        }
    }

    /// The encode measurement `make bench` uses counts the same tokens on any number of threads,
    /// and as many as the sharder writes (less one end-of-text token per document).
    @Test func benchEncodeCountsTheSameTokensOnAnyThreads() throws {
        let dir = try TempDir()
        let shard = try Run.tokenmill(["shard", "--tokenizer", Self.vocab.path, "--input", Self.sample,
                                       "--output", dir.path, "--no-dedup", "--quiet"])
        #expect(shard.status == 0, "\(shard.err)")
        let stats = try Run.tokenmill(["stats", dir.path, "--json"])
        let summary = try JSONSerialization.jsonObject(with: Data(stats.out.utf8)) as! [String: Any]
        let splits = summary["splits"] as! [[String: Any]]
        let documents = summary["documents"] as! Int
        let expected = splits.reduce(0) { $0 + ($1["tokens"] as! Int) } - documents
        #expect(documents > 1000 && expected > 100_000)
        for threads in [1, 2, 3] {
            let r = try Run.tokenmill(["bench", "encode", "--tokenizer", Self.vocab.path, "--input", Self.sample,
                                       "--repeats", "2", "--threads", String(threads)])
            #expect(r.status == 0, "\(r.err)")
            let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
            #expect(report["tokens"] as? Int == expected, "\(threads) threads: \(r.out)")
            #expect(report["documents"] as? Int == documents)
            #expect(report["threads"] as? Int == threads)
        }
        let none = try Run.tokenmill(["bench", "encode", "--tokenizer", Self.vocab.path, "--input", Self.sample, "--threads", "0"])
        #expect(none.status != 0 && none.err.contains("--threads must be at least 1"), "\(none.err)")
    }
}

/// Progress: a live line on a terminal, plain lines otherwise, nothing with --quiet, JSON events
/// with --log-json.
@Suite struct ProgressTests {
    static let sample = Run.repoRoot + "/data/fortunes.jsonl.gz"

    @Test func logJSONWritesEvents() throws {
        let dir = try TempDir()
        let log = dir.file("events.jsonl")
        let r = try Run.tokenmill(["learn", "--input", Self.sample, "--vocab-size", "600", "--output", dir.file("v"),
                                   "--quiet", "--log-json", log])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.isEmpty)   // --quiet: nothing on stderr
        let events = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(events.count >= 2)
        #expect(events.allSatisfy { $0["stage"] as? String == "learn" })
        #expect(events.contains { $0["phase"] as? String == "merging" && ($0["total"] as? NSNumber)?.intValue == 600 - 257 })
        #expect(events.last?["phase"] as? String == "done")
    }

    @Test func plainLinesWhenNotATerminal() throws {
        let dir = try TempDir()
        let r = try Run.tokenmill(["learn", "--input", Self.sample, "--vocab-size", "600", "--output", dir.file("v")])
        #expect(r.status == 0)
        #expect(!r.err.contains("\u{1B}["))
        #expect(r.err.split(separator: "\n").last?.hasPrefix("learned 600 tokens") == true)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func liveLineOnATerminal() throws {
        // util-linux `script` runs the command on a pseudo-terminal.
        let dir = try TempDir()
        let cmd = "\(Run.tokenmillPath) learn --input \(Self.sample) --vocab-size 3000 --output \(dir.file("v"))"
        let r = try Run.process("/usr/bin/script", ["-qec", cmd, "/dev/null"], environment: ["TERM": "xterm"])
        #expect(r.status == 0, "\(r.out)")
        #expect(r.out.contains("\r\u{1B}[K"))        // the live line is redrawn in place
        #expect(r.out.contains("learn merging:"))
        #expect(r.out.contains("learned 3000 tokens"))
    }
}
