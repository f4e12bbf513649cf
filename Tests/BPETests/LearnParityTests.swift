import BPE
import Corpus
import Foundation
import TestSupport
import Testing

/// End to end: `tokenmill learn` on the sample corpus in data/ against Hugging Face's trainer
/// fed the same documents (read through the same ingest stages).
@Suite struct LearnParityTests {
    static let sample = ["data/bible-ot.jsonl.gz", "data/bible-nt.txt.gz", "data/fortunes.jsonl.gz"].map { Run.repoRoot + "/" + $0 }

    @Test(.enabled(if: Run.pythonHas("tokenizers")), arguments: [(2000, 0), (8192, 2)])
    func cliLearnEqualsHuggingFace(vocabSize: Int, minFrequency: Int) throws {
        let dir = try TempDir()
        var docs: [String] = []
        let report = try Ingest(paths: Self.sample).forEach { docs.append(String(decoding: $0.text, as: UTF8.self)) }
        #expect(report.errors.isEmpty)
        #expect(docs.count > 10_000)
        let docsPath = try dir.write("docs.json", [UInt8](JSONSerialization.data(withJSONObject: docs)))
        _ = try Oracle.run("hf_train.py", [docsPath, "\(vocabSize)", "\(minFrequency)", dir.file("hf.json"), "<|endoftext|>"])

        let r = try Run.tokenmill(["learn", "--input"] + Self.sample + ["--vocab-size", "\(vocabSize)",
                                   "--min-frequency", "\(minFrequency)", "--output", dir.file("ours"), "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        let ours = try BPEModel.loadHuggingFaceJSON(Data(contentsOf: URL(fileURLWithPath: dir.file("ours/tokenizer.json"))), path: "ours")
        let theirs = try BPEModel.loadHuggingFaceJSON(Data(contentsOf: URL(fileURLWithPath: dir.file("hf.json"))), path: "hf")
        #expect(ours.tokens == theirs.tokens)
        #expect(ours.merges == theirs.merges)
        #expect(ours.specials == theirs.specials)

        // Held-out text encodes to the same ids with HF and with us.
        let held = try String(contentsOfFile: Run.repoRoot + "/data/heldout.txt", encoding: .utf8)
        let texts = held.components(separatedBy: "\n\n")
        let hfIDs = try Oracle.encode(texts, ["hf", dir.file("ours/tokenizer.json")])
        let tok = try Tokenizer.load(dir.file("ours"))
        var enc = tok.makeEncoder()
        for (t, ids) in zip(texts, hfIDs) { #expect(enc.encode(Array(t.utf8)) == ids) }
    }

    @Test func learnIsIdenticalForOneAndTwoThreads() throws {
        let dir = try TempDir()
        for threads in [1, 2] {
            let r = try Run.tokenmill(["learn", "--input"] + Self.sample + ["--vocab-size", "3000",
                                       "--threads", "\(threads)", "--output", dir.file("t\(threads)"), "--quiet"])
            #expect(r.status == 0, "\(r.err)")
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("t1/tokenizer.json")))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("t2/tokenizer.json")))
        #expect(a == b)
    }

    @Test func maxBytesLearnsFromAPrefix() throws {
        let dir = try TempDir()
        let r = try Run.tokenmill(["learn", "--input"] + Self.sample + ["--vocab-size", "1000", "--max-bytes", "200K",
                                   "--output", dir.file("v"), "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("v/learn.json")))) as! [String: Any]
        #expect(report["sampled"] as? Bool == true)
        let bytes = (report["text_bytes"] as? NSNumber)?.intValue ?? 0
        #expect(bytes >= 200_000 && bytes < 1_200_000)
    }
}
