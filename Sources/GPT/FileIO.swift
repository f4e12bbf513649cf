#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file binary reads and atomic writes with errors that name the file. (All formats here
/// are little-endian; so are the platforms we build for.)
enum FileIO {
    private static func failure(_ path: String, _ what: String) -> GPTError {
        GPTError.io(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }

    /// Size of the file in bytes.
    static func size(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw failure(path, "cannot open") }
        return Int(st.st_size)
    }

    /// Reads `count` bytes at `offset` into `buffer`.
    static func read(_ path: String, offset: Int, count: Int, into buffer: UnsafeMutableRawPointer) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure(path, "cannot open") }
        defer { close(fd) }
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, min(count - done, 1 << 30), off_t(offset + done))
            if n < 0 { if errno == EINTR { continue }; throw failure(path, "cannot read at offset \(offset + done)") }
            if n == 0 { throw GPTError.io(path: path, reason: "file ended at offset \(offset + done), expected \(offset + count) bytes") }
            done += n
        }
    }

    /// Reads `count` bytes at `offset`.
    static func readBytes(_ path: String, offset: Int, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        if count > 0 { try bytes.withUnsafeMutableBytes { try read(path, offset: offset, count: count, into: $0.baseAddress!) } }
        return bytes
    }

    /// Writes the byte ranges `parts`, in order, to `path.tmp` and renames it to `path`, so a reader
    /// never sees a half-written file.
    static func writeAtomically(_ path: String, _ parts: [UnsafeRawBufferPointer]) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure(tmp, "cannot create") }
        var ok = false
        defer { if !ok { close(fd); unlink(tmp) } }
        for part in parts where part.count > 0 {
            var done = 0
            while done < part.count {
                let n = write(fd, part.baseAddress! + done, min(part.count - done, 1 << 30))
                if n < 0 { if errno == EINTR { continue }; throw failure(tmp, "cannot write") }
                done += n
            }
        }
        guard close(fd) == 0 else { ok = true; unlink(tmp); throw failure(tmp, "cannot write") }
        ok = true
        guard rename(tmp, path) == 0 else { unlink(tmp); throw failure(path, "cannot rename \(tmp) to it") }
    }
}
