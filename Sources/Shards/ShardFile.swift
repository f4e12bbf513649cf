// The token shard format, written and read here and nowhere else.
//
// A shard is byte-compatible with llm.c's `llmc/dataloader.h`: a 1024-byte header of 256
// little-endian int32, then the tokens, little-endian.
//
//     uint16 tokens: header[0] = 20240520, header[1] = 1, header[2] = token count
//     uint32 tokens: header[0] = 20240801, header[1] = 7, header[2] = token count
//     header[3...255] = 0;  file size = 1024 + width × count;  count < 2^30
//
// A shard is written under `NAME.tmp` and renamed to `NAME` once complete. The writer keeps a
// running CRC-32 (zlib's polynomial) of the token bytes, so a half-written temporary file can
// be truncated to a committed token count and continued with its CRC restored.
import Common
import CIsal
import Foundation

/// How many bytes each token takes in a shard.
public enum TokenWidth: Int, Codable, Sendable, CaseIterable {
    case uint16 = 2
    case uint32 = 4

    /// uint16 when every id of a `vocabSize`-token vocabulary fits, else uint32.
    public static func forVocabulary(size vocabSize: Int) -> TokenWidth {
        vocabSize <= 65_536 ? .uint16 : .uint32
    }

    public var bytes: Int { rawValue }
    public var magic: Int32 { self == .uint16 ? 20240520 : 20240801 }
    public var version: Int32 { self == .uint16 ? 1 : 7 }
    /// The largest token id this width stores.
    public var maxTokenID: UInt32 { self == .uint16 ? 0xFFFF : 0xFFFF_FFFF }
}

/// The 1024-byte header of a shard.
public struct ShardHeader: Equatable, Sendable {
    public static let byteCount = 1024
    /// Shards hold fewer than 2^30 tokens (llm.c's reader seeks with an int).
    public static let maxTokens: Int64 = (1 << 30) - 1

    public var width: TokenWidth
    public var tokenCount: Int64

    public init(width: TokenWidth, tokenCount: Int64) {
        self.width = width
        self.tokenCount = tokenCount
    }

    /// The exact size of a shard with this header.
    public var fileSize: Int64 { Int64(Self.byteCount) + Int64(width.bytes) * tokenCount }

    /// The 1024 header bytes.
    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        for (slot, value) in [width.magic, width.version, Int32(truncatingIfNeeded: tokenCount)].enumerated() {
            let v = UInt32(bitPattern: value)
            for k in 0..<4 { bytes[slot * 4 + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
        }
        return bytes
    }

    /// Parses and checks the first 1024 bytes of `path` (magic, version, count range).
    public static func decode(_ bytes: [UInt8], path: String) throws -> ShardHeader {
        guard bytes.count >= byteCount else {
            throw ShardsError(.format, path: path, offset: Int64(bytes.count),
                              "file is \(bytes.count) bytes, shorter than the \(byteCount)-byte shard header")
        }
        func int32(_ slot: Int) -> Int32 {
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(bytes[slot * 4 + k]) << (8 * UInt32(k)) }
            return Int32(bitPattern: v)
        }
        let magic = int32(0), version = int32(1), count = int32(2)
        guard let width = TokenWidth.allCases.first(where: { $0.magic == magic }) else {
            throw ShardsError(.format, path: path, offset: 0,
                              "bad magic \(magic) (expected 20240520 for uint16 or 20240801 for uint32 tokens)")
        }
        guard version == width.version else {
            throw ShardsError(.format, path: path, offset: 4,
                              "bad version \(version) for magic \(magic) (expected \(width.version))")
        }
        guard count >= 0, Int64(count) <= maxTokens else {
            throw ShardsError(.format, path: path, offset: 8, "token count \(count) out of range")
        }
        return ShardHeader(width: width, tokenCount: Int64(count))
    }
}

