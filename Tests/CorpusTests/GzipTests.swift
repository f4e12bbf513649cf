import Corpus
import Foundation
import Testing
import TestSupport

@Suite struct GzipTests {
    let opts = IngestOptions.with { $0.boundary = .line; $0.dedup = false }

    @Test func multiMemberReadsAllMembers() throws {
        let dir = try TempDir()
        let bytes = Gzip.compress("a\nb\n") + Gzip.compress("c\n") + Gzip.compress("") + Gzip.compress("d")
        let path = try dir.write("multi.txt.gz", bytes)
        let (docs, stats, error) = try readAll(path, opts)
        #expect(error == nil)
        #expect(texts(docs) == ["a", "b", "c", "d"])
        #expect(stats.compressedBytesRead == Int64(bytes.count))
        #expect(stats.uncompressedBytes == 7)
        #expect(stats.fileBytes == Int64(bytes.count))
    }

    @Test func trailingZeroPaddingIsIgnoredButGarbageIsAnError() throws {
        let dir = try TempDir()
        let member = Gzip.compress("x\n")
        let padded = try dir.write("padded.gz", member + [0, 0, 0, 0])
        #expect(try readAll(padded, opts).error == nil)
        let garbage = try dir.write("garbage.gz", member + [0, 0, 0x41, 0x42])
        let (docs, _, error) = try readAll(garbage, opts)
        #expect(texts(docs) == ["x"])
        #expect(error?.kind == .corruptGzip)
        #expect(error?.offset == Int64(member.count + 2))
        #expect(error?.description == "\(garbage): corrupt gzip at compressed offset \(member.count + 2): unexpected data after gzip member")
    }

    @Test func plainFileIsReadAsIs() throws {
        let dir = try TempDir()
        // Starts with 0x1f but not the full magic: plain.
        let text: [UInt8] = [0x1F, 0x41, 0x0A, 0x42]
        let path = try dir.write("plain.txt.gz", text)
        let reader = try DocumentReader(path: path, source: 3, options: IngestOptions(), dedup: nil)
        let doc = try #require(try reader.next())
        #expect(doc.text == text)
        #expect(doc.source == 3 && doc.record == 0 && doc.line == 1)
        #expect(!reader.isGzip)
        #expect(try reader.next() == nil)
        #expect(reader.stats.compressedBytesRead == 4 && reader.stats.uncompressedBytes == 4)
    }

    @Test func singleByteFilesAreFine() throws {
        let dir = try TempDir()
        let (docs, _, error) = try readAll(try dir.write("one", [0x1F]))
        #expect(error == nil && docs.map(\.text) == [[0x1F]])
    }

    @Test func emptyFileAndEmptyGzipGiveNoDocuments() throws {
        let dir = try TempDir()
        for boundary in IngestOptions.Boundary.allCases {
            let o = IngestOptions.with { $0.boundary = boundary }
            for (name, bytes) in [("empty.txt", [UInt8]()), ("empty.txt.gz", Gzip.compress("")),
                                  ("empty.jsonl", []), ("empty.jsonl.gz", Gzip.compress(""))] {
                let (docs, stats, error) = try readAll(try dir.write(name, bytes), o)
                #expect(docs.isEmpty && error == nil && stats.records == 0 && stats.skips.counts.isEmpty, "\(name)")
            }
        }
    }

