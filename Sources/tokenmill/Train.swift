import ArgumentParser
import BPE
import Common
import Foundation
import GPT
import Pipeline

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pre-train a GPT-2 on a sharded corpus.",
        discussion: """
        Streams batches from DIR's train split (shuffled, or llm.c's sequential order with \
        --no-shuffle), evaluates on the val split every --eval-every steps, and writes \
        RUNDIR/log.jsonl (one JSON object per step), RUNDIR/model_%08d.bin checkpoints in llm.c's \
        format with the trainer state beside them (.state), and RUNDIR/run.json.
          tokenmill train --data out/shards --output out/run --steps 200
          tokenmill train --data out/shards --output out/run --steps 400 --resume
        The second command trains 200 more steps, exactly as one run of 400 would: a resumed run \
        keeps its settings but for the flags given. llm.c's CPU settings are --lr 1e-4 \
        --weight-decay 0 --grad-clip 0 --warmup 0 --lr-min 1 --beta2 0.999 --no-shuffle.
        """)

    @Option(name: .long, help: ArgumentHelp("Corpus directory written by `tokenmill shard`.", valueName: "DIR"))
    var data: String

    @Option(name: .long, help: ArgumentHelp("Run directory.", valueName: "RUNDIR"))
    var output: String

    @OptionGroup(title: "Training settings") var training: TrainingOptions
    @Option(name: .customLong("init"), help: ArgumentHelp("Start from an llm.c-format checkpoint (vocabulary must match the data's).", valueName: "FILE"))
    var initFrom: String?
    @Flag(name: .long, help: "Continue the run in RUNDIR from its latest checkpoint.") var resume = false
    @Option(name: .long, help: "Stop with a checkpoint after this many steps (the schedule still spans --steps); continue later with --resume.")
    var stopAt: Int?
    @OptionGroup var progressOptions: ProgressOptions


    func validate() throws {
        if resume && initFrom != nil { throw ValidationError("--resume and --init do not go together") }
        if let stopAt, stopAt < 1 { throw ValidationError("--stop-at must be at least 1") }
        _ = try settings()
    }

    /// The flags given, over the defaults; a resumed run keeps its settings but for the flags
    /// given (more --steps, say).
    func settings() throws -> TrainingSettings {
        try training.settings(over: resume ? RunRecord.read(output)?.settings ?? TrainingSettings() : TrainingSettings())
    }

    func run() throws {
        try reportingErrors {
            // Under mpirun, one rank of a data-parallel run: rank 0 reports, the others are quiet.
            let group = try DataParallelGroup.launched() ?? .single
            defer { group.finish() }
            let display = group.writes ? try progressOptions.display("train") : try ProgressDisplay(stage: "train", quiet: true, logJSON: nil)
            var options = TrainJobOptions(dataDirectory: data, runDirectory: output, settings: try settings(),
                                          initCheckpoint: initFrom, resume: resume)
            options.stopAt = stopAt
            options.group = group
            let interrupted = Interrupt.install()
            let result = try TrainJob.run(options) { p in
                display.show(p)
                return !interrupted.isSet
            }
            if interrupted.isSet { display.note("interrupted: checkpoint written; continue with --resume") }
            var line = "trained \(result.steps) steps of a \(formatCount(result.parameters))-parameter GPT"
            if let r = result.resumedFrom { line += " (resumed at step \(r))" }
            if let l = result.lastTrainLoss { line += String(format: "; last train loss %.4f", l) }
            if let v = result.lastValidationLoss { line += String(format: ", val loss %.4f", v) }
            if let c = result.checkpoint { line += " → \(c)" }
            display.finish(line)
        }
    }
}

func formatCount(_ n: Int) -> String {
    n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : n >= 1000 ? String(format: "%.0fk", Double(n) / 1e3) : "\(n)"
}

