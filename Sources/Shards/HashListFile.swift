import Common
import Corpus

/// A sorted list of distinct 128-bit content hashes in a file: a rank's exact-dedup hashes,
/// which later ranks read to drop the documents an earlier rank keeps (`tokenmill shard
/// --hashes-only`).
///
/// Format, little-endian: the 8-byte magic `TMHASH01`, the count as a uint64, then `count`
/// hashes of 16 bytes (high 64 bits, then low), in ascending order, without repeats. The file's
/// size is checked against the count, and the order as it is read.
public enum HashListFile {
    static let magic = Array("TMHASH01".utf8)

    /// Writes `hashes` (sorted and distinct: checked) atomically.
    public static func write(_ hashes: [ContentHash], to path: String) throws {
        for i in hashes.indices.dropFirst() where !(hashes[i - 1] < hashes[i]) {
            throw ShardsError(.invalidArgument, path: path, "hashes must be sorted and distinct (at \(i))")
        }
        var bytes = magic
        bytes.reserveCapacity(16 + 16 * hashes.count)
        func put(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        put(UInt64(hashes.count))
        for h in hashes { put(h.hi); put(h.lo) }
        do { try FileSystem.writeAtomically(path, bytes) } catch { throw ShardsError(.io, path: path, error.message) }
    }

    /// Reads a list written by `write`.
    public static func read(_ path: String) throws -> [ContentHash] {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw ShardsError(.io, path: path, error.message) }
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else {
            throw ShardsError(.format, path: path, offset: 0, "not a hash list (no TMHASH01 header)")
        }
        func word(_ at: Int) -> UInt64 {
            bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }.littleEndian
        }
        let count = word(8)
        guard count <= UInt64(Int.max / 16), 16 + 16 * Int(count) == bytes.count else {
            throw ShardsError(.format, path: path, offset: 8, "says \(count) hashes, but the file has \(bytes.count) bytes")
        }
        var hashes: [ContentHash] = []
        hashes.reserveCapacity(Int(count))
        for i in 0..<Int(count) {
            let h = ContentHash(hi: word(16 + 16 * i), lo: word(24 + 16 * i))
            if let last = hashes.last, !(last < h) {
                throw ShardsError(.format, path: path, offset: Int64(16 + 16 * i), "hashes out of order")
            }
            hashes.append(h)
        }
        return hashes
    }

    /// The hashes of `sorted` that are also in the list at `path`, by one pass over both.
    public static func intersection(_ sorted: [ContentHash], withListAt path: String) throws -> [ContentHash] {
        let other = try read(path)
        var common: [ContentHash] = []
        var i = 0, j = 0
        while i < sorted.count && j < other.count {
            if sorted[i] < other[j] { i += 1 } else if other[j] < sorted[i] { j += 1 } else {
                common.append(sorted[i]); i += 1; j += 1
            }
        }
        return common
    }
}
