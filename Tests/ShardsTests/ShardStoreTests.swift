import Common
import Corpus
import Foundation
import Shards
import ShardsTestSupport
import Testing
import TestSupport

@Suite struct ShardStoreTests {
    @Test(arguments: [TokenWidth.uint16, .uint32])
    func everyDocumentRoundTripsThroughTheIndex(width: TokenWidth) throws {
        let dir = try TempDir()
        // uint32: a vocabulary over 65,536, ids up to 69,999.
        let corpus = TestCorpus.make(seed: 3, vocabSize: width == .uint16 ? 1000 : 70_000, width: width)
        try corpus.write(to: dir.path)
        let docs = corpus.allDocs
        for (id, doc) in docs.enumerated() {
            let (eot, tokens, split) = try readDocument(dir.path, Int64(id))
            #expect(eot == corpus.settings.eotID)
            #expect(tokens == doc.tokens, "document \(id)")
            #expect(split == Split.of(hash: doc.info.hash, valFraction: corpus.settings.valFraction).rawValue)
        }
        #expect(Set(docs.map { Split.of(hash: $0.info.hash, valFraction: 0.2) }).count == 2, "both splits used")
        // Shards: right magic, at most shardTokens tokens, and a document that fits in a shard is not split.
        let db = try Database(path: dir.file("index.sqlite"), readOnly: true)
        for row in try db.rows("SELECT path, tokens, status FROM shards") {
            let header = try ShardFile.inspect(dir.file(row[0].string!))
            #expect(header.width == width)
            #expect(header.tokenCount == row[1].int64! && header.tokenCount <= corpus.settings.shardTokens)
            #expect(row[2].string == "closed")
        }
        let unsplit = try db.rows("""
            SELECT count(*) FROM documents d JOIN shards s ON s.id = d.shard_id
            WHERE d.token_count + 1 <= 300 AND d.token_offset + 1 + d.token_count > s.tokens
            """)
        #expect(unsplit[0][0].int64 == 0)
        let spanning = try db.scalar("SELECT count(*) FROM documents WHERE token_count + 1 > 300")?.int64 ?? 0
        #expect(spanning > 0, "the corpus should contain documents longer than a shard")
        #expect(try CorpusVerifier.verify(directory: dir.path).isEmpty)
    }

    /// `prepareToFinish` (the token counts so far into `token_counts`, the position index) in the
    /// middle of a transaction, then more documents and commits: killed anywhere after, the
    /// index's counts (rows plus the pending blob) are those of the committed shards, and the
    /// resumed job ends identical to one that never finished early.
    @Test func finishingEarlyThenKilledResumesToTheSameResult() throws {
        // Few val documents: commits after the early finish often have no val counts to add.
        let corpus = TestCorpus.make(seed: 12, valFraction: 0.05)
        let reference = try TempDir()
        try corpus.write(to: reference.path, commitEvery: 5)
        let expected = try snapshot(reference.path)
        #expect(expected.tables["token_counts"]!.contains { $0.contains("val") }, "both splits used")
        let total = corpus.allDocs.count
        // After the first val document was committed: commits that follow with no val document
        // must drop the val blob the earlier ones left (its counts are in token_counts now).
        let firstVal = try #require(corpus.allDocs.firstIndex { Split.of(hash: $0.info.hash, valFraction: 0.05) == .val })
        for early in [1, firstVal + 6, total / 2, total - 2] {
            for stop in [early + 1, early + 5, early + 9, total] where stop <= total {
                let dir = try TempDir()
                let finished = try corpus.write(to: dir.path, commitEvery: 4, stopAfter: stop, prepareToFinishAfter: early)
                if !finished {
                    let stats = try CorpusStats(directory: dir.path).tokens((0..<UInt32(corpus.settings.vocabSize)).map { $0 })
                    let committed = try committedTokenCounts(dir.path, vocabSize: corpus.settings.vocabSize)
                    // (Compared as booleans: a failure names the case without printing every count.)
                    let countsAgree = stats.tokens.map(\.trainCount) == committed.train && stats.tokens.map(\.valCount) == committed.val
                    #expect(countsAgree, "early \(early), stop \(stop): the index's counts are not the committed shards'")
                    #expect(try corpus.write(to: dir.path, commitEvery: 4))
                }
                let got = try snapshot(dir.path)
                let same = got.files == expected.files && got.tables == expected.tables
                #expect(same, "early \(early), stop \(stop): not identical to the uninterrupted job")
                #expect(try CorpusVerifier.verify(directory: dir.path).isEmpty)
            }
        }
    }

