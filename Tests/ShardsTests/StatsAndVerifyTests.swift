import Foundation
import Shards
import ShardsTestSupport
import Testing
import TestSupport

@Suite struct StatsTests {
    let corpus = TestCorpus.make(seed: 21, sources: 3, docsPerSource: 50)

    func written() throws -> TempDir {
        let dir = try TempDir()
        try corpus.write(to: dir.path)
        return dir
    }

    /// Counts computed here from the test's own documents, independently of the index.
    var expectedCounts: [UInt32: Int64] {
        var counts: [UInt32: Int64] = [corpus.settings.eotID: Int64(corpus.allDocs.count)]
        for doc in corpus.allDocs { for t in doc.tokens { counts[t, default: 0] += 1 } }
        return counts
    }

    func split(_ doc: TestDoc) -> Split { Split.of(hash: doc.info.hash, valFraction: corpus.settings.valFraction) }

    @Test func summaryMatchesIndependentCounts() throws {
        let dir = try written()
        let s = try CorpusStats(directory: dir.path).summary()
        for split in Split.allCases {
            let docs = corpus.allDocs.filter { self.split($0) == split }
            let row = try #require(s.splits.first { $0.split == split })
            #expect(row.documents == Int64(docs.count))
            #expect(row.tokens == docs.reduce(0) { $0 + Int64($1.tokens.count + 1) })
            #expect(row.textBytes == docs.reduce(0) { $0 + $1.info.byteCount })
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(split.rawValue + "_") }
            #expect(row.shards == Int64(files.count))
        }
        #expect(s.documents == Int64(corpus.allDocs.count))
        #expect(s.records == corpus.records.reduce(0, +))
        #expect(s.skipped == Int64(corpus.skipped.reduce(0) { $0 + $1.count }))
        #expect(s.skips == [SkipReasonCount(reason: "too_short", count: s.skipped)])
        #expect(s.inputBytes == (0..<3).reduce(0) { $0 + corpus.fileBytes($1) })
        #expect([s.sources.total, s.sources.done, s.sources.partial, s.sources.error] == [3, 3, 0, 0])
        let textTokens = corpus.allDocs.reduce(0) { $0 + $1.tokens.count }
        #expect(s.bytesPerToken == Double(s.textBytes) / Double(textTokens))
        #expect(s.vocabSize == 1000 && s.tokenWidth == 2 && s.eotID == 999)
    }

    @Test func topAndTokenViews() throws {
        let dir = try written()
        let stats = try CorpusStats(directory: dir.path)
        let counts = expectedCounts
        let total = counts.values.reduce(0, +)
        let ordered = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let top = try stats.top(10)
        #expect(top.tokens.map(\.id) == ordered.prefix(10).map(\.key))
        #expect(top.tokens.map(\.count) == ordered.prefix(10).map(\.value))
        #expect(top.totalTokens == total)
        #expect(top.distinctTokens == Int64(counts.count))
        for t in top.tokens {
            #expect(t.rank == 1 + Int64(counts.values.filter { $0 > t.count }.count))
            #expect(t.share == Double(t.count) / Double(total))
            #expect(t.text == (t.id == 999 ? "<|endoftext|>" : "t\(t.id)"))
            #expect(t.trainCount + t.valCount == t.count)
        }
        let unseen = try #require((0..<999).first { counts[UInt32($0)] == nil })
        let some = try stats.tokens([999, 0, UInt32(unseen)])
        #expect(some.tokens.map(\.id) == [999, 0, UInt32(unseen)])
        #expect(some.tokens.map(\.count) == [counts[999]!, counts[0] ?? 0, 0])
        #expect(some.tokens[2].rank == Int64(counts.count) + 1)
        #expect(throws: ShardsError.self) { _ = try stats.tokens([1000]) }
    }

    @Test func sourcesShardsAndDocsViews() throws {
        let dir = try written()
        let stats = try CorpusStats(directory: dir.path)
        let sources = try stats.sources().sources
        #expect(sources.map(\.path) == (0..<3).map(corpus.path))
        for (s, row) in sources.enumerated() {
            #expect(row.documents == Int64(corpus.sources[s].count))
            #expect(row.tokens == corpus.sources[s].reduce(0) { $0 + Int64($1.tokens.count + 1) })
            #expect(row.skipped == Int64(corpus.skipped[s].count))
            #expect(row.records == corpus.records[s])
            #expect(row.skips.first?.firstLine == corpus.skipped[s].first)
        }
        for shard in try stats.shards().shards {
            let bytes = try readFile(dir.file(shard.path))
            #expect(shard.crc32 == String(format: "%08x", referenceCRC32(Array(bytes[1024...]))))
            #expect(shard.tokens == Int64((bytes.count - 1024) / 2))
        }
        // Lengths: nearest-rank percentiles and log2 buckets, computed here by sorting.
        let lengths = corpus.allDocs.map { Int64($0.tokens.count) }.sorted()
        let d = try stats.documentLengths()
        #expect(d.documents == Int64(lengths.count) && d.min == lengths.first && d.max == lengths.last)
        for p in d.percentiles {
            let rank = Int((p.percent / 100 * Double(lengths.count)).rounded(.up))
            #expect(p.tokens == lengths[max(1, rank) - 1], "p\(p.percent)")
        }
        for b in d.histogram {
            #expect(b.documents == Int64(lengths.filter { $0 >= b.lower && $0 <= b.upper }.count))
        }
        #expect(d.histogram.reduce(0) { $0 + $1.documents } == d.documents)
        #expect(d.trainDocuments + d.valDocuments == d.documents && d.split == nil)
        // One split: the same, over the documents of that split only.
        for split in Split.allCases {
            let mine = corpus.allDocs.filter { Split.of(hash: $0.info.hash, valFraction: corpus.settings.valFraction) == split }.map { Int64($0.tokens.count) }.sorted()
            let s = try stats.documentLengths(split: split)
            #expect(s.split == split.rawValue && s.documents == Int64(mine.count))
            #expect((split == .train ? s.trainDocuments : s.valDocuments) == Int64(mine.count))
            #expect(s.min == mine.first && s.max == mine.last && s.tokens == mine.reduce(0, +))
            for p in s.percentiles {
                #expect(p.tokens == mine[max(1, Int((p.percent / 100 * Double(mine.count)).rounded(.up))) - 1], "\(split) p\(p.percent)")
            }
        }
        let valJSON = try #require(try JSONSerialization.jsonObject(with: Data(stats.render(.docs(.val), json: true).utf8)) as? [String: Any])
        #expect(valJSON["split"] as? String == "val")
        let bothJSON = try #require(try JSONSerialization.jsonObject(with: Data(stats.render(.docs(nil), json: true).utf8)) as? [String: Any])
        #expect(bothJSON["split"] == nil)
    }

    @Test func renderingsHaveTheDocumentedShape() throws {
        let dir = try written()
        let stats = try CorpusStats(directory: dir.path)
        let json = try stats.render(.summary, json: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["directory", "tokenizer_fingerprint", "vocab_size", "token_width", "eot_id", "shard_tokens",
                                      "val_fraction", "splits", "documents", "tokens", "input_bytes", "text_bytes",
                                      "bytes_per_token", "sources", "shards", "open_shards", "records", "duplicates",
                                      "skipped", "skips"])
        let top = try #require(try JSONSerialization.jsonObject(with: Data(try stats.render(.top(3), json: true).utf8)) as? [String: Any])
        let first = try #require((top["tokens"] as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["id", "text", "special", "count", "train_count", "val_count", "share", "rank"])
        let shardsText = try stats.render(.shards, json: false)
        let lines = shardsText.split(separator: "\n")
        #expect(lines.first == "path              split  status  tokens  documents  crc32")
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("train_0") || $0.hasPrefix("val_0") })
        let topText = try stats.render(.top(2), json: false)
        #expect(topText.hasPrefix("rank  id  token  count"))
        #expect(try stats.render(.docs(nil), json: false).contains("p50"))
        #expect(try stats.render(.summary, json: false).contains("total"))
    }
}