    /// ~10 MB of text in short lines: the window stays at its initial 1 MiB, and the documents
    /// come back exactly.
    @Test func largeStreamRoundTrips() throws {
        let dir = try TempDir()
        var rng = SeededRNG(seed: 7)
        var lines: [String] = []
        for i in 0..<8_000 { lines.append("\(i) " + rng.unicodeString(Int.random(in: 0...300, using: &rng))) }
        // Lines must not contain "\n" or "\r" (they are the boundaries here).
        lines = lines.map { String($0.unicodeScalars.filter { $0 != "\n" && $0 != "\r" && $0 != "\u{0B}" && $0 != "\u{0C}" }.map(Character.init)) }
        let text = lines.joined(separator: "\n") + "\n"
        var bytes: [UInt8] = []
        for _ in 0..<4 { bytes += Array(text.utf8) }   // repeated, so dedup would drop copies
        let path = try dir.write("big.txt.gz", Gzip.compress(bytes, level: 1))
        let reader = try DocumentReader(path: path, source: 0, options: opts, dedup: nil)
        var docs: [Document] = []
        while let doc = try reader.next() { docs.append(doc) }
        let stats = reader.stats
        #expect(reader.windowCapacity == 1 << 20)
        #expect(docs.count == 4 * lines.count)
        #expect(texts(Array(docs[..<lines.count])) == lines)
        #expect(stats.uncompressedBytes == Int64(bytes.count))
        #expect(docs.last?.line == 4 * lines.count)
    }

    @Test func truncatedFileStopsWithOffset() throws {
        let dir = try TempDir()
        var rng = SeededRNG(seed: 1)
        let body = Array((0..<3000).map { "line \($0) \(rng.next())\n" }.joined().utf8)
        let full = Gzip.compress(body)
        for cut in [2, 10, full.count / 2, full.count - 4, full.count - 1] {
            let path = try dir.write("cut\(cut).txt.gz", Array(full[..<cut]))
            let (docs, stats, error) = try readAll(path, opts)
            let e = try #require(error, "cut at \(cut)")
            #expect(e.kind == .truncatedGzip)
            #expect(e.offset == Int64(cut))
            #expect(e.description == "\(path): truncated gzip at compressed offset \(cut): unexpected end of file")
            #expect(stats.error == e)
            // Everything before the cut that formed whole lines came through, in order.
            let got = texts(docs)
            let expected = String(decoding: body, as: UTF8.self).split(separator: "\n").prefix(got.count).map(String.init)
            #expect(got == expected)
        }
    }

    @Test func corruptBytesStopWithOffsetAndZlibMessage() throws {
        let dir = try TempDir()
        let body = Array((0..<2000).map { "line \($0)\n" }.joined().utf8)
        let full = Gzip.compress(body)
        // The method byte (offset 2) in the header.
        var header = full
        header[2] = 7
        var e = try #require(try readAll(try dir.write("h.gz", header), opts).error)
        #expect(e.kind == .corruptGzip)
        #expect(e.message.hasSuffix("unknown compression method"))
        // The CRC in the trailer: found when the member ends (igzip reads the whole 8-byte trailer,
        // CRC-32 and size, before checking it).
        var crc = full
        crc[full.count - 8] ^= 0xFF
        let crcPath = try dir.write("crc.gz", crc)
        e = try #require(try readAll(crcPath, opts).error)
        #expect(e.kind == .corruptGzip)
        #expect(e.description == "\(crcPath): corrupt gzip at compressed offset \(full.count): incorrect data check")
        // The size in the trailer is checked too.
        var size = full
        size[full.count - 1] ^= 0x01
        e = try #require(try readAll(try dir.write("size.gz", size), opts).error)
        #expect(e.kind == .corruptGzip)
        // Bytes in the deflate data: some error at or after the damage.
        var rng = SeededRNG(seed: 3)
        var failures = 0
        for trial in 0..<40 {
            var bad = full
            let at = Int.random(in: 12..<(full.count - 8), using: &rng)
            bad[at] ^= UInt8.random(in: 1...255, using: &rng)
            let (_, _, error) = try readAll(try dir.write("bad\(trial).gz", bad), opts)
            guard let error else { continue }   // a flip may leave valid deflate with a matching… no: CRC catches it
            failures += 1
            #expect(error.kind == .corruptGzip || error.kind == .truncatedGzip)
            #expect(error.offset! >= Int64(at) && error.offset! <= Int64(full.count))
        }
        #expect(failures == 40)
    }

