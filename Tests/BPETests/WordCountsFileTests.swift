import BPE
import Foundation
import Testing
import TestSupport

@Suite struct WordCountsFileTests {
    @Test func countsRoundTripAndBadFilesAreNamed() throws {
        let dir = try TempDir()
        var counter = WordCounter(pattern: .cl100k)
        counter.count(Array("the cat and the hat, the end. Ünïcödé wörds 123 456".utf8))
        counter.count(Array("another document\n\n  with spaces".utf8))
        let path = dir.file("w.counts")
        try counter.save(to: path)
        let back = try WordCounter.load(path)
        #expect(back.pattern == .cl100k && back.documents == 2 && back.bytes == counter.bytes)
        #expect(back.distinctWords == counter.distinctWords)
        for word in [" the", "the", " wörds", " 456", "\n\n"] {
            #expect(back.occurrences(of: Array(word.utf8)) == counter.occurrences(of: Array(word.utf8)))
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: dir.file("cut")))
        #expect(throws: TokenizerFileError.self) { try WordCounter.load(dir.file("cut")) }
        var huge = bytes
        // The word count (after magic, name length, "cl100k", documents and bytes) made absurd.
        let at = 8 + 4 + 6 + 16
        for i in 0..<8 { huge[at + i] = 0xFF }
        try huge.write(to: URL(fileURLWithPath: dir.file("huge")))
        let error = #expect(throws: TokenizerFileError.self) { try WordCounter.load(dir.file("huge")) }
        #expect(error?.description.contains("more than the file can hold") == true)
        try Data("not counts".utf8).write(to: URL(fileURLWithPath: dir.file("text")))
        #expect(throws: TokenizerFileError(dir.file("text"), "not a word counts file (no TMWORDS1 header)")) {
            try WordCounter.load(dir.file("text"))
        }
    }
}
