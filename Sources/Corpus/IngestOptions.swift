/// How the Corpus readers turn files into documents. The defaults pass valid UTF-8 through
/// byte for byte: no trimming, no normalization; only empty documents and exact duplicates are
/// dropped.
///
///     var options = IngestOptions()
///     options.boundary = .blank          // plain text: one document per paragraph
///     options.normalizeNFC = true
///     let report = try Ingest(paths: Inputs.resolve(["data/*.gz"]), options: options)
///         .forEach { doc in use(doc.text) }
///
/// Stages run in this order on every record: UTF-8 validation → line endings → NFC →
/// whitespace → minimum length → dedup.
public struct IngestOptions: Sendable, Hashable, Codable {
    /// `auto`: JSONL for `.jsonl`, `.ndjson`, `.jsonl.gz`, `.ndjson.gz`, `.json.gz`; text otherwise.
    public enum Format: String, Sendable, Codable, CaseIterable { case auto, jsonl, text }
    /// Where plain text is cut into documents.
    /// - `file`: the whole file is one document.
    /// - `blank`: paragraphs separated by one or more blank lines (lines holding only spaces,
    ///   tabs, CR, FF or VT). A document keeps its inner line breaks; the line break after its
    ///   last line is not part of it.
    /// - `line`: every line is a document, without its "\n" or "\r\n" terminator.
    public enum Boundary: String, Sendable, Codable, CaseIterable { case file, blank, line }
    /// What to do with a document holding invalid UTF-8 (or, in JSONL, an escaped lone surrogate).
    /// - `replace`: each maximal invalid subpart becomes U+FFFD (the WHATWG / Python
    ///   `errors="replace"` rule); the document is kept and counted in `replacedInvalidUTF8`.
    /// - `drop`: the document is skipped with reason `invalid_utf8`.
    public enum InvalidUTF8: String, Sendable, Codable, CaseIterable { case replace, drop }

    public var format: Format = .auto
    /// The top-level JSON field holding the text (JSONL only).
    public var textField: String = "text"
    public var boundary: Boundary = .file
    public var invalidUTF8: InvalidUTF8 = .replace
    /// Minimum document length in bytes, after normalization; shorter documents are skipped.
    /// Empty documents are always skipped (a value below 1 acts as 1).
    public var minLength: Int = 1
    /// Skip documents whose content hash was already seen in this ingest (all sources).
    public var dedup: Bool = true
    /// CRLF and lone CR become LF.
    public var normalizeLineEndings = false
    /// Unicode Normalization Form C.
    public var normalizeNFC = false
    /// Every run of horizontal whitespace (tab and the Unicode space separators: U+0020, U+00A0,
    /// U+1680, U+2000–U+200A, U+202F, U+205F, U+3000) becomes one U+0020, and runs at the end
    /// of a line (before "\n", "\r" or the end of the document) are removed. Line breaks and
    /// leading indentation (collapsed to one space) stay.
    public var normalizeWhitespace = false

    public init() {}

    /// Decodes the settings present and keeps the defaults for the others, so that a pipeline
    /// file may name only what it changes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        format = try c.decodeIfPresent(Format.self, forKey: .format) ?? format
        textField = try c.decodeIfPresent(String.self, forKey: .textField) ?? textField
        boundary = try c.decodeIfPresent(Boundary.self, forKey: .boundary) ?? boundary
        invalidUTF8 = try c.decodeIfPresent(InvalidUTF8.self, forKey: .invalidUTF8) ?? invalidUTF8
        minLength = try c.decodeIfPresent(Int.self, forKey: .minLength) ?? minLength
        dedup = try c.decodeIfPresent(Bool.self, forKey: .dedup) ?? dedup
        normalizeLineEndings = try c.decodeIfPresent(Bool.self, forKey: .normalizeLineEndings) ?? normalizeLineEndings
        normalizeNFC = try c.decodeIfPresent(Bool.self, forKey: .normalizeNFC) ?? normalizeNFC
        normalizeWhitespace = try c.decodeIfPresent(Bool.self, forKey: .normalizeWhitespace) ?? normalizeWhitespace
    }

    /// The format used for `path`: the explicit one, or for `auto` the one its extension names.
    public func resolvedFormat(for path: String) -> Format {
        if format != .auto { return format }
        let name = path.lowercased()
        for suffix in [".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json.gz"] where name.hasSuffix(suffix) {
            return .jsonl
        }
        return .text
    }

    /// Stable text of the settings, for fingerprints (same settings → same string). It carries a
    /// version so that a change in what the stages do changes every fingerprint.
    public var fingerprint: String {
        var field = "\""
        for u in textField.unicodeScalars {
            switch u {
            case "\"": field += "\\\""
            case "\\": field += "\\\\"
            case _ where u.value < 0x20 || u.value == 0x7F:
                let hex = String(u.value, radix: 16)
                field += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: field.unicodeScalars.append(u)
            }
        }
        field += "\""
        let flag = { (b: Bool) in b ? "1" : "0" }
        return "corpus-v1 format=\(format.rawValue) text_field=\(field) boundary=\(boundary.rawValue)"
            + " invalid_utf8=\(invalidUTF8.rawValue) min_length=\(max(minLength, 1)) dedup=\(flag(dedup))"
            + " line_endings=\(flag(normalizeLineEndings)) nfc=\(flag(normalizeNFC))"
            + " whitespace=\(flag(normalizeWhitespace))"
    }
}
