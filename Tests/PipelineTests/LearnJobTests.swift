import BPE
import Corpus
import Foundation
import Pipeline
import TestSupport
import Testing

/// `LearnSettings.shouldContinue` stops a learn while counting (one thread or several) and in
/// the merge loop; nothing is returned, `LearnInterrupted` is thrown.
@Suite struct LearnJobTests {
    func settings(threads: Int) -> LearnSettings {
        var ingest = IngestOptions()
        ingest.boundary = .blank
        var vocabulary = VocabularySettings(vocabSize: 600)
        vocabulary.threads = threads
        return LearnSettings(inputs: [Run.repoRoot + "/data/bible-nt.txt.gz", Run.repoRoot + "/data/heldout.txt"],
                             ingest: ingest, vocabulary: vocabulary)
    }

    @Test(arguments: [1, 2])
    func stopsWhileCounting(threads: Int) throws {
        var s = settings(threads: threads)
        let asked = Counter()
        s.shouldContinue = { asked.increment() < 100 }   // about the 100th document
        #expect(throws: LearnInterrupted.self) { try LearnJob.run(s) }
        #expect(asked.increment() < 200, "counting stopped soon after it was asked to")
    }

    @Test func stopsInTheMergeLoopAndOtherwiseLearnsTheSame() throws {
        let plain = try LearnJob.run(settings(threads: 1))
        var s = settings(threads: 1)
        let asked = Counter()
        // Every document asks once, the check after counting once more; then every 64 merges.
        let documents = Int(plain.documents)
        s.shouldContinue = { asked.increment() < documents + 2 }
        #expect(throws: LearnInterrupted.self) { try LearnJob.run(s) }
        s.shouldContinue = { true }
        let going = try LearnJob.run(s)
        #expect(going.model.merges! == plain.model.merges! && going.model.tokens == plain.model.tokens)
    }
}
