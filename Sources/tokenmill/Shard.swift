import ArgumentParser
import BPE
import Common
import Corpus
import Foundation
import Pipeline
import Shards

struct Shard: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode a corpus into token shards (llm.c format) catalogued in a SQLite index.",
        discussion: """
        Writes DIR/train_000000.bin, DIR/val_000000.bin, … (llm.c's format: a 1024-byte header, \
        then uint16 tokens, or uint32 for vocabularies over 65,536), DIR/index.sqlite and \
        DIR/tokenizer.json. Every document is preceded by the end-of-text token. The split is \
        decided per document by a hash of its content, so it does not depend on order or threads. \
        Rerunning the same command after a kill resumes it; rerunning a finished job changes \
        nothing; adding input files and rerunning shards only the new ones.
          tokenmill shard --tokenizer out/vocab --input 'data/*.gz' --output out/shards

        Across machines (Slurm array tasks, say), each rank shards a contiguous share of the \
        inputs, balanced by bytes, into the same DIR (its own index part and train_rRRRRR_*.bin \
        shards); `tokenmill merge DIR` then joins the parts. With exact dedup, every rank first \
        runs --hashes-only, then shards: the merged corpus holds the documents one machine keeps.
          tokenmill shard … --hashes-only --rank 1 --world-size 4
          tokenmill shard … --rank 1 --world-size 4
        """)

    @OptionGroup var tokenizerOptions: TokenizerOptions
    @OptionGroup var inputs: InputOptions

    @Option(name: .long, help: ArgumentHelp("Corpus directory to write (or resume).", valueName: "DIR"))
    var output: String

    @OptionGroup(title: "Shard settings") var shardOptions: ShardOptions

    @Option(name: .long, help: ArgumentHelp("Write what each thread did and when (reading, encoding, writing, commits) as "
                                            + "Chrome trace-event JSON, for ui.perfetto.dev or chrome://tracing.", valueName: "FILE"))
    var trace: String?

    @OptionGroup(title: "Across machines") var rankOptions: RankOptions

    @Flag(name: .long, help: "Only the hashing pass of exact dedup across ranks: write the rank's document hashes, no shards.")
    var hashesOnly = false

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        try inputs.requireInput()
        // The hashing pass reads the inputs but encodes nothing: it runs before a vocabulary exists.
        if !hashesOnly && tokenizerOptions.tokenizer == nil { throw ValidationError("missing --tokenizer DIR|FILE") }
    }

    func run() throws {
        try reportingErrors {
            let part = try rankOptions.part()
            let paths = try inputs.resolvedInputs()
            var options = ShardJobOptions(inputs: paths, output: output, ingest: try inputs.ingest.settings(),
                                          settings: try shardOptions.settings())
            options.part = part
            let display = try progressOptions.display("shard")
            if hashesOnly {
                let report = try RankHashes.write(options: options)
                for e in report.ingest.errors { printError("\(e)") }
                display.finish("hashed \(report.documents) documents of \(part) → \(report.path)", fields: ["documents": report.documents])
                if !report.ingest.errors.isEmpty { throw CommandError("\(report.ingest.errors.count) input file(s) had errors (listed above)") }
                return
            }
            let tokenizer = try tokenizerOptions.load()
            let interrupted = Interrupt.install()
            options.shouldContinue = { !interrupted.isSet }
            let taskTrace = trace.map { _ in TaskTrace() }
            options.trace = taskTrace
            // Written however the job ends: a trace of a failed or interrupted job is as useful.
            defer { if let trace, let taskTrace { do { try taskTrace.write(to: trace) } catch { printError("\(error)") } } }
            let report = try ShardJob.run(tokenizer: tokenizer, tokenizerFile: tokenizerOptions.tokenizer, options: options) { display.show($0) }
            for e in report.errors { printError(e) }
            if !report.completed {
                display.note("interrupted: \(report.documents) documents committed; run the same command again to continue")
                throw ExitCode(130)
            }
            let rate = report.seconds > 0 ? Double(report.textBytes) / report.seconds : 0
            // Inputs an earlier run finished are skipped (not read again).
            let already = report.sources.filter { $0.status == .skipped && $0.error == nil }.count
            let message = already == paths.count
                ? "nothing to do: the \(already == 1 ? "input is" : "\(already) inputs are") already sharded in \(output)"
                : "sharded \(report.documents) documents, \(report.tokens) tokens (\(formatBytes(report.textBytes)) of text) in "
                  + String(format: "%.2fs, %@/s", report.seconds, formatBytes(Int64(rate))) + " → \(output)"
                  + (already > 0 ? " (\(already) input\(already == 1 ? "" : "s") sharded before, not read again)" : "")
                  + (report.dedupSpills > 0 ? " (the dedup set outgrew --dedup-memory: \(report.dedupSpills) spills to disk)" : "")
                  + (part.isWhole ? "" : " as \(part) (then `tokenmill merge \(output)`)")
            display.finish(message,
                           fields: ["documents": report.documents, "tokens": report.tokens, "workers": report.workers,
                                    "read_seconds": report.taskSeconds.read, "process_seconds": report.taskSeconds.process,
                                    "encode_seconds": report.taskSeconds.encode, "count_seconds": report.taskSeconds.count,
                                    "write_seconds": report.taskSeconds.write, "dedup_spills": report.dedupSpills])
            if !report.errors.isEmpty {
                throw CommandError("\(report.errors.count) input file(s) had errors (listed above); the others were sharded")
            }
        }
    }
}

