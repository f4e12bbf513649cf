// Text and JSON renderings of the stats views. Text is for people (aligned tables, grouped
// digits); JSON is the stable contract (snake_case keys, sorted; optional values that are
// undefined — e.g. bytes per token of an empty split — are left out).
import Foundation

public enum StatsFormat {
    /// Pretty, key-sorted JSON with snake_case keys, ending in a newline.
    public static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(value) else { return "{}\n" }  // only non-finite doubles fail; none are produced
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: text

    public static func text(_ s: StatsSummary) -> String {
        var out = "corpus      \(s.directory)\n"
        out += "tokenizer   \(s.tokenizerFingerprint)  vocab \(group(Int64(s.vocabSize)))  "
            + "uint\(s.tokenWidth * 8) tokens  end-of-text id \(s.eotID)\n"
        out += "settings    shard tokens \(group(s.shardTokens))  val fraction \(s.valFraction)\n\n"
        var table = TextTable(["split", "documents", "tokens", "text bytes", "bytes/token", "shards"], right: [false, true, true, true, true, true])
        for split in s.splits {
            table.add([split.split.rawValue, group(split.documents), group(split.tokens), group(split.textBytes),
                       fixed(split.bytesPerToken), group(split.shards)])
        }
        table.add(["total", group(s.documents), group(s.tokens), group(s.textBytes), fixed(s.bytesPerToken), group(s.shards)])
        out += table.render() + "\n"
        var sources = "\(group(s.sources.total)) (\(group(s.sources.done)) done"
        if s.sources.partial > 0 { sources += ", \(group(s.sources.partial)) partial" }
        if s.sources.error > 0 { sources += ", \(group(s.sources.error)) with errors" }
        out += "sources     \(sources)), \(group(s.inputBytes)) input bytes (\(humanBytes(s.inputBytes)))\n"
        if s.openShards > 0 { out += "open shards \(group(s.openShards)) (sharding unfinished)\n" }
        out += "records     \(group(s.records)): \(group(s.documents)) kept, \(group(s.duplicates)) duplicates, "
            + "\(group(s.skipped)) skipped\n"
        if !s.skips.isEmpty {
            out += "skipped     " + s.skips.map { "\($0.reason) \(group($0.count))" }.joined(separator: ", ") + "\n"
        }
        return out
    }

    public static func text(_ t: TokenStats) -> String {
        var table = TextTable(["rank", "id", "token", "count", "share", "train", "val"], right: [true, true, false, true, true, true, true])
        for row in t.tokens {
            table.add([group(row.rank), String(row.id), quoted(row), group(row.count), percent(row.share),
                       group(row.trainCount), group(row.valCount)])
        }
        return table.render() + "\(group(t.totalTokens)) tokens, \(group(t.distinctTokens)) distinct\n"
    }

    public static func text(_ s: SourceStats) -> String {
        var table = TextTable(["id", "status", "documents", "tokens", "bytes/token", "duplicates", "skipped", "path"],
                              right: [true, false, true, true, true, true, true, false])
        for r in s.sources {
            table.add([String(r.id), r.status.rawValue, group(r.documents), group(r.tokens), fixed(r.bytesPerToken),
                       group(r.duplicates), group(r.skipped), r.path])
        }
        var out = table.render()
        for r in s.sources {
            if let error = r.error { out += "source \(r.id) error: \(error)\n" }
            for skip in r.skips {
                out += "source \(r.id) skipped \(group(skip.count)) \(skip.reason)"
                    + (skip.firstLine.map { " (first at line \($0))" } ?? "") + "\n"
            }
        }
        return out
    }

    public static func text(_ s: ShardStats) -> String {
        var table = TextTable(["path", "split", "status", "tokens", "documents", "crc32"], right: [false, false, false, true, true, false])
        for r in s.shards { table.add([r.path, r.split.rawValue, r.status.rawValue, group(r.tokens), group(r.documents), r.crc32]) }
        return table.render()
    }

    public static func text(_ d: LengthStats) -> String {
        guard d.documents > 0 else { return d.split.map { "no documents in \($0)\n" } ?? "no documents\n" }
        var out = "documents   \(group(d.documents)) "
            + (d.split.map { "(\($0) split)\n" } ?? "(train \(group(d.trainDocuments)), val \(group(d.valDocuments)))\n")
        out += "tokens/doc  mean \(fixed(d.mean))  min \(group(d.min ?? 0))  max \(group(d.max ?? 0))  (end-of-text excluded)\n\n"
        var p = TextTable(["percentile", "tokens"], right: [true, true])
        for row in d.percentiles { p.add(["p" + String(Int(row.percent)), group(row.tokens)]) }
        out += p.render() + "\n"
        let widest = d.histogram.map(\.documents).max() ?? 1
        var h = TextTable(["tokens", "documents", ""], right: [true, true, false])
        for b in d.histogram {
            let bar = widest > 0 ? Int((Double(b.documents) / Double(widest) * 40).rounded(.up)) : 0
            h.add([b.upper == b.lower ? group(b.lower) : group(b.lower) + "–" + group(b.upper), group(b.documents),
                   String(repeating: "█", count: bar)])
        }
        return out + h.render()
    }

    // MARK: pieces

    static func quoted(_ t: TokenStat) -> String { t.special ? t.text : "'" + t.text + "'" }

    /// 1234567 → "1,234,567".
    public static func group(_ n: Int64) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    static func fixed(_ x: Double?, _ places: Int = 2) -> String {
        guard let x else { return "-" }
        return String(format: "%.\(places)f", x)
    }

    static func percent(_ share: Double) -> String { String(format: "%.3f%%", share * 100) }

    static func humanBytes(_ n: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB", "PB"]
        var x = Double(n), u = 0
        while x >= 1000 && u < units.count - 1 { x /= 1000; u += 1 }
        return u == 0 ? "\(n) B" : String(format: "%.1f %@", x, units[u])
    }

    static func hex32(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}

/// A table printed with aligned columns, two spaces apart.
struct TextTable {
    var headers: [String]
    var right: [Bool]
    var rows: [[String]] = []

    init(_ headers: [String], right: [Bool]) {
        self.headers = headers
        self.right = right
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                parts.append(right[i] ? pad + cell : (i == cells.count - 1 ? cell : cell + pad))
            }
            var s = parts.joined(separator: "  ")
            while s.hasSuffix(" ") { s.removeLast() }
            return s + "\n"
        }
        return line(headers) + rows.map(line).joined()
    }
}
