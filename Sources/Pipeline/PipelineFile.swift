import BPE
import Corpus
import Foundation
import TOMLKit

// A pipeline file (`pipelines/NAME.toml`) describes a whole run: inputs and ingest stages, the
// tokenizer (learned or loaded), sharding, training, evaluation prompts, the report. This file
// reads and checks it: unknown keys (with a did-you-mean), wrong types and missing files are
// errors naming the line. Relative paths are relative to the directory `tokenmill run` runs in.

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
    public var name: String
    /// Where the run writes everything: RUNDIR/vocab, RUNDIR/shards, RUNDIR/train, RUNDIR/report.html.
    public var runDir: String

    public var inputs: [String]
    public var ingest: IngestOptions

    public enum TokenizerSource: Sendable {
        case learn(BPETrainerConfig, maxBytes: Int64?)
        /// A tokenizer file (tokenizer.json or .tiktoken) with its pattern and specials.
        case load(path: String, pattern: PreTokenizerPattern?, specials: [SpecialToken])
    }
    public var tokenizer: TokenizerSource

    public struct Shard: Sendable, Codable, Hashable {
        public var shardTokens: Int = 100_000_000
        public var valFraction: Double = 0.005
    }
    public var shard = Shard()

    public struct Train: Sendable, Codable, Hashable {
        public var layers = 4, heads = 4, channels = 128, context = 128, batchSize = 8
        public var steps = 200
        public var lr = 3e-4, warmup = 20, weightDecay = 0.0, gradClip = 1.0
        /// The cosine decay's floor as a fraction of `lr`, and AdamW's β1, β2, ε
        /// (TrainingSettings' defaults).
        public var lrMin = 0.0, beta1 = 0.9, beta2 = 0.95, eps = 1e-8
        public var seed: UInt64 = 1337
        public var evalEvery = 50, evalBatches = 4, checkpointEvery = 100, gradAccum = 1
        public var shuffle = true
        public var threads = 0        // 0: all cores
    }
    public var train: Train?

    public struct Evaluate: Sendable, Codable, Hashable {
        public var prompts: [String] = []
        public var maxTokens = 40
        public var temperature = 0.0
        public var topK = 0
        public var seed: UInt64 = 1
        public var nextTop = 5
    }
    public var evaluate = Evaluate()

    public var report = true
    public var threads = 0
}

extension PipelineSpec {
    /// Reads and checks a pipeline file.
    public static func load(_ path: String) throws -> PipelineSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError(path, "cannot read the pipeline file")
        }
        let text = String(decoding: data, as: UTF8.self)
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw PipelineError(path, line: e.source.begin.line, "TOML syntax: \(e.description)")
        } catch {
            throw PipelineError(path, "TOML syntax: \(error)")
        }
        let reader = SpecReader(path: path, text: text)
        try reader.checkKeys(root)
        return try reader.build(root)
    }
}

/// The keys a pipeline file may hold, per table, and what each must be.
enum ValueKind: Equatable {
    case string, integer, number, bool, strings, size
    case choice([String])

    var name: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .number: return "a number"
        case .bool: return "true or false"
        case .strings: return "an array of strings"
        case .size: return "a size (an integer or a string like \"100M\")"
        case let .choice(options): return "one of " + options.map { "\"\($0)\"" }.joined(separator: ", ")
        }
    }
}

let pipelineSchema: [String: [String: ValueKind]] = [
    "": ["name": .string, "run_dir": .string, "threads": .integer],
    "inputs": ["paths": .strings, "format": .choice(IngestOptions.Format.allCases.map(\.rawValue)),
               "text_field": .string, "boundary": .choice(IngestOptions.Boundary.allCases.map(\.rawValue)),
               "invalid_utf8": .choice(IngestOptions.InvalidUTF8.allCases.map(\.rawValue)),
               "min_length": .integer, "dedup": .bool, "normalize": .strings],
    "tokenizer": ["vocab_size": .integer, "pre_tokenizer": .choice(["gpt2", "gpt4", "cl100k", "o200k", "llama3"]),
                  "special": .strings, "min_frequency": .integer, "max_bytes": .size,
                  "path": .string, "pattern": .choice(PreTokenizerPattern.allCases.map(\.rawValue)),
                  "preset": .choice(TokenizerPreset.allCases.map(\.rawValue)), "special_ids": .strings],
    "shard": ["shard_tokens": .size, "val_fraction": .number],
    "train": ["layers": .integer, "heads": .integer, "channels": .integer, "context": .integer,
              "batch_size": .integer, "steps": .integer, "lr": .number, "warmup": .integer,
              "weight_decay": .number, "grad_clip": .number, "lr_min": .number, "beta1": .number, "beta2": .number,
              "eps": .number, "seed": .integer, "eval_every": .integer,
              "eval_batches": .integer, "checkpoint_every": .integer, "grad_accum": .integer,
              "shuffle": .bool, "threads": .integer],
    "evaluate": ["prompts": .strings, "max_tokens": .integer, "temperature": .number, "top_k": .integer,
                 "seed": .integer, "next_top": .integer],
    "report": ["enabled": .bool],
]

