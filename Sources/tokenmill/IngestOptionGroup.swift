import ArgumentParser
import Corpus

/// `--input` and the ingest stages, shared by `learn` and `shard`.
struct InputOptions: ParsableArguments {
    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Input files, directories or globs (quote globs: 'data/*.gz'). .gz is detected by its magic bytes.", valueName: "GLOB"))
    var input: [String] = []

    @Option(name: .long, help: "Input format: auto (JSONL for .jsonl/.jsonl.gz/.ndjson/.json.gz, text otherwise), jsonl or text.")
    var format: IngestOptions.Format = .auto

    @Option(name: .long, help: "JSONL field holding the document text.")
    var textField = "text"

    @Option(name: .long, help: "Plain text: a document is the whole file (file), a paragraph (blank) or a line (line).")
    var boundary: IngestOptions.Boundary = .file

    @Option(name: .long, help: "Invalid UTF-8 in a document: replace (U+FFFD) or drop (skip the document).")
    var invalidUtf8: IngestOptions.InvalidUTF8 = .replace

    @Option(name: .long, help: "Skip documents shorter than this many bytes.")
    var minLength = 1

    @Flag(name: .long, help: "Keep exact duplicate documents (by default they are skipped and counted).")
    var noDedup = false

    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Opt-in normalization stages: line-endings, nfc, whitespace.", valueName: "STAGE"))
    var normalize: [NormalizeStage] = []

    enum NormalizeStage: String, ExpressibleByArgument, CaseIterable {
        case lineEndings = "line-endings", nfc, whitespace
    }

    func validate() throws {
        if input.isEmpty { throw ValidationError("give at least one --input file, directory or glob") }
        if minLength < 0 { throw ValidationError("--min-length must be 0 or more") }
    }

    var ingestOptions: IngestOptions {
        var o = IngestOptions()
        o.format = format
        o.textField = textField
        o.boundary = boundary
        o.invalidUTF8 = invalidUtf8
        o.minLength = minLength
        o.dedup = !noDedup
        o.normalizeLineEndings = normalize.contains(.lineEndings)
        o.normalizeNFC = normalize.contains(.nfc)
        o.normalizeWhitespace = normalize.contains(.whitespace)
        return o
    }

    func resolvedInputs() throws -> [String] { try Inputs.resolve(input) }
}

extension IngestOptions.Format: ExpressibleByArgument {}
extension IngestOptions.Boundary: ExpressibleByArgument {}
extension IngestOptions.InvalidUTF8: ExpressibleByArgument {}
