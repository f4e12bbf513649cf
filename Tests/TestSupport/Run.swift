import Foundation

/// The result of running a child process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var out: String { String(decoding: stdout, as: UTF8.self) }
    public var err: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs external programs: the release `tokenmill` binary, Python oracles.
public enum Run {
    /// Root of the repository (found from this file's path).
    public static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // Tests/TestSupport/Run.swift → repo
        return url.path
    }()

    /// The `tokenmill` binary built beside the test bundle (or `$TOKENMILL_BIN`).
    public static let tokenmillPath: String = {
        if let p = ProcessInfo.processInfo.environment["TOKENMILL_BIN"] { return p }
        var dirs: [String] = []
        if let exe = Bundle.main.executablePath { dirs.append((exe as NSString).deletingLastPathComponent) }
        dirs.append(((CommandLine.arguments.first ?? "") as NSString).deletingLastPathComponent)
        for d in dirs {
            var url = URL(fileURLWithPath: d)
            // The test bundle may sit in `X.xctest/Contents/MacOS` or directly in the build dir.
            for _ in 0..<4 {
                let candidate = url.appendingPathComponent("tokenmill").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                url.deleteLastPathComponent()
            }
        }
        return repoRoot + "/.build/release/tokenmill"
    }()

    /// Runs `executable` with `arguments`, feeding `stdin`, and collects its output.
    @discardableResult
    public static func process(_ executable: String, _ arguments: [String], stdin: [UInt8] = [],
                               environment: [String: String]? = nil,
                               currentDirectory: String? = nil) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
        // nonisolated(unsafe): each is written by its one reading block and read after `group.wait()`.
        nonisolated(unsafe) var outData = Data(), errData = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outData = outPipe.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData = errPipe.fileHandleForReading.readDataToEndOfFile() }
        if !stdin.isEmpty { inPipe.fileHandleForWriting.write(Data(stdin)) }
        try? inPipe.fileHandleForWriting.close()
        p.waitUntilExit()
        group.wait()
        return ProcessResult(status: p.terminationStatus, stdout: Array(outData), stderr: Array(errData))
    }

    /// Runs the release `tokenmill` binary.
    @discardableResult
    public static func tokenmill(_ arguments: [String], stdin: [UInt8] = [],
                                 environment: [String: String]? = nil) throws -> ProcessResult {
        try process(tokenmillPath, arguments, stdin: stdin, environment: environment)
    }

    /// The Python interpreter used for oracles (`$PYTHON` or `python3` on PATH).
    public static let pythonPath: String? = {
        if let p = ProcessInfo.processInfo.environment["PYTHON"] { return p }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// Whether `python3 -c "import <module>"` succeeds.
    public static func pythonHas(_ module: String) -> Bool {
        guard let py = pythonPath, let r = try? process(py, ["-c", "import \(module)"]) else { return false }
        return r.status == 0
    }

    /// Runs a Python script (given as source) with arguments and stdin.
    @discardableResult
    public static func python(_ script: String, _ arguments: [String] = [], stdin: [UInt8] = []) throws -> ProcessResult {
        guard let py = pythonPath else { throw RunError.noPython }
        return try process(py, ["-c", script] + arguments, stdin: stdin)
    }
}

public enum RunError: Error, CustomStringConvertible {
    case noPython
    public var description: String { "python3 not found on PATH" }
}
