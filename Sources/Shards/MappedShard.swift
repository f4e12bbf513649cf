#if canImport(Glibc)
import Common
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A validated shard mapped read-only into memory. The only place the Shards module holds a
/// raw pointer into a file; the Loader reads shards through it.
///
///     let shard = try MappedShard(path: "dir/train_000000.bin")
///     shard.copyTokenBytes(from: 0, count: 1025, to: buffer)   // raw little-endian tokens
public final class MappedShard: @unchecked Sendable {
    public let path: String
    public let header: ShardHeader
    public var tokenCount: Int64 { header.tokenCount }
    public var width: TokenWidth { header.width }

    // Safety: every stored property is a `let` (so the object is Sendable: threads only read
    // the mapping). `base` maps `length` bytes of a file opened read-only, validated to be exactly
    // 1024 + width × tokenCount bytes; it stays mapped until deinit. Every read goes through
    // `tokenBytes(from:count:)`, which checks the range against `tokenCount`. (If another
    // process truncates the file while it is mapped, reads fault: that is the mmap contract.)
    private let base: UnsafeRawPointer
    private let length: Int

    public init(path: String) throws {
        let file = try PosixFile.openForReading(path)
        let header = try ShardFile.inspect(file)
        let length = Int(header.fileSize)
        guard let p = mmap(nil, length, PROT_READ, MAP_SHARED, file.fd, 0), p != MAP_FAILED else {
            throw ShardsError(.io, path: path, "cannot map \(length) bytes: \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.header = header
        self.base = UnsafeRawPointer(p)
        self.length = length
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    /// Tells the kernel the access pattern (random for shuffled sampling, sequential otherwise).
    public func adviseRandomAccess(_ random: Bool) {
        _ = madvise(UnsafeMutableRawPointer(mutating: base), length, random ? MADV_RANDOM : MADV_SEQUENTIAL)
    }

    /// The little-endian bytes of tokens `first ..< first + count`.
    package func tokenBytes(from first: Int64, count: Int) throws -> UnsafeRawBufferPointer {
        guard first >= 0, count >= 0, first + Int64(count) <= header.tokenCount else {
            throw ShardsError(.invalidArgument, path: path,
                              "tokens \(first)..<\(first + Int64(count)) outside the shard's \(header.tokenCount) tokens")
        }
        let offset = ShardHeader.byteCount + Int(first) * header.width.bytes
        return UnsafeRawBufferPointer(start: base + offset, count: count * header.width.bytes)
    }

    /// Copies the raw bytes of tokens `first ..< first + count` to `destination`.
    package func copyTokenBytes(from first: Int64, count: Int, to destination: UnsafeMutableRawPointer) throws {
        let bytes = try tokenBytes(from: first, count: count)
        if let src = bytes.baseAddress { destination.copyMemory(from: src, byteCount: bytes.count) }
    }

    /// One token, widened.
    public func token(at index: Int64) throws -> UInt32 {
        let bytes = try tokenBytes(from: index, count: 1)
        return header.width == .uint16
            ? UInt32(UInt16(littleEndian: bytes.loadUnaligned(as: UInt16.self)))
            : UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
    }
}