/// `--checkpoint`, `--tokenizer` and `--prompt`, shared by generate and next.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("An llm.c-format checkpoint (RUNDIR/model_NNNNNNNN.bin), or a run directory (its latest).", valueName: "FILE"))
    var checkpoint: String

    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: .long, help: "The text to continue.")
    var prompt: String

    @Option(name: .long, help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func load() throws -> (GPT2, Tokenizer, [Int32]) {
        var path = checkpoint
        if FileSystem.isDirectory(path) {
            guard let latest = Trainer.latestCheckpoint(in: path) ?? latestModelFile(in: path) else {
                throw CommandError("\(path): no model_*.bin checkpoint in this directory")
            }
            path = latest.path
        }
        let model = try GPT2(checkpoint: path, threads: threads)
        let tokenizer = try tokenizerOptions.load()
        guard tokenizer.vocabSize == model.config.vocabSize else {
            throw CommandError("\(path): the model has a vocabulary of \(model.config.vocabSize) tokens, the tokenizer \(tokenizerOptions.path) has \(tokenizer.vocabSize)")
        }
        var ids = tokenizer.encode(Array(prompt.utf8)).map { Int32($0) }
        if ids.isEmpty, let eot = tokenizer.eotID { ids = [Int32(eot)] }
        return (model, tokenizer, ids)
    }

    func latestModelFile(in dir: String) -> (step: Int, path: String)? {
        let names = (try? FileSystem.list(dir)) ?? []
        let models = names.filter { $0.hasPrefix("model_") && $0.hasSuffix(".bin") }
        return models.last.map { (0, FileSystem.join(dir, $0)) }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt with a trained model: predict, append, predict again.",
        discussion: """
        Prints the prompt followed by the continuation. --temperature 0 is greedy (the most likely \
        token each time); otherwise tokens are sampled, from the --top-k most likely if given, with \
        --seed making it repeatable.
          tokenmill generate --checkpoint out/run --tokenizer out/vocab --prompt 'The sun rises from the' --temperature 0
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Tokens to generate.") var maxTokens = 64
    @Option(name: .long, help: "Sampling temperature (0 = greedy).") var temperature: Float = 1
    @Option(name: .long, help: "Sample from the K most likely tokens (0 = all).") var topK = 0
    @Option(name: .long, help: "Seed of the sampler.") var seed: UInt64 = 1
    @Flag(name: .long, help: "Stop at the end-of-text token.") var stopAtEOT = false

    func validate() throws {
        if temperature < 0 { throw ValidationError("--temperature must not be negative") }
        if topK < 0 || maxTokens < 0 { throw ValidationError("--top-k and --max-tokens must not be negative") }
    }

    func run() throws {
        try reportingErrors {
            let (gpt, tokenizer, ids) = try model.load()
            var out = try gpt.generate(prompt: ids, maxTokens: maxTokens, temperature: temperature, topK: topK, seed: seed)
                .map { UInt32($0) }
            if stopAtEOT, let eot = tokenizer.eotID, let i = out.firstIndex(of: eot) { out = Array(out[..<i]) }
            let text = try tokenizer.decode(out)
            writeOutput(Array(model.prompt.utf8) + text + [10])
        }
    }
}

struct Next: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the most likely next tokens after a prompt, with their probabilities.",
        discussion: """
          tokenmill next --checkpoint out/run --tokenizer out/vocab --prompt 'The sun rises from the'
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "How many tokens to show.") var top = 10
    @Flag(name: .long, help: "Machine-readable JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let (gpt, tokenizer, ids) = try model.load()
            let dist = try gpt.nextTokenDistribution(prompt: ids, top: top)
            if json {
                let rows: [[String: Any]] = dist.map { d in
                    ["id": Int(d.id), "text": String(decoding: tokenizer.tokenBytes(UInt32(d.id)) ?? [], as: UTF8.self),
                     "probability": Double(d.probability)]
                }
                let data = try JSONSerialization.data(withJSONObject: ["prompt": model.prompt, "next": rows], options: [.sortedKeys])
                writeOutput(Array(data) + [10])
                return
            }
            var out = "after \(model.prompt.debugDescription):\n"
            let texts = dist.map { String(decoding: tokenizer.tokenBytes(UInt32($0.id)) ?? [], as: UTF8.self).debugDescription }
            let width = texts.map(\.count).max() ?? 0
            for (i, d) in dist.enumerated() {
                let bar = String(repeating: "█", count: Int((d.probability * 40).rounded()))
                let padded = texts[i] + String(repeating: " ", count: width - texts[i].count)
                out += String(format: "%3d. ", i + 1) + padded + String(format: " %6.2f%%  ", d.probability * 100) + bar + "\n"
            }
            writeOutput(Array(out.utf8))
        }
    }
}

