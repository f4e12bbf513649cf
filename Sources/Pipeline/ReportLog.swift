import Common
import Foundation

/// A problem reading the inputs of a report; it names the file and, where it helps, the line.
///
///     out/demo/log.jsonl:7: expected ':' after a key at column 12
public struct ReportError: Error, Sendable, CustomStringConvertible, Equatable {
    public var path: String
    /// 1-based line, when the problem belongs to a line.
    public var line: Int?
    /// What went wrong, without the path.
    public var message: String

    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}

/// Reads a training log (`RUNDIR/log.jsonl`): one JSON object per step, e.g.
///
///     {"step":0,"train_loss":8.3,"lr":0.0003,"grad_norm":1.9,"ms":103.5,"tokens_per_second":9893.1}
///
/// plus `"val_loss"` on evaluation steps and, optionally, `"tokens"` (tokens trained on when the
/// loss was measured). Unknown fields are ignored; `null`, `NaN` and `Infinity` are non-finite
/// numbers; objects without `"step"` (other events) are skipped; a last line cut short by a
/// writer that is still running (no final newline) is dropped. When a step number does not go up
/// (a run resumed from an earlier checkpoint appended to the log), the later records replace the
/// earlier ones from that step on.
public enum RunLog {
    /// Reads and parses the log at `path`. Without a `"tokens"` field, a step's tokens are
    /// `step × tokensPerStep` (or unknown when `tokensPerStep` is nil).
    public static func read(_ path: String, tokensPerStep: UInt64? = nil) throws(ReportError) -> [StepRecord] {
        guard FileSystem.exists(path) else { throw ReportError(path: path, message: "no such file or directory") }
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw ReportError(path: path, message: error.message) }
        return try parse(bytes, path: path, tokensPerStep: tokensPerStep)
    }

    /// Parses log lines; `path` only names the source in errors.
    public static func parse(_ bytes: [UInt8], path: String = "log.jsonl",
                             tokensPerStep: UInt64? = nil) throws(ReportError) -> [StepRecord] {
        var records: [StepRecord] = []
        var lineStart = 0, lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n"))
            let lineEnd = newline ?? bytes.count
            defer { lineStart = lineEnd + 1 }
            let line = bytes[lineStart..<lineEnd]
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let fields: [String: LogValue]
            do {
                fields = try FlatJSONObject.parse(line)
            } catch {
                if newline == nil { break }   // a final line still being written
                throw ReportError(path: path, line: lineNumber, message: error.message)
            }
            guard let record = try stepRecord(fields, tokensPerStep: tokensPerStep, path: path, line: lineNumber)
            else { continue }
            if let last = records.last, record.step <= last.step {
                records.removeAll { $0.step >= record.step }
            }
            records.append(record)
        }
        return records
    }

    private static func stepRecord(_ f: [String: LogValue], tokensPerStep: UInt64?, path: String,
                                   line: Int) throws(ReportError) -> StepRecord? {
        guard let stepValue = f["step"] else { return nil }
        guard case .number(let s) = stepValue, let step = Int(exactly: s), step >= 0 else {
            throw ReportError(path: path, line: line, message: "\"step\" is not a non-negative integer")
        }
        func number(_ key: String) throws(ReportError) -> Double? {
            switch f[key] {
            case nil: return nil
            case .null?: return .nan
            case .number(let x)?: return x
            case .other?: throw ReportError(path: path, line: line, message: "\"\(key)\" is not a number")
            }
        }
        guard let trainLoss = try number("train_loss") else {
            throw ReportError(path: path, line: line, message: "step \(step) has no \"train_loss\"")
        }
        var tokens: UInt64? = tokensPerStep.map { UInt64(step) &* $0 }
        if let t = try number("tokens") {
            guard let exact = UInt64(exactly: t) else {
                throw ReportError(path: path, line: line, message: "\"tokens\" is not a non-negative integer")
            }
            tokens = exact
        }
        let validationLoss = try number("val_loss")
        let learningRate = try number("lr") ?? .nan
        let tokensPerSecond = try number("tokens_per_second") ?? .nan
        return StepRecord(step: step, trainLoss: trainLoss, validationLoss: validationLoss,
                          learningRate: learningRate, tokensPerSecond: tokensPerSecond, tokens: tokens)
    }
}

