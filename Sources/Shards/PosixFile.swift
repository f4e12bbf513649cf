import CSys
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The message for the current `errno`.
func errnoMessage(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

private func systemOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags, 0o644) }
private func systemRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }

/// An exclusive lock on `path` (created if missing) held while this lives: `flock`, so the
/// kernel releases it when the process dies, kill -9 included. The holder's pid is written into
/// the file for the message another process gets.
package final class ExclusiveLock {
    private let file: PosixFile

    /// Throws `.busy` when another process holds it; `holder` names the kind of job in the
    /// message ("tokenmill shard (pid 123) is writing …").
    package init(path: String, holder: String, writing what: String) throws {
        file = try PosixFile.openForWriting(path, truncate: false)
        var result: Int32
        repeat { result = flock(file.fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let code = errno
            guard code == EWOULDBLOCK else { throw ShardsError(.io, path: path, "cannot lock: \(errnoMessage(code))") }
            var bytes = [UInt8](repeating: 0, count: 64)
            let n = (try? bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }) ?? 0
            let pid = String(decoding: bytes[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ShardsError(.busy, path: path, "\(holder) (\(pid.isEmpty ? "another process" : "pid " + pid)) is writing "
                              + "\(what): wait for it to end, or stop it, then run again")
        }
        try file.truncate(to: 0)
        let pid = Array("\(getpid())\n".utf8)
        try pid.withUnsafeBytes { try file.write($0, at: 0) }
    }

    /// Lets another process take it now (else when this is freed or the process ends).
    package func release() {
        _ = flock(file.fd, LOCK_UN)
    }
}

/// An open file descriptor, closed on deinit. Thin checked wrappers over POSIX calls; every
/// error names the file.
final class PosixFile {
    let path: String
    let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    static func openForReading(_ path: String) throws -> PosixFile {
        try openFile(path, O_RDONLY, what: "cannot open")
    }

    /// Opens for writing, creating the file; `truncate` empties it.
    static func openForWriting(_ path: String, truncate: Bool) throws -> PosixFile {
        try openFile(path, O_RDWR | O_CREAT | (truncate ? O_TRUNC : 0), what: "cannot create")
    }

    private static func openFile(_ path: String, _ flags: Int32, what: String) throws -> PosixFile {
        var fd: Int32
        repeat { fd = systemOpen(path, flags | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw ShardsError(.io, path: path, "\(what): \(errnoMessage())") }
        return PosixFile(path: path, fd: fd)
    }

    func size() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ShardsError(.io, path: path, "cannot stat: \(errnoMessage())") }
        return Int64(st.st_size)
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ShardsError(.io, path: path, offset: offset + Int64(done), "cannot write: \(errnoMessage())")
            }
            done += n
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`, fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ShardsError(.io, path: path, offset: offset + Int64(done), "cannot read: \(errnoMessage())")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func truncate(to length: Int64) throws {
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw ShardsError(.io, path: path, "cannot truncate to \(length) bytes: \(errnoMessage())")
        }
    }

    /// Starts writing `count` bytes at `offset` to the disk without waiting, so that a later
    /// `sync` has little left to wait for. Advisory: failures are ignored (`sync` reports them).
    func startWriteback(offset: Int64, count: Int) {
        _ = tm_start_writeback(fd, offset, Int64(count))
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw ShardsError(.io, path: path, "cannot fsync: \(errnoMessage())") }
    }
}

enum FileSystem {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func size(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    static func move(_ from: String, to: String) throws {
        guard systemRename(from, to) == 0 else {
            throw ShardsError(.io, path: from, "cannot rename to \(to): \(errnoMessage())")
        }
    }

    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw ShardsError(.io, path: path, "cannot remove: \(errnoMessage())")
        }
    }

    /// Creates `path` and any missing parents (as `mkdir -p`); a file in the way is named.
    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) == 0 { return }
        var err = errno
        if err == ENOENT {
            var trimmed = Substring(path)
            while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            let parent = trimmed.lastIndex(of: "/").map { String(trimmed[..<$0]) } ?? ""
            if !parent.isEmpty && parent != path {
                try makeDirectory(parent)
                if mkdir(path, 0o755) == 0 { return }
                err = errno
            }
        }
        var info = stat()
        if err == EEXIST {
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw ShardsError(.io, path: path, "exists and is not a directory")
        }
        if err == ENOTDIR {
            throw ShardsError(.io, path: path, "cannot create directory: a part of the path is a file, not a directory")
        }
        throw ShardsError(.io, path: path, "cannot create directory: \(errnoMessage(err))")
    }

    /// Makes a rename inside `directory` durable.
    static func syncDirectory(_ directory: String) {
        let fd = systemOpen(directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    /// Names of the entries of `directory` (not recursive), sorted.
    static func list(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            throw ShardsError(.io, path: directory, "cannot list directory: \(errnoMessage())")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
