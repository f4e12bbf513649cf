import Common

/// Model checkpoints in llm.c's format (`gpt2_build_from_checkpoint`), byte for byte.
///
/// A header of 256 little-endian int32 — `[20240326, 3, maxT, V, L, NH, C, Vp]`, the rest 0 —
/// then every parameter as float32, tensors in the order of `GPTConfig.tensorNames`. The file is
/// exactly `1024 + 4·parameterCount` bytes. Version 1 (llm.c's older, unpadded format: no Vp,
/// wte is V×C) is read too, as a model with Vp = V.
public enum Checkpoint {
    public static let magic: Int32 = 20240326
    public static let version: Int32 = 3
    static let headerInts = 256

    /// Reads and validates the header of the checkpoint at `path` (including the exact file size).
    public static func readConfig(_ path: String) throws -> GPTConfig {
        try readConfig(FileIO.open(path))
    }

    static func readConfig(_ file: PosixFile) throws -> GPTConfig {
        let path = file.path, size = try FileIO.size(file)
        func bad(_ reason: String) -> GPTError { GPTError.badCheckpoint(path: path, reason: reason) }
        guard size >= headerInts * 4 else { throw bad("file is \(size) bytes, shorter than the 1024-byte header") }
        let bytes = try FileIO.readBytes(file, at: 0, count: headerInts * 4)
        let h = littleEndianWords(bytes).map { Int32(bitPattern: $0) }
        guard h[0] == magic else { throw bad("bad magic \(h[0]) at offset 0 (expected \(magic))") }
        guard h[1] == 3 || h[1] == 1 else { throw bad("unsupported version \(h[1]) at offset 4 (expected 3, or 1)") }
        let padded = h[1] == 3 ? Int(h[7]) : Int(h[3])
        let config = GPTConfig(maxSequenceLength: Int(h[2]), vocabSize: Int(h[3]), paddedVocabSize: padded,
                               layers: Int(h[4]), heads: Int(h[5]), channels: Int(h[6]))
        if let problem = config.problem { throw bad("header describes an impossible model: \(problem)") }
        let expected = Int64(headerInts * 4 + 4 * config.parameterCount)
        guard size == expected else {
            throw bad("file is \(size) bytes, but its header (maxT \(config.maxSequenceLength), V \(config.vocabSize), "
                      + "L \(config.layers), NH \(config.heads), C \(config.channels), Vp \(config.paddedVocabSize)) "
                      + "needs \(expected)")
        }
        return config
    }

    /// The 1024-byte version-3 header for `config`.
    static func header(_ config: GPTConfig) -> [Int32] {
        var h = [Int32](repeating: 0, count: headerInts)
        h[0] = magic; h[1] = version
        h[2] = Int32(config.maxSequenceLength); h[3] = Int32(config.vocabSize); h[4] = Int32(config.layers)
        h[5] = Int32(config.heads); h[6] = Int32(config.channels); h[7] = Int32(config.paddedVocabSize)
        return h
    }

    /// Writes `model` to `path` (through a temporary file and a rename).
    public static func write(_ model: GPT2, to path: String) throws {
        let h = header(model.config)
        try h.withUnsafeBytes { header in
            try model.parameterStorage.withUnsafeBytes { parameters in
                try FileIO.writeAtomically(path, parts: [header, parameters])
            }
        }
    }

    /// Reads the parameters of the checkpoint at `path`.
    static func read(_ path: String) throws -> (GPTConfig, FloatBuffer) {
        let file = try FileIO.open(path)
        let config = try readConfig(file)
        let storage = FloatBuffer(count: config.parameterCount)
        try storage.withUnsafeMutableBytes { parameters in
            try FileIO.read(file, at: Int64(headerInts * 4), into: parameters)
        }
        return (config, storage)
    }
}

extension GPT2 {
    /// Loads the llm.c checkpoint at `path` (version 3, or version 1).
    public convenience init(checkpoint path: String, threads: Int = 1) throws {
        let (config, storage) = try Checkpoint.read(path)
        self.init(config: config, storage: storage, threads: threads)
    }

    /// Writes the model as an llm.c checkpoint (version 3).
    public func save(to path: String) throws { try Checkpoint.write(self, to: path) }
}
