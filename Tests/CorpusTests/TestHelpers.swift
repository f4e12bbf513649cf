import CZlib
import Corpus
import Foundation
import TestSupport

/// Gzip for tests: one member per call, deflated by zlib with no name and mtime 0.
enum Gzip {
    static func compress(_ data: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        precondition(tm_deflateInit2(&stream, level, 15 + 16) == Z_OK)
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(data.count))) + 64)
        var input = data
        let produced: Int = input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return outBuf.count - Int(stream.avail_out)
            }
        }
        return Array(out[..<produced])
    }

    static func compress(_ text: String) -> [UInt8] { compress(Array(text.utf8)) }
}

/// Reads every document of one file; returns the documents, the stats and the error (if any).
func readAll(_ path: String, _ options: IngestOptions = IngestOptions(),
             dedup: DocumentDeduplicator? = nil) throws -> (docs: [Document], stats: SourceReport, error: CorpusError?) {
    let reader = try DocumentReader(path: path, source: 0, options: options, dedup: dedup)
    var docs: [Document] = []
    do {
        while let doc = try reader.next() { docs.append(doc) }
    } catch {
        return (docs, reader.stats, error)
    }
    return (docs, reader.stats, nil)
}

/// The documents' texts as Strings (for readable expectations).
func texts(_ docs: [Document]) -> [String] { docs.map { String(decoding: $0.text, as: UTF8.self) } }

extension IngestOptions {
    /// Options with a few fields set, for short test code.
    static func with(_ change: (inout IngestOptions) -> Void) -> IngestOptions {
        var o = IngestOptions()
        change(&o)
        return o
    }
}
