import BPE
import Corpus
import Foundation
import Pipeline
import Shards
import ShardsTestSupport
import Testing
import TestSupport

/// Inputs and a small tokenizer for the shard job tests, made once.
final class ShardJobFixture: Sendable {
    static let shared = try! ShardJobFixture()

    let dir: TempDir
    let tokenizer: Tokenizer
    let tokenizerFile: String
    /// fortunes (JSONL, multi-member gzip, with duplicates), the New Testament (text, paragraphs),
    /// random Unicode documents (JSONL), the held-out book (text).
    let inputs: [String]
    let corrupt: String
    let ingest: IngestOptions

    init() throws {
        dir = try TempDir(prefix: "tokenmill-sharder")
        var rng = SeededRNG(seed: 99)
        var lines = ""
        for i in 0..<300 {
            let text = rng.unicodeString(Int.random(in: 0..<120, using: &rng)) + (i % 50 == 0 ? "<|endoftext|>" : "")
            let json = try JSONSerialization.data(withJSONObject: ["text": text])
            lines += String(decoding: json, as: UTF8.self) + "\n"
        }
        lines += "{not json\n"
        let unicode = try dir.write("unicode.jsonl", lines)
        let data = Run.repoRoot + "/data/"
        inputs = [data + "fortunes.jsonl.gz", data + "bible-nt.txt.gz", unicode, data + "heldout.txt"]
        let nt = try Array(Data(contentsOf: URL(fileURLWithPath: data + "bible-nt.txt.gz")))
        corrupt = try dir.write("broken.txt.gz", Array(nt.prefix(nt.count / 2)))
        var options = IngestOptions()
        options.boundary = .blank
        ingest = options
        // A 600-token vocabulary learned from the held-out book and the random documents.
        var counter = WordCounter(pattern: .gpt2)
        counter.count(try Array(Data(contentsOf: URL(fileURLWithPath: data + "heldout.txt"))))
        counter.count(Array(lines.utf8))
        let model = try BPETrainer.train(words: counter, config: BPETrainerConfig(vocabSize: 600))
        tokenizer = try Tokenizer(model)
        tokenizerFile = try dir.write("tokenizer.json", model.huggingFaceJSON())
    }

    func options(_ output: String, inputs: [String]? = nil, threads: Int = 2) -> ShardJobOptions {
        Self.options(output, inputs: inputs ?? self.inputs, threads: threads)
    }

    /// Small batches, frequent commits and small shards, so that every path is taken.
    static func options(_ output: String, inputs: [String], threads: Int = 2) -> ShardJobOptions {
        var ingest = IngestOptions()
        ingest.boundary = .blank
        var settings = ShardSettings()
        settings.shardTokens = 200_000
        settings.valFraction = 0.05
        settings.threads = threads
        settings.commitSeconds = 0
        var o = ShardJobOptions(inputs: inputs, output: output, ingest: ingest, settings: settings)
        o.batchBytes = 32 << 10
        o.commitTokens = 60_000
        return o
    }

    /// What the Corpus module's own ingest gives for the same inputs (dedup across sources).
    func ingested(_ inputs: [String]) -> [[UInt8]] {
        var texts: [[UInt8]] = []
        _ = try? Ingest(paths: inputs, options: ingest).forEach { texts.append($0.text) }
        return texts
    }
}

@Suite struct ShardJobTests {
    let fixture = ShardJobFixture.shared

