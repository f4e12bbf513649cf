/// A special token (e.g. `<|endoftext|>`): matched in text only when asked, never merged.
///
/// Users write one as `NAME=ID` (`--special '<|endoftext|>=100257'`, a pipeline file's
/// `special_ids`), and that string is also its `Codable` form:
///
///     SpecialToken(parsing: "<|endoftext|>=100257") == SpecialToken("<|endoftext|>", id: 100257)
///     SpecialToken(parsing: "a=b=7")?.text == "a=b"     // the id follows the last '='
///     SpecialToken("<|endoftext|>", id: 50256).description == "<|endoftext|>=50256"
public struct SpecialToken: Hashable, Sendable {
    public var text: String
    public var id: UInt32

    public init(_ text: String, id: UInt32) {
        self.text = text
        self.id = id
    }

    /// Reads `NAME=ID`: the name is everything before the last `=` (so it may hold `=` itself)
    /// and may not be empty; the id is a decimal `UInt32`. Nil for anything else.
    public init?(parsing written: String) {
        guard let eq = written.lastIndex(of: "="), eq != written.startIndex,
              let id = UInt32(written[written.index(after: eq)...]) else { return nil }
        self.init(String(written[..<eq]), id: id)
    }
}

extension SpecialToken: CustomStringConvertible {
    /// `NAME=ID`, as `init(parsing:)` reads it.
    public var description: String { "\(text)=\(id)" }
}

extension SpecialToken: Codable {
    /// Decodes the string `NAME=ID`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let written = try container.decode(String.self)
        guard let token = SpecialToken(parsing: written) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be NAME=ID (e.g. \"<|endoftext|>=50256\"), not \(written.debugDescription)")
        }
        self = token
    }

    /// Encodes the string `NAME=ID`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
