import ArgumentParser
import Common
import Foundation
import Pipeline

struct RunPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a whole pipeline file: vocabulary → shards → training → samples → report.",
        discussion: """
        Every stage writes into the run directory that the file names (run_dir, or --run-dir). \
        A stage whose outputs are complete and were made from the same inputs and settings is \
        skipped; an interrupted stage resumes; changing a setting re-runs that stage and the ones after it.
          tokenmill run pipelines/demo.toml
        """)

    @Argument(help: ArgumentHelp("The pipeline file.", valueName: "pipelines/NAME.toml"))
    var file: String

    @Option(name: .long, help: ArgumentHelp("Run directory (instead of the file's run_dir).", valueName: "DIR"))
    var runDir: String?

    @OptionGroup var progressOptions: ProgressOptions

    func run() throws {
        try reportingErrors {
            var spec = try PipelineSpec.load(file)
            if let runDir { spec.run.runDir = runDir }
            let displays = DisplaySet(progressOptions)
            let runner = try PipelineRunner(spec: spec) { event in displays.handle(event) }
            let interrupted = Interrupt.install()
            runner.shouldContinue = { !interrupted.isSet }
            let started = Date()
            do {
                try runner.run()
            } catch let stop as PipelineInterrupted {
                let saved = stop.stage == .vocab ? "a vocabulary is learned again from the start"
                                                   : "the work so far is saved (training writes a checkpoint)"
                displays.note("interrupted in \(stop.stage): \(saved); run the same command again to continue")
                throw ExitCode(130)
            }
            for e in runner.inputErrors { printError(e) }
            displays.note(String(format: "pipeline %@ done in %.0fs → %@", spec.name, Date().timeIntervalSince(started), spec.runDir))
            if !runner.inputErrors.isEmpty {
                throw CommandError("\(runner.inputErrors.count) input file(s) had errors (listed above); the run used the rest")
            }
        }
    }
}

/// One progress display per stage, fed by the runner's events.
final class DisplaySet: @unchecked Sendable {
    // Safety (Sendable): `current` is read and written in `handle`, under `lock`, only; `note`
    // writes to stderr and touches no state.
    let options: ProgressOptions
    private var current: ProgressDisplay?
    private let lock = NSLock()

    init(_ options: ProgressOptions) { self.options = options }

    private func display(_ stage: PipelineStage) -> ProgressDisplay? {
        if let c = current, c.stage == stage.rawValue { return c }
        current = try? options.display(stage.rawValue)
        return current
    }

    func note(_ s: String) {
        if !options.quiet { FileHandle.standardError.write(Data((s + "\n").utf8)) }
    }

    func handle(_ event: PipelineRunner.Event) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case let .stageStarted(name, resuming):
            current = nil
            note("== \(name)\(resuming ? " (resuming)" : "")")
        case let .stageSkipped(name, reason):
            note("== \(name): \(reason), skipped")
        case let .stageFinished(name, summary):
            if let d = display(name) { d.finish("\(name): \(summary)") }
            current = nil
        case let .learn(p):
            display(.vocab)?.show(p)
        case let .shard(p):
            display(.shards)?.show(p)
        case let .train(p):
            display(.train)?.show(p)
        case let .note(s):
            note(s)
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write RUNDIR/report.html: loss curves, throughput, token statistics, samples.",
        discussion: """
        One self-contained HTML file with inline SVG charts: training and validation loss against \
        steps and tokens, tokens/s, the token frequency rank plot (Zipf), the document length \
        histogram, the share of tokens per source and the generated samples. RUNDIR is a pipeline \
        run directory or a `tokenmill train` run directory.
          tokenmill report out/demo
        """)

    @Argument(help: ArgumentHelp("Run directory.", valueName: "RUNDIR"))
    var directory: String

    @Option(name: .long, help: ArgumentHelp("Output file (default RUNDIR/report.html).", valueName: "FILE"))
    var output: String?

    func run() throws {
        try reportingErrors {
            guard FileSystem.isDirectory(directory) else { throw CommandError("\(directory): no such directory") }
            let input = try RunReport.input(runDirectory: directory)
            let path = output ?? FileSystem.join(directory, "report.html")
            try Report.write(input, to: path)
            print(path)
        }
    }
}
