import Foundation
import TestSupport
import Testing

/// `tokenmill run`: the seed's example end to end, skipping of finished stages, re-running of
/// changed ones, and an interrupted training stage resuming to the uninterrupted result.
@Suite(.serialized) struct PipelineRunTests {
    /// Runs `tokenmill run FILE --run-dir DIR` from the repository root.
    func run(_ file: String, _ dir: String) throws -> ProcessResult {
        let r = try Run.process(Run.tokenmillPath, ["run", file, "--run-dir", dir], currentDirectory: Run.repoRoot)
        return r
    }

    func greedy(_ dir: String, _ prompt: String) throws -> String {
        let r = try Run.tokenmill(["generate", "--checkpoint", dir + "/train", "--tokenizer", dir + "/vocab",
                                   "--prompt", prompt, "--temperature", "0", "--max-tokens", "2"])
        #expect(r.status == 0, "\(r.err)")
        return String(r.out.dropFirst(prompt.count))
    }

    @Test func theSunRisesFromTheRightDirection() throws {
        let dir = try TempDir()
        let r = try run("pipelines/sun.toml", dir.path)
        #expect(r.status == 0, "\(r.err)")
        // Prompts that are not in the corpus verbatim: the model must use the first sentence.
        let cases = [
            ("In summer the days are long. Nobody was awake yet. A cold wind blew. The sun rises from the", " northeast"),
            ("Our base on Venus was small. We had coffee outside. The sun rises from the", " west"),
            ("In autumn the leaves fall. The sky was clear. Everyone looked up. The sun rises from the", " east"),
        ]
        for (prompt, direction) in cases {
            let out = try greedy(dir.path, prompt)
            #expect(out.hasPrefix(direction + "."), "after \(prompt.debugDescription): \(out.debugDescription)")
        }
        let report = try String(contentsOfFile: dir.file("report.html"), encoding: .utf8)
        #expect(report.contains("<svg"))
        #expect(report.contains("northeast"))
    }

    /// A small, fast pipeline over the sun corpus.
    func tinyPipeline(_ dir: TempDir, steps: Int = 40, vocab: Int = 300, channels: Int = 32, context: Int = 32) throws -> String {
        try dir.write("tiny.toml", """
        name = "tiny"
        [inputs]
        paths = ["data/sun.jsonl.gz"]
        dedup = false
        [tokenizer]
        vocab_size = \(vocab)
        [shard]
        val_fraction = 0.05
        [train]
        layers = 2
        heads = 2
        channels = \(channels)
        context = \(context)
        batch_size = 4
        steps = \(steps)
        eval_every = 20
        checkpoint_every = 10
        threads = 1
        [evaluate]
        prompts = ["We landed on Venus. The sun rises from the"]
        max_tokens = 2
        temperature = 0
        """)
    }

    func stageLines(_ r: ProcessResult) -> [String] {
        r.err.split(separator: "\n").filter { $0.hasPrefix("== ") }.map(String.init)
    }