extension Split: ExpressibleByArgument {}

/// `--rank R --world-size W`, or Slurm's task numbers when the flags are absent.
struct RankOptions: ParsableArguments {
    @Option(name: .long, help: "This job's rank, from 0 (default: $SLURM_ARRAY_TASK_ID, or $SLURM_PROCID, or 0).")
    var rank: Int?
    @Option(name: .long, help: ArgumentHelp("How many ranks share the inputs (default: $SLURM_ARRAY_TASK_COUNT, or $SLURM_NTASKS, "
                                            + "or 1). Give it in array jobs: a task resubmitted alone (--array=3) sees a count of 1."))
    var worldSize: Int?

    func validate() throws {
        if rank != nil && worldSize == nil { throw ValidationError("--rank needs --world-size") }
    }

    /// The part of the corpus this job writes. With `--world-size` alone, the rank is the array
    /// task's id (arrays numbered from 0) or the task's `SLURM_PROCID`; with neither flag, both
    /// come from Slurm (an array's tasks counted from its first id).
    func part(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CorpusPart {
        func number(_ name: String) -> Int? { environment[name].flatMap { Int($0) } }
        let part: CorpusPart
        if let worldSize {
            guard let rank = rank ?? number("SLURM_ARRAY_TASK_ID") ?? number("SLURM_PROCID") else {
                throw ValidationError("--world-size needs --rank (outside Slurm)")
            }
            part = CorpusPart(rank: rank, worldSize: worldSize)
        } else if let id = number("SLURM_ARRAY_TASK_ID"), let count = number("SLURM_ARRAY_TASK_COUNT") {
            part = CorpusPart(rank: id - (number("SLURM_ARRAY_TASK_MIN") ?? 0), worldSize: count)
        } else if let id = number("SLURM_PROCID"), let count = number("SLURM_NTASKS") {
            part = CorpusPart(rank: id, worldSize: count)
        } else {
            part = .whole
        }
        if let problem = part.problem { throw ValidationError(problem) }
        return part
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the index parts that the ranks of a shard job wrote into DIR/index.sqlite.",
        discussion: """
        Shard bytes stay where the ranks wrote them; only their headers and sizes are checked \
        (`tokenmill verify DIR` checks their checksums). A missing or unfinished part, or one \
        written with other settings, is refused by name. Afterwards stats, verify, the loader and \
        train read DIR as a corpus sharded on one machine.
          tokenmill merge out/shards
        """)

    @Argument(help: ArgumentHelp("Corpus directory.", valueName: "DIR"))
    var directory: String

    func run() throws {
        try reportingErrors {
            let r = try CorpusMerge.run(directory: directory)
            print("merged \(r.parts) parts: \(r.sources) sources, \(r.documents) documents, \(r.tokens) tokens in \(r.shards) shards "
                  + String(format: "(%.2fs)", r.seconds) + " → \(FileSystem.join(directory, IndexSchema.fileName))")
        }
    }
}

/// The shard settings as flags: `ShardSettings` is their definition.
struct ShardOptions: SettingsOptions {
    typealias Settings = ShardSettings

    @Option(name: names("shardTokens"), help: help("Tokens per shard, at most 2^30", \.shardTokens)) var shardTokens: Int64?
    @Option(name: names("valFraction"), help: help("Fraction of documents in the validation split", \.valFraction)) var valFraction: Double?
    @Option(name: names("threads"), help: help("Encoding threads (0 = all cores)", \.threads)) var threads: Int?
    @Option(name: names("dedupMemory"), help: help("Memory for the exact-dedup set, in MiB (about 8.4 million documents with the "
                                                  + "default); beyond, sorted runs of hashes go to DIR/dedup.tmp and dedup stays exact", \.dedupMemory, valueName: "MiB"))
    var dedupMemory: Int?
    @Option(name: names("commitSeconds"), help: help("While the writer has work queued, commit at most this often: about what a kill may lose",
                                                    \.commitSeconds, valueName: "SECONDS"))
    var commitSeconds: Double?

