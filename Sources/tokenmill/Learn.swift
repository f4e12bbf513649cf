import ArgumentParser
import BPE
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

    @Option(name: .long, help: "Vocabulary size, including special tokens and the 256 byte tokens.")
    var vocabSize: Int

    @Option(name: .long, help: ArgumentHelp("Output directory.", valueName: "DIR"))
    var output: String

    @Option(name: .long, help: "Merge a pair only if it occurs at least this often.")
    var minFrequency: UInt64 = 0

    @Option(name: .long, help: "Pre-tokenizer: gpt2, gpt4 (= cl100k), cl100k, o200k or llama3.")
    var preTokenizer = PreTokenizerName(.gpt2)

    @Option(name: .long, parsing: .upToNextOption, help: "Special tokens, given the first ids (default: <|endoftext|>).")
    var special: [String] = ["<|endoftext|>"]

    @Option(name: .long, help: ArgumentHelp("Learn from the first SIZE bytes of document text only (e.g. 100M).", valueName: "SIZE"))
    var maxBytes: String?

    @Option(name: .long, help: "Counting threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if vocabSize < 257 { throw ValidationError("--vocab-size must be at least 257 (256 byte tokens + 1)") }
        if let maxBytes, parseByteSize(maxBytes) == nil { throw ValidationError("--max-bytes \(maxBytes): expected a size like 100M or 2G") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let paths = try inputs.resolvedInputs()
            let settings = LearnSettings(
                inputs: paths, ingest: inputs.ingestOptions,
                trainer: BPETrainerConfig(vocabSize: vocabSize, minFrequency: minFrequency,
                                          specialTokens: special, pattern: preTokenizer.pattern),
                maxBytes: maxBytes.flatMap(parseByteSize), threads: threads)
            let display = try progressOptions.display("learn")
            let result = try LearnJob.run(settings) { display.show($0) }
            try result.model.save(toDirectory: output)
            let tokenizerPath = (output as NSString).appendingPathComponent("tokenizer.json")
            let report = learnReport(result, settings: settings)
            try writeFileAtomically((output as NSString).appendingPathComponent("learn.json"), report)
            for e in result.ingest.errors { printError("\(e)") }
            let skips = result.ingest.skipped.filter { $0.value > 0 }.sorted { $0.key.rawValue < $1.key.rawValue }
            let skipped = skips.isEmpty ? "" : "\(skips.reduce(Int64(0)) { $0 + $1.value }) records ("
                + skips.map { "\($0.key.rawValue): \($0.value)" }.joined(separator: ", ") + ")"
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
                                    "skipped": Dictionary(uniqueKeysWithValues: s.skipped.map { ($0.key.rawValue, $0.value) })]
            if !s.badLines.isEmpty { o["bad_lines"] = s.badLines }
            if let e = s.error { o["error"] = e.description }
            sources.append(o)
        }
        let report: [String: Any] = [
            "vocab_size": r.model.vocabSize, "merges": r.model.merges?.count ?? 0,
            "pre_tokenizer": settings.trainer.pattern.rawValue, "special_tokens": settings.trainer.specialTokens,
            "min_frequency": settings.trainer.minFrequency, "ingest": settings.ingest.fingerprint,
            "documents": r.documents, "text_bytes": r.textBytes, "distinct_words": r.distinctWords,
            "count_seconds": r.countSeconds, "merge_seconds": r.mergeSeconds, "sampled": r.sampled,
            "threads": settings.threads, "sources": sources,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return [UInt8](data) + [10]
    }
}