/// Reading shard files (validation, streaming scans). The Loader maps them with `MappedShard`.
public enum ShardFile {
    /// CRC-32 (zlib's `crc32`, the gzip checksum) of `bytes`, continuing from `crc` (0 for a
    /// fresh checksum). Computed with ISA-L's carry-less multiplication kernel.
    package static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return crc }
        return crc32_gzip_refl(crc, p, UInt64(bytes.count))
    }

    /// Reads and validates the header of `path` and checks that the file size is exactly
    /// `1024 + width × count`.
    public static func inspect(_ path: String) throws -> ShardHeader {
        let file = try PosixFile.openForReading(path)
        return try inspect(file)
    }

    static func inspect(_ file: PosixFile) throws -> ShardHeader {
        var bytes = [UInt8](repeating: 0, count: ShardHeader.byteCount)
        let n = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        let header = try ShardHeader.decode(Array(bytes.prefix(n)), path: file.path)
        let size = try file.size()
        guard size == header.fileSize else {
            throw ShardsError(.format, path: file.path, offset: min(size, header.fileSize),
                              "file is \(size) bytes, expected \(header.fileSize) = 1024 + "
                              + "\(header.width.bytes) × \(header.tokenCount) tokens (header count)")
        }
        return header
    }

    /// Streams the token bytes of a validated shard through `body` in chunks, each a whole
    /// number of tokens; `body` also gets the index of the chunk's first token.
    /// - Returns: the header.
    @discardableResult
    package static func scan(_ path: String, chunkBytes: Int = 4 << 20,
                            _ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws -> ShardHeader {
        let file = try PosixFile.openForReading(path)
        let header = try inspect(file)
        let width = header.width.bytes
        let chunk = max(width, chunkBytes / width * width)
        // Safety: `chunk` bytes, freed on every way out of this function; `body` sees the
        // bytes read into them and may not keep the pointer.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset = Int64(ShardHeader.byteCount)
        var token: Int64 = 0
        while offset < header.fileSize {
            let want = Int(min(Int64(chunk), header.fileSize - offset))
            let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset)
            guard n == want else {
                throw ShardsError(.io, path: path, offset: offset + Int64(n), "file shrank while reading")
            }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), token)
            offset += Int64(n)
            token += Int64(n / width)
        }
        return header
    }

    /// Tokens `range` of a shard, widened to UInt32 (for tools and tests; the Loader maps).
    public static func readTokens(_ path: String, _ range: Range<Int64>) throws -> [UInt32] {
        let file = try PosixFile.openForReading(path)
        let header = try inspect(file)
        guard range.lowerBound >= 0, range.upperBound <= header.tokenCount else {
            throw ShardsError(.invalidArgument, path: path,
                              "tokens \(range) outside the shard's \(header.tokenCount) tokens")
        }
        let width = header.width.bytes
        var raw = [UInt8](repeating: 0, count: range.count * width)
        let at = Int64(ShardHeader.byteCount) + range.lowerBound * Int64(width)
        let n = try raw.withUnsafeMutableBytes { try file.read(into: $0, at: at) }
        guard n == raw.count else { throw ShardsError(.io, path: path, offset: at + Int64(n), "file shrank while reading") }
        return TokenCodec.decode(raw, width: header.width)
    }
}

/// Little-endian token bytes ⇄ ids.
enum TokenCodec {
    static func decode(_ raw: [UInt8], width: TokenWidth) -> [UInt32] {
        raw.withUnsafeBytes { decode($0, width: width) }
    }