    @Test func documentsRoundTripAndTheIndexLocatesEach() throws {
        let out = try TempDir()
        // nonisolated(unsafe): the job calls `progress` from its writer, one write at a time, and
        // every call returns before `run` does.
        nonisolated(unsafe) var reports: [ShardJobProgress] = []
        let report = try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile,
                                     options: fixture.options(out.path)) { reports.append($0) }
        #expect(report.errors.isEmpty && report.completed)
        #expect(reports.count == report.batches)
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.bytesDone <= $1.bytesDone && $0.documents <= $1.documents })
        #expect(reports.last.map { $0.bytesDone == $0.bytesTotal && $0.documents == report.documents && $0.tokens == report.tokens } == true)
        let expected = fixture.ingested(fixture.inputs)
        let documents = try documentsFromShards(out.path)
        #expect(documents.count == expected.count)
        #expect(Int64(documents.count) == report.documents)
        let eot = try #require(fixture.tokenizer.eotID)
        for (i, tokens) in documents.enumerated() where i < expected.count {
            #expect(tokens.first == eot)
            #expect(try fixture.tokenizer.decode(tokens.dropFirst()) == expected[i], "document \(i)")
        }
        #expect(try CorpusVerifier.verify(directory: out.path).isEmpty)
        // The tokenizer travels with the corpus.
        #expect(try Tokenizer.load(out.path).fingerprint == fixture.tokenizer.fingerprint)
        // Summary figures agree with the ingest.
        let ingestReport = try Ingest(paths: fixture.inputs, options: fixture.ingest).forEach { _ in }
        let duplicates = ingestReport.skips[.duplicate]
        let badJSON = ingestReport.skips[.badJSON]
        let summary = try CorpusStats(directory: out.path).summary()
        #expect(summary.documents == Int64(expected.count))
        #expect(summary.duplicates == duplicates && duplicates > 0)
        #expect(summary.records == ingestReport.records)
        #expect(summary.skips.first { $0.reason == "bad_json" }?.count == badJSON && badJSON == 1)
        #expect(summary.splits.allSatisfy { $0.documents > 0 })
        #expect(summary.textBytes == ingestReport.documentBytes)
    }

    /// The trace has each batch read, processed, encoded, counted and written once, in that
    /// order, each commit and the finish, on the job's worker threads; its JSON is what
    /// Perfetto reads (an object with `traceEvents` of complete events).
    @Test func theTraceHasEveryTaskOfEveryBatch() throws {
        let out = try TempDir()
        var options = fixture.options(out.path)
        options.trace = TaskTrace()
        let report = try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile, options: options)
        let events = options.trace!.recorded
        struct Key: Hashable { var source: Int, batch: Int }
        var tasks: [Key: [(name: String, start: Double, end: Double)]] = [:]
        for e in events where e.args["source"] != nil {
            tasks[Key(source: e.args["source"]!, batch: e.args["batch"]!), default: []].append((e.name, e.start, e.start + e.duration))
        }
        #expect(tasks.count == report.batches)
        for (key, list) in tasks {
            let ordered = list.sorted { $0.start < $1.start }
            #expect(ordered.map(\.name) == ["read", "process", "encode", "count", "write"], "\(key)")
            #expect(zip(ordered, ordered.dropFirst()).allSatisfy { $0.end <= $1.start }, "\(key)")
        }
        #expect(Set(events.filter { $0.args["source"] != nil }.map(\.thread)).count <= report.workers)
        #expect(events.filter { $0.name == "save tokenizer" }.count == 1)
        #expect(events.filter { $0.name == "commit" }.count >= 2, "small commits: several")
        #expect(events.filter { $0.name == "finish" }.count == 1)
        #expect(events.filter { $0.name == "vocab" }.count == 1, "600 ids: one part")
        let json = try JSONSerialization.jsonObject(with: Data(options.trace!.json().utf8)) as? [String: Any]
        let parsed = try #require(json?["traceEvents"] as? [[String: Any]])
        #expect(parsed.count == events.count)
        #expect(parsed.allSatisfy { $0["ph"] as? String == "X" && $0["ts"] is Double && $0["dur"] is Double })
    }

    /// Documents that a stage rewrites (invalid UTF-8 repaired, line endings, NFC, whitespace)
    /// leave their record and are copied into the batch; the others are encoded where the JSON
    /// was decoded, in place. Both kinds decode from the shards to what the ingest gives.
    @Test(arguments: [false, true])
    func documentsRewrittenByTheStagesRoundTrip(normalize: Bool) throws {
        let dir = try TempDir()
        var jsonl: [UInt8] = []
        for i in 0..<400 {
            var line = Array("{\"id\": \(i), \"text\": \"doc \(i) ".utf8)
            switch i % 5 {
            case 0: line += Array("crlf\\r\\nand\\r\\nbreaks".utf8)
            case 1: line += [0x62, 0xFF, 0xFE, 0x61, 0xC3]   // invalid UTF-8: repaired (longer)
            case 2: line += Array("e\\u0301 combining, \\ud800 lone, \\ud83d\\ude00 pair".utf8)
            case 3: line += Array("  spaced\\t\\tout  \\u00a0 text  ".utf8)
            default: line += Array("plain \\\"quoted\\\" text".utf8)
            }
            jsonl += line + Array("\"}\n".utf8)
        }
        let paragraphs = (0..<200).map { "paragraph \($0)\r\nsecond line\r\n" }.joined(separator: "\r\n")
        let inputs = [try dir.write("stages.jsonl", jsonl), try dir.write("crlf.txt", paragraphs)]
        var options = fixture.options(dir.file("out"), inputs: inputs)
        options.ingest.normalizeLineEndings = normalize
        options.ingest.normalizeNFC = normalize
        options.ingest.normalizeWhitespace = normalize
        let report = try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
        #expect(report.errors.isEmpty && report.documents == 600)
        var expected: [[UInt8]] = []
        try Ingest(paths: inputs, options: options.ingest).forEach { expected.append($0.text) }
        let documents = try documentsFromShards(dir.file("out"))
        #expect(documents.count == expected.count)
        for (i, tokens) in documents.enumerated() where i < expected.count {
            #expect(try fixture.tokenizer.decode(tokens.dropFirst()) == expected[i], "document \(i)")
        }
        #expect(expected.contains { $0.contains(0x0D) } == !normalize)
        #expect(expected.contains { String(decoding: $0, as: UTF8.self).contains("\u{FFFD}") })
    }

    @Test func outputIsIdenticalForOneAndTwoThreads() throws {
        let one = try TempDir(), two = try TempDir()
        try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile, options: fixture.options(one.path, threads: 1))
        try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile, options: fixture.options(two.path, threads: 2))
        let a = try snapshot(one.path), b = try snapshot(two.path)
        #expect(a.files == b.files)
        #expect(a.tables == b.tables)
    }

    /// Any number of worker threads (so several sources read at once, and reading, encoding and
    /// writing done by whichever thread is free) gives the same bytes, for one encoder and for
    /// three. The inputs repeat one source under another name, so that the writer (in reading
    /// order) and the readers (against documents already written) both drop duplicates.
    @Test func outputIsIdenticalForAnyNumberOfWorkers() throws {
        let copy = fixture.dir.file("fortunes-again.jsonl.gz")
        if !FileManager.default.fileExists(atPath: copy) { try FileManager.default.copyItem(atPath: fixture.inputs[0], toPath: copy) }
        let inputs = fixture.inputs + [copy, fixture.corrupt]
        let reference = try TempDir()
        var options = fixture.options(reference.path, inputs: inputs, threads: 1)
        options.workers = 1
        let one = try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile, options: options)
        #expect(one.workers == 1 && one.batches > 20, "small batches, so that reading and writing interleave")
        let expected = try snapshot(reference.path)
        let sources = try CorpusStats(directory: reference.path).sources().sources
        #expect(sources.map(\.status) == [.done, .done, .done, .done, .done, .error])
        #expect(sources[4].documents == 0 && sources[4].duplicates == sources[0].documents + sources[0].duplicates,
                "every document of the copy is a duplicate")
        for (threads, workers) in [(1, 2), (1, 4), (2, 2), (3, 3), (3, 5)] {
            let dir = try TempDir()
            var options = fixture.options(dir.path, inputs: inputs, threads: threads)
            options.workers = workers
            let report = try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile, options: options)
            #expect(report.workers == workers && report.documents == one.documents)
            let got = try snapshot(dir.path)
            #expect(got.files == expected.files, "threads \(threads), workers \(workers)")
            #expect(got.tables == expected.tables, "threads \(threads), workers \(workers)")
            #expect(try CorpusVerifier.verify(directory: dir.path).isEmpty, "token counts recounted from the shards agree")
        }
    }

    /// A dedup set over its memory budget spills to disk and stays exact: with the smallest
    /// budget (1,024 hashes in memory) the output is the same as with the default, also when
    /// stopped as a kill would and resumed (the set is reloaded from the index, spilling
    /// again), and nothing of the spill is left in the directory. The inputs repeat one source,
    /// so most duplicates are of documents spilled long before.
    @Test func dedupOverItsMemoryBudgetGivesTheSameResult() throws {
        let copy = fixture.dir.file("fortunes-again.jsonl.gz")
        if !FileManager.default.fileExists(atPath: copy) { try FileManager.default.copyItem(atPath: fixture.inputs[0], toPath: copy) }
        let inputs = fixture.inputs + [copy]
        let reference = try TempDir()
        let full = try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile,
                                   options: fixture.options(reference.path, inputs: inputs))
        #expect(full.dedupSpills == 0)
        let expected = try snapshot(reference.path)
        let sources = try CorpusStats(directory: reference.path).sources().sources
        #expect(sources[4].documents == 0 && sources[4].duplicates == sources[0].documents + sources[0].duplicates)
        for stop in [nil, 25] as [Int?] {
            let out = try TempDir()
            var options = fixture.options(out.path, inputs: inputs)
            options.settings.dedupMemory = 0
            var spills = 0
            if let stop {
                options.stopAfterBatches = stop
                let partial = try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile, options: options)
                #expect(!partial.completed)
                spills += partial.dedupSpills
                options.stopAfterBatches = nil
            }
            let report = try ShardJob.run(tokenizer: fixture.tokenizer, tokenizerFile: fixture.tokenizerFile, options: options)
            spills += report.dedupSpills
            #expect(report.completed && spills >= full.documents / 1024, "spilled, stop \(String(describing: stop))")
            let got = try snapshot(out.path)
            #expect(got.files == expected.files, "stop \(String(describing: stop))")
            #expect(got.tables == expected.tables, "stop \(String(describing: stop))")
        }
    }

    /// Asked to stop (Ctrl-C) after k batches: what was written is committed at once, and the
    /// job run again finishes with the uninterrupted result.
    @Test func stopRequestCommitsAndResumesToTheSameResult() throws {
        let inputs = [fixture.inputs[0], fixture.corrupt, fixture.inputs[2]]
        let reference = try TempDir()
        let full = try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(reference.path, inputs: inputs))
        let expected = try snapshot(reference.path)
        for stop in [1, 9, full.batches - 2] {
            let out = try TempDir()
            var options = fixture.options(out.path, inputs: inputs)
            let asked = Counter()
            options.shouldContinue = { asked.increment() + 1 < stop }
            let partial = try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
            #expect(!partial.completed && partial.batches == stop, "stop \(stop)")
            // Committed: the index already holds every document written.
            let db = try Database(path: out.file("index.sqlite"), readOnly: true)
            #expect(try db.scalar("SELECT count(*) FROM documents")?.int64 == partial.documents, "stop \(stop)")
            options.shouldContinue = nil
            let rest = try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
            #expect(rest.completed && rest.documents == full.documents - partial.documents, "stop \(stop)")
            let got = try snapshot(out.path)
            #expect(got.files == expected.files, "stop after \(stop) batches")
            #expect(got.tables == expected.tables, "stop after \(stop) batches")
        }
    }

    /// Stop (as a kill would: nothing more committed) after k batches, rerun: identical result.
    @Test func interruptedRunsResumeToTheSameResult() throws {
        let inputs = [fixture.inputs[0], fixture.corrupt, fixture.inputs[2]]
        let reference = try TempDir()
        let full = try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(reference.path, inputs: inputs))
        #expect(full.errors.count == 1)
        let expected = try snapshot(reference.path)
        #expect(full.batches > 60)
        for stop in [1, 7, 40, full.batches - 3, full.batches - 1] {
            let out = try TempDir()
            var options = fixture.options(out.path, inputs: inputs)
            options.stopAfterBatches = stop
            let partial = try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
            #expect(!partial.completed, "stop \(stop)")
            // The index of the stopped job: its counts (kept aside until the job's end) are those
            // of the tokens its shards hold as committed.
            let stats = try CorpusStats(directory: out.path).tokens((0..<UInt32(fixture.tokenizer.vocabSize)).map { $0 })
            let committed = try committedTokenCounts(out.path, vocabSize: fixture.tokenizer.vocabSize)
            #expect(stats.tokens.map(\.trainCount) == committed.train, "stop after \(stop) batches")
            #expect(stats.tokens.map(\.valCount) == committed.val, "stop after \(stop) batches")
            options.stopAfterBatches = nil
            options.settings.threads = 1
            let rest = try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
            #expect(rest.completed)
            let got = try snapshot(out.path)
            #expect(got.files == expected.files, "stop after \(stop) batches")
            #expect(got.tables == expected.tables, "stop after \(stop) batches")
        }
    }

    /// `commitSeconds` spaces the commits (here also while the writer has nothing waiting):
    /// within it, a job stopped as a kill would has committed nothing (though shards filled up
    /// and commitTokens passed many times); without it, it has. Either way the rerun gives the
    /// uninterrupted result.
    @Test func commitsAreSpacedByCommitSeconds() throws {
        let inputs = [fixture.inputs[0], fixture.inputs[2]]
        let reference = try TempDir()
        try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(reference.path, inputs: inputs))
        let expected = try snapshot(reference.path)
        for seconds in [0, 3600.0] {
            let out = try TempDir()
            var options = fixture.options(out.path, inputs: inputs)
            options.settings.commitSeconds = seconds
            options.commitWhenIdle = false
            options.stopAfterBatches = 40
            let partial = try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
            #expect(!partial.completed && partial.tokens > 2 * options.settings.shardTokens)
            let db = try Database(path: out.file("index.sqlite"), readOnly: true)
            let committed = try db.scalar("SELECT count(*) FROM documents")?.int64 ?? -1
            if seconds == 0 { #expect(committed > 0) } else { #expect(committed == 0) }
            options.stopAfterBatches = nil
            try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
            let got = try snapshot(out.path)
            #expect(got.files == expected.files, "commitSeconds \(seconds)")
            #expect(got.tables == expected.tables, "commitSeconds \(seconds)")
        }
    }

    /// A source with skipped records all through it, stopped (as a kill) after a few batches,
    /// each committed: the rerun reads on from the committed record and counts the skips on from
    /// the committed ones, so the skips table (first bad line included) matches an
    /// uninterrupted run.
    @Test func skipsCountOnAcrossAResume() throws {
        let dir = try TempDir()
        var lines = ""
        for i in 1...3000 {
            switch i {
            case _ where i % 37 == 0: lines += "{oops \(i)\n"
            case _ where i % 53 == 0: lines += "{\"text\": \"\"}\n"
            case _ where i % 71 == 0: lines += "{\"title\": \"no text \(i)\"}\n"
            default: lines += "{\"text\": \"record \(i): \(String(repeating: "lorem ipsum ", count: i % 9 + 1))\"}\n"
            }
        }
        let input = try dir.write("skips.jsonl", lines)
        func options(_ out: String) -> ShardJobOptions {
            var o = fixture.options(out, inputs: [input])
            o.ingest.boundary = .line
            o.commitTokens = 1000
            return o
        }
        try ShardJob.run(tokenizer: fixture.tokenizer, options: options(dir.file("whole")))
        let expected = try snapshot(dir.file("whole"))
        let skips = try CorpusStats(directory: dir.file("whole")).sources().sources[0].skips
        #expect(skips.map { "\($0.reason) \($0.count) \($0.firstLine.map(String.init) ?? "-")" }
                == ["bad_json 81 37", "too_short 55 53", "missing_field 41 71"])
        for stop in [2, 4] {
            var o = options(dir.file("cut\(stop)"))
            o.stopAfterBatches = stop
            #expect(try !ShardJob.run(tokenizer: fixture.tokenizer, options: o).completed)
            let db = try Database(path: dir.file("cut\(stop)/index.sqlite"), readOnly: true)
            #expect(try db.scalar("SELECT count(*) FROM skips WHERE count > 0")?.int64 == 3, "stop \(stop): skips committed")
            o.stopAfterBatches = nil
            try ShardJob.run(tokenizer: fixture.tokenizer, options: o)
            #expect(try snapshot(dir.file("cut\(stop)")).tables == expected.tables, "stop after \(stop) batches")
        }
    }

    @Test func aCorruptFileIsRecordedAndTheOthersGoOn() throws {
        let out = try TempDir()
        let inputs = [fixture.inputs[3], fixture.corrupt, fixture.inputs[2], fixture.dir.file("missing.txt")]
        let report = try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(out.path, inputs: inputs))
        #expect(report.errors.count == 2)
        #expect(report.errors[0].hasPrefix(fixture.corrupt + ": truncated gzip at compressed offset "))
        #expect(report.errors[1] == fixture.dir.file("missing.txt") + ": no such file or directory")
        #expect(report.sources.map(\.status) == [.done, .error, .done, .error])
        let sources = try CorpusStats(directory: out.path).sources().sources
        #expect(sources.map(\.status) == [.done, .error, .done, .error])
        #expect(sources[1].error == report.errors[0])
        #expect(sources[1].documents > 0, "documents before the damage are kept")
        #expect(try CorpusVerifier.verify(directory: out.path).isEmpty)
        // The missing file appears: a rerun reads it (and retries the broken one, which fails the same way).
        try FileManager.default.copyItem(atPath: fixture.inputs[3], toPath: fixture.dir.file("missing.txt"))
        defer { try? FileManager.default.removeItem(atPath: fixture.dir.file("missing.txt")) }
        let again = try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(out.path, inputs: inputs))
        #expect(again.sources.map(\.status) == [.skipped, .error, .skipped, .done])
        #expect(again.sources[1].documents == 0)
    }

    @Test func newInputsAreAddedAndFinishedOnesSkipped() throws {
        let out = try TempDir()
        let first = [fixture.inputs[3], fixture.inputs[2]]
        try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(out.path, inputs: first))
        let before = try snapshot(out.path)
        let unchanged = try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(out.path, inputs: first))
        #expect(unchanged.sources.map(\.status) == [.skipped, .skipped] && unchanged.documents == 0)
        #expect(try snapshot(out.path).files == before.files)
        #expect(try snapshot(out.path).tables == before.tables)
        let report = try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(out.path, inputs: first + [fixture.inputs[1]]))
        #expect(report.sources.map(\.status) == [.skipped, .skipped, .done])
        let after = try snapshot(out.path)
        for (name, bytes) in before.files where name.hasSuffix(".bin") { #expect(after.files[name] == bytes) }
        let expected = fixture.ingested(first + [fixture.inputs[1]])
        let documents = try documentsFromShards(out.path)
        #expect(documents.count == expected.count)
        for (i, tokens) in documents.enumerated() where i < expected.count {
            #expect(try fixture.tokenizer.decode(tokens.dropFirst()) == expected[i])
        }
        #expect(try CorpusVerifier.verify(directory: out.path).isEmpty)
    }

    @Test func otherSettingsAreRefused() throws {
        let out = try TempDir()
        try ShardJob.run(tokenizer: fixture.tokenizer, options: fixture.options(out.path, inputs: [fixture.inputs[3]]))
        var options = fixture.options(out.path, inputs: [fixture.inputs[3]])
        options.settings.valFraction = 0.1
        #expect {
            try ShardJob.run(tokenizer: fixture.tokenizer, options: options)
        } throws: { error in
            (error as? ShardsError)?.description == out.file("index.sqlite") + ": val fraction differs: the index has 0.05, this run has 0.1"
        }
    }
}
