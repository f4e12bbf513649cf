import ArgumentParser
import BPE
import Common
import Corpus
import Foundation
import Pipeline
import Shards

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn a byte-level BPE vocabulary from a corpus.",
        discussion: """
        Reads the inputs through the ingest stages, counts pre-tokens on every core and learns \
        merges exactly as Hugging Face's BpeTrainer does (same merges, same ids, for the gpt2 \
        pre-tokenizer). Writes DIR/tokenizer.json (loadable by HF tokenizers) and DIR/learn.json \
        (what was read, skipped and how long it took).
          tokenmill learn --input 'data/*.gz' --vocab-size 8192 --output out/vocab

        Across machines, each rank counts its share of the inputs (as `shard --rank` divides \
        them) into DIR/words.rank-RRRRR-of-WWWWW.counts, and one job learns from the counts \
        added up: the merges are those of one learn over the documents the ranks counted.
          tokenmill learn --input 'data/*.gz' --count-only --rank 1 --world-size 4 --output out/counts
          tokenmill learn --from-counts out/counts/words.*.counts --vocab-size 8192 --output out/vocab
        """)

    @OptionGroup var inputs: InputOptions

    @Option(name: .long, help: ArgumentHelp("Output directory.", valueName: "DIR"))
    var output: String

    @OptionGroup(title: "Vocabulary settings") var vocabulary: VocabularyOptions

    @OptionGroup(title: "Across machines") var rankOptions: RankOptions

    @Flag(name: .long, help: "Only count the words of this rank's share of the inputs, into DIR/words[.rank-…].counts.")
    var countOnly = false

    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Learn from word counts that --count-only wrote (added up), instead of from --input.", valueName: "FILE"))
    var fromCounts: [String] = []

    @Option(name: .long, help: ArgumentHelp("With --count-only and dedup: count as duplicates what earlier ranks keep, from the hash "
                                            + "lists `shard --hashes-only` wrote into DIR, as one learn counts a document once.", valueName: "DIR"))
    var hashesFrom: String?

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        _ = try vocabularySettings()
        if fromCounts.isEmpty { try inputs.requireInput() }
        if !fromCounts.isEmpty && (!inputs.input.isEmpty || countOnly) {
            throw ValidationError("--from-counts learns from counts: give it without --input and --count-only")
        }
    }

    func run() throws {
        try reportingErrors {
            let display = try progressOptions.display("learn")
            var settings = LearnSettings(inputs: [], ingest: try inputs.ingest.settings(), vocabulary: try vocabularySettings())
            let counted: WordCounts
            if fromCounts.isEmpty {
                let part = try rankOptions.part()
                settings.inputs = part.share(of: try inputs.resolvedInputs())
                if let hashesFrom, settings.ingest.dedup {
                    settings.dropHashes = try RankHashes.dropList(directory: hashesFrom, part: part)
                }
                counted = try LearnJob.count(settings) { display.show($0) }
                if countOnly {
                    let path = FileSystem.join(output, part.wordCountsFileName)
                    try counted.counter.save(to: path)
                    for e in counted.ingest.errors { printError("\(e)") }
                    display.finish("counted \(counted.counter.distinctWords) distinct words in \(counted.counter.documents) documents "
                                   + "(\(formatBytes(counted.counter.bytes)) of text) of \(part) → \(path)",
                                   fields: ["documents": counted.counter.documents, "distinct_words": counted.counter.distinctWords])
                    if !counted.ingest.errors.isEmpty { throw CommandError("\(counted.ingest.errors.count) input file(s) had errors (listed above)") }
                    return
                }
            } else {
                counted = try WordCounts.sum(fromCounts)
            }
            let result = try LearnJob.learn(from: counted, settings) { display.show($0) }
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

    /// The vocabulary settings; counting alone needs no vocabulary size (a placeholder stands in).
    func vocabularySettings() throws -> VocabularySettings {
        guard countOnly else { return try vocabulary.settings() }
        var base = VocabularySettings()
        base.vocabSize = 257
        return try vocabulary.settings(over: base)
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
