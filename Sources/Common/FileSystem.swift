import CSys
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file-system call that failed, naming the file (and the byte offset when it is known):
///
///     out/train_000001.bin at offset 4096: cannot write: No space left on device
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var offset: Int64?
    /// What failed, without the path: "cannot write: No space left on device".
    public var message: String

    public init(path: String, offset: Int64? = nil, _ message: String) {
        self.path = path
        self.offset = offset
        self.message = message
    }

    /// `message` followed by the system's text for `code`: "cannot open: Permission denied".
    public static func system(_ path: String, _ what: String, offset: Int64? = nil, code: Int32 = errno) -> FileError {
        FileError(path: path, offset: offset, "\(what): \(String(cString: strerror(code)))")
    }

    public var description: String {
        var s = path
        if let offset { s += " at offset \(offset)" }
        return s.isEmpty ? message : s + ": " + message
    }
}

/// The file operations every module uses: paths, sizes, directories, atomic writes. Errors are
/// `FileError`s naming the file.
public enum FileSystem {
    /// `directory/name` (one slash between them).
    public static func join(_ directory: String, _ names: String...) -> String {
        names.reduce(directory) { path, name in
            path.isEmpty ? name : path.hasSuffix("/") ? path + name : path + "/" + name
        }
    }

    /// The last part of a path: `out/vocab/tokenizer.json` → `tokenizer.json`.
    public static func fileName(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return trimmed.lastIndex(of: "/").map { String(trimmed[trimmed.index(after: $0)...]) } ?? String(trimmed)
    }

    /// Everything before the last part: `out/vocab/tokenizer.json` → `out/vocab` ("" for a bare name).
    public static func parent(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The size in bytes, or nil when the file cannot be found.
    public static func size(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// Size and modification time (nanoseconds), or nil when the file cannot be found.
    public static func identity(_ path: String) -> (size: Int64, modified: Int64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        #if canImport(Darwin)
        let time = st.st_mtimespec
        #else
        let time = st.st_mtim
        #endif
        return (Int64(st.st_size), Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }

    public static func move(_ from: String, to: String) throws(FileError) {
        guard rename(from, to) == 0 else { throw .system(from, "cannot rename to \(to)") }
    }

    /// Removes a file; a missing one is fine.
    public static func remove(_ path: String) throws(FileError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .system(path, "cannot remove") }
    }

    /// Removes a file or a directory with everything in it; a missing one is fine.
    public static func removeTree(_ path: String) throws(FileError) {
        guard exists(path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw FileError(path: path, "cannot remove: \(error.localizedDescription)")
        }
    }

    /// Creates `path` and any missing parents (as `mkdir -p`); a file in the way is named.
    public static func makeDirectory(_ path: String) throws(FileError) {
        if mkdir(path, 0o755) == 0 { return }
        var err = errno
        if err == ENOENT {
            let up = parent(path)
            if !up.isEmpty && up != path {
                try makeDirectory(up)
                if mkdir(path, 0o755) == 0 { return }
                err = errno
            }
        }
        if err == EEXIST {
            if isDirectory(path) { return }
            throw FileError(path: path, "exists and is not a directory")
        }
        if err == ENOTDIR {
            throw FileError(path: path, "cannot create directory: a part of the path is a file, not a directory")
        }
        throw .system(path, "cannot create directory", code: err)
    }

    /// Makes a rename inside `directory` durable.
    public static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    /// Names of the entries of `directory` (not recursive), sorted.
    public static func list(_ directory: String) throws(FileError) -> [String] {
        guard let dir = opendir(directory) else { throw .system(directory, "cannot list directory") }
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

    /// The whole file.
    public static func read(_ path: String) throws(FileError) -> [UInt8] {
        let file = try PosixFile.openForReading(path)
        let size = try file.size()
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = try typed { try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) } }
        if n < bytes.count { bytes.removeLast(bytes.count - n) }
        return bytes
    }

    /// Writes `bytes` to `path.tmp`, then renames it to `path` (creating the parent directory), so
    /// that a reader never sees a half-written file.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(FileError) {
        try typed { try bytes.withUnsafeBytes { try writeAtomically(path, parts: [$0]) } }
    }