    func validate() throws { _ = try settings() }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Token statistics of a sharded corpus, from its index alone.",
        discussion: """
        Views (summary is the default):
          summary       documents and tokens per split, bytes per token, sources, skips
          top [--n 50]  the most frequent tokens with their text, count and share
          token ID…     count and frequency rank of tokens; or token --text STRING
          sources       per input file: documents, tokens, bytes per token, skips
          shards        per shard: split, tokens, documents, checksum
          docs          document length percentiles and histogram (--split train|val: one split)
        --json prints the same in the stable shape documented in the README.
          tokenmill stats out/shards top --n 20
        """)

    enum View: String, ExpressibleByArgument, CaseIterable { case summary, top, token, sources, shards, docs }

    @Argument(help: ArgumentHelp("Corpus directory.", valueName: "DIR"))
    var directory: String

    @Argument(help: "summary, top, token, sources, shards or docs.")
    var view: View = .summary

    @Argument(help: "Token ids (for the token view).")
    var ids: [UInt32] = []

    @Option(name: .long, help: "How many tokens (top view).")
    var n = 50

    @Option(name: .long, help: "Text whose tokens to look up (token view); encoded with the corpus's tokenizer.")
    var text: String?

    @Option(name: .long, help: "One split only (docs view): train or val.")
    var split: Split?

    @Flag(name: .long, help: "Machine-readable JSON.")
    var json = false

    func validate() throws {
        if view == .token && ids.isEmpty && text == nil { throw ValidationError("token view: give token ids or --text STRING") }
        if view != .token && (!ids.isEmpty || text != nil) { throw ValidationError("ids and --text go with the token view") }
        if n < 1 { throw ValidationError("--n must be at least 1") }
        if split != nil && view != .docs { throw ValidationError("--split goes with the docs view") }
    }

    func run() throws {
        try reportingErrors {
            let stats = try CorpusStats(directory: directory)
            let statsView: StatsView
            switch view {
            case .summary: statsView = .summary
            case .top: statsView = .top(n)
            case .sources: statsView = .sources
            case .shards: statsView = .shards
            case .docs: statsView = .docs(split)
            case .token:
                var all = ids
                if let text {
                    let tokenizer = try Tokenizer.load(directory)
                    all += tokenizer.encode(Array(text.utf8))
                }
                statsView = .tokens(all)
            }
            var out = try stats.render(statsView, json: json)
            if !out.hasSuffix("\n") { out += "\n" }
            writeOutput(Array(out.utf8))
        }
    }
}

/// `tokenmill verify --json`'s output.
struct VerifyReport: Encodable {
    var directory: String
    var ok: Bool
    var problems: [VerifyProblem]
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read every shard and check it against the index.",
        discussion: """
        Checks each shard's header, exact size and checksum, and that its document and token \
        counts agree with the index; reports missing shards and unindexed .bin files. Prints \
        every problem with the file name and exits non-zero if there is any.
          tokenmill verify out/shards
        """)

    @Argument(help: ArgumentHelp("Corpus directory.", valueName: "DIR"))
    var directory: String

    @Option(name: .long, help: "Threads reading shards (default: the cores, at most 8).")
    var threads: Int?

    @Flag(name: .long, help: "Print the result as one JSON object on stdout: {directory, ok, problems: [{file, message}]}.")
    var json = false

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let display = try progressOptions.display("verify")
            let problems = try CorpusVerifier.verify(directory: directory, threads: threads) { p in
                display.update(phase: "reading", done: p.bytesDone, total: p.bytesTotal, unit: .bytes,
                               extra: "shard \(p.shardsDone) of \(p.shardsTotal)")
            }
            if json {
                display.finish("")
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let report = VerifyReport(directory: directory, ok: problems.isEmpty, problems: problems)
                writeOutput(Array(try encoder.encode(report)) + [UInt8(ascii: "\n")])
                if !problems.isEmpty { throw ExitCode(1) }
                return
            }
            for p in problems { printError(p.description) }
            if problems.isEmpty {
                display.finish("")
                print("\(directory): every shard agrees with the index")
            } else {
                throw CommandError("\(directory): \(problems.count) problem(s)")
            }
        }
    }
}
