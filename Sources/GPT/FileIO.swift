import Common

/// GPT's file access, through Common's file layer. Errors are `GPTError.io` naming the file, so
/// that everything this module throws is a `GPTError`. (All formats here are little-endian; so
/// are the platforms we build for.)
enum FileIO {
    /// Runs `body`, turning Common's `FileError`s into `GPTError.io`.
    static func checked<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as FileError {
            throw GPTError.io(path: error.path,
                              reason: error.offset.map { "at offset \($0): \(error.message)" } ?? error.message)
        }
    }

    static func open(_ path: String) throws -> PosixFile {
        try checked { try PosixFile.openForReading(path) }
    }

    static func size(_ file: PosixFile) throws -> Int64 {
        try checked { try file.size() }
    }

    /// Fills `buffer` from `offset` on; a file that ends first is an error.
    static func read(_ file: PosixFile, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let n = try checked { try file.read(into: buffer, at: offset) }
        guard n == buffer.count else {
            throw GPTError.io(path: file.path, reason: "file ended at offset \(offset + Int64(n)), "
                              + "expected \(offset + Int64(buffer.count)) bytes")
        }
    }

    /// `count` bytes at `offset`.
    static func readBytes(_ file: PosixFile, at offset: Int64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(file, at: offset, into: $0) }
        return bytes
    }

    /// Writes `parts` one after the other to `path` through a temporary file and a rename.
    static func writeAtomically(_ path: String, parts: [UnsafeRawBufferPointer]) throws {
        try checked { try FileSystem.writeAtomically(path, parts: parts) }
    }

    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        try checked { try FileSystem.writeAtomically(path, bytes) }
    }
}