@Suite struct VerifyTests {
    func written() throws -> (TempDir, TestCorpus) {
        let corpus = TestCorpus.make(seed: 31, sources: 2, docsPerSource: 40)
        let dir = try TempDir()
        try corpus.write(to: dir.path)
        #expect(try CorpusVerifier.verify(directory: dir.path) == [])
        return (dir, corpus)
    }

    @Test func catchesAFlippedByte() throws {
        let (dir, _) = try written()
        let path = dir.file("train_000001.bin")
        var bytes = try readFile(path)
        bytes[1024 + 41] ^= 0x10
        try dir.write("train_000001.bin", bytes)
        let problems = try CorpusVerifier.verify(directory: dir.path)
        #expect(problems.contains { $0.file == path && $0.message.hasPrefix("checksum mismatch: CRC-32 of the tokens is ") })
        #expect(problems.contains { $0.file == dir.file("index.sqlite") && $0.message.hasPrefix("token_counts for train differ") })
    }

    /// An id outside the vocabulary (1,000 ids here) is reported with its offset, once per
    /// shard, besides the checksum; a valid id changed elsewhere is not reported as one.
    @Test func catchesAnIDOutsideTheVocabulary() throws {
        let (dir, _) = try written()
        let path = dir.file("train_000000.bin")
        var bytes = try readFile(path)
        for (token, id) in [(7, 1000), (9, 65_535), (11, 999)] {
            bytes[1024 + 2 * token] = UInt8(id & 0xFF)
            bytes[1024 + 2 * token + 1] = UInt8(id >> 8)
        }
        try dir.write("train_000000.bin", bytes)
        let problems = try CorpusVerifier.verify(directory: dir.path).filter { $0.file == path }
        #expect(problems.contains(VerifyProblem(file: path, message: "token 7 is 1000, outside the vocabulary of 1000")))
        #expect(problems.filter { $0.message.contains("outside the vocabulary") }.count == 1)
        #expect(problems.contains { $0.message.hasPrefix("checksum mismatch") })
    }

