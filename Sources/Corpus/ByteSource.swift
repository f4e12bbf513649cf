#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CIsal

/// The bytes of one file, decompressed when the file starts with the gzip magic (0x1f 0x8b).
///
///     let source = try ByteSource(path: "data/bible-nt.txt.gz")
///     let n = try source.read(into: buffer, capacity: 1 << 20)   // 0 at the end
///
/// Inflates with ISA-L's igzip, which is faster than zlib; the gzip header and trailer (CRC-32)
/// are checked. Memory is constant: one input buffer and igzip's ~40 KiB state (window included),
/// whatever the file size.
/// Gzip files may hold several members one after another (as `cat a.gz b.gz` makes); zero
/// bytes after the last member are ignored (tape padding, as GNU gzip does), anything else
/// there is an error. Errors name the file and the compressed offset where reading stopped.
///
/// Safety: `input` points to `inputCapacity` allocated bytes and `stream` (gzip files only) to
/// one allocated `inflate_state`, from `init` to `deinit`; igzip's `next_in` always points
/// inside `input`, at `avail_in` bytes read from the file. `read` writes only the `capacity`
/// bytes the caller gives it.
package final class ByteSource {
    package let path: String
    package let isGzip: Bool
    /// Size of the file when it was opened.
    package let fileBytes: Int64

    private let fd: Int32
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity: Int
    /// Bytes of the file read into `input` so far.
    private var fileOffset: Int64
    private var fileEnded: Bool
    private let stream: UnsafeMutablePointer<inflate_state>?
    /// The current gzip member ended; the next bytes are either another member or the end.
    private var memberEnded = false
    /// Plain files: bytes already in `input` (the magic probe) not yet handed out.
    private var pending: Int
    private var finished = false

    /// Opens `path`; throws `fileNotFound` or `unreadable`.
    package init(path: String, inputCapacity: Int = 256 << 10) throws(CorpusError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw code == ENOENT ? .fileNotFound(path) : .unreadable(path, String(cString: strerror(code)))
        }
        var info = stat()
        if fstat(fd, &info) != 0 || (info.st_mode & S_IFMT) == S_IFDIR {
            let reason = (info.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : String(cString: strerror(errno))
            close(fd)
            throw .unreadable(path, reason)
        }
        let capacity = max(inputCapacity, 16)
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        // Read the first two bytes (or more) to choose plain or gzip; they stay in `input`.
        var have = 0, ended = false
        do {
            while have < 2 && !ended {
                let n = try ByteSource.readOnce(fd, input + have, capacity - have, path: path, offset: Int64(have))
                if n == 0 { ended = true }
                have += n
            }
        } catch {
            input.deallocate()
            close(fd)
            throw error
        }
        let gzip = have >= 2 && input[0] == 0x1F && input[1] == 0x8B
        var stream: UnsafeMutablePointer<inflate_state>?
        if gzip {
            let s = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
            isal_inflate_init(s)
            s.pointee.crc_flag = UInt32(ISAL_GZIP)  // gzip header and trailer, CRC-32 checked
            s.pointee.next_in = input
            s.pointee.avail_in = UInt32(have)
            stream = s
        }
        self.path = path
        self.fd = fd
        self.input = input
        self.inputCapacity = capacity
        self.fileBytes = Int64(info.st_size)
        self.isGzip = gzip
        self.stream = stream
        self.fileOffset = Int64(have)
        self.fileEnded = ended
        self.pending = gzip ? 0 : have
    }

    deinit {
        stream?.deallocate()
        input.deallocate()
        close(fd)
    }


    /// Bytes of the file consumed: the compressed offset of the next byte igzip will look at
    /// (it may hold up to 8 bytes already read in its bit buffer).
    package var compressedOffset: Int64 {
        if let stream { return fileOffset - Int64(stream.pointee.avail_in) }
        return fileOffset - Int64(pending)
    }

    /// Reads up to `capacity` decompressed bytes into `buffer`; returns 0 only at the end.
    package func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws(CorpusError) -> Int {
        guard capacity > 0, !finished else { return 0 }
        guard let stream else {
            if pending > 0 {
                let n = min(pending, capacity)
                buffer.update(from: input, count: n)
                memmove(input, input + n, pending - n)
                pending -= n
                return n
            }
            let n = try readFile(into: buffer, capacity: capacity)
            if n == 0 { finished = true }
            return n
        }
        while true {
            if memberEnded {
                guard try startNextMember(stream) else {
                    finished = true
                    return 0
                }
            }
            if stream.pointee.avail_in == 0 && !fileEnded { try refill(stream) }
            let inputBefore = stream.pointee.avail_in
            stream.pointee.next_out = buffer
            stream.pointee.avail_out = UInt32(clamping: capacity)
            let status = isal_inflate(stream)
            let produced = capacity - Int(stream.pointee.avail_out)
            switch status {
            case ISAL_DECOMP_OK, ISAL_END_INPUT, ISAL_OUT_OVERFLOW:
                if stream.pointee.block_state == ISAL_BLOCK_FINISH { memberEnded = true }
                if produced > 0 { return produced }
                if memberEnded { continue }
                // No output: igzip needs input. At the end of the file that means truncation.
                if stream.pointee.avail_in == 0 && fileEnded { throw .truncatedGzip(path, offset: fileOffset) }
                if stream.pointee.avail_in == inputBefore && stream.pointee.avail_in > 0 {
                    throw .corruptGzip(path, offset: compressedOffset, "inflate made no progress")
                }
            case ISAL_NEED_DICT:
                throw .corruptGzip(path, offset: compressedOffset, "stream needs a preset dictionary")
            default:
                throw .corruptGzip(path, offset: compressedOffset, ByteSource.describe(status))
            }
        }
    }

    /// igzip's error codes in the words zlib uses for them.
    static func describe(_ status: Int32) -> String {
        switch status {
        case ISAL_INVALID_BLOCK: "invalid block type"
        case ISAL_INVALID_SYMBOL: "invalid literal/length or distance code"
        case ISAL_INVALID_LOOKBACK: "invalid distance too far back"
        case ISAL_INVALID_WRAPPER: "incorrect header check"
        case ISAL_UNSUPPORTED_METHOD: "unknown compression method"
        case ISAL_INCORRECT_CHECKSUM: "incorrect data check"
        default: "inflate error \(status)"
        }
    }

    /// After a member: skips zero padding, then resets zlib for the next member if the gzip
    /// magic follows. Returns false at the end of the file.
    private func startNextMember(_ stream: UnsafeMutablePointer<inflate_state>) throws(CorpusError) -> Bool {
        while true {
            // Skip zero bytes in the buffered input.
            while stream.pointee.avail_in > 0 && stream.pointee.next_in.pointee == 0 {
                stream.pointee.next_in += 1
                stream.pointee.avail_in -= 1
            }
            if stream.pointee.avail_in >= 2 || (stream.pointee.avail_in == 1 && fileEnded) { break }
            if fileEnded { return false }   // nothing but padding left
            try refill(stream)
        }
        let next = stream.pointee.next_in!
        let available = stream.pointee.avail_in
        guard available >= 2, next[0] == 0x1F, next[1] == 0x8B else {
            throw .corruptGzip(path, offset: compressedOffset, "unexpected data after gzip member")
        }
        isal_inflate_reset(stream)
        stream.pointee.crc_flag = UInt32(ISAL_GZIP)
        stream.pointee.next_in = next
        stream.pointee.avail_in = available
        memberEnded = false
        return true
    }

    /// Moves unread input to the front of `input` and reads more of the file after it.
    private func refill(_ stream: UnsafeMutablePointer<inflate_state>) throws(CorpusError) {
        let left = Int(stream.pointee.avail_in)
        if left > 0, let next = stream.pointee.next_in, next != input { memmove(input, next, left) }
        let n = try readFile(into: input + left, capacity: inputCapacity - left)
        stream.pointee.next_in = input
        stream.pointee.avail_in = UInt32(left + n)
    }

    /// One read(2) into `buffer`; marks the end of the file.
    private func readFile(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws(CorpusError) -> Int {
        let n = try ByteSource.readOnce(fd, buffer, capacity, path: path, offset: fileOffset)
        if n == 0 { fileEnded = true }
        fileOffset += Int64(n)
        return n
    }

    /// read(2), retried on EINTR; 0 at the end of the file.
    private static func readOnce(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ capacity: Int,
                                 path: String, offset: Int64) throws(CorpusError) -> Int {
        while true {
            #if canImport(Glibc)
            let n = Glibc.read(fd, buffer, capacity)
            #else
            let n = Darwin.read(fd, buffer, capacity)
            #endif
            if n >= 0 { return n }
            let code = errno
            if code != EINTR { throw .unreadable(path, String(cString: strerror(code)), offset: offset) }
        }
    }
}