/// A top-level value of a log object, as far as the report cares.
enum LogValue: Equatable {
    case number(Double)
    case null
    /// A string, boolean, array or object.
    case other
}

/// Parses one JSON object whose values the report reads as numbers; nested values are skipped.
/// Accepts `NaN`, `Infinity` and `-Infinity` (Python's json writes them) besides standard JSON.
struct FlatJSONObject {
    struct Failure: Error { var message: String }

    private let bytes: ArraySlice<UInt8>
    private var i: Int

    static func parse(_ line: ArraySlice<UInt8>) throws(Failure) -> [String: LogValue] {
        var p = FlatJSONObject(bytes: line, i: line.startIndex)
        return try p.object()
    }

    private var column: Int { i - bytes.startIndex + 1 }
    private func fail(_ what: String) -> Failure {
        Failure(message: i < bytes.endIndex ? "\(what) at column \(column)" : "\(what) at the end of the line")
    }

    private mutating func skipSpace() {
        while i < bytes.endIndex, [0x20, 0x09, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func expect(_ c: Character) throws(Failure) {
        skipSpace()
        guard i < bytes.endIndex, bytes[i] == c.asciiValue else { throw fail("expected '\(c)'") }
        i += 1
    }

    private mutating func object() throws(Failure) -> [String: LogValue] {
        var fields: [String: LogValue] = [:]
        try expect("{")
        skipSpace()
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                let key = try string()
                try expect(":")
                fields[key] = try value()
                skipSpace()
                guard i < bytes.endIndex else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: "}") { i += 1; break }
                guard bytes[i] == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
                i += 1
            }
        }
        skipSpace()
        guard i == bytes.endIndex else { throw fail("unexpected text after the object") }
        return fields
    }

    /// A string; escapes are kept verbatim (keys of interest have none).
    private mutating func string() throws(Failure) -> String {
        guard i < bytes.endIndex, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        let start = i + 1
        i += 1
        while i < bytes.endIndex, bytes[i] != UInt8(ascii: "\"") {
            i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
        }
        guard i < bytes.endIndex else { throw fail("unterminated string") }
        defer { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private mutating func value() throws(Failure) -> LogValue {
        skipSpace()
        guard i < bytes.endIndex else { throw fail("expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "\""):
            _ = try string()
            return .other
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipNested()
            return .other
        default:
            let start = i
            while i < bytes.endIndex, !Self.delimiters.contains(bytes[i]) { i += 1 }
            let word = String(decoding: bytes[start..<i], as: UTF8.self)
            switch word {
            case "null": return .null
            case "true", "false": return .other
            case "NaN": return .number(.nan)
            case "Infinity": return .number(.infinity)
            case "-Infinity": return .number(-.infinity)
            default:
                i = start
                guard word.first.map({ $0 == "-" || $0.isASCII && $0.isNumber }) == true,
                      let x = Double(word) else { throw fail("expected a value") }
                i = start + word.utf8.count
                return .number(x)
            }
        }
    }

    private static let delimiters: Set<UInt8> = [0x20, 0x09, 0x0D, UInt8(ascii: ","), UInt8(ascii: "}"),
                                                  UInt8(ascii: "]"), UInt8(ascii: ":")]

    /// Skips a nested array or object, minding strings.
    private mutating func skipNested() throws(Failure) {
        var depth = 0
        repeat {
            guard i < bytes.endIndex else { throw fail("unterminated array or object") }
            switch bytes[i] {
            case UInt8(ascii: "\""): _ = try string(); continue
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
            i += 1
        } while depth > 0
    }
}