    @Test func catchesATruncatedShard() throws {
        let (dir, _) = try written()
        let path = dir.file("val_000000.bin")
        let bytes = try readFile(path)
        try dir.write("val_000000.bin", Array(bytes.dropLast(2)))
        let problems = try CorpusVerifier.verify(directory: dir.path)
        let n = (bytes.count - 1024) / 2
        #expect(problems.contains(VerifyProblem(file: path, message:
            "file is \(bytes.count - 2) bytes, expected \(bytes.count) = 1024 + 2 × \(n) tokens (header count) (offset \(bytes.count - 2))")))
    }

    /// A document the index places one token late, and an end-of-text token overwritten in a
    /// shard: each named with the document, the token found and the one expected, however many
    /// threads read the shards.
    @Test func catchesDocumentsNotWhereTheIndexSays() throws {
        let (dir, corpus) = try written()
        let eot = corpus.settings.eotID
        let db = try Database(path: dir.file("index.sqlite"))
        func secondDocument(_ shard: String) throws -> (id: Int64, offset: Int64) {
            let row = try db.rows("""
                SELECT d.id, d.token_offset FROM documents d JOIN shards s ON s.id = d.shard_id
                WHERE s.path = ? ORDER BY d.token_offset LIMIT 1 OFFSET 1
                """, .text(shard))[0]
            return (row[0].int64 ?? -1, row[1].int64 ?? -1)
        }
        let moved = try secondDocument("train_000001.bin")
        try db.execute("UPDATE documents SET token_offset = token_offset + 1 WHERE id = \(moved.id)")
        let overwritten = try secondDocument("val_000000.bin")
        let val = dir.file("val_000000.bin")
        var bytes = try readFile(val)
        let at = 1024 + 2 * Int(overwritten.offset)
        let other = (eot + 1) % UInt32(corpus.settings.vocabSize)
        (bytes[at], bytes[at + 1]) = (UInt8(other & 0xFF), UInt8(other >> 8))
        try dir.write("val_000000.bin", bytes)
        let train = dir.file("train_000001.bin")
        let found = try ShardFile.readTokens(train, moved.offset + 1..<moved.offset + 2)[0]
        var previous: [VerifyProblem]?
        for threads in [1, 2, 3] {
            let problems = try CorpusVerifier.verify(directory: dir.path, threads: threads)
            #expect(problems.contains(VerifyProblem(file: train, message:
                "document \(moved.id) starts at token \(moved.offset + 1), expected \(moved.offset) (documents overlap or leave a gap)")))
            #expect(problems.contains(VerifyProblem(file: train, message:
                "document \(moved.id): token \(moved.offset + 1) is \(found), not the end-of-text token \(eot)")))
            #expect(problems.contains(VerifyProblem(file: val, message:
                "document \(overwritten.id): token \(overwritten.offset) is \(other), not the end-of-text token \(eot)")))
            #expect(problems.contains { $0.file == val && $0.message.hasPrefix("checksum mismatch") })
            #expect(previous == nil || previous == problems)  // the same list, in the same order
            previous = problems
        }
    }

    /// The aggregates the walk through the documents sums: a length count and a source's
    /// totals changed in the index are each reported, with what the documents table says.
    @Test func catchesAggregatesThatDisagreeWithTheDocuments() throws {
        let (dir, _) = try written()
        let db = try Database(path: dir.file("index.sqlite"))
        let source = try db.rows("SELECT id, path, documents, tokens, text_bytes FROM sources ORDER BY id LIMIT 1")[0]
        try db.execute("UPDATE sources SET documents = documents + 1 WHERE id = \(source[0].int64 ?? 0)")
        try db.execute("UPDATE length_counts SET documents = documents + 1 WHERE split = 'val' AND token_count = (SELECT min(token_count) FROM length_counts WHERE split = 'val')")
        let index = dir.file("index.sqlite")
        for threads in [1, 2] {
            let problems = try CorpusVerifier.verify(directory: dir.path, threads: threads)
            let (docs, tokens, bytes) = (source[2].int64 ?? 0, source[3].int64 ?? 0, source[4].int64 ?? 0)
            #expect(problems == [
                VerifyProblem(file: index, message: "length_counts for val differ from the documents table"),
                VerifyProblem(file: index, message: "source \(source[1].string ?? ""): sources says \(docs + 1) documents, \(tokens) tokens, "
                              + "\(bytes) bytes; the documents table sums to \(docs), \(tokens), \(bytes)")], "\(problems)")
        }
    }

    @Test func catchesMissingExtraAndLeftoverFiles() throws {
        let (dir, _) = try written()
        try FileManager.default.removeItem(atPath: dir.file("train_000002.bin"))
        try dir.write("train_000999.bin", ShardHeader(width: .uint16, tokenCount: 0).encoded())
        try dir.write("train_000005.bin.tmp", [0])
        let problems = try CorpusVerifier.verify(directory: dir.path)
        #expect(problems.contains(VerifyProblem(file: dir.file("train_000002.bin"), message: "missing")))
        #expect(problems.contains(VerifyProblem(file: dir.file("train_000999.bin"), message: "not in the index")))
        #expect(problems.contains(VerifyProblem(file: dir.file("train_000005.bin.tmp"), message: "leftover temporary file not in the index")))
    }

    @Test func catchesAnUnfinishedCorpusAndReportsProgress() throws {
        let corpus = TestCorpus.make(seed: 31, sources: 2, docsPerSource: 40)
        let dir = try TempDir()
        _ = try corpus.write(to: dir.path, commitEvery: 5, stopAfter: 33)
        // Shards the job had begun after its last commit, as a kill leaves them.
        try dir.write("train_000900.bin.tmp", [1])
        try dir.write("val_000900.bin.tmp", [2])
        var reports: [VerifyProgress] = []
        let problems = try CorpusVerifier.verify(directory: dir.path) { reports.append($0) }
        let db = try Database(path: dir.file("index.sqlite"), readOnly: true)
        let open = try db.rows("SELECT path FROM shards WHERE status = 'open' ORDER BY path").map { dir.file($0[0].string ?? "") }
        #expect(!open.isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".bin.tmp") && !open.contains(dir.file(String($0.dropLast(4)))) }.sorted()
        #expect(leftovers.count >= 2 && leftovers.last == "val_000900.bin.tmp")
        // One problem per open shard (its temporary file is where it lives, not one more problem),
        // and one for the temporary files of the shards not committed yet.
        #expect(problems == open.map { VerifyProblem(file: $0, message:
            "the index says this shard is still open: sharding did not finish (rerun `tokenmill shard`)") }
            + [VerifyProblem(file: dir.path, message: "temporary files of shards written after the unfinished job's last commit "
                             + "(\(leftovers.count) files, \(leftovers[0]) … val_000900.bin.tmp); rerunning `tokenmill shard` replaces them")])
        // Its temporary file gone too, an open shard says so.
        try FileManager.default.removeItem(atPath: ShardWriter.temporaryPath(for: open[0]))
        #expect(try CorpusVerifier.verify(directory: dir.path).contains(VerifyProblem(file: open[0], message:
            "the index says this shard is still open: sharding did not finish (rerun `tokenmill shard`); its temporary file .tmp is missing too")))
        #expect(reports.last.map { $0.bytesDone == $0.bytesTotal && $0.shardsDone == $0.shardsTotal } == true)
    }
}