/// The training settings as flags: `TrainingSettings` is their definition.
struct TrainingOptions: SettingsOptions {
    typealias Settings = TrainingSettings

    @Option(name: names("layers"), help: help("Transformer layers", \.layers)) var layers: Int?
    @Option(name: names("heads"), help: help("Attention heads", \.heads)) var heads: Int?
    @Option(name: names("channels"), help: help("Channels (embedding width), a multiple of --heads", \.channels)) var channels: Int?
    @Option(name: names("contextLength"), help: help("Context length: tokens per sequence", \.contextLength)) var contextLength: Int?
    @Option(name: names("batchSize"), help: help("Sequences per micro-batch", \.batchSize)) var batchSize: Int?
    @Option(name: names("gradAccumulation"), help: help("Micro-batches per optimiser step (gradient accumulation)", \.gradAccumulation))
    var gradAccumulation: Int?
    @Option(name: names("steps"), help: help("Optimiser steps, in total (counting resumed ones)", \.steps)) var steps: Int?
    @Option(name: names("learningRate"), help: help("Peak learning rate", \.learningRate)) var learningRate: Float?
    @Option(name: names("warmupSteps"), help: help("Linear warmup steps, then cosine decay", \.warmupSteps)) var warmupSteps: Int?
    @Option(name: names("minLearningRateFraction"), help: help("Final learning rate as a fraction of the peak (1 = constant)", \.minLearningRateFraction))
    var minLearningRateFraction: Float?
    @Option(name: names("weightDecay"), help: help("AdamW weight decay, applied to 2-D weights only", \.weightDecay)) var weightDecay: Float?
    @Option(name: names("gradClip"), help: help("Clip gradients to this global norm (0 = off)", \.gradClip)) var gradClip: Float?
    @Option(name: names("beta1"), help: help("AdamW β1", \.beta1)) var beta1: Float?
    @Option(name: names("beta2"), help: help("AdamW β2", \.beta2)) var beta2: Float?
    @Option(name: names("epsilon"), help: help("AdamW ε", \.epsilon)) var epsilon: Float?
    @Option(name: names("seed"), help: help("Seed of initialisation and shuffling", \.seed)) var seed: UInt64?
    @Option(name: names("evalEvery"), help: help("Evaluate on the val split every N steps (0 = never)", \.evalEvery)) var evalEvery: Int?
    @Option(name: names("evalBatches"), help: help("Batches per evaluation", \.evalBatches)) var evalBatches: Int?
    @Option(name: names("checkpointEvery"), help: help("Write a checkpoint every N steps (0 = only at the end)", \.checkpointEvery))
    var checkpointEvery: Int?
    @Option(name: names("keepCheckpoints"), help: help("Keep only the latest N checkpoints (0 = all)", \.keepCheckpoints))
    var keepCheckpoints: Int?
    @Flag(name: names("shuffle"), inversion: .prefixedNo, help: help("Shuffled batches; --no-shuffle reads them in llm.c's sequential order", \.shuffle))
    var shuffle: Bool?
    @Option(name: names("threads"), help: help("Threads (0 = all cores)", \.threads)) var threads: Int?
}
