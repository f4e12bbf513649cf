import Common

/// How the Corpus readers turn files into documents, defined once: the CLI's ingest flags
/// (`learn`, `shard`), a pipeline file's `[inputs]` table and the fingerprint recorded in a
/// corpus derive from these properties (`SettingsGroup`). The defaults pass valid UTF-8
/// through byte for byte: no trimming, no normalization; only empty documents and exact
/// duplicates are dropped.
///
///     var options = IngestOptions()
///     options.boundary = .blank          // plain text: one document per paragraph
///     options.normalize = [.nfc]
///     let report = try Ingest(paths: Inputs.resolve(["data/*.gz"]), options: options)
///         .forEach { doc in use(doc.text) }
///
/// Stages run in this order on every record: UTF-8 validation → line endings → NFC →
/// whitespace → minimum length → dedup.
public struct IngestOptions: SettingsGroup, Hashable {
    /// `auto`: JSONL for `.jsonl`, `.ndjson`, `.jsonl.gz`, `.ndjson.gz`, `.json.gz`; text otherwise.
    public enum Format: String, SettingsChoice { case auto, jsonl, text }
    /// Where plain text is cut into documents.
    /// - `file`: the whole file is one document.
    /// - `blank`: paragraphs separated by one or more blank lines (lines holding only spaces,
    ///   tabs, CR, FF or VT). A document keeps its inner line breaks; the line break after its
    ///   last line is not part of it.
    /// - `line`: every line is a document, without its "\n" or "\r\n" terminator.
    public enum Boundary: String, SettingsChoice { case file, blank, line }
    /// What to do with a document holding invalid UTF-8 (or, in JSONL, an escaped lone surrogate).
    /// - `replace`: each maximal invalid subpart becomes U+FFFD (the WHATWG / Python
    ///   `errors="replace"` rule); the document is kept and counted in `replacedInvalidUTF8`.
    /// - `drop`: the document is skipped with reason `invalid_utf8`.
    public enum InvalidUTF8: String, SettingsChoice { case replace, drop }
    /// The opt-in normalization stages, which run in this order whatever order they are given in.
    /// - `lineEndings`: CRLF and lone CR become LF.
    /// - `nfc`: Unicode Normalization Form C.
    /// - `whitespace`: every run of horizontal whitespace (tab and the Unicode space separators:
    ///   U+0020, U+00A0, U+1680, U+2000–U+200A, U+202F, U+205F, U+3000) becomes one U+0020, and
    ///   runs at the end of a line (before "\n", "\r" or the end of the document) are removed.
    ///   Line breaks and leading indentation (collapsed to one space) stay.
    public enum NormalizeStage: String, SettingsChoice { case lineEndings = "line-endings", nfc, whitespace }

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
    /// The normalization stages to run.
    public var normalize: [NormalizeStage] = []

    public init() {}

    public var problem: SettingsProblem? {
        minLength < 0 ? SettingsProblem("minLength", "must be 0 or more, not \(minLength)") : nil
    }

    public var normalizeLineEndings: Bool {
        get { normalize.contains(.lineEndings) }
        set { set(.lineEndings, newValue) }
    }

    public var normalizeNFC: Bool {
        get { normalize.contains(.nfc) }
        set { set(.nfc, newValue) }
    }

    public var normalizeWhitespace: Bool {
        get { normalize.contains(.whitespace) }
        set { set(.whitespace, newValue) }
    }

    private mutating func set(_ stage: NormalizeStage, _ on: Bool) {
        normalize.removeAll { $0 == stage }
        if on { normalize.append(stage) }
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

    /// Stable text of the settings, for fingerprints: the same settings give the same text,
    /// whatever order the stages were given in. It carries a version so that a change in what
    /// the stages do changes every fingerprint.
    public var fingerprint: String {
        var canonical = self
        canonical.normalize = NormalizeStage.allCases.filter(normalize.contains)
        canonical.minLength = max(minLength, 1)
        return "ingest-v2 " + SettingsCoding.fingerprint(canonical)
    }
}
