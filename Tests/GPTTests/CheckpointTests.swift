import Foundation
import GPT
import TestSupport
import Testing

@Suite struct CheckpointTests {
    static func int32s(_ values: [Int32]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    static func header(_ values: [Int32]) -> [UInt8] { int32s(values + [Int32](repeating: 0, count: 256 - values.count)) }

    @Test func roundTripIsByteExactLlmcLayout() throws {
        let dir = try TempDir()
        let model = try ModelTests.model()
        let path = dir.file("model.bin")
        try model.save(to: path)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let c = tinyConfig
        #expect(c.paddedVocabSize == 128)
        #expect(bytes.count == 1024 + 4 * c.parameterCount)
        #expect(Array(bytes[0..<1024]) == Self.header([20240326, 3, 8, 37, 2, 2, 16, 128]))
        #expect(Array(bytes[1024...]) == Self.floats(model.parameters))
        #expect(try Checkpoint.readConfig(path) == c)
        let loaded = try GPT2(checkpoint: path)
        #expect(loaded.config == c)
        #expect(loaded.parameters.map(\.bitPattern) == model.parameters.map(\.bitPattern))
        // And written again, the same bytes.
        try loaded.save(to: dir.file("again.bin"))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("again.bin")))) == bytes)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test func errorsNameTheFile() throws {
        let dir = try TempDir()
        let model = try ModelTests.model()
        let good = dir.file("good.bin")
        try model.save(to: good)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: good)))

        var badMagic = bytes
        badMagic[0] = 0
        let p1 = try dir.write("magic.bin", badMagic)
        #expect(throws: GPTError.badCheckpoint(path: p1, reason: "bad magic 20240128 at offset 0 (expected 20240326)")) {
            try GPT2(checkpoint: p1)
        }
        #expect("\(GPTError.badCheckpoint(path: p1, reason: "x"))".hasPrefix(p1 + ": "))

        var badVersion = bytes
        badVersion[4] = 2
        let p2 = try dir.write("version.bin", badVersion)
        #expect(throws: GPTError.badCheckpoint(path: p2, reason: "unsupported version 2 at offset 4 (expected 3, or 1)")) {
            try GPT2(checkpoint: p2)
        }

        bytes.removeLast(4)
        let p3 = try dir.write("short.bin", bytes)
        let needed = 1024 + 4 * tinyConfig.parameterCount
        #expect(throws: GPTError.badCheckpoint(path: p3, reason: "file is \(needed - 4) bytes, but its header (maxT 8, V 37, "
                                                + "L 2, NH 2, C 16, Vp 128) needs \(needed)")) {
            try GPT2(checkpoint: p3)
        }
        let p4 = try dir.write("tiny.bin", [1, 2, 3])
        #expect(throws: GPTError.badCheckpoint(path: p4, reason: "file is 3 bytes, shorter than the 1024-byte header")) {
            try Checkpoint.readConfig(p4)
        }
        let p5 = try dir.write("heads.bin", Self.header([20240326, 3, 8, 37, 2, 3, 16, 128]))
        #expect(throws: GPTError.badCheckpoint(path: p5, reason: "header describes an impossible model: "
                                                + "channels (16) must be a multiple of heads (3)")) {
            try Checkpoint.readConfig(p5)
        }
        let missing = dir.file("missing.bin")
        #expect(throws: GPTError.io(path: missing, reason: "cannot open: No such file or directory")) {
            try GPT2(checkpoint: missing)
        }
    }

    /// Header values are any 32-bit integers: sizes that overflow are refused, not trapped on.
    @Test func oversizedHeadersAreRefused() throws {
        let dir = try TempDir()
        let overflowing = try dir.write("huge.bin", Self.header([20240326, 3, 8, 37, 1, 1, 1_000_000_000, 128]))
        #expect(throws: GPTError.badCheckpoint(path: overflowing, reason: "header describes an impossible model: model too "
                                                + "large: its parameter count does not fit in a 64-bit integer")) {
            try GPT2(checkpoint: overflowing)
        }
        let big = GPTConfig(maxSequenceLength: 8, vocabSize: 37, layers: 64, heads: 1, channels: 1 << 20)
        let large = try dir.write("large.bin", Self.header([20240326, 3, 8, 37, 64, 1, 1 << 20, 128]))
        #expect(throws: GPTError.badCheckpoint(path: large, reason: "header describes an impossible model: model too large: "
                                                + "\(big.parameterCount) parameters (at most \(GPTConfig.maxParameterCount))")) {
            try Checkpoint.readConfig(large)
        }
        #expect(big.parameterCount > GPTConfig.maxParameterCount)
        // The public figures saturate instead of trapping.
        let huge = GPTConfig(maxSequenceLength: Int(Int32.max), vocabSize: Int(Int32.max), layers: Int(Int32.max),
                             heads: 1, channels: Int(Int32.max))
        #expect(huge.parameterCount == Int.max)
        #expect(huge.parameterSizes.contains(Int.max))
        #expect(huge.problem == "model too large: its parameter count does not fit in a 64-bit integer")
        #expect(throws: GPTError.self) { try GPT2(config: huge, seed: 1) }
    }

    /// llm.c's older version-1 files have no padded vocabulary (wte is V×C).
    @Test func readsVersion1() throws {
        let dir = try TempDir()
        let config = GPTConfig(maxSequenceLength: 4, vocabSize: 5, paddedVocabSize: 5, layers: 1, heads: 1, channels: 2)
        var rng = SeededRNG(seed: 1)
        let values = (0..<config.parameterCount).map { _ in Float.random(in: -1..<1, using: &rng) }
        let path = try dir.write("v1.bin", Self.header([20240326, 1, 4, 5, 1, 1, 2]) + Self.floats(values))
        let model = try GPT2(checkpoint: path)
        #expect(model.config == config)
        #expect(model.parameters == values)
        // It still runs.
        _ = try model.loss(inputs: [0, 4], targets: [4, 1], batchSize: 1, contextLength: 2)
    }
}
