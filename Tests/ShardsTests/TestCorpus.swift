import Corpus
import Foundation
import Shards
import TestSupport

/// A synthetic document: token ids plus what the index records about it.
struct TestDoc {
    var source: Int
    var tokens: [UInt32]
    var info: DocumentInfo
}

/// A synthetic corpus: sources of random token documents, with records skipped between them.
struct TestCorpus {
    var settings: CorpusSettings
    var sources: [[TestDoc]]
    /// Records per source (documents + skipped), and the skipped records' lines.
    var records: [Int64]
    var skipped: [[Int64]]

    static func make(seed: UInt64, sources: Int = 3, docsPerSource: Int = 40, maxLength: Int = 60,
                     vocabSize: Int = 1000, width: TokenWidth? = nil, shardTokens: Int64 = 300,
                     valFraction: Double = 0.2) -> TestCorpus {
        var rng = SeededRNG(seed: seed)
        let eot = UInt32(vocabSize - 1)
        var all: [[TestDoc]] = []
        var records: [Int64] = []
        var skipped: [[Int64]] = []
        for s in 0..<sources {
            var docs: [TestDoc] = []
            var record: Int64 = 0
            var skips: [Int64] = []
            for _ in 0..<docsPerSource {
                while Int.random(in: 0..<5, using: &rng) == 0 { skips.append(record + 1); record += 1 }  // a skipped record on line record+1
                // Occasionally a long document that spans shards.
                let length = Int.random(in: 0..<8, using: &rng) == 0 ? Int.random(in: 0...(maxLength * 12), using: &rng)
                                                                      : Int.random(in: 0...maxLength, using: &rng)
                // Zipf-ish ids so that frequencies differ.
                let tokens = (0..<length).map { _ in UInt32(min(Double(vocabSize - 2), pow(Double.random(in: 0..<1, using: &rng), 3) * Double(vocabSize - 1))) }
                docs.append(TestDoc(source: s, tokens: tokens,
                                    info: DocumentInfo(record: record, line: record + 1, byteCount: Int64(length * 3 + 1),
                                                       hash: contentHash(tokens, salt: UInt64(s * 1_000_003) + UInt64(record)))))
                record += 1
            }
            all.append(docs)
            records.append(record)
            skipped.append(skips)
        }
        let settings = CorpusSettings(tokenizerFingerprint: "test-fp", vocabSize: vocabSize, eotID: eot, tokenWidth: width,
                                      shardTokens: shardTokens, valFraction: valFraction, ingestFingerprint: "ingest-1")
        return TestCorpus(settings: settings, sources: all, records: records, skipped: skipped)
    }

    static func contentHash(_ tokens: [UInt32], salt: UInt64) -> ContentHash {
        var a: UInt64 = 0xCBF2_9CE4_8422_2325 ^ salt, b: UInt64 = 0x8422_2325_CBF2_9CE4 &+ salt
        for t in tokens {
            a = (a ^ UInt64(t)) &* 0x0000_0100_0000_01B3
            b = (b ^ UInt64(t) ^ (b >> 29)) &* 0x9E37_79B9_7F4A_7C15
        }
        return ContentHash(hi: a, lo: b)
    }

    var vocab: [VocabEntry] {
        (0..<settings.vocabSize).map { id in
            id == Int(settings.eotID) ? VocabEntry(id: UInt32(id), bytes: Array("<|endoftext|>".utf8), special: true)
                                      : VocabEntry(id: UInt32(id), bytes: Array("t\(id)".utf8))
        }
    }

    func path(_ source: Int) -> String { "input/source\(source).jsonl.gz" }
    func fileBytes(_ source: Int) -> Int64 { 10_000 + Int64(source) }

    /// Progress of source `s` after its first `documents` documents (records up to and including
    /// the last of them; at the end, all records).
    func progress(_ s: Int, documents: Int) -> SourceProgress {
        let records = documents == sources[s].count ? self.records[s]
                    : documents == 0 ? 0 : sources[s][documents - 1].info.record + 1
        let skips = skipped[s].filter { $0 - 1 < records }
        var tally = SkipTally()
        tally.add(.tooShort, count: Int64(skips.count), firstLine: skips.first)
        return SourceProgress(records: records, skips: tally)
    }

    /// Writes the corpus (resuming what `directory` holds); `stopAfter` documents: stops as a
    /// kill would. `prepareToFinishAfter` documents: `prepareToFinish()` then, as a job does once
    /// its sources are read.
    @discardableResult
    func write(to directory: String, commitEvery: Int = 7, stopAfter: Int? = nil, prepareToFinishAfter: Int? = nil) throws -> Bool {
        let store = try ShardStore(directory: directory, settings: settings, vocab: vocab)
        var appended = 0
        for s in sources.indices {
            let state = try store.beginSource(path: path(s), fileBytes: fileBytes(s))
            if state.status == .done { continue }
            var k = sources[s].firstIndex { $0.info.record >= state.records } ?? sources[s].count
            while k < sources[s].count {
                if let stopAfter, appended == stopAfter { return false }
                if appended == prepareToFinishAfter { try store.prepareToFinish() }
                try store.append(sources[s][k].info, tokens: sources[s][k].tokens)
                appended += 1
                k += 1
                if k % commitEvery == 0 { try store.commit(progress: progress(s, documents: k)) }
            }
            try store.endSource(progress: progress(s, documents: k), end: .done)
            try store.commit(progress: nil)
        }
        try store.finish()
        return true
    }

    var allDocs: [TestDoc] { sources.flatMap { $0 } }
}
