import Common
import Foundation
import Testing
import TestSupport

@Suite struct FileSystemTests {
    @Test func paths() {
        #expect(FileSystem.join("out", "vocab", "tokenizer.json") == "out/vocab/tokenizer.json")
        #expect(FileSystem.join("out/", "x") == "out/x")
        #expect(FileSystem.join("", "x") == "x")
        #expect(FileSystem.fileName("out/vocab/tokenizer.json") == "tokenizer.json")
        #expect(FileSystem.fileName("out/vocab/") == "vocab")
        #expect(FileSystem.parent("out/vocab/tokenizer.json") == "out/vocab")
        #expect(FileSystem.parent("tokenizer.json") == "")
        #expect(FileSystem.parent("/x") == "/")
    }

    @Test func directoriesSizesAndAtomicWrites() throws {
        let dir = try TempDir()
        let nested = FileSystem.join(dir.path, "a/b/c")
        try FileSystem.makeDirectory(nested)
        #expect(FileSystem.isDirectory(nested))
        let file = FileSystem.join(nested, "f.bin")
        try FileSystem.writeAtomically(file, [1, 2, 3])
        #expect(FileSystem.size(file) == 3)
        #expect(try FileSystem.read(file) == [1, 2, 3])
        #expect(!FileSystem.exists(file + ".tmp"))
        #expect(try FileSystem.list(nested) == ["f.bin"])
        #expect(throws: FileError(path: file, "exists and is not a directory")) { try FileSystem.makeDirectory(file) }
        #expect(throws: FileError(path: file + "/x", "cannot create directory: a part of the path is a file, not a directory")) {
            try FileSystem.makeDirectory(file + "/x")
        }
        #expect(FileSystem.size(FileSystem.join(dir.path, "missing")) == nil)
        try FileSystem.remove(FileSystem.join(dir.path, "missing"))   // a missing file is fine
        try FileSystem.removeTree(FileSystem.join(dir.path, "a"))
        #expect(!FileSystem.exists(nested))
    }

    @Test func aLockIsExclusiveAndNamesItsHolder() throws {
        let dir = try TempDir()
        let path = FileSystem.join(dir.path, "x.lock")
        let lock = try ExclusiveLock(path: path, holder: "tokenmill test", writing: "this thing")
        // flock locks belong to the open file description: a second open in the same process conflicts too.
        do {
            _ = try ExclusiveLock(path: path, holder: "tokenmill test", writing: "this thing")
            Issue.record("a second lock was granted")
        } catch {
            #expect(error.message == "tokenmill test (pid \(getpid())) is writing this thing: wait for it to end, or stop it, then run again")
        }
        lock.release()
        _ = try ExclusiveLock(path: path, holder: "tokenmill test", writing: "this thing")
    }
}