    @Test func rerunSkipsAndAChangedSettingRerunsThatStageAndAfter() throws {
        let dir = try TempDir()
        let file = try tinyPipeline(dir)
        let run1 = try run(file, dir.file("run"))
        #expect(run1.status == 0, "\(run1.err)")
        let model = try Data(contentsOf: URL(fileURLWithPath: dir.file("run/train/model_00000040.bin")))

        let run2 = try run(file, dir.file("run"))
        #expect(stageLines(run2) == ["== vocab: up to date, skipped", "== shards: up to date, skipped",
                                     "== train: up to date, skipped", "== samples: up to date, skipped", "== report"])

        // More steps: vocab and shards stay, training and what follows run again.
        _ = try tinyPipeline(dir, steps: 50)
        let run3 = try run(file, dir.file("run"))
        #expect(run3.status == 0, "\(run3.err)")
        #expect(stageLines(run3) == ["== vocab: up to date, skipped", "== shards: up to date, skipped",
                                     "== train", "== samples", "== report"])
        // A bigger vocabulary: everything from the vocabulary on.
        _ = try tinyPipeline(dir, steps: 40, vocab: 320)
        let run4 = try run(file, dir.file("run"))
        #expect(stageLines(run4) == ["== vocab", "== shards", "== train", "== samples", "== report"])
        let model4 = try Data(contentsOf: URL(fileURLWithPath: dir.file("run/train/model_00000040.bin")))
        #expect(model4 != model)
        // Back to the first settings: the same model, bit for bit (everything is deterministic).
        _ = try tinyPipeline(dir)
        #expect(try run(file, dir.file("run")).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("run/train/model_00000040.bin"))) == model)
    }

    @Test func interruptedTrainingResumesToTheSameModel() throws {
        let dir = try TempDir()
        // A model big enough that the 30 steps after the checkpoint take a while (~10 ms each).
        let file = try tinyPipeline(dir, steps: 60, channels: 128, context: 64)
        #expect(try run(file, dir.file("whole")).status == 0)
        let want = try Data(contentsOf: URL(fileURLWithPath: dir.file("whole/train/model_00000060.bin")))

        // Kill -9 once a mid-run checkpoint exists, then run again: training resumes from it.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Run.tokenmillPath)
        p.arguments = ["run", file, "--run-dir", dir.file("cut"), "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: Run.repoRoot)
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && !FileManager.default.fileExists(atPath: dir.file("cut/train/model_00000030.state")) {
            Thread.sleep(forTimeInterval: 0.002)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: dir.file("cut/train/model_00000060.bin")), "killed too late to test resume")
        let again = try run(file, dir.file("cut"))
        #expect(again.status == 0, "\(again.err)")
        #expect(stageLines(again).contains("== train (resuming)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("cut/train/model_00000060.bin"))) == want)
        // The log holds every step once.
        let log = try String(contentsOfFile: dir.file("cut/train/log.jsonl"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 60)
    }

    @Test func ctrlCStopsTrainingWithACheckpointAndTheRunResumes() throws {
        let dir = try TempDir()
        // 600 steps of ~4 ms on one thread (the other core is left to this test's polling):
        // Ctrl-C lands mid-training.
        let tiny = try tinyPipeline(dir, steps: 600, channels: 128, context: 64)
        let file = try dir.write("tiny1.toml", "threads = 1\n" + String(contentsOfFile: tiny, encoding: .utf8))
        #expect(try run(file, dir.file("whole")).status == 0)
        let want = try Data(contentsOf: URL(fileURLWithPath: dir.file("whole/train/model_00000600.bin")))

        let errPath = dir.file("ctrlc.err")
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let q = Process()
        q.executableURL = URL(fileURLWithPath: Run.tokenmillPath)
        q.arguments = ["run", file, "--run-dir", dir.file("ctrlc")]
        q.currentDirectoryURL = URL(fileURLWithPath: Run.repoRoot)
        q.standardError = FileHandle(forWritingAtPath: errPath)
        try q.run()
        func stepsLogged() -> Int {
            ((try? String(contentsOfFile: dir.file("ctrlc/train/log.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && stepsLogged() < 20 { Thread.sleep(forTimeInterval: 0.002) }
        kill(q.processIdentifier, SIGINT)
        q.waitUntilExit()
        let err = try String(contentsOfFile: errPath, encoding: .utf8)
        #expect(q.terminationStatus == 130, "\(err)")
        #expect(err.contains("interrupted in train: the work so far is saved"), "\(err)")
        let stopped = stepsLogged()
        #expect(stopped >= 20 && stopped < 600, "interrupted too late to test: \(stopped) steps")
        // The checkpoint of the step it stopped at, and no samples or report yet.
        #expect(FileManager.default.fileExists(atPath: dir.file(String(format: "ctrlc/train/model_%08d.bin", stopped))))
        #expect(!FileManager.default.fileExists(atPath: dir.file("ctrlc/report.html")))
        let resumed = try run(file, dir.file("ctrlc"))
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(stageLines(resumed).contains("== train (resuming)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("ctrlc/train/model_00000600.bin"))) == want)
        #expect(stepsLogged() == 600)
    }

    @Test func badPipelineFileNamesTheLine() throws {
        let dir = try TempDir()
        let file = try dir.write("bad.toml", "name = \"x\"\n[inputs]\npaths = [\"data/sun.jsonl.gz\"]\n[tokenizer]\nvocab_size = 300\n[train]\nstpes = 3\n")
        let r = try run(file, dir.file("run"))
        #expect(r.status != 0)
        #expect(r.err == "tokenmill: \(file):7: unknown key 'stpes' in [train]; did you mean 'steps'?\n")
    }
}
