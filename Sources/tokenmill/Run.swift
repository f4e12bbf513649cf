import ArgumentParser
import Common
import Foundation
import GPT
import Pipeline
import Shards

struct RunPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a whole pipeline file: vocabulary → shards → training → samples → report.",
        discussion: """
        Every stage writes into the run directory that the file names (run_dir, or --run-dir). \
        A stage whose outputs are complete and were made from the same inputs and settings is \
        skipped; an interrupted stage resumes; changing a setting re-runs that stage and the ones after it.
          tokenmill run pipelines/demo.toml

        On a Slurm cluster, --slurm submits the same file as a chain of dependent jobs (hashes \
        array → count array → learn → shard array → merge → train), each running one step of \
        it (--step); --dry-run prints the sbatch scripts instead (they are also written to \
        RUNDIR/slurm/). A failed array task is resubmitted alone: sbatch --array=K RUNDIR/slurm/04-shard.sbatch; \
        --status shows which ranks of each step finished.
          tokenmill run pipelines/demo.toml --slurm --ranks 8 --partition cpu --cpus-per-task 16
        """)

    @Argument(help: ArgumentHelp("The pipeline file.", valueName: "pipelines/NAME.toml"))
    var file: String

    @Option(name: .long, help: ArgumentHelp("Run directory (instead of the file's run_dir).", valueName: "DIR"))
    var runDir: String?

    @Option(name: .long, help: ArgumentHelp("Run one step of the file as a cluster job: count, learn, hashes, shard, merge or train.",
                                            valueName: "STEP"))
    var step: ClusterStep?

    @OptionGroup(title: "Across machines (with --step)") var rankOptions: RankOptions

    @Flag(name: .long, help: "Submit the pipeline to Slurm as a chain of dependent jobs.")
    var slurm = false
    @Flag(name: .long, help: "What the steps of a cluster run have done: which ranks finished (with --ranks as submitted).")
    var status = false
    @Flag(name: .long, help: "With --slurm: print the sbatch scripts, submit nothing.")
    var dryRun = false
    @Option(name: .long, help: "With --slurm: array tasks for counting, hashing and sharding.")
    var ranks = 2
    @Option(name: .long, help: "With --slurm: MPI ranks for training (1 = one process).")
    var trainRanks = 1
    @Option(name: .long, help: "With --slurm: the partition of every job.") var partition: String?
    @Option(name: .long, help: "With --slurm: CPUs of every task.") var cpusPerTask: Int?
    @Option(name: .long, help: "With --slurm: the time limit of every job (Slurm's format, e.g. 2:00:00).") var time: String?

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if step != nil && slurm { throw ValidationError("--step runs one step here; --slurm submits them all: give one") }
        if dryRun && !slurm { throw ValidationError("--dry-run goes with --slurm") }
        if ranks < 1 || trainRanks < 1 { throw ValidationError("--ranks and --train-ranks must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            var spec = try PipelineSpec.load(file)
            if let runDir { spec.run.runDir = runDir }
            if slurm { return try submit(spec) }
            if status {
                for line in ClusterSteps.status(spec: spec, ranks: ranks) { print(line) }
                return
            }
            if let step {
                let part = step.isArray ? try rankOptions.part() : CorpusPart(rank: 0, worldSize: rankOptions.worldSize ?? 1)
                let group = step == .train ? try DataParallelGroup.launched() ?? .single : .single
                defer { group.finish() }
                let display = try progressOptions.display(step.rawValue)
                let summary = try ClusterSteps.run(step, spec: spec, part: part, group: group) { display.show($0); return true }
                if group.writes { display.finish(summary) }
                return
            }
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

extension RunPipeline {
    /// Writes RUNDIR/slurm/NN-STEP.sbatch and submits them with `afterok` dependencies (or prints them).
    func submit(_ spec: PipelineSpec) throws {
        var arguments: [String] = []
        if let partition { arguments.append("--partition=\(partition)") }
        if let cpusPerTask { arguments.append("--cpus-per-task=\(cpusPerTask)") }
        if let time { arguments.append("--time=\(time)") }
        let here = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : FileSystem.join(here, p) }
        var absoluteSpec = spec
        absoluteSpec.run.runDir = absolute(spec.runDir)
        let binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let scripts = ClusterSteps.scripts(spec: absoluteSpec, file: absolute(file), tokenmill: binary,
                                           options: .init(ranks: ranks, trainRanks: trainRanks, sbatchArguments: arguments))
        let dir = FileSystem.join(absoluteSpec.runDir, "slurm")
        var previous: String?
        for script in scripts {
            let path = script.path
            try FileSystem.writeAtomically(path, Array(script.text.utf8))
            _ = chmod(path, 0o755)
            let sbatch = ["sbatch", "--parsable"] + (previous.map { ["--dependency=afterok:\($0)"] } ?? []) + [path]
            if dryRun {
                print("# \(sbatch.joined(separator: " "))\n" + script.text)
                previous = "<job of \(script.step.rawValue)>"
                continue
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = sbatch
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0, let id = text.split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }),
                  !id.isEmpty else {
                throw CommandError("\(path): sbatch failed (status \(p.terminationStatus))")
            }
            previous = id
            print("\(script.step.rawValue): job \(id)")
        }
        if !dryRun { print("submitted \(scripts.count) jobs; logs and scripts in \(dir)") }
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
extension ClusterStep: ExpressibleByArgument {}
