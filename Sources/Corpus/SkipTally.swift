/// Why a record did not become a document.
public enum SkipReason: String, Sendable, Codable, CaseIterable {
    /// The JSONL line is not a JSON object (or not valid JSON).
    case badJSON = "bad_json"
    /// The JSON object has no top-level text field.
    case missingField = "missing_field"
    /// The text field holds something other than a string (number, null, object, …).
    case notString = "not_string"
    /// Invalid UTF-8 with `invalidUTF8 = .drop`.
    case invalidUTF8 = "invalid_utf8"
    /// Shorter than `minLength` bytes after normalization (this includes empty documents).
    case tooShort = "too_short"
    /// Same content hash as an earlier document of the ingest.
    case duplicate

    /// Place in `allCases`.
    var index: Int { Self.allCases.firstIndex(of: self)! }
}

/// Records skipped, per reason, with the line of the first of each: what a batch, a source, a
/// job and the index count. Tallies add up (`add(_:)`): the first line kept is the earlier one's.
///
///     var tally = SkipTally()
///     tally.add(.badJSON, line: 12)
///     tally.add(.badJSON, line: 40)
///     tally[.badJSON]                // 2
///     tally.firstLine(.badJSON)      // 12
public struct SkipTally: Sendable, Equatable {
    private var perReason = [Int64](repeating: 0, count: SkipReason.allCases.count)
    private var lines = [Int64](repeating: 0, count: SkipReason.allCases.count)   // 0: none

    public init() {}

    /// Records skipped for `reason`.
    public subscript(reason: SkipReason) -> Int64 { perReason[reason.index] }

    /// 1-based line of the first record skipped for `reason`, if one was, and its line is known.
    public func firstLine(_ reason: SkipReason) -> Int64? {
        let line = lines[reason.index]
        return line > 0 ? line : nil
    }

    /// All records skipped, duplicates included.
    public var total: Int64 { perReason.reduce(0, +) }

    /// The reasons with a count, in `SkipReason.allCases` order.
    public var reasons: [SkipReason] { SkipReason.allCases.filter { self[$0] > 0 } }

    public var isEmpty: Bool { total == 0 }

    /// The counts as a dictionary, reasons with a count only.
    public var counts: [SkipReason: Int64] {
        Dictionary(uniqueKeysWithValues: reasons.map { ($0, self[$0]) })
    }

    /// One more record skipped for `reason`, at `line` (1-based; nil when unknown).
    public mutating func add(_ reason: SkipReason, line: Int64? = nil) {
        add(reason, count: 1, firstLine: line)
    }

    /// `count` records skipped for `reason`, the first at `firstLine`.
    public mutating func add(_ reason: SkipReason, count: Int64, firstLine: Int64? = nil) {
        guard count > 0 else { return }
        let i = reason.index
        perReason[i] += count
        if lines[i] == 0, let firstLine, firstLine > 0 { lines[i] = firstLine }
    }

    /// Adds a later tally: counts add, first lines stay where this one has them.
    public mutating func add(_ other: SkipTally) {
        for reason in other.reasons { add(reason, count: other[reason], firstLine: other.firstLine(reason)) }
    }

    /// "bad_json: 2, duplicate: 83", or "" when nothing was skipped.
    public var summary: String {
        reasons.map { "\($0.rawValue): \(self[$0])" }.joined(separator: ", ")
    }
}
