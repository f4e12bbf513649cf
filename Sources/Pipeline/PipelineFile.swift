import BPE
import Common
import Corpus
import Foundation
import GPT
import Shards
import TOMLKit

// A pipeline file (`pipelines/NAME.toml`) describes a whole run: inputs and ingest stages, the
// tokenizer (learned or loaded), sharding, training, evaluation prompts, the report. Each table
// decodes into the settings group that defines it (`IngestOptions`, `ShardSettings`,
// `TrainingSettings`, …), over the group's defaults: the keys are the groups' own, and unknown
// keys (with a did-you-mean), wrong types and bad values are errors naming the line. Relative
// paths are relative to the directory `tokenmill run` runs in.

/// A problem in a pipeline file, reported as `FILE:LINE: message`.
public struct PipelineError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var line: Int?
    public var message: String
    public init(_ path: String, line: Int? = nil, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }
    public var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}

/// Everything a pipeline file says, with defaults filled in.
public struct PipelineSpec: Sendable {
    public var file: String
    /// The top level: `name`, `run_dir`, `threads`.
    public var run: RunSettings
    public var name: String { run.name }
    /// Where the run writes everything: RUNDIR/vocab, RUNDIR/shards, RUNDIR/train, RUNDIR/report.html.
    public var runDir: String { run.runDir }
    /// Threads of every stage that does not set its own (0 = all cores).
    public var threads: Int { run.threads }

    /// `[inputs]`: `paths`, and the ingest stages.
    public var inputs: [String]
    public var ingest: IngestOptions

    public enum TokenizerSource: Sendable {
        case learn(VocabularySettings)
        case load(TokenizerFileSettings)
    }
    /// `[tokenizer]`.
    public var tokenizer: TokenizerSource
    /// `[shard]`.
    public var shard: ShardSettings
    /// `[train]`, when the file has one.
    public var train: TrainingSettings?
    /// `[evaluate]`.
    public var evaluate: EvaluateSettings
    /// `[report] enabled`.
    public var report: Bool
}

/// The top level of a pipeline file.
public struct RunSettings: SettingsGroup {
    /// The run's name (default: the file's name without `.toml`).
    public var name = ""
    /// Where it writes (default: `out/NAME`).
    public var runDir = ""
    /// Threads of every stage that does not set its own (0 = all cores).
    public var threads = 0
    public init() {}
    public var problem: SettingsProblem? { threads < 0 ? SettingsProblem("threads", "must be 0 or more, not \(threads)") : nil }
}

/// `[evaluate]`: what the samples stage generates from the trained model.
public struct EvaluateSettings: SettingsGroup {
    /// Prompts to continue, each also shown with its most likely next tokens.
    public var prompts: [String] = []
    public var maxTokens = 40
    /// 0: greedy.
    public var temperature = 0.0
    /// Sample from the K most likely tokens (0 = all).
    public var topK = 0
    public var seed: UInt64 = 1
    /// How many next tokens to show per prompt.
    public var nextTop = 5
    public init() {}
    public var problem: SettingsProblem? {
        if maxTokens < 1 { return SettingsProblem("maxTokens", "must be at least 1, not \(maxTokens)") }
        if !(temperature >= 0) { return SettingsProblem("temperature", "must be 0 or more, not \(temperature)") }
        if topK < 0 { return SettingsProblem("topK", "must be 0 or more, not \(topK)") }
        if nextTop < 1 { return SettingsProblem("nextTop", "must be at least 1, not \(nextTop)") }
        return nil
    }
}

/// `[report]`.
public struct ReportSettings: SettingsGroup {
    /// Write RUNDIR/report.html at the end of the run.
    public var enabled = true
    public init() {}
}

