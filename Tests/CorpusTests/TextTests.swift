import Corpus
import Foundation
import Testing
import TestSupport

@Suite struct TextBoundaryTests {
    let sample = "\n\nFirst para\r\nstill first  \n \t\nSecond\n\n\n\nThird\nends here\n\n"

    private func read(_ text: String, _ boundary: IngestOptions.Boundary) throws -> [Document] {
        let dir = try TempDir()
        let o = IngestOptions.with { $0.boundary = boundary; $0.dedup = false }
        let (docs, _, error) = try readAll(try dir.write("t.txt", text), o)
        #expect(error == nil)
        return docs
    }

    @Test func fileBoundaryKeepsEveryByte() throws {
        let docs = try read(sample, .file)
        #expect(texts(docs) == [sample])
        #expect(docs.map(\.line) == [1])
    }

    @Test func blankLineBoundary() throws {
        let docs = try read(sample, .blank)
        #expect(texts(docs) == ["First para\r\nstill first  ", "Second", "Third\nends here"])
        #expect(docs.map(\.line) == [3, 6, 10])
        #expect(docs.map(\.record) == [0, 1, 2])
        // No trailing newline, and CRLF blank lines.
        #expect(texts(try read("a\r\n\r\nb\r\nc", .blank)) == ["a", "b\r\nc"])
        #expect(texts(try read("only", .blank)) == ["only"])
        #expect(texts(try read("\n \n\t\n", .blank)) == [])
    }

    @Test func lineBoundary() throws {
        let dir = try TempDir()
        let o = IngestOptions.with { $0.boundary = .line; $0.dedup = false }
        let (docs, stats, _) = try readAll(try dir.write("t.txt", "a\r\n\nb \n  \nc\r"), o)
        #expect(texts(docs) == ["a", "b ", "  ", "c\r"])
        #expect(docs.map(\.line) == [1, 3, 4, 5])
        #expect(docs.map(\.record) == [0, 2, 3, 4])
        #expect(stats.records == 5 && stats.skips.counts == [.tooShort: 1])
    }

    /// Paragraphs and lines of random sizes, cut against a Python split, through gzip with
    /// paragraphs larger than the window.
    @Test func blankBoundaryMatchesSplitOnLargeInput() throws {
        var rng = SeededRNG(seed: 11)
        var paragraphs: [String] = []
        for i in 0..<60 {
            let lines = (0..<Int.random(in: 1...(i % 10 == 0 ? 9000 : 40), using: &rng)).map { _ in
                "x" + String(repeating: "y", count: Int.random(in: 0...200, using: &rng))
            }
            paragraphs.append(lines.joined(separator: "\n"))
        }
        let text = paragraphs.joined(separator: "\n\n\n")
        let dir = try TempDir()
        let path = try dir.write("p.txt.gz", Gzip.compress(Array(text.utf8)))
        let o = IngestOptions.with { $0.boundary = .blank; $0.dedup = false }
        let (docs, _, error) = try readAll(path, o)
        #expect(error == nil)
        #expect(texts(docs) == paragraphs)
    }
}