    static func decode(_ raw: UnsafeRawBufferPointer, width: TokenWidth) -> [UInt32] {
        let count = raw.count / width.bytes
        return [UInt32](unsafeUninitializedCapacity: count) { out, initialized in
            if width == .uint16 {
                for i in 0..<count { out[i] = UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            } else {
                for i in 0..<count { out[i] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            }
            initialized = count
        }
    }
}

/// Appends tokens to `NAME.tmp`, keeping a running CRC-32; `finish` writes the header count
/// and syncs; `publish` renames the file to `NAME`.
///
///     let w = try ShardWriter.create(path: "dir/train_000000.bin", width: .uint16)
///     try w.append([50256, 15496, 995])
///     let (tokens, crc) = try w.checkpoint(sync: true)    // store these to resume later
///     try w.finish(); try ShardWriter.publish(path: w.path)
///
/// Resume after a crash: `ShardWriter.resume(path:width:tokens:crc:)` truncates the temporary
/// file to the committed count and continues with the committed CRC.
///
/// Freeing a writer waits for what it handed to its flusher to be written. (`ShardStore` keeps
/// the same writer as a value, `ShardFileWriter`, and waits for it when it closes.)
public final class ShardWriter {
    private var writer: ShardFileWriter

    /// The final path (`…/train_000000.bin`); data goes to `temporaryPath` until `publish`.
    public var path: String { writer.path }
    public var width: TokenWidth { writer.width }
    /// Tokens appended so far (including those still buffered).
    public var tokenCount: Int64 { writer.tokenCount }

    public static func temporaryPath(for path: String) -> String { path + ".tmp" }
    public var temporaryPath: String { Self.temporaryPath(for: path) }

    private init(_ writer: ShardFileWriter) { self.writer = writer }

    /// Waits for the flusher, whatever it still has to write (errors were already reported,
    /// or the store is being dropped as a kill would).
    deinit { writer.waitForFlusher() }

    /// Starts an empty shard at `path + ".tmp"` (an existing temporary file is emptied).
    public static func create(path: String, width: TokenWidth) throws -> ShardWriter {
        ShardWriter(try ShardFileWriter.create(path: path, width: width))
    }

    /// Reopens `path + ".tmp"`, cuts it back to `tokens` committed tokens and continues
    /// from there; `crc` is the CRC-32 recorded with that count.
    public static func resume(path: String, width: TokenWidth, tokens: Int64, crc: UInt32) throws -> ShardWriter {
        ShardWriter(try ShardFileWriter.resume(path: path, width: width, tokens: tokens, crc: crc))
    }

    /// Appends `tokens`. Throws when an id does not fit the width or the shard would reach
    /// 2^30 tokens; nothing is appended then.
    package func append(_ tokens: UnsafeBufferPointer<UInt32>) throws {
        if width == .uint16, !ShardWriter.allBelow(0x1_0000, tokens), let bad = tokens.first(where: { $0 > 0xFFFF }) {
            throw ShardsError(.invalidArgument, path: path, "token id \(bad) does not fit a uint16 shard")
        }
        try writer.append(idsThatFit: tokens)
    }

    public func append(_ tokens: [UInt32]) throws {
        try tokens.withUnsafeBufferPointer { try append($0) }
    }

    /// Whether every id is below `limit`. The ids are OR-ed first, which SSE2 vectorizes (an
    /// unsigned maximum needs SSE4.1, so a loop taking the maximum runs one id at a time, on the
    /// sharder's writer, its one sequential task); when the OR is not below `limit` (an id is
    /// not, or the limit is not a power of two), the maximum decides.
    package static func allBelow(_ limit: UInt32, _ tokens: UnsafeBufferPointer<UInt32>) -> Bool {
        guard let p = tokens.baseAddress else { return true }
        var bits: UInt32 = 0
        for i in 0..<tokens.count { bits |= p[i] }
        if bits < limit { return true }
        var m: UInt32 = 0
        for i in 0..<tokens.count { m = Swift.max(m, p[i]) }
        return m < limit
    }

    /// Writes buffered tokens to the temporary file (and fsyncs when `sync`), and returns the
    /// token count and CRC-32 to record as committed.
    @discardableResult
    public func checkpoint(sync: Bool) throws -> (tokens: Int64, crc: UInt32) {
        try writer.checkpoint(sync: sync)
    }

    /// Writes the header with the final count and fsyncs. The file stays at the temporary
    /// name until `publish`.
    @discardableResult
    public func finish() throws -> (tokens: Int64, crc: UInt32) {
        try writer.finish()
    }

    /// Renames `path + ".tmp"` to `path` and syncs the directory.
    public static func publish(path: String) throws {
        try FileSystem.move(temporaryPath(for: path), to: path)
        let slash = path.lastIndex(of: "/")
        FileSystem.syncDirectory(slash.map { String(path[..<$0]) } ?? ".")
    }
}

/// What `ShardWriter` does, as a value: `ShardStore` keeps one per open shard, so that its
/// appends (per document, on the writing thread) are checked for exclusive access when
/// compiling; a class's stored properties are checked at run time, on every access.
///
/// Copies share the file, the flusher and the buffer's memory: a copy is only made to be
/// written back, and only one of them appends.
struct ShardFileWriter {
    let path: String
    let width: TokenWidth
    /// Tokens appended so far (including those still buffered).
    private(set) var tokenCount: Int64

    private let file: PosixFile
    /// Tokens handed to the flusher (written, or not yet until `drain`).
    private var flushedTokens: Int64
    /// Tokens not yet handed over: the first `used` bytes of `buffer`.
    private var buffer: ShardBuffer
    private var used = 0
    static let bufferBytes = 1 << 20
    /// Writes full buffers on its own thread, in order, and keeps their CRC-32: the thread
    /// that appends (the sharder's writer, its one sequential task) only converts ids into
    /// the buffer, and leaves `pwrite` into the page cache and the CRC, most of the work, to it.
    private let flusher: ShardFlusher

    private init(path: String, width: TokenWidth, file: PosixFile, tokens: Int64, crc: UInt32) {
        self.path = path
        self.width = width
        self.file = file
        self.tokenCount = tokens
        self.flushedTokens = tokens
        self.buffer = ShardBuffer(byteCount: Self.bufferBytes)
        self.flusher = ShardFlusher(file: file, crc: crc)
    }

    /// Starts an empty shard at `path + ".tmp"` (an existing temporary file is emptied).
    static func create(path: String, width: TokenWidth) throws -> ShardFileWriter {
        let file = try PosixFile.openForWriting(ShardWriter.temporaryPath(for: path), truncate: true)
        try ShardHeader(width: width, tokenCount: 0).encoded().withUnsafeBytes { try file.write($0, at: 0) }
        return ShardFileWriter(path: path, width: width, file: file, tokens: 0, crc: 0)
    }

    /// Reopens `path + ".tmp"`, cuts it back to `tokens` committed tokens and continues
    /// from there; `crc` is the CRC-32 recorded with that count.
    static func resume(path: String, width: TokenWidth, tokens: Int64, crc: UInt32) throws -> ShardFileWriter {
        let tmp = ShardWriter.temporaryPath(for: path)
        let file = try PosixFile.openForWriting(tmp, truncate: false)
        let committed = ShardHeader(width: width, tokenCount: tokens).fileSize
        let size = try file.size()
        guard size >= committed else {
            throw ShardsError(.corrupt, path: tmp, offset: size,
                              "temporary shard is \(size) bytes but \(tokens) tokens (\(committed) bytes) were committed")
        }
        try file.truncate(to: committed)
        return ShardFileWriter(path: path, width: width, file: file, tokens: tokens, crc: crc)
    }

    /// Appends ids the caller has already checked against a vocabulary that fits the width
    /// (`ShardStore` does, and `CorpusSettings.validate` fits the width to the vocabulary).
    /// Throws when the shard would reach 2^30 tokens; nothing is appended then.
    mutating func append(idsThatFit tokens: UnsafeBufferPointer<UInt32>) throws {
        guard tokenCount + Int64(tokens.count) <= ShardHeader.maxTokens else {
            throw ShardsError(.invalidArgument, path: path,
                              "shard would exceed \(ShardHeader.maxTokens) tokens")
        }
        var start = 0
        while start < tokens.count {
            let room = (Self.bufferBytes - used) / width.bytes
            if room == 0 { try flush(); continue }
            let n = min(room, tokens.count - start)
            let piece = UnsafeBufferPointer(rebasing: tokens[start..<start + n])
            // Plain loops over typed pointers: the compiler vectorizes them (the shard format is
            // little-endian, like every machine this runs on).
            if width == .uint16 {
                let out = (buffer.base + used).assumingMemoryBound(to: UInt16.self)
                for i in 0..<n { out[i] = UInt16(truncatingIfNeeded: piece[i]).littleEndian }
            } else {
                let out = (buffer.base + used).assumingMemoryBound(to: UInt32.self)
                for i in 0..<n { out[i] = piece[i].littleEndian }
            }
            used += n * width.bytes
            start += n
            tokenCount += Int64(n)
        }
    }

    /// Appends one id (an end-of-text token), already checked as `append(idsThatFit:)` expects.
    mutating func append(idThatFits id: UInt32) throws {
        try withUnsafePointer(to: id) { try append(idsThatFit: UnsafeBufferPointer(start: $0, count: 1)) }
    }

    /// Hands the buffer to the flusher and goes on with an empty one.
    private mutating func flush() throws {
        guard used > 0 else { return }
        let at = ShardHeader(width: width, tokenCount: flushedTokens).fileSize
        buffer = try flusher.submit(buffer, count: used, at: at)
        flushedTokens += Int64(used / width.bytes)
        used = 0
    }

    /// Hands over what is buffered and waits until all of it is written; returns the token
    /// count and CRC-32 of the file's tokens.
    private mutating func drain() throws -> (tokens: Int64, crc: UInt32) {
        try flush()
        return (flushedTokens, try flusher.drain())
    }

    /// Writes buffered tokens to the temporary file (and fsyncs when `sync`), and returns the
    /// token count and CRC-32 to record as committed.
    @discardableResult
    mutating func checkpoint(sync: Bool) throws -> (tokens: Int64, crc: UInt32) {
        let written = try drain()
        if sync { try file.sync() }
        return written
    }

    /// Writes the header with the final count and fsyncs. The file stays at the temporary
    /// name until `publish`.
    @discardableResult
    mutating func finish() throws -> (tokens: Int64, crc: UInt32) {
        let written = try drain()
        try ShardHeader(width: width, tokenCount: written.tokens).encoded().withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
        return written
    }

    /// Waits until the flusher has written what it was handed (its errors, if any, were or
    /// will be reported by the writer's other calls): before the file is let go.
    func waitForFlusher() { _ = try? flusher.drain() }
}

/// Memory for one buffer of shard bytes, freed with the last reference: the writer fills one
/// while the flusher writes another, and they trade them.
///
/// Safety: `base` points to `byteCount` allocated bytes, aligned for UInt32, from `init` to
/// `deinit`. One thread at a time uses a buffer: the writer until it submits it, the flusher's
/// queue until it hands it back.
final class ShardBuffer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        base = .allocate(byteCount: byteCount, alignment: 16)
        self.byteCount = byteCount
    }