    /// Kill at many points (drop the store without committing, as kill -9 does), leave
    /// uncommitted bytes in the temporary shards, resume: identical files and index rows.
    @Test func resumeAfterKillAtAnyPointIsIdentical() throws {
        let corpus = TestCorpus.make(seed: 11)
        let reference = try TempDir()
        try corpus.write(to: reference.path, commitEvery: 5)
        let expected = try snapshot(reference.path)
        let total = corpus.allDocs.count
        for stop in stride(from: 0, through: total, by: 9) {
            let dir = try TempDir()
            let finished = try corpus.write(to: dir.path, commitEvery: 4, stopAfter: stop)
            #expect(!finished || stop == total)
            // Uncommitted bytes that reached the disk before the kill.
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".tmp") {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file(name)))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data([7, 7, 7, 7, 1, 2]))
                try handle.close()
            }
            try dir.write("val_000099.bin.tmp", [1, 2, 3])  // a shard created after the last commit
            try corpus.write(to: dir.path, commitEvery: 6)
            let got = try snapshot(dir.path)
            #expect(got.files == expected.files, "stop after \(stop)")
            #expect(got.tables == expected.tables, "stop after \(stop)")
        }
    }

    @Test func rerunningAFinishedJobChangesNothing() throws {
        let corpus = TestCorpus.make(seed: 5)
        let dir = try TempDir()
        try corpus.write(to: dir.path)
        let before = try snapshot(dir.path)
        try corpus.write(to: dir.path)
        let after = try snapshot(dir.path)
        #expect(before.files == after.files)
        #expect(before.tables == after.tables)
    }

    @Test func closedShardLeftAtTemporaryNameIsRenamedOnOpen() throws {
        let corpus = TestCorpus.make(seed: 5)
        let dir = try TempDir()
        try corpus.write(to: dir.path)
        let expected = try snapshot(dir.path)
        // Killed between the commit that closed train_000001 and its rename.
        try FileManager.default.moveItem(atPath: dir.file("train_000001.bin"), toPath: dir.file("train_000001.bin.tmp"))
        _ = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
        #expect(try snapshot(dir.path).files == expected.files)
    }

    @Test func newSourcesAreAddedWithoutTouchingFinishedOnes() throws {
        let corpus = TestCorpus.make(seed: 8)
        var firstTwo = corpus
        firstTwo.sources.removeLast()
        let dir = try TempDir()
        try firstTwo.write(to: dir.path)
        let before = try snapshot(dir.path)
        try corpus.write(to: dir.path)
        let after = try snapshot(dir.path)
        for (name, bytes) in before.files { #expect(after.files[name] == bytes, "\(name) unchanged") }
        #expect(after.files.count > before.files.count)
        for (id, doc) in corpus.allDocs.enumerated() {
            #expect(try readDocument(dir.path, Int64(id)).tokens == doc.tokens)
        }
        #expect(try CorpusVerifier.verify(directory: dir.path).isEmpty)
        // The dedup set a resumed run would reload: every committed document, in order.
        let store = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
        var hashes: [ContentHash] = []
        try store.forEachDocumentHash { hashes.append($0) }
        #expect(hashes == corpus.allDocs.map(\.info.hash))
        #expect(try store.sources().map(\.status) == [.done, .done, .done])
    }

    /// An id outside the vocabulary is refused with the source and record, and nothing of that
    /// document is written: with 1,000 ids, 1,000 and 1,023 (whose OR stays below 1,024, so the
    /// quick check cannot decide alone) as much as 70,000.
    @Test func idsOutsideTheVocabularyAreRefused() throws {
        let corpus = TestCorpus.make(seed: 11, sources: 1, docsPerSource: 2, vocabSize: 1000)
        let dir = try TempDir()
        let store = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
        _ = try store.beginSource(path: "in.jsonl", fileBytes: 1)
        let good = corpus.allDocs[0]
        try store.append(good.info, tokens: good.tokens)
        for bad: UInt32 in [1000, 1023, 70_000] {
            var info = good.info
            info.record = 5
            let error = #expect(throws: ShardsError.self) { try store.append(info, tokens: [1, 2, bad, 3]) }
            #expect(error?.description.contains("in.jsonl") == true && error?.description.contains("record 5") == true
                    && error?.description.contains("token id \(bad) is outside the vocabulary of 1000") == true,
                    "\(String(describing: error))")
        }
        try store.append(good.info, tokens: [999, 0, 998])
        try store.endSource(progress: SourceProgress(records: 2), end: .done)
        try store.finish()
        let db = try Database(path: dir.file("index.sqlite"), readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM documents")?.int64 == 2)
        #expect(try readDocument(dir.path, 1).tokens == [999, 0, 998])
    }

    /// `allBelow` (OR first, then the maximum) agrees with a plain check, for limits that are
    /// powers of two and limits that are not, at the boundary and far from it.
    @Test func allBelowAgreesWithAPlainCheck() {
        var rng = SeededRNG(seed: 5)
        for limit: UInt32 in [1, 1000, 1024, 50_257, 65_536, 100_277, 1 << 20] {
            for _ in 0..<300 {
                let count = Int.random(in: 0...40, using: &rng)
                var ids = (0..<count).map { _ in UInt32.random(in: 0..<limit, using: &rng) }
                if count > 0 && Bool.random(using: &rng) {
                    ids[Int.random(in: 0..<count, using: &rng)] = [limit, limit | 1, limit * 2 - 1, .max].randomElement(using: &rng)!
                }
                let plain = ids.allSatisfy { $0 < limit }
                #expect(ids.withUnsafeBufferPointer { ShardWriter.allBelow(limit, $0) } == plain, "limit \(limit): \(ids)")
            }
        }
    }

    /// One writer at a time: a second store on the directory is refused while the first lives
    /// (it would remove the first's uncommitted shards as stale), and opens once it is gone.
    @Test func aSecondWriterIsRefusedWhileTheFirstLives() throws {
        let corpus = TestCorpus.make(seed: 9, sources: 1, docsPerSource: 3)
        let dir = try TempDir()
        do {
            let first = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
            _ = try first.beginSource(path: corpus.path(0), fileBytes: corpus.fileBytes(0))
            try first.append(corpus.sources[0][0].info, tokens: corpus.sources[0][0].tokens)
            #expect(throws: FileError(path: dir.file("index.sqlite.lock"), "tokenmill shard (pid \(getpid())) is "
                                        + "writing this corpus: wait for it to end, or stop it, then run again")) {
                _ = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasSuffix("_000000.bin.tmp") },
                    "the first writer's open shard is left alone")
            try first.commit(progress: SourceProgress(records: 1))
            first.close()  // lets the next writer in while `first` is still referenced
            #expect(throws: ShardsError(.invalidArgument, path: dir.file("index.sqlite"), "the store is closed")) {
                try first.commit(progress: nil)
            }
            #expect(try corpus.write(to: dir.path))
        }
        #expect(try corpus.write(to: dir.path))
        #expect(try CorpusVerifier.verify(directory: dir.path).isEmpty)
    }

    @Test func mismatchedSettingsAreRefused() throws {
        let corpus = TestCorpus.make(seed: 2, sources: 1, docsPerSource: 3)
        let dir = try TempDir()
        try corpus.write(to: dir.path)
        var other = corpus.settings
        other.tokenizerFingerprint = "another"
        #expect {
            _ = try ShardStore(directory: dir.path, settings: other, vocab: [])
        } throws: { error in
            (error as? ShardsError)?.description
                == dir.file("index.sqlite") + ": tokenizer fingerprint differs: the index has test-fp, this run has another"
        }
        other = corpus.settings
        other.shardTokens = 1000
        #expect {
            _ = try ShardStore(directory: dir.path, settings: other, vocab: [])
        } throws: { error in
            (error as? ShardsError)?.message == "shard tokens differs: the index has 300, this run has 1000"
        }
        let store = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: [])
        #expect {
            _ = try store.beginSource(path: corpus.path(0), fileBytes: 5)
        } throws: { error in
            (error as? ShardsError)?.description
                == "input/source0.jsonl.gz: input changed since it was sharded: it was 10000 bytes, now 5"
        }
    }

    @Test func failedSourceIsRecordedAndOthersGoOn() throws {
        let corpus = TestCorpus.make(seed: 4, sources: 2, docsPerSource: 5)
        let dir = try TempDir()
        let store = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
        _ = try store.beginSource(path: "bad.gz", fileBytes: 3)
        try store.append(corpus.sources[0][0].info, tokens: corpus.sources[0][0].tokens)
        let corrupt = CorpusError(kind: .corruptGzip, path: "bad.gz", offset: 812,
                                  message: "corrupt gzip at compressed offset 812: invalid deflate data")
        try store.endSource(progress: SourceProgress(records: 1), end: .failed(corrupt))
        try store.commit(progress: nil)
        _ = try store.beginSource(path: "good.gz", fileBytes: 4)
        for doc in corpus.sources[1] { try store.append(doc.info, tokens: doc.tokens) }
        #expect(throws: ShardsError.self, "a source still current is neither left partial nor dropped") {
            try store.finish()
        }
        try store.endSource(progress: SourceProgress(records: 5), end: .done)
        try store.finish()
        let states = try store.sources()
        #expect(states.map(\.status) == [.error, .done])
        #expect(states[0].error == "bad.gz: corrupt gzip at compressed offset 812: invalid deflate data")
        #expect(states[0].documents == 1 && states[1].documents == 5)
        #expect(try CorpusVerifier.verify(directory: dir.path).isEmpty)
    }

    /// Sources ended with `endSource` are recorded by the next commit, with their documents;
    /// killed before it, the index is as it was and a rerun reads them again.
    @Test func endedSourcesAreDurableOnlyWithTheNextCommit() throws {
        let corpus = TestCorpus.make(seed: 6, sources: 3, docsPerSource: 4)
        let dir = try TempDir()
        func write(_ store: ShardStore, _ i: Int, error: String? = nil) throws {
            _ = try store.beginSource(path: "s\(i).gz", fileBytes: 10)
            for doc in corpus.sources[i] { try store.append(doc.info, tokens: doc.tokens) }
            var skips = SkipTally()
            skips.add(.duplicate)
            try store.endSource(progress: SourceProgress(records: Int64(corpus.sources[i].count), skips: skips),
                                end: error.map { .failed(CorpusError(kind: .truncatedGzip, path: "s\(i).gz", message: $0)) } ?? .done)
        }
        do {
            let store = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
            try write(store, 0)
            try write(store, 1, error: "truncated")
            #expect(try store.sources().map(\.status) == [.done, .error], "visible inside the transaction")
        }  // dropped without a commit: as a kill would
        let store = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: corpus.vocab)
        #expect(try store.sources().isEmpty && store.nextDocumentID == 0)
        try write(store, 0)
        try write(store, 1, error: "truncated")
        try store.commit(progress: nil)
        try write(store, 2)
        try store.finish()
        let states = try store.sources()
        #expect(states.map(\.status) == [.done, .error, .done])
        #expect(states.map(\.documents) == [4, 4, 4] && states.map(\.records) == [4, 4, 4] && states.map(\.duplicates) == [1, 1, 1])
        #expect(states[1].error == "s1.gz: truncated")
        for id in 0..<12 { #expect(try readDocument(dir.path, Int64(id)).tokens == corpus.sources[id / 4][id % 4].tokens) }
        #expect(try CorpusVerifier.verify(directory: dir.path).isEmpty)
    }

    @Test func tokenOutsideVocabularyIsRefusedWithoutSideEffects() throws {
        let corpus = TestCorpus.make(seed: 4, sources: 1, docsPerSource: 2)
        let dir = try TempDir()
        let store = try ShardStore(directory: dir.path, settings: corpus.settings, vocab: [])
        _ = try store.beginSource(path: "a", fileBytes: 1)
        #expect(throws: ShardsError.self) {
            try store.append(DocumentInfo(record: 0, line: 1, byteCount: 1, hash: ContentHash(hi: 1, lo: 2)), tokens: [5, 1000])
        }
        try store.append(corpus.sources[0][0].info, tokens: corpus.sources[0][0].tokens)
        try store.endSource(progress: SourceProgress(records: 1), end: .done)
        try store.finish()
        #expect(try readDocument(dir.path, 0).tokens == corpus.sources[0][0].tokens)
    }
}