extension PipelineSpec {
    /// Reads and checks a pipeline file.
    public static func load(_ path: String) throws -> PipelineSpec {
        let text: String
        do {
            text = String(decoding: try FileSystem.read(path), as: UTF8.self)
        } catch {
            throw PipelineError(path, "cannot read the pipeline file: \(error.message)")
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw PipelineError(path, line: e.source.begin.line, "TOML syntax: \(e.description)")
        } catch {
            throw PipelineError(path, "TOML syntax: \(error)")
        }
        let file = PipelineFile(path: path, text: text, root: root)
        try file.checkTables()

        var run: RunSettings = try file.decode("")
        if run.name.isEmpty {
            let fileName = FileSystem.fileName(path)
            run.name = fileName.lastIndex(of: ".").map { String(fileName[..<$0]) } ?? fileName
        }
        if run.runDir.isEmpty { run.runDir = "out/\(run.name)" }

        var inputValues = file.values("inputs")
        guard case .array(let items)? = inputValues.removeValue(forKey: "paths"), !items.isEmpty else {
            throw file.error("inputs", "paths", "[inputs] needs paths = [\"data/*.gz\", …]: the files, directories or globs to read")
        }
        var inputs: [String] = []
        for item in items {
            guard case .string(let s) = item else { throw file.error("inputs", "paths", "inputs.paths must be a list of strings") }
            inputs.append(s)
        }
        do {
            _ = try Inputs.resolve(inputs)
        } catch {
            throw file.error("inputs", "paths", "inputs.paths: \(error)")
        }
        let ingest: IngestOptions = try file.decode("inputs", inputValues)

        var shard: ShardSettings = try file.decode("shard")
        if shard.threads == 0 { shard.threads = run.threads }
        var train: TrainingSettings? = nil
        if root["train"]?.table != nil {
            train = try file.decode("train")
            if train?.threads == 0 { train?.threads = run.threads }
        }
        let report: ReportSettings = try file.decode("report")
        return PipelineSpec(file: path, run: run, inputs: inputs, ingest: ingest, tokenizer: try file.tokenizer(),
                            shard: shard, train: train, evaluate: try file.decode("evaluate"), report: report.enabled)
    }
}

/// A pipeline file's tables, their values and the lines they are on (TOMLKit parses values but
/// does not keep positions).
struct PipelineFile {
    let path: String
    let lines: [Substring]
    let root: TOMLTable

    /// The tables a file may have; "" is the top level.
    static let tables = ["", "inputs", "tokenizer", "shard", "train", "evaluate", "report"]

