import BPE
import Foundation
import TestSupport
import Testing

/// `Tokenizer.save(into:copying:)`: the tokenizer a corpus or run directory carries.
@Suite struct TokenizerSaveTests {
    /// Inode and modification time of a file: unchanged when nothing was written to it.
    func stamp(_ path: String) throws -> (inode: Int, modified: Date) {
        let a = try FileManager.default.attributesOfItem(atPath: path)
        return ((a[.systemFileNumber] as? NSNumber)?.intValue ?? -1, a[.modificationDate] as? Date ?? .distantPast)
    }

    @Test func aTokenizerJSONIsCopiedByteForByte() throws {
        let dir = try TempDir()
        // Formatted unlike TokenMill writes it (one line, members in another order): a copy keeps that.
        let tree = try JSONSerialization.jsonObject(with: Data(sharedModel.huggingFaceJSON().utf8))
        let source = try dir.write("source.json", [UInt8](try JSONSerialization.data(withJSONObject: tree, options: [.sortedKeys])))
        let tokenizer = try Tokenizer.load(source)
        try tokenizer.save(into: dir.file("out"))
        let copied = try #require(FileManager.default.contents(atPath: dir.file("out/tokenizer.json")))
        #expect(copied == FileManager.default.contents(atPath: source))
        #expect(try Tokenizer.load(dir.file("out")).fingerprint == tokenizer.fingerprint)
    }

    /// A tokenizer made from a model is copied from `copying` when that file is the same
    /// tokenizer, and saved when it is not.
    @Test func theSourceFileIsCopiedOnlyWhenItIsTheSameTokenizer() throws {
        let dir = try TempDir()
        let tree = try JSONSerialization.jsonObject(with: Data(sharedModel.huggingFaceJSON().utf8))
        try FileManager.default.createDirectory(atPath: dir.file("vocab"), withIntermediateDirectories: true)
        let source = try dir.write("vocab/tokenizer.json", [UInt8](try JSONSerialization.data(withJSONObject: tree, options: [.sortedKeys])))
        let inMemory = try Tokenizer(sharedModel)
        try inMemory.save(into: dir.file("same"), copying: dir.file("vocab"))
        #expect(FileManager.default.contents(atPath: dir.file("same/tokenizer.json")) == FileManager.default.contents(atPath: source))

        var other = sharedModel
        other.ignoreMerges = true  // another tokenizer (another fingerprint), of the same tokens
        let different = try Tokenizer(other)
        try different.save(into: dir.file("other"), copying: source)
        #expect(FileManager.default.contents(atPath: dir.file("other/tokenizer.json")) == Data(other.huggingFaceJSON().utf8))
    }

    @Test func aRankFileTokenizerIsSaved() throws {
        let dir = try TempDir()
        var ranks = sharedModel
        ranks.merges = nil
        let file = try dir.write("v.tiktoken", ranks.tiktokenFile())
        let tokenizer = try Tokenizer.load(file, pattern: .gpt2, specials: ranks.specials)
        try tokenizer.save(into: dir.file("out"), copying: file)
        // tokenizer.json (merges derived from the ranks), the rank file and its sidecar.
        let model = try Tokenizer.load(file, pattern: .gpt2, specials: ranks.specials).model
        #expect(FileManager.default.contents(atPath: dir.file("out/tokenizer.json")) == Data(model.huggingFaceJSON().utf8))
        #expect(FileManager.default.contents(atPath: dir.file("out/tokenizer.tiktoken")) == Data(ranks.tiktokenFile().utf8))
        let loaded = try Tokenizer.load(dir.file("out"))
        #expect(loaded.fingerprint == tokenizer.fingerprint && loaded.model.merges == nil)
    }

    @Test func nothingIsWrittenWhenTheDirectoryHoldsTheTokenizer() throws {
        let dir = try TempDir()
        let source = try dir.write("source.json", sharedModel.huggingFaceJSON())
        let copied = try Tokenizer.load(source)
        try copied.save(into: dir.file("copy"))
        var ranks = sharedModel
        ranks.merges = nil
        let saved = try Tokenizer.load(try dir.write("v.tiktoken", ranks.tiktokenFile()), pattern: .gpt2, specials: ranks.specials)
        try saved.save(into: dir.file("saved"))
        let files = ["copy/tokenizer.json", "saved/tokenizer.json", "saved/tokenizer.tiktoken", "saved/tokenizer.tokenmill.json"]
        let before = try files.map { try stamp(dir.file($0)) }
        Thread.sleep(forTimeInterval: 0.02)  // a rewrite would show in the modification time too
        try copied.save(into: dir.file("copy"))
        try saved.save(into: dir.file("saved"))
        for (file, was) in zip(files, before) {
            let now = try stamp(dir.file(file))
            #expect(now.inode == was.inode && now.modified == was.modified, "\(file) was rewritten")
        }
    }

    @Test func aDirectoryThatCannotBeWrittenIsNamed() throws {
        let dir = try TempDir()
        let blocker = try dir.write("file", "not a directory")
        let tokenizer = try Tokenizer(sharedModel)
        #expect(throws: TokenizerFileError.self) { try tokenizer.save(into: blocker + "/out") }
        do {
            try tokenizer.save(into: blocker + "/out")
        } catch let error as TokenizerFileError {
            #expect(error.path.hasPrefix(blocker))
        }
    }
}