    /// The same for byte ranges written one after the other.
    package static func writeAtomically(_ path: String, parts: [UnsafeRawBufferPointer]) throws(FileError) {
        let up = parent(path)
        if !up.isEmpty { try makeDirectory(up) }
        let tmp = path + ".tmp"
        let file = try PosixFile.openForWriting(tmp, truncate: true)
        do {
            var offset: Int64 = 0
            for part in parts where part.count > 0 {
                try file.write(part, at: offset)
                offset += Int64(part.count)
            }
            try file.closeChecked()
            try move(tmp, to: path)
        } catch {
            try? remove(tmp)
            throw error
        }
    }
}

/// An exclusive lock on `path` (created if missing) held while this lives: `flock`, so the
/// kernel releases it when the process dies, kill -9 included. The holder's pid is written into
/// the file for the message another process gets.
public final class ExclusiveLock: @unchecked Sendable {
    // Safety (Sendable): `file` is immutable and flock is a system call on its descriptor.
    private let file: PosixFile

    /// Throws when another process holds it; `holder` names the kind of job in the message
    /// ("tokenmill shard (pid 123) is writing this corpus: …").
    public init(path: String, holder: String, writing what: String) throws(FileError) {
        file = try PosixFile.openForWriting(path, truncate: false)
        var result: Int32
        repeat { result = flock(file.fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let code = errno
            guard code == EWOULDBLOCK else { throw .system(path, "cannot lock", code: code) }
            var bytes = [UInt8](repeating: 0, count: 64)
            let n = (try? bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }) ?? 0
            let pid = String(decoding: bytes[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw FileError(path: path, "\(holder) (\(pid.isEmpty ? "another process" : "pid " + pid)) is writing "
                            + "\(what): wait for it to end, or stop it, then run again")
        }
        try file.truncate(to: 0)
        let pid = Array("\(getpid())\n".utf8)
        try typed { try pid.withUnsafeBytes { try file.write($0, at: 0) } }
    }

    /// Lets another process take it now (else when this is freed or the process ends).
    public func release() {
        _ = flock(file.fd, LOCK_UN)
    }
}

/// An open file descriptor, closed on deinit. Thin checked wrappers over POSIX calls; every
/// error names the file.
package final class PosixFile {
    package let path: String
    package let fd: Int32
    private var isClosed = false

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { if !isClosed { close(fd) } }

    package static func openForReading(_ path: String) throws(FileError) -> PosixFile {
        try openFile(path, O_RDONLY, what: "cannot open")
    }

    /// Opens for writing, creating the file; `truncate` empties it.
    package static func openForWriting(_ path: String, truncate: Bool) throws(FileError) -> PosixFile {
        try openFile(path, O_RDWR | O_CREAT | (truncate ? O_TRUNC : 0), what: "cannot create")
    }

    private static func openFile(_ path: String, _ flags: Int32, what: String) throws(FileError) -> PosixFile {
        var fd: Int32
        repeat { fd = open(path, flags | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw .system(path, what) }
        return PosixFile(path: path, fd: fd)
    }

    package func size() throws(FileError) -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(path, "cannot stat") }
        return Int64(st.st_size)
    }

    /// Writes all of `bytes` at `offset`.
    package func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(FileError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, min(bytes.count - done, 1 << 30), off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path, "cannot write", offset: offset + Int64(done))
            }
            done += n
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`, fewer only at the end of the file.
    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(FileError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, min(buffer.count - done, 1 << 30), off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path, "cannot read", offset: offset + Int64(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    package func truncate(to length: Int64) throws(FileError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .system(path, "cannot truncate to \(length) bytes") }
    }

    /// Starts writing `count` bytes at `offset` to the disk without waiting, so that a later
    /// `sync` has little left to wait for. Advisory: failures are ignored (`sync` reports them).
    package func startWriteback(offset: Int64, count: Int) {
        _ = tm_start_writeback(fd, offset, Int64(count))
    }

    package func sync() throws(FileError) {
        guard fsync(fd) == 0 else { throw .system(path, "cannot fsync") }
    }

    /// Closes the descriptor now, reporting a failed close (a delayed write error).
    package func closeChecked() throws(FileError) {
        guard !isClosed else { return }
        isClosed = true
        guard close(fd) == 0 else { throw .system(path, "cannot write") }
    }
}

/// Runs `body`, which throws only `FileError`s but through a `rethrows` function (such as
/// `withUnsafeBytes`) that erases their type.
private func typed<T>(_ body: () throws -> T) throws(FileError) -> T {
    do {
        return try body()
    } catch let error as FileError {
        throw error
    } catch {
        throw FileError(path: "", "\(error)")
    }
}
