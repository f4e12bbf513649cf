import Foundation
import Shards
import ShardsTestSupport
import Testing
import TestSupport

/// Bitwise CRC-32 (reflected, polynomial 0xEDB88320): the obviously-right twin of zlib's.
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

func littleEndianBytes(_ tokens: [UInt32], _ width: TokenWidth) -> [UInt8] {
    tokens.flatMap { t in (0..<width.bytes).map { UInt8(truncatingIfNeeded: t >> (8 * UInt32($0))) } }
}


@Suite struct ShardFileTests {
    @Test(arguments: TokenWidth.allCases)
    func writeThenReadBack(width: TokenWidth) throws {
        let dir = try TempDir()
        let path = dir.file("train_000000.bin")
        var rng = SeededRNG(seed: 1)
        let maxID: UInt32 = width == .uint16 ? 65_535 : 200_000
        let tokens = (0..<300_000).map { _ in UInt32.random(in: 0...maxID, using: &rng) }
        let writer = try ShardWriter.create(path: path, width: width)
        try writer.append(Array(tokens[..<1000]))
        try writer.append(Array(tokens[1000...]))
        let (count, crc) = try writer.finish()
        #expect(!FileManager.default.fileExists(atPath: path))
        try ShardWriter.publish(path: path)
        #expect(count == Int64(tokens.count))

        let bytes = try readFile(path)
        #expect(bytes.count == 1024 + width.bytes * tokens.count)
        let header = littleEndianBytes([width == .uint16 ? 20240520 : 20240801, width == .uint16 ? 1 : 7, UInt32(tokens.count)], .uint32)
        #expect(Array(bytes[0..<12]) == header)
        #expect(bytes[12..<1024].allSatisfy { $0 == 0 })
        #expect(Array(bytes[1024...]) == littleEndianBytes(tokens, width))
        #expect(crc == referenceCRC32(Array(bytes[1024...])))
        #expect(try ShardFile.inspect(path) == ShardHeader(width: width, tokenCount: Int64(tokens.count)))
        #expect(try ShardFile.readTokens(path, 5..<9) == Array(tokens[5..<9]))
        let mapped = try MappedShard(path: path)
        #expect(try mapped.token(at: 299_999) == tokens[299_999])
    }