/// Finds lines of keys in the file text (TOMLKit parses values but does not keep positions).
struct SpecReader {
    let path: String
    let lines: [Substring]

    init(path: String, text: String) {
        self.path = path
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
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

    func error(_ table: String, _ key: String?, _ message: String) -> PipelineError {
        PipelineError(path, line: line(table, key), message)
    }

    func qualified(_ table: String, _ key: String) -> String { table.isEmpty ? key : "\(table).\(key)" }

    /// Unknown tables and keys, with the nearest known name.
    func checkKeys(_ root: TOMLTable) throws {
        for key in root.keys {
            if let sub = root[key]?.table {
                guard let schema = pipelineSchema[key] else {
                    let known = pipelineSchema.keys.filter { !$0.isEmpty }
                    throw error("", nil, "unknown table [\(key)]" + didYouMean(key, known)).withLine(headerLine(key))
                }
                for k in sub.keys where schema[k] == nil {
                    throw error(key, k, "unknown key '\(k)' in [\(key)]" + didYouMean(k, Array(schema.keys)))
                }
            } else if pipelineSchema[""]![key] == nil {
                let known = Array(pipelineSchema[""]!.keys) + pipelineSchema.keys.filter { !$0.isEmpty }
                throw error("", key, "unknown key '\(key)'" + didYouMean(key, known))
            }
        }
    }

    // MARK: typed access

    func value(_ root: TOMLTable, _ table: String, _ key: String) -> TOMLValueConvertible? {
        table.isEmpty ? root[key] : root[table]?.table?[key]
    }

    func typeError(_ table: String, _ key: String, _ kind: ValueKind, _ v: TOMLValueConvertible) -> PipelineError {
        error(table, key, "\(qualified(table, key)) must be \(kind.name), not \(v.type)")
    }

    func string(_ root: TOMLTable, _ table: String, _ key: String) throws -> String? {
        guard let v = value(root, table, key) else { return nil }
        guard let s = v.string else { throw typeError(table, key, .string, v) }
        if case let .choice(options)? = pipelineSchema[table]?[key], !options.contains(s) {
            throw error(table, key, "\(qualified(table, key)) = \"\(s)\": must be \(ValueKind.choice(options).name)" + didYouMean(s, options))
        }
        return s
    }

    func int(_ root: TOMLTable, _ table: String, _ key: String, min: Int = 0) throws -> Int? {
        guard let v = value(root, table, key) else { return nil }
        guard let i = v.int else { throw typeError(table, key, .integer, v) }
        if i < min { throw error(table, key, "\(qualified(table, key)) must be at least \(min), not \(i)") }
        return i
    }

    func number(_ root: TOMLTable, _ table: String, _ key: String) throws -> Double? {
        guard let v = value(root, table, key) else { return nil }
        if let d = v.double { return d }
        if let i = v.int { return Double(i) }
        throw typeError(table, key, .number, v)
    }

    func bool(_ root: TOMLTable, _ table: String, _ key: String) throws -> Bool? {
        guard let v = value(root, table, key) else { return nil }
        guard let b = v.bool else { throw typeError(table, key, .bool, v) }
        return b
    }

    func strings(_ root: TOMLTable, _ table: String, _ key: String) throws -> [String]? {
        guard let v = value(root, table, key) else { return nil }
        guard let a = v.array else { throw typeError(table, key, .strings, v) }
        var out: [String] = []
        for item in a {
            guard let s = item.string else { throw typeError(table, key, .strings, v) }
            out.append(s)
        }
        return out
    }

    func size(_ root: TOMLTable, _ table: String, _ key: String) throws -> Int64? {
        guard let v = value(root, table, key) else { return nil }
        if let i = v.int, i >= 0 { return Int64(i) }
        if let s = v.string, let n = parseByteSize(s) { return n }
        throw typeError(table, key, .size, v)
    }

    // MARK: building the spec

    func build(_ root: TOMLTable) throws -> PipelineSpec {
        let name = try string(root, "", "name") ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let runDir = try string(root, "", "run_dir") ?? "out/\(name)"

        guard let paths = try strings(root, "inputs", "paths"), !paths.isEmpty else {
            throw error("inputs", "paths", "[inputs] needs paths = [\"data/*.gz\", …]: the files, directories or globs to read")
        }
        do {
            _ = try Inputs.resolve(paths)
        } catch {
            throw self.error("inputs", "paths", "inputs.paths: \(error)")
        }
        var ingest = IngestOptions()
        if let s = try string(root, "inputs", "format") { ingest.format = IngestOptions.Format(rawValue: s)! }
        if let s = try string(root, "inputs", "text_field") { ingest.textField = s }
        if let s = try string(root, "inputs", "boundary") { ingest.boundary = IngestOptions.Boundary(rawValue: s)! }
        if let s = try string(root, "inputs", "invalid_utf8") { ingest.invalidUTF8 = IngestOptions.InvalidUTF8(rawValue: s)! }
        if let i = try int(root, "inputs", "min_length") { ingest.minLength = i }
        if let b = try bool(root, "inputs", "dedup") { ingest.dedup = b }
        for stage in try strings(root, "inputs", "normalize") ?? [] {
            switch stage {
            case "line-endings", "line_endings": ingest.normalizeLineEndings = true
            case "nfc": ingest.normalizeNFC = true
            case "whitespace": ingest.normalizeWhitespace = true
            default:
                throw error("inputs", "normalize", "inputs.normalize: unknown stage \"\(stage)\": use line-endings, nfc or whitespace"
                            + didYouMean(stage, ["line-endings", "nfc", "whitespace"]))
            }
        }

        let tokenizer: PipelineSpec.TokenizerSource
        if let file = try string(root, "tokenizer", "path") {
            guard FileManager.default.fileExists(atPath: file) else {
                throw error("tokenizer", "path", "tokenizer.path: \(file): no such file or directory")
            }
            if value(root, "tokenizer", "vocab_size") != nil {
                throw error("tokenizer", "vocab_size", "[tokenizer] has both path (load) and vocab_size (learn): choose one")
            }
            let preset = try string(root, "tokenizer", "preset").flatMap(TokenizerPreset.init(rawValue:))
            var pattern = try string(root, "tokenizer", "pattern").flatMap(PreTokenizerPattern.init(rawValue:))
            var specials: [SpecialToken] = []
            for s in try strings(root, "tokenizer", "special_ids") ?? [] {
                guard let eq = s.lastIndex(of: "="), let id = UInt32(s[s.index(after: eq)...]) else {
                    throw error("tokenizer", "special_ids", "tokenizer.special_ids: \"\(s)\" is not NAME=ID")
                }
                specials.append(SpecialToken(String(s[..<eq]), id: id))
            }
            if let preset {
                pattern = pattern ?? preset.pattern
                if specials.isEmpty { specials = preset.specials }
            }
            tokenizer = .load(path: file, pattern: pattern, specials: specials)
        } else {
            guard let vocab = try int(root, "tokenizer", "vocab_size", min: 257) else {
                throw error("tokenizer", nil, "[tokenizer] needs vocab_size = N (to learn one) or path = \"…\" (to load one)")
            }
            let pre = try string(root, "tokenizer", "pre_tokenizer") ?? "gpt2"
            let pattern: PreTokenizerPattern = pre == "gpt4" ? .cl100k : PreTokenizerPattern(rawValue: pre)!
            let config = BPETrainerConfig(vocabSize: vocab, minFrequency: UInt64(try int(root, "tokenizer", "min_frequency") ?? 0),
                                       specialTokens: try strings(root, "tokenizer", "special") ?? ["<|endoftext|>"],
                                       pattern: pattern)
            tokenizer = .learn(config, maxBytes: try size(root, "tokenizer", "max_bytes"))
        }

        var spec = PipelineSpec(file: path, name: name, runDir: runDir, inputs: paths, ingest: ingest, tokenizer: tokenizer)
        spec.threads = try int(root, "", "threads") ?? 0
        if let n = try size(root, "shard", "shard_tokens") {
            guard n >= 1, n <= 1 << 30 else { throw error("shard", "shard_tokens", "shard.shard_tokens must be between 1 and 2^30") }
            spec.shard.shardTokens = Int(n)
        }
        if let f = try number(root, "shard", "val_fraction") {
            guard f >= 0, f < 1 else { throw error("shard", "val_fraction", "shard.val_fraction must be in [0, 1)") }
            spec.shard.valFraction = f
        }
        if root["train"]?.table != nil {
            var t = PipelineSpec.Train()
            t.layers = try int(root, "train", "layers", min: 1) ?? t.layers
            t.heads = try int(root, "train", "heads", min: 1) ?? t.heads
            t.channels = try int(root, "train", "channels", min: 1) ?? t.channels
            t.context = try int(root, "train", "context", min: 2) ?? t.context
            t.batchSize = try int(root, "train", "batch_size", min: 1) ?? t.batchSize
            t.steps = try int(root, "train", "steps", min: 1) ?? t.steps
            t.lr = try number(root, "train", "lr") ?? t.lr
            t.warmup = try int(root, "train", "warmup") ?? t.warmup
            t.weightDecay = try number(root, "train", "weight_decay") ?? t.weightDecay
            t.gradClip = try number(root, "train", "grad_clip") ?? t.gradClip
            t.lrMin = try number(root, "train", "lr_min") ?? t.lrMin
            t.beta1 = try number(root, "train", "beta1") ?? t.beta1
            t.beta2 = try number(root, "train", "beta2") ?? t.beta2
            t.eps = try number(root, "train", "eps") ?? t.eps
            if !(0...1).contains(t.lrMin) { throw error("train", "lr_min", "train.lr_min must be in 0…1 (a fraction of lr), not \(t.lrMin)") }
            for (key, beta) in [("beta1", t.beta1), ("beta2", t.beta2)] where !(beta >= 0 && beta < 1) {
                throw error("train", key, "train.\(key) must be in [0, 1), not \(beta)")
            }
            if !(t.eps > 0) { throw error("train", "eps", "train.eps must be positive, not \(t.eps)") }
            t.seed = UInt64(try int(root, "train", "seed") ?? Int(t.seed))
            t.evalEvery = try int(root, "train", "eval_every") ?? t.evalEvery
            t.evalBatches = try int(root, "train", "eval_batches", min: 1) ?? t.evalBatches
            t.checkpointEvery = try int(root, "train", "checkpoint_every") ?? t.checkpointEvery
            t.gradAccum = try int(root, "train", "grad_accum", min: 1) ?? t.gradAccum
            t.shuffle = try bool(root, "train", "shuffle") ?? t.shuffle
            t.threads = try int(root, "train", "threads") ?? spec.threads
            if t.channels % t.heads != 0 {
                throw error("train", "channels", "train.channels (\(t.channels)) must be a multiple of train.heads (\(t.heads))")
            }
            spec.train = t
        }
        var e = PipelineSpec.Evaluate()
        e.prompts = try strings(root, "evaluate", "prompts") ?? []
        e.maxTokens = try int(root, "evaluate", "max_tokens", min: 1) ?? e.maxTokens
        e.temperature = try number(root, "evaluate", "temperature") ?? e.temperature
        e.topK = try int(root, "evaluate", "top_k") ?? e.topK
        e.seed = UInt64(try int(root, "evaluate", "seed") ?? Int(e.seed))
        e.nextTop = try int(root, "evaluate", "next_top", min: 1) ?? e.nextTop
        spec.evaluate = e
        spec.report = try bool(root, "report", "enabled") ?? true
        return spec
    }
}

extension PipelineError {
    func withLine(_ line: Int?) -> PipelineError {
        var e = self
        if let line { e.line = line }
        return e
    }
}

/// " (did you mean 'steps'?)" for the known name nearest to `word`, if it is near enough.
func didYouMean(_ word: String, _ known: [String]) -> String {
    var best: (name: String, distance: Int)? = nil
    for name in known.sorted() {
        let d = editDistance(word.lowercased(), name.lowercased())
        if best == nil || d < best!.distance { best = (name, d) }
    }
    guard let best, best.distance <= max(2, word.count / 3) else { return "" }
    return "; did you mean '\(best.name)'?"
}

/// Levenshtein distance.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            let substitution = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, substitution)
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}

/// Parses sizes like `500000`, `10M`, `1.5G`, `64KiB` (K/M/G/T decimal, KiB/MiB/GiB/TiB binary).
public func parseByteSize(_ text: String) -> Int64? {
    let s = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
                                     ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12),
                                     ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("B", 1)]
    for (suffix, factor) in units where s.uppercased().hasSuffix(suffix.uppercased()) {
        guard let v = Double(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v >= 0 else { return nil }
        return Int64(v * factor)
    }
    guard let v = Int64(s), v >= 0 else { return nil }
    return v
}
