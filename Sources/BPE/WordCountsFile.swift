import Common

/// A `WordCounter` in a file: the word counts of one rank's share of a corpus
/// (`tokenmill learn --count-only`), which `tokenmill learn --from-counts` adds up and learns
/// from, with the merges a learn over all the documents at once gives.
///
/// Format, little-endian: the 8-byte magic `TMWORDS1`; the pre-tokenizer's name (uint32
/// length, then UTF-8); documents, text bytes and distinct words (uint64 each); then each word
/// in byte order: its length (uint32), its bytes, its count (uint64). Every length is checked
/// against what is left of the file before anything is sized from it.
extension WordCounter {
    static let fileMagic = Array("TMWORDS1".utf8)

    /// Writes the counts to `path` (atomically).
    public func save(to path: String) throws {
        var entries: [([UInt8], UInt64)] = []
        entries.reserveCapacity(distinctWords)
        words.forEach { word, count in entries.append((Array(word), count)) }
        entries.sort { $0.0.lexicographicallyPrecedes($1.0) }
        var out = Self.fileMagic
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func put64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        let name = Array(pattern.rawValue.utf8)
        put32(UInt32(name.count)); out += name
        put64(UInt64(documents)); put64(UInt64(bytes)); put64(UInt64(entries.count))
        for (word, count) in entries {
            put32(UInt32(word.count)); out += word; put64(count)
        }
        do { try FileSystem.writeAtomically(path, out) } catch { throw TokenizerFileError(path, error.message) }
    }

    /// Reads counts written by `save`.
    public static func load(_ path: String) throws -> WordCounter {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw TokenizerFileError(path, error.message) }
        var at = 0
        func fail(_ message: String) -> TokenizerFileError { TokenizerFileError(path, "at byte \(at): \(message)") }
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - at else { throw fail("the file ends inside a record (\(n) bytes wanted, \(bytes.count - at) left)") }
            defer { at += n }
            return bytes[at..<at + n]
        }
        func word32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        func word64() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        guard Array(try take(8)) == fileMagic else { throw TokenizerFileError(path, "not a word counts file (no TMWORDS1 header)") }
        let nameLength = Int(try word32())
        guard let pattern = PreTokenizerPattern(rawValue: String(decoding: try take(nameLength), as: UTF8.self)) else {
            throw fail("unknown pre-tokenizer")
        }
        let documents = try word64(), textBytes = try word64(), count = try word64()
        // Each word takes at least 12 bytes: a count larger than the file allows is refused here.
        guard count <= UInt64((bytes.count - at) / 12), documents <= UInt64(Int64.max), textBytes <= UInt64(Int64.max) else {
            throw fail("says \(count) words, more than the file can hold")
        }
        var counter = WordCounter(pattern: pattern, capacity: max(1024, Int(count) * 2))
        var previous: ArraySlice<UInt8>?
        for _ in 0..<Int(count) {
            let word = try take(Int(try word32()))
            let n = try word64()
            if let previous, !previous.lexicographicallyPrecedes(word) { throw fail("words out of order or repeated") }
            previous = word
            counter.words.add(Array(word), n)
        }
        guard at == bytes.count else { throw fail("\(bytes.count - at) bytes after the last word") }
        counter.documents = Int64(documents)
        counter.bytes = Int64(textBytes)
        return counter
    }
}
