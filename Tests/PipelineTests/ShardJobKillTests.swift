import BPE
import Foundation
import Pipeline
import Shards
import ShardsTestSupport
import Testing
import TestSupport

/// Real kill -9: a child process (this test binary, running `shardInChildProcess`) shards the
/// fixture; the parent kills it at various moments, then finishes the job in-process. The
/// result must equal an uninterrupted run byte for byte.
@Suite struct ShardJobKillTests {
    static let childDirectory = ProcessInfo.processInfo.environment["TOKENMILL_SHARD_CHILD"]

    /// The child's work (runs only when the parent sets TOKENMILL_SHARD_CHILD).
    @Test(.enabled(if: childDirectory != nil))
    func shardInChildProcess() throws {
        let env = ProcessInfo.processInfo.environment
        let inputs = (env["TOKENMILL_SHARD_INPUTS"] ?? "").split(separator: "\n").map(String.init)
        let tokenizer = try Tokenizer.load(env["TOKENMILL_SHARD_TOKENIZER"] ?? "")
        try ShardJob.run(tokenizer: tokenizer, options: ShardJobFixture.options(Self.childDirectory!, inputs: inputs))
    }

    @Test(.enabled(if: childDirectory == nil && FileManager.default.isExecutableFile(atPath: CommandLine.arguments[0])))
    func killedAtAnyMomentResumesToTheSameResult() throws {
        let fixture = ShardJobFixture.shared
        let inputs = [fixture.inputs[0], fixture.corrupt, fixture.inputs[2]]
        let tokenizer = try Tokenizer.load(fixture.tokenizerFile)
        let reference = try TempDir()
        try ShardJob.run(tokenizer: tokenizer, options: fixture.options(reference.path, inputs: inputs))
        let expected = try snapshot(reference.path)

        // How long an uninterrupted child takes (start-up included): kill at fractions of it.
        var fullRun: Double = 0
        var killedMidway = 0
        for fraction in [nil, 0.3, 0.5, 0.65, 0.8, 0.95] as [Double?] {
            let delay = fraction.map { $0 * fullRun } ?? 600
            let out = try TempDir()
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["--testing-library", "swift-testing", "--filter", "shardInChildProcess"]
            child.environment = ProcessInfo.processInfo.environment.merging([
                "TOKENMILL_SHARD_CHILD": out.path,
                "TOKENMILL_SHARD_INPUTS": inputs.joined(separator: "\n"),
                "TOKENMILL_SHARD_TOKENIZER": fixture.tokenizerFile,
            ]) { $1 }
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            let started = Date()
            try child.run()
            if fraction == nil {
                child.waitUntilExit()
                fullRun = Date().timeIntervalSince(started)
                #expect(child.terminationStatus == 0)
            } else {
                Thread.sleep(forTimeInterval: delay)
                kill(child.processIdentifier, SIGKILL)
                child.waitUntilExit()
            }
            if child.terminationReason == .uncaughtSignal, FileManager.default.fileExists(atPath: out.file("index.sqlite")) {
                // Killed after it had committed something, before it finished. (A kill can also land
                // after the index file is created but before its tables are.)
                let db = try Database(path: out.file("index.sqlite"), readOnly: true)
                let hasTables = try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'documents'")?.int64 == 1
                let documents = !hasTables ? 0 : try db.scalar("SELECT count(*) FROM documents")?.int64 ?? 0
                let unfinished = !hasTables ? 0 : try db.scalar("SELECT count(*) FROM sources WHERE status = 'partial'")?.int64 ?? 0
                let open = !hasTables ? 0 : try db.scalar("SELECT count(*) FROM shards WHERE status = 'open'")?.int64 ?? 0
                if documents > 0 && (unfinished > 0 || open > 0) { killedMidway += 1 }
            }
            try ShardJob.run(tokenizer: tokenizer, options: fixture.options(out.path, inputs: inputs))
            let got = try snapshot(out.path)
            #expect(got.files == expected.files, "killed after \(delay) s of \(fullRun) s")
            #expect(got.tables == expected.tables, "killed after \(delay) s of \(fullRun) s")
        }
        #expect(killedMidway >= 2, "children killed after committing documents, before finishing")
    }
}