    @Test func headerErrorsNameFileAndOffset() throws {
        let dir = try TempDir()
        let good = ShardHeader(width: .uint16, tokenCount: 3).encoded() + [1, 0, 2, 0, 3, 0]
        #expect(try ShardFile.inspect(try dir.write("ok.bin", good)).tokenCount == 3)

        func error(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = try dir.write(name, bytes)
            do { _ = try ShardFile.inspect(path); return "no error" } catch let e as ShardsError {
                return e.description.replacingOccurrences(of: dir.path + "/", with: "")
            }
        }
        var badMagic = good
        badMagic[0] = 0x39
        #expect(try error("magic.bin", badMagic)
                == "magic.bin at offset 0: bad magic 20240441 (expected 20240520 for uint16 or 20240801 for uint32 tokens)")
        var badVersion = good
        badVersion[4] = 7
        #expect(try error("version.bin", badVersion) == "version.bin at offset 4: bad version 7 for magic 20240520 (expected 1)")
        #expect(try error("short.bin", Array(good.prefix(1029)))
                == "short.bin at offset 1029: file is 1029 bytes, expected 1030 = 1024 + 2 × 3 tokens (header count)")
        #expect(try error("long.bin", good + [0])
                == "long.bin at offset 1030: file is 1031 bytes, expected 1030 = 1024 + 2 × 3 tokens (header count)")
        #expect(try error("tiny.bin", [1, 2, 3])
                == "tiny.bin at offset 3: file is 3 bytes, shorter than the 1024-byte shard header")
        // A uint32 header with uint16-sized data is a size error too.
        let wide = ShardHeader(width: .uint32, tokenCount: 3).encoded() + [1, 0, 2, 0, 3, 0]
        #expect(try error("wide.bin", wide) == "wide.bin at offset 1030: file is 1030 bytes, expected 1036 = 1024 + 4 × 3 tokens (header count)")
    }

    @Test func uint16WriterRefusesWideIDs() throws {
        let dir = try TempDir()
        let writer = try ShardWriter.create(path: dir.file("a.bin"), width: .uint16)
        #expect(throws: ShardsError.self) { try writer.append([1, 70_000]) }
        #expect(writer.tokenCount == 0)
    }

    /// Write, record a checkpoint, write more (flushed but never committed), then resume from
    /// the checkpoint: the file must equal a straight write of the committed prefix + the new tail.
    @Test(arguments: TokenWidth.allCases)
    func resumeAfterTruncation(width: TokenWidth) throws {
        let dir = try TempDir()
        var rng = SeededRNG(seed: 7)
        let committed = (0..<5000).map { _ in UInt32.random(in: 0..<60_000, using: &rng) }
        let lost = (0..<3000).map { _ in UInt32.random(in: 0..<60_000, using: &rng) }
        let tail = (0..<4000).map { _ in UInt32.random(in: 0..<60_000, using: &rng) }

        let path = dir.file("val_000000.bin")
        var checkpoint: (tokens: Int64, crc: UInt32)
        do {
            let writer = try ShardWriter.create(path: path, width: width)
            try writer.append(committed)
            checkpoint = try writer.checkpoint(sync: true)
            try writer.append(lost)
            try writer.checkpoint(sync: false)  // the lost tokens reach the file: a kill after this
        }
        #expect(try readFile(path + ".tmp").count == 1024 + width.bytes * (committed.count + lost.count))
        let resumed = try ShardWriter.resume(path: path, width: width, tokens: checkpoint.tokens, crc: checkpoint.crc)
        try resumed.append(tail)
        let (count, crc) = try resumed.finish()
        try ShardWriter.publish(path: path)

        let straight = dir.file("straight.bin")
        let writer = try ShardWriter.create(path: straight, width: width)
        try writer.append(committed + tail)
        let (count2, crc2) = try writer.finish()
        try ShardWriter.publish(path: straight)
        #expect(count == count2 && crc == crc2)
        #expect(try readFile(path) == readFile(straight))
    }

    @Test func resumeRefusesTemporaryFileShorterThanCommitted() throws {
        let dir = try TempDir()
        let path = dir.file("a.bin")
        let writer = try ShardWriter.create(path: path, width: .uint16)
        try writer.append([1, 2, 3])
        try writer.checkpoint(sync: false)
        #expect(throws: ShardsError.self) { _ = try ShardWriter.resume(path: path, width: .uint16, tokens: 10, crc: 0) }
    }

    /// llm.c's reader is numpy-simple: check that numpy reads our shard the way
    /// llm.c's `dev/data/data_common.py` / `load_tokens` do.
    @Test(.enabled(if: Run.pythonHas("numpy")))
    func numpyReadsShard() throws {
        let dir = try TempDir()
        let path = dir.file("train_000000.bin")
        let tokens: [UInt32] = [50256, 15496, 11, 995, 0, 65535]
        let writer = try ShardWriter.create(path: path, width: .uint16)
        try writer.append(tokens)
        try writer.finish()
        try ShardWriter.publish(path: path)
        let script = """
        import sys, numpy as np
        h = np.fromfile(sys.argv[1], dtype=np.int32, count=256)
        assert h[0] == 20240520 and h[1] == 1, h[:3]
        t = np.fromfile(sys.argv[1], dtype=np.uint16, offset=1024)
        assert len(t) == h[2]
        print(" ".join(map(str, t.tolist())))
        """
        let result = try Run.python(script, [path])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.trimmingCharacters(in: .whitespacesAndNewlines) == tokens.map(String.init).joined(separator: " "))
    }

    /// A uint16 shard refuses an id over 65,535, naming it and the file, and keeps what came
    /// before: the ids are checked before any is written.
    @Test func uint16ShardRefusesWiderIds() throws {
        let dir = try TempDir()
        let path = dir.file("train_000000.bin")
        let writer = try ShardWriter.create(path: path, width: .uint16)
        try writer.append([1, 65_535, 2])
        for bad: UInt32 in [65_536, 70_000, .max] {
            let error = #expect(throws: ShardsError.self) { try writer.append([3, bad, 4]) }
            #expect(error?.description.contains("token id \(bad) does not fit a uint16 shard") == true, "\(String(describing: error))")
        }
        let (count, _) = try writer.finish()
        #expect(count == 3)
        try ShardWriter.publish(path: path)
        #expect(try ShardFile.readTokens(path, 0..<3) == [1, 65_535, 2])
    }

    @Test func displayTextEscapes() {
        #expect(VocabEntry.displayText(Array(" hello".utf8)) == " hello")
        #expect(VocabEntry.displayText([0x0A, 0x09, 0x5C]) == "\\n\\t\\\\")
        #expect(VocabEntry.displayText(Array("é€😀".utf8)) == "é€😀")
        #expect(VocabEntry.displayText([0xE2, 0x82]) == "\\xE2\\x82")
        #expect(VocabEntry.displayText([0x41, 0xFF, 0x00]) == "A\\xFF\\x00")
    }

    /// The shortcut for tokens that need no escape (valid UTF-8, no control character or
    /// backslash) gives what escaping character by character gives, for tokens of all kinds:
    /// text, text with escapes, cut UTF-8, C1 controls, surrogates and overlong forms.
    @Test func displayTextShortcutAgreesWithEscaping() {
        var rng = SeededRNG(seed: 7)
        let pieces: [[UInt8]] = [Array(" the".utf8), Array("é".utf8), Array("€".utf8), Array("😀".utf8), Array("\u{85}".utf8),
                                 [0x0A], [0x5C], [0x7F], [0x00], [0xE2, 0x82], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80],
                                 [0xF4, 0x90, 0x80, 0x80], Array("語".utf8), [0x80]]
        var shortcuts = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes += pieces[Int.random(in: 0..<pieces.count, using: &rng)] }
            let shown = VocabEntry.displayText(bytes)
            #expect(shown == VocabEntry.escapedDisplayText(bytes), "\(bytes)")
            if !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0x5C }) && String(validating: bytes, as: UTF8.self) != nil {
                shortcuts += 1
            }
        }
        #expect(shortcuts > 1000, "the shortcut was taken \(shortcuts) times")
    }
}