    @Test func missingFileAndDirectory() throws {
        let dir = try TempDir()
        let missing = dir.file("nope.gz")
        #expect(throws: CorpusError(kind: .fileNotFound, path: missing, message: "no such file or directory")) {
            try DocumentReader(path: missing, source: 0, options: IngestOptions(), dedup: nil)
        }
        do {
            _ = try DocumentReader(path: dir.path, source: 0, options: IngestOptions(), dedup: nil)
            Issue.record("a directory opened")
        } catch {
            #expect(error.kind == .unreadable)
            #expect(error.description == "\(dir.path): cannot read: is a directory")
        }
    }
}

/// The same files through tiny buffers (16-byte window and input) give the same documents:
/// every refill, compaction, growth and gzip member boundary falls at many different places.
@Suite struct SmallBufferTests {
    private func documents(_ path: String, _ o: IngestOptions, window: Int, input: Int) throws -> ([String], SourceReport, CorpusError?) {
        let reader = try DocumentReader(path: path, source: 0, options: o, dedup: nil,
                                        windowCapacity: window, inputCapacity: input)
        var out: [String] = []
        do {
            while let d = try reader.next() { out.append(String(decoding: d.text, as: UTF8.self)) }
        } catch {
            return (out, reader.stats, error)
        }
        return (out, reader.stats, nil)
    }

    @Test(arguments: [IngestOptions.Boundary.file, .blank, .line])
    func textThroughTinyBuffers(boundary: IngestOptions.Boundary) throws {
        var rng = SeededRNG(seed: 31)
        var text = ""
        for _ in 0..<400 {
            text += rng.unicodeString(Int.random(in: 0...30, using: &rng))
            text += ["\n", "\n\n", "\r\n", "\n \n\n", ""][Int.random(in: 0..<5, using: &rng)]
        }
        let dir = try TempDir()
        let bytes = Array(text.utf8)
        let members = Gzip.compress(Array(bytes[..<3000])) + Gzip.compress([]) + Gzip.compress(Array(bytes[3000...]))
        let o = IngestOptions.with { $0.boundary = boundary; $0.dedup = false }
        for (name, content) in [("t.txt", bytes), ("t.txt.gz", members)] {
            let path = try dir.write(name, content)
            let (want, wantStats, _) = try documents(path, o, window: 1 << 20, input: 1 << 18)
            for (window, input) in [(16, 16), (17, 3), (64, 7), (1000, 16)] {
                let (got, stats, error) = try documents(path, o, window: window, input: input)
                #expect(error == nil)
                #expect(got == want, "\(name) window \(window) input \(input)")
                #expect(stats.records == wantStats.records && stats.uncompressedBytes == Int64(bytes.count))
                #expect(stats.compressedBytesRead == Int64(content.count))
            }
        }
    }

    @Test func jsonlThroughTinyBuffers() throws {
        var rng = SeededRNG(seed: 32)
        var docs: [String] = []
        for _ in 0..<300 { docs.append(rng.unicodeString(Int.random(in: 0...50, using: &rng))) }
        let dir = try TempDir()
        let lines = jsonLines(docs)
        let path = try dir.write("t.jsonl.gz", Gzip.compress(Array(lines[..<(lines.count / 3)])) + Gzip.compress(Array(lines[(lines.count / 3)...])))
        let o = IngestOptions.with { $0.dedup = false }
        let (got, stats, error) = try documents(path, o, window: 16, input: 5)
        #expect(error == nil)
        #expect(got == docs.filter { !$0.isEmpty })
        #expect(stats.records == Int64(docs.count))
    }

    @Test func truncationFoundThroughTinyBuffers() throws {
        let dir = try TempDir()
        let full = Gzip.compress(Array((0..<300).map { "line \($0)\n" }.joined().utf8))
        let path = try dir.write("cut.txt.gz", Array(full[..<(full.count - 3)]))
        let (_, _, error) = try documents(path, .with { $0.boundary = .line }, window: 16, input: 7)
        #expect(error?.kind == .truncatedGzip && error?.offset == Int64(full.count - 3))
    }
}