    deinit { base.deallocate() }
}

/// A shard's background writer: full buffers are written at their offsets on a serial queue,
/// in the order handed over, each followed by its CRC-32 and a start of writeback (so that a
/// commit's fsync waits for the last megabyte, not for everything since the last commit). At
/// most two buffers are in flight; the first error is kept and thrown by the next `submit` or
/// `drain`.
final class ShardFlusher: @unchecked Sendable {
    // Safety (Sendable): `crc` is read and written by the queue's blocks only (one at a time, in
    // order), and by `drain` after the queue has run them all; `failure` and `spare` are
    // accessed under `lock`. `file` is only written to (`pwrite`, `sync_file_range`: system calls
    // on a descriptor that stays open while the flusher lives).
    private let file: PosixFile
    private let queue = DispatchQueue(label: "tokenmill.shard-flusher")
    private let slots = DispatchSemaphore(value: 2)
    private let lock = NSLock()
    /// Only the queue touches it; `drain` reads it after the queue is empty.
    private var crc: UInt32
    private var failure: (any Error)?
    /// Buffers written and ready to be filled again.
    private var spare: [ShardBuffer] = []

    init(file: PosixFile, crc: UInt32) {
        self.file = file
        self.crc = crc
    }

    /// Queues the first `count` bytes of `buffer` to be written at byte `at`; returns a buffer
    /// to fill next (waits while two are in flight).
    func submit(_ buffer: ShardBuffer, count: Int, at: Int64) throws -> ShardBuffer {
        if let failure = lock.withLock({ failure }) { throw failure }
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            if lock.withLock({ failure }) != nil { return }
            do {
                let raw = UnsafeRawBufferPointer(start: buffer.base, count: count)
                try file.write(raw, at: at)
                file.startWriteback(offset: at, count: count)
                crc = ShardFile.crc32(raw, continuing: crc)
                lock.withLock { spare.append(buffer) }
            } catch {
                lock.withLock { failure = failure ?? error }
            }
        }
        return lock.withLock { spare.popLast() } ?? ShardBuffer(byteCount: buffer.byteCount)
    }

    /// Waits until everything queued is written; returns the CRC-32 of all of it.
    func drain() throws -> UInt32 {
        queue.sync {}
        if let failure = lock.withLock({ failure }) { throw failure }
        return crc
    }
}
