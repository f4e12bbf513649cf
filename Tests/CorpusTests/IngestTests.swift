import Corpus
import Foundation
import Testing
import TestSupport

@Suite struct IngestTests {
    @Test func badFilesAreReportedAndOthersGoOn() throws {
        let dir = try TempDir()
        let good1 = try dir.write("1.txt", "one\n\ntwo\n")
        let full = Gzip.compress(Array((0..<500).map { "line \($0)\n" }.joined().utf8))
        let truncated = try dir.write("2.txt.gz", Array(full[..<(full.count / 2)]))
        let missing = dir.file("3.txt")
        let good2 = try dir.write("4.jsonl", "{\"text\": \"three\"}\nnot json\n")
        let o = IngestOptions.with { $0.boundary = .blank }
        var seen: [Int] = []
        var progressCalls = 0
        let report = try Ingest(paths: [good1, truncated, missing, good2], options: o)
            .forEach(progress: { _ in progressCalls += 1 }) { doc in seen.append(doc.source) }
        #expect(report.errors.map(\.kind) == [.truncatedGzip, .fileNotFound])
        #expect(report.errors.map(\.path) == [truncated, missing])
        #expect(report.sources.map(\.path) == [good1, truncated, missing, good2])
        #expect(report.sources.map(\.documents) == [2, 0, 0, 1])
        #expect(report.sources[1].error?.kind == .truncatedGzip && report.sources[2].error?.kind == .fileNotFound)
        #expect(report.sources[3].skips.firstLine(.badJSON) == 2)
        #expect(report.skips.counts == [.badJSON: 1])
        #expect(seen == [0, 0, 3])
        #expect(progressCalls == 3)   // one at the end of each source that opened
    }

    @Test func bodyErrorsStopTheIngest() throws {
        struct Stop: Error {}
        let dir = try TempDir()
        let a = try dir.write("a.txt", "x")
        let b = try dir.write("b.txt", "y")
        var count = 0
        #expect(throws: Stop.self) {
            try Ingest(paths: [a, b]).forEach { _ in
                count += 1
                throw Stop()
            }
        }
        #expect(count == 1)
    }

    @Test func readerRunsOnAnotherThread() async throws {
        let dir = try TempDir()
        let path = try dir.write("t.txt.gz", Gzip.compress("a\nb\nc\n"))
        let texts = try await Task.detached {
            let reader = try DocumentReader(path: path, source: 0, options: .with { $0.boundary = .line }, dedup: nil)
            var out: [String] = []
            while let d = try reader.next() { out.append(String(decoding: d.text, as: UTF8.self)) }
            return out
        }.value
        #expect(texts == ["a", "b", "c"])
    }
}

/// The committed sample corpus reads cleanly and agrees with Python's gzip + json.
@Suite struct SampleDataTests {
    let data = Run.repoRoot + "/data/"

    @Test func sampleFilesReadCleanly() throws {
        let report = try Ingest(paths: ["bible-ot.jsonl.gz", "bible-nt.txt.gz", "fortunes.jsonl.gz", "heldout.txt"].map { data + $0 },
                            options: .with { $0.boundary = .blank }).forEach { _ in }
        #expect(report.errors.isEmpty)
        #expect(report.sources.map(\.documents) == [925, 260, 15_217 - 83, 4])
        #expect(report.sources.map(\.records) == [925, 260, 15_217, 4])
        #expect(report.skips.counts == [.duplicate: 83])
        #expect(report.sources.allSatisfy { $0.compressedBytesRead == $0.fileBytes })
    }

    @Test(.enabled(if: Run.pythonPath != nil))
    func fortunesMatchPython() throws {
        let path = data + "fortunes.jsonl.gz"
        let script = """
            import gzip, json, sys
            seen, out = set(), []
            for line in gzip.open(sys.argv[1], 'rb'):
                t = json.loads(line)['text'].encode('utf-8')
                if t and t not in seen:
                    seen.add(t); out.append(t)
            sys.stdout.buffer.write(b'\\0'.join(out))
            """
        let r = try Run.python(script, [path])
        try #require(r.status == 0, "\(r.err)")
        let (docs, _, error) = try readAll(path)
        #expect(error == nil)
        #expect(Array(docs.map(\.text).joined(separator: [0])) == r.stdout)
    }
}
