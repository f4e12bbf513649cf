import ArgumentParser
import BPE
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
        The second command trains 200 more steps, exactly as one run of 400 would. llm.c's CPU \
        settings are --lr 1e-4 --weight-decay 0 --grad-clip 0 --warmup 0 --lr-min 1 --beta2 0.999 \
        --no-shuffle.
        """)

    @Option(name: .long, help: ArgumentHelp("Corpus directory written by `tokenmill shard`.", valueName: "DIR"))
    var data: String

    @Option(name: .long, help: ArgumentHelp("Run directory.", valueName: "RUNDIR"))
    var output: String

    @Option(name: .long, help: "Transformer layers.") var layers = 4
    @Option(name: .long, help: "Attention heads.") var heads = 4
    @Option(name: .long, help: "Channels (embedding width); a multiple of --heads.") var channels = 128
    @Option(name: .long, help: "Context length (tokens per sequence).") var context = 128
    @Option(name: .long, help: "Sequences per micro-batch.") var batchSize = 8
    @Option(name: .long, help: "Micro-batches per optimiser step (gradient accumulation).") var gradAccum = 1
    @Option(name: .long, help: "Optimiser steps (in total, counting resumed ones).") var steps = 1000
    @Option(name: .long, help: "Peak learning rate.") var lr: Float = 3e-4
    @Option(name: .long, help: "Linear warmup steps, then cosine decay.") var warmup = 0
    @Option(name: .long, help: "Final learning rate as a fraction of the peak (1 = constant).") var lrMin: Float = 0
    @Option(name: .long, help: "AdamW weight decay (applied to 2-D weights only).") var weightDecay: Float = 0
    @Option(name: .long, help: "Clip gradients to this global norm (0 = off).") var gradClip: Float = 1
    @Option(name: .long, help: "AdamW β1.") var beta1: Float = 0.9
    @Option(name: .long, help: "AdamW β2.") var beta2: Float = 0.95
    @Option(name: .long, help: "AdamW ε.") var eps: Float = 1e-8
    @Option(name: .long, help: "Seed of initialisation and shuffling.") var seed: UInt64 = 1337
    @Option(name: .long, help: "Evaluate on the val split every N steps (0 = never).") var evalEvery = 100
    @Option(name: .long, help: "Batches per evaluation.") var evalBatches = 10
    @Option(name: .long, help: "Write a checkpoint every N steps (0 = only at the end).") var checkpointEvery = 0
    @Option(name: .long, help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(name: .long, help: "Read batches in llm.c's sequential order instead of shuffled.") var noShuffle = false
    @Option(name: .customLong("init"), help: ArgumentHelp("Start from an llm.c-format checkpoint (vocabulary must match the data's).", valueName: "FILE"))
    var initFrom: String?
    @Flag(name: .long, help: "Continue the run in RUNDIR from its latest checkpoint.") var resume = false
    @Option(name: .long, help: "Stop with a checkpoint after this many steps (the schedule still spans --steps); continue later with --resume.")
    var stopAt: Int?
    @OptionGroup var progressOptions: ProgressOptions


    func validate() throws {
        if channels % heads != 0 { throw ValidationError("--channels (\(channels)) must be a multiple of --heads (\(heads))") }
        if resume && initFrom != nil { throw ValidationError("--resume and --init do not go together") }
        for (name, v) in [("layers", layers), ("heads", heads), ("context", context), ("batch-size", batchSize),
                          ("steps", steps), ("threads", threads), ("grad-accum", gradAccum)] where v < 1 {
            throw ValidationError("--\(name) must be at least 1")
        }
    }

    var settings: TrainingSettings {
        var s = TrainingSettings(vocabSize: 0)
        s.layers = layers
        s.heads = heads
        s.channels = channels
        s.contextLength = context
        s.batchSize = batchSize
        s.gradAccumulation = gradAccum
        s.steps = steps
        s.learningRate = lr
        s.warmupSteps = warmup
        s.minLearningRateFraction = lrMin
        s.weightDecay = weightDecay
        s.gradClip = gradClip
        s.beta1 = beta1
        s.beta2 = beta2
        s.epsilon = eps
        s.seed = seed
        s.evalEvery = evalEvery
        s.evalBatches = evalBatches
        s.checkpointEvery = checkpointEvery
        s.threads = threads
        s.shuffle = !noShuffle
        return s
    }

    func run() throws {
        try reportingErrors {
            let display = try progressOptions.display("train")
            var options = TrainJobOptions(dataDirectory: data, runDirectory: output, settings: settings,
                                          initCheckpoint: initFrom, resume: resume)
            options.stopAt = stopAt
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
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            guard let latest = Trainer.latestCheckpoint(in: path) ?? latestModelFile(in: path) else {
                throw CommandError("\(path): no model_*.bin checkpoint in this directory")
            }
            path = latest.path
        }
        let model = try GPT2(checkpoint: path, threads: threads)
        let tokenizer = try tokenizerOptions.load()
        guard tokenizer.vocabSize == model.config.vocabSize else {
            throw CommandError("\(path): the model has a vocabulary of \(model.config.vocabSize) tokens, the tokenizer \(tokenizerOptions.tokenizer) has \(tokenizer.vocabSize)")
        }
        var ids = tokenizer.encode(Array(prompt.utf8)).map { Int32($0) }
        if ids.isEmpty, let eot = tokenizer.eotID { ids = [Int32(eot)] }
        return (model, tokenizer, ids)
    }

    func latestModelFile(in dir: String) -> (step: Int, path: String)? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let models = names.filter { $0.hasPrefix("model_") && $0.hasSuffix(".bin") }.sorted()
        return models.last.map { (0, (dir as NSString).appendingPathComponent($0)) }
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
