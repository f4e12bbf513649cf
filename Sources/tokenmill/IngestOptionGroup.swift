import ArgumentParser
import Common
import Corpus

/// `--input` and the ingest stages, shared by `learn` and `shard`.
struct InputOptions: ParsableArguments {
    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Input files, directories or globs (quote globs: 'data/*.gz'). .gz is detected by its magic bytes.", valueName: "GLOB"))
    var input: [String] = []

    @OptionGroup(title: "Ingest stages") var ingest: IngestFlags

    /// For the command's `validate`: `learn --from-counts` reads no inputs.
    func requireInput() throws {
        if input.isEmpty { throw ValidationError("give at least one --input file, directory or glob") }
    }

    func resolvedInputs() throws -> [String] { try Inputs.resolve(input) }
}

/// The ingest stages as flags: `IngestOptions` is their definition.
struct IngestFlags: SettingsOptions {
    typealias Settings = IngestOptions

    @Option(name: names("format"), help: help("Input format: auto (JSONL for .jsonl/.jsonl.gz/.ndjson/.json.gz, text otherwise), jsonl or text", \.format))
    var format: IngestOptions.Format?
    @Option(name: names("textField"), help: help("JSONL field holding the document text", \.textField))
    var textField: String?
    @Option(name: names("boundary"), help: help("Plain text: a document is the whole file (file), a paragraph (blank) or a line (line)", \.boundary))
    var boundary: IngestOptions.Boundary?
    @Option(name: names("invalidUTF8"), help: help("Invalid UTF-8 in a document: replace (U+FFFD) or drop (skip the document)", \.invalidUTF8))
    var invalidUTF8: IngestOptions.InvalidUTF8?
    @Option(name: names("minLength"), help: help("Skip documents shorter than this many bytes", \.minLength))
    var minLength: Int?
    @Flag(name: names("dedup"), inversion: .prefixedNo, help: help("Skip exact duplicate documents (counted); --no-dedup keeps them", \.dedup))
    var dedup: Bool?
    @Option(name: names("normalize"), parsing: .upToNextOption,
            help: ArgumentHelp("Opt-in normalization stages: line-endings, nfc, whitespace.", valueName: "STAGE"))
    var normalize: [IngestOptions.NormalizeStage] = []

    func validate() throws { _ = try settings() }
}

extension IngestOptions.Format: ExpressibleByArgument {}
extension IngestOptions.Boundary: ExpressibleByArgument {}
extension IngestOptions.InvalidUTF8: ExpressibleByArgument {}
extension IngestOptions.NormalizeStage: ExpressibleByArgument {}
