import ArgumentParser
import BPE
import Common
import Corpus
import Foundation
import Pipeline

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn a byte-level BPE vocabulary from a corpus.",
        discussion: """
        Reads the inputs through the ingest stages, counts pre-tokens on every core and learns \
        merges exactly as Hugging Face's BpeTrainer does (same merges, same ids, for the gpt2 \
        pre-tokenizer). Writes DIR/tokenizer.json (loadable by HF tokenizers) and DIR/learn.json \
        (what was read, skipped and how long it took).
          tokenmill learn --input 'data/*.gz' --vocab-size 8192 --output out/vocab
        """)

    @OptionGroup var inputs: InputOptions

    @Option(name: .long, help: ArgumentHelp("Output directory.", valueName: "DIR"))
    var output: String

    @OptionGroup(title: "Vocabulary settings") var vocabulary: VocabularyOptions

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws { _ = try vocabulary.settings() }

    func run() throws {
        try reportingErrors {
            let paths = try inputs.resolvedInputs()
            let settings = LearnSettings(inputs: paths, ingest: try inputs.ingest.settings(), vocabulary: try vocabulary.settings())
            let display = try progressOptions.display("learn")
            let result = try LearnJob.run(settings) { display.show($0) }
            try result.model.save(toDirectory: output)
            let tokenizerPath = FileSystem.join(output, "tokenizer.json")
            let report = learnReport(result, settings: settings)
            try FileSystem.writeAtomically(FileSystem.join(output, "learn.json"), report)
            for e in result.ingest.errors { printError("\(e)") }
            let skips = result.ingest.skips
            let skipped = skips.isEmpty ? "" : "\(skips.total) records (\(skips.summary))"
            display.finish(String(format: "learned %d tokens (%d merges) from %lld documents, %@ of text, %d distinct words in %.2fs (count %.2fs, merge %.2fs)%@%@ → %@",
                                  result.model.vocabSize, result.model.merges?.count ?? 0, result.documents,
                                  formatBytes(result.textBytes), result.distinctWords,
                                  result.countSeconds + result.mergeSeconds, result.countSeconds, result.mergeSeconds,
                                  skipped.isEmpty ? "" : "; skipped \(skipped)",
                                  result.sampled ? "; stopped at --max-bytes" : "", tokenizerPath),
                           fields: ["vocab_size": result.model.vocabSize, "documents": result.documents])
            if !result.ingest.errors.isEmpty {
                throw CommandError("\(result.ingest.errors.count) input file(s) had errors (listed above); the vocabulary was learned from the rest")
            }
        }
    }

    func learnReport(_ r: LearnResult, settings: LearnSettings) -> [UInt8] {
        var sources: [[String: Any]] = []
        for s in r.ingest.sources {
            var o: [String: Any] = ["path": s.path, "file_bytes": s.fileBytes, "records": s.records,
                                    "documents": s.documents, "document_bytes": s.documentBytes,
                                    "skipped": Dictionary(uniqueKeysWithValues: s.skips.reasons.map { ($0.rawValue, s.skips[$0]) })]
            let firstLines = s.skips.reasons.compactMap { r in s.skips.firstLine(r).map { (r.rawValue, $0) } }
            if !firstLines.isEmpty { o["first_skipped_lines"] = Dictionary(uniqueKeysWithValues: firstLines) }
            if let e = s.error { o["error"] = e.description }
            sources.append(o)
        }
        let report: [String: Any] = [
            "vocab_size": r.model.vocabSize, "merges": r.model.merges?.count ?? 0,
            "pre_tokenizer": settings.vocabulary.preTokenizer.rawValue, "special_tokens": settings.vocabulary.specialTokens,
            "min_frequency": settings.vocabulary.minFrequency, "ingest": settings.ingest.fingerprint,
            "documents": r.documents, "text_bytes": r.textBytes, "distinct_words": r.distinctWords,
            "count_seconds": r.countSeconds, "merge_seconds": r.mergeSeconds, "sampled": r.sampled,
            "threads": settings.vocabulary.threads, "sources": sources,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return [UInt8](data) + [10]
    }
}

/// The vocabulary settings as flags: `VocabularySettings` is their definition.
struct VocabularyOptions: SettingsOptions {
    typealias Settings = VocabularySettings

    @Option(name: names("vocabSize"), help: "Vocabulary size, including special tokens and the 256 byte tokens (at least 257).")
    var vocabSize: Int?
    @Option(name: names("preTokenizer"), help: help("Pre-tokenizer: gpt2, gpt4 (= cl100k), cl100k, o200k or llama3", \.preTokenizer))
    var preTokenizer: PreTokenizerName?
    @Option(name: names("specialTokens"), parsing: .upToNextOption, help: help("Special tokens, given the first ids", \.specialTokens))
    var specialTokens: [String] = []
    @Option(name: names("minFrequency"), help: help("Merge a pair only if it occurs at least this often", \.minFrequency))
    var minFrequency: UInt64?
    @Option(name: names("maxBytes"), help: help("Learn from the first SIZE bytes of document text only, e.g. 100M (0 = all)",
                                                \.maxBytes, valueName: "SIZE"))
    var maxBytes: String?
    @Option(name: names("threads"), help: help("Counting threads (0 = all cores)", \.threads)) var threads: Int?
}

extension PreTokenizerName: Encodable {
    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
