import Corpus
import Foundation
import Testing
import TestSupport

@Suite struct InputsTests {
    /// root/ a.jsonl.gz b.jsonl.gz c.txt .hidden.txt sub/ d.jsonl.gz deep/ e.txt  empty/  link -> sub
    private func tree() throws -> TempDir {
        let dir = try TempDir()
        let fm = FileManager.default
        for sub in ["sub/deep", "empty"] {
            try fm.createDirectory(atPath: dir.file(sub), withIntermediateDirectories: true)
        }
        for name in ["a.jsonl.gz", "b.jsonl.gz", "c.txt", ".hidden.txt", "sub/d.jsonl.gz", "sub/deep/e.txt"] {
            try dir.write(name, "x")
        }
        try fm.createSymbolicLink(atPath: dir.file("link"), withDestinationPath: dir.file("sub"))
        try fm.createSymbolicLink(atPath: dir.file("c-link.txt"), withDestinationPath: dir.file("c.txt"))
        return dir
    }

    @Test func filesDirectoriesAndGlobs() throws {
        let dir = try tree()
        let r = dir.path
        #expect(try Inputs.resolve(["\(r)/c.txt"]) == ["\(r)/c.txt"])
        #expect(try Inputs.resolve(["\(r)/sub"]) == ["\(r)/sub/d.jsonl.gz", "\(r)/sub/deep/e.txt"])
        #expect(try Inputs.resolve(["\(r)/*.jsonl.gz"]) == ["\(r)/a.jsonl.gz", "\(r)/b.jsonl.gz"])
        #expect(try Inputs.resolve(["\(r)/**/*.jsonl.gz"]) == ["\(r)/a.jsonl.gz", "\(r)/b.jsonl.gz", "\(r)/sub/d.jsonl.gz"])
        #expect(try Inputs.resolve(["\(r)/**/*.txt"]) == ["\(r)/c-link.txt", "\(r)/c.txt", "\(r)/sub/deep/e.txt"])
        #expect(try Inputs.resolve(["\(r)/.*.txt"]) == ["\(r)/.hidden.txt"])
        #expect(try Inputs.resolve(["\(r)/[ab].jsonl.gz", "\(r)/?.txt"]) == ["\(r)/a.jsonl.gz", "\(r)/b.jsonl.gz", "\(r)/c.txt"])
        // A whole directory: hidden files left out, the linked directory not walked.
        #expect(try Inputs.resolve([r]) == ["\(r)/a.jsonl.gz", "\(r)/b.jsonl.gz", "\(r)/c-link.txt", "\(r)/c.txt",
                                            "\(r)/sub/d.jsonl.gz", "\(r)/sub/deep/e.txt"])
        // Sorted and without repeats across arguments.
        #expect(try Inputs.resolve(["\(r)/sub/deep/e.txt", "\(r)/*.jsonl.gz", "\(r)/a.jsonl.gz", "\(r)/sub/**"])
                == ["\(r)/a.jsonl.gz", "\(r)/b.jsonl.gz", "\(r)/sub/d.jsonl.gz", "\(r)/sub/deep/e.txt"])
        // A glob matching a directory gives its files.
        #expect(try Inputs.resolve(["\(r)/s*"]) == ["\(r)/sub/d.jsonl.gz", "\(r)/sub/deep/e.txt"])
    }

    @Test func existingPathWithGlobCharactersIsTakenAsIs() throws {
        let dir = try TempDir()
        let odd = try dir.write("notes [draft]?.txt", "x")
        #expect(try Inputs.resolve([odd]) == [odd])
    }

    @Test func nothingMatchedIsAnErrorNamingThePattern() throws {
        let dir = try tree()
        let r = dir.path
        #expect(throws: CorpusError(kind: .noMatch, path: "\(r)/*.parquet", message: "no input file matches this pattern")) {
            try Inputs.resolve(["\(r)/c.txt", "\(r)/*.parquet"])
        }
        #expect(throws: CorpusError(kind: .noMatch, path: "\(r)/empty", message: "no input file matches this pattern")) {
            try Inputs.resolve(["\(r)/empty"])
        }
        do {
            _ = try Inputs.resolve(["\(r)/missing.txt"])
            Issue.record("no error")
        } catch {
            #expect(error.description == "\(r)/missing.txt: no such file or directory")
        }
    }

    @Test func relativePatternsFromTheRepository() throws {
        // The sample corpus, by a relative pattern (the test runs from the package root).
        let cwd = FileManager.default.currentDirectoryPath
        try #require(FileManager.default.fileExists(atPath: cwd + "/data/make_sample.py"), "cwd is \(cwd)")
        #expect(try Inputs.resolve(["data/*.jsonl.gz"]) == ["data/bible-ot.jsonl.gz", "data/fortunes.jsonl.gz"])
        #expect(try Inputs.resolve(["./data/heldout.txt"]) == ["./data/heldout.txt"])
    }
}