    init(path: String, text: String, root: TOMLTable) {
        self.path = path
        self.root = root
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// Unknown tables, with the nearest known name. (Unknown keys are found by decoding.)
    func checkTables() throws {
        for key in root.keys where root[key]?.table != nil && !Self.tables.contains(key) {
            throw error("", nil, "unknown table [\(key)]" + didYouMean(key, Self.tables.filter { !$0.isEmpty }), line: headerLine(key))
        }
    }

    /// The keys and values of `table` ("" for the top level, without the tables).
    func values(_ table: String) -> [String: SettingValue] {
        let t = table.isEmpty ? root : root[table]?.table
        var out: [String: SettingValue] = [:]
        for key in t?.keys ?? [] {
            guard let v = t?[key] else { continue }
            if table.isEmpty, v.table != nil { continue }
            out[key] = Self.value(v)
        }
        return out
    }

    static func value(_ v: TOMLValueConvertible) -> SettingValue {
        if let b = v.bool { return .bool(b) }
        if let i = v.int { return .int(Int64(i)) }
        if let d = v.double { return .double(d) }
        if let s = v.string { return .string(s) }
        if let a = v.array { return .array(a.map { value($0) }) }
        if let t = v.table { return .object(Dictionary(uniqueKeysWithValues: t.keys.compactMap { k in t[k].map { (k, value($0)) } })) }
        return .string("\(v)")
    }

    /// `table` decoded into its settings group over the group's defaults.
    func decode<T: SettingsGroup>(_ table: String, _ given: [String: SettingValue]? = nil) throws -> T {
        do {
            return try SettingsCoding.decode(given ?? values(table))
        } catch {
            let known = SettingsCoding.property(named: error.key, in: T.self) != nil
            // The key as the file wrote it, to find its line.
            let written = known ? (given ?? values(table)).keys.first { SettingsCoding.property(named: $0, in: T.self) == error.key }
                ?? error.externalKey : error.key
            if !known {
                throw self.error(table, written, "unknown key '\(written)'" + (table.isEmpty ? "" : " in [\(table)]")
                                 + error.message.dropFirst("unknown setting".count))
            }
            throw self.error(table, written, "\(qualified(table, written)) \(error.message)")
        }
    }

    func qualified(_ table: String, _ key: String) -> String { table.isEmpty ? key : "\(table).\(key)" }

    func error(_ table: String, _ key: String?, _ message: String, line: Int? = nil) -> PipelineError {
        PipelineError(path, line: line ?? self.line(table, key), message)
    }

    /// 1-based line of `[table]`'s header (nil for the top level).
    func headerLine(_ table: String) -> Int? {
        guard !table.isEmpty else { return nil }
        for (i, l) in lines.enumerated() {
            let t = l.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("[") && t.dropFirst().prefix(while: { $0 != "]" }).trimmingCharacters(in: .whitespaces) == table {
                return i + 1
            }
        }
        return nil
    }

    /// 1-based line where `key` is set in `table` ("" for the top level).
    func line(_ table: String, _ key: String? = nil) -> Int? {
        let header = headerLine(table)
        guard let key else { return header }
        func keyName(_ l: Substring) -> String {
            l.prefix(while: { $0 != "=" }).trimmingCharacters(in: .whitespaces)
        }
        var i = header ?? 0            // the line after the header (0-based index)
        while i < lines.count {
            let t = lines[i].trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("[") { break }
            let name = keyName(lines[i])
            if t.contains("=") && (name == key || name == "\"\(key)\"") { return i + 1 }
            i += 1
        }
        // A dotted key (`train.steps = 10`) at the top level.
        for (j, l) in lines.enumerated() where keyName(l) == "\(table).\(key)" { return j + 1 }
        return header
    }

    // MARK: the tokenizer table

    /// `[tokenizer]`: a vocabulary to learn (`VocabularySettings`), or with `path`, a tokenizer
    /// file to load (`TokenizerFileSettings`).
    func tokenizer() throws -> PipelineSpec.TokenizerSource {
        let given = values("tokenizer")
        guard given["path"] != nil else {
            if given.isEmpty { throw error("tokenizer", nil, "[tokenizer] needs vocab_size = N (to learn one) or path = \"…\" (to load one)") }
            return .learn(try decode("tokenizer"))
        }
        if case .string(let path)? = given["path"], !FileSystem.exists(path) {
            throw error("tokenizer", "path", "tokenizer.path: \(path): no such file or directory")
        }
        for key in given.keys.sorted() where SettingsCoding.property(named: key, in: VocabularySettings.self) != nil {
            throw error("tokenizer", key, "[tokenizer] has both path (to load a tokenizer) and \(key) (to learn one): choose one")
        }
        return .load(try decode("tokenizer"))
    }
}

/// `[tokenizer]` when it loads a tokenizer: a tokenizer.json, a directory holding one, or a
/// tiktoken rank file with its pre-tokenization pattern and special tokens (or a preset's).
public struct TokenizerFileSettings: SettingsGroup {
    public var path = ""
    public var pattern: PreTokenizerPattern? = nil
    public var preset: TokenizerPreset? = nil
    /// Special tokens of a rank file, as `NAME=ID`.
    public var specialIds: [SpecialToken] = []
    public init() {}

    public func load() throws -> Tokenizer {
        try Tokenizer.load(path, pattern: pattern, preset: preset, specials: specialIds)
    }
}
