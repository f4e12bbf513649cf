import Common
import Foundation

/// The trainer state stored beside a checkpoint (`model_00000100.state` next to
/// `model_00000100.bin`): everything besides the weights that an exact resume needs.
///
/// Format (version 1), little-endian:
///
///     int32[256] header: [0] 20240901 (magic), [1] 1 (version),
///                        [2..3] completed steps (int64), [4..5] parameter count (int64),
///                        [6] settings JSON bytes, [7] loader state bytes,
///                        [8..9] random state (uint64), other slots 0
///     settings JSON (UTF-8, sorted keys)
///     loader state (opaque bytes from BatchProvider.saveState)
///     float32[parameter count] AdamW m, then float32[parameter count] AdamW v
///
/// The file is exactly 1024 + settings + loader + 8·parameter-count bytes.
public struct TrainerState {
    public static let magic: Int32 = 20240901
    public static let version: Int32 = 1
    static let headerInts = 256

    public var step: Int
    public var settings: TrainingSettings
    public var randomState: UInt64
    public var loaderState: [UInt8]
    let m: FloatBuffer
    let v: FloatBuffer

    /// The state file that belongs to the checkpoint `modelPath` (`.bin` → `.state`).
    public static func path(forCheckpoint modelPath: String) -> String {
        (modelPath.hasSuffix(".bin") ? String(modelPath.dropLast(4)) : modelPath) + ".state"
    }

    static func settingsJSON(_ settings: TrainingSettings) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(settings))
    }

    /// Writes the state to `path` (through a temporary file and a rename).
    func write(to path: String) throws {
        let json = try TrainerState.settingsJSON(settings)
        var h = [Int32](repeating: 0, count: TrainerState.headerInts)
        h[0] = TrainerState.magic
        h[1] = TrainerState.version
        let n = UInt64(m.count), s = UInt64(step)
        h[2] = Int32(bitPattern: UInt32(truncatingIfNeeded: s)); h[3] = Int32(bitPattern: UInt32(truncatingIfNeeded: s >> 32))
        h[4] = Int32(bitPattern: UInt32(truncatingIfNeeded: n)); h[5] = Int32(bitPattern: UInt32(truncatingIfNeeded: n >> 32))
        h[6] = Int32(json.count)
        h[7] = Int32(loaderState.count)
        h[8] = Int32(bitPattern: UInt32(truncatingIfNeeded: randomState))
        h[9] = Int32(bitPattern: UInt32(truncatingIfNeeded: randomState >> 32))
        try h.withUnsafeBytes { hb in
            try json.withUnsafeBytes { jb in
                try loaderState.withUnsafeBytes { lb in
                    try m.withUnsafeBytes { mb in
                        try v.withUnsafeBytes { vb in
                            try FileIO.writeAtomically(path, parts: [hb, jb, lb, mb, vb])
                        }
                    }
                }
            }
        }
    }

    /// The validated header of the state file at `path` and its settings.
    private static func readHead(_ file: PosixFile) throws
        -> (step: Int, count: Int, loaderBytes: Int, random: UInt64, settings: TrainingSettings, jsonBytes: Int) {
        let path = file.path
        func bad(_ reason: String) -> GPTError { GPTError.badState(path: path, reason: reason) }
        let size = try FileIO.size(file)
        guard size >= headerInts * 4 else { throw bad("file is \(size) bytes, shorter than the 1024-byte header") }
        let h = littleEndianWords(try FileIO.readBytes(file, at: 0, count: headerInts * 4))
        guard Int32(bitPattern: h[0]) == magic else {
            throw bad("bad magic \(Int32(bitPattern: h[0])) at offset 0 (expected \(magic))")
        }
        guard Int32(bitPattern: h[1]) == version else { throw bad("unsupported version \(h[1]) at offset 4 (expected \(version))") }
        let step = UInt64(h[2]) | UInt64(h[3]) << 32, count = UInt64(h[4]) | UInt64(h[5]) << 32
        let jsonBytes = Int(h[6]), loaderBytes = Int(h[7])
        guard let expected = Int(exactly: count).flatMap({ checkedProduct(8, $0) })
                .flatMap({ checkedSum(headerInts * 4, jsonBytes, loaderBytes, $0) }) else {
            throw bad("file is \(size) bytes, but its header's parameter count \(count) (at offset 16) needs more than any file holds")
        }
        guard size == Int64(expected) else { throw bad("file is \(size) bytes, but its header needs \(expected)") }
        guard let step = Int(exactly: step) else { throw bad("step \(step) at offset 8 is out of range") }
        let json = try FileIO.readBytes(file, at: Int64(headerInts * 4), count: jsonBytes)
        let settings: TrainingSettings
        do {
            settings = try SettingsCoding.decodeStored(TrainingSettings.self, from: Data(json))
        } catch {
            throw bad("settings at offset 1024 are not valid: \(error)")
        }
        return (step, Int(count), loaderBytes, UInt64(h[8]) | UInt64(h[9]) << 32, settings, jsonBytes)
    }

    /// Reads and validates the state at `path`, which must belong to a model of `parameterCount`
    /// parameters.
    static func read(_ path: String, parameterCount: Int) throws -> TrainerState {
        let file = try FileIO.open(path)
        let head = try readHead(file)
        guard head.count == parameterCount else {
            throw GPTError.badState(path: path, reason: "holds optimiser moments for \(head.count) parameters, "
                                    + "but the checkpoint has \(parameterCount)")
        }
        let loaderAt = headerInts * 4 + head.jsonBytes
        let loader = try FileIO.readBytes(file, at: Int64(loaderAt), count: head.loaderBytes)
        let m = FloatBuffer(count: head.count), v = FloatBuffer(count: head.count)
        let momentsAt = Int64(loaderAt + head.loaderBytes)
        try m.withUnsafeMutableBytes { bytes in try FileIO.read(file, at: momentsAt, into: bytes) }
        try v.withUnsafeMutableBytes { bytes in
            try FileIO.read(file, at: momentsAt + Int64(4 * head.count), into: bytes)
        }
        return TrainerState(step: head.step, settings: head.settings, randomState: head.random, loaderState: loader, m: m, v: v)
    }

    /// The stored settings of the state file at `path` (for a CLI that resumes with them).
    public static func readSettings(_ path: String) throws -> TrainingSettings { try readHead(FileIO.open(path)).settings }
}

/// The little-endian 32-bit words of `bytes`.
func littleEndianWords(_ bytes: [UInt8]) -> [UInt32] {
    (0..<(bytes.count / 4)).map { i in
        var w: UInt32 = 0
        for j in 0..<4 { w |= UInt32(bytes[4 * i + j]) << (8 * UInt32(j)) }
        return w
    }
}
