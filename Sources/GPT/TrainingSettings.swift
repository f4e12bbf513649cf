import Common
import Foundation

/// Everything that defines a training run, defined once: the CLI's `train` flags, a pipeline
/// file's `[train]` table, the run's `run.json` and every trainer state file, the pipeline's
/// stage fingerprint and the resume check all derive from these properties (`SettingsGroup`).
/// A new setting is a new property here, and its help text on the CLI.
///
/// Defaults follow llm.c's CUDA trainer where it has one: AdamW β 0.9/0.95, ε 1e-8, lr 3e-4,
/// no warmup, cosine decay to 0 (`minLearningRateFraction` 0), weight decay 0, gradient clipping
/// at global norm 1. `TrainingSettings.llmcCPU` gives llm.c's CPU `train_gpt2.c` settings.
public struct TrainingSettings: SettingsGroup {
    /// Vocabulary size of the data (the model's V), taken from the corpus.
    public var vocabSize = 0
    public var layers = 4
    public var heads = 4
    /// Channels (the embedding width C); a multiple of `heads`.
    public var channels = 128
    /// Sequence length T of a batch; also the model's maxT unless it comes from a checkpoint.
    public var contextLength = 128
    /// Sequences per micro-batch (B).
    public var batchSize = 8
    /// Micro-batches per optimiser step (gradient accumulation).
    public var gradAccumulation = 1
    /// Optimiser steps in the whole run.
    public var steps = 1000
    /// Peak learning rate.
    public var learningRate: Float = 3e-4
    /// Steps of linear warmup.
    public var warmupSteps = 0
    /// The cosine decay ends at `learningRate · minLearningRateFraction` (1 = constant rate).
    public var minLearningRateFraction: Float = 0
    /// AdamW weight decay, applied to the 2-D weight matrices only (see `AdamW`).
    public var weightDecay: Float = 0
    /// Clip the gradient to this global L2 norm (0 = no clipping).
    public var gradClip: Float = 1
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var epsilon: Float = 1e-8
    /// Seeds the initial weights and the order of shuffled batches.
    public var seed: UInt64 = 1337
    /// Evaluate the validation loss every this many steps, and at the last step (0 = never).
    public var evalEvery = 100
    /// Validation batches per evaluation.
    public var evalBatches = 10
    /// Write a checkpoint every this many steps (0 = only at the end); always at the end.
    public var checkpointEvery = 0
    /// Keep only the latest this many checkpoints, removing older ones as new ones are written
    /// (0 = keep all).
    public var keepCheckpoints = 0
    /// Whether the training data is read in shuffled order (else llm.c's sequential order).
    public var shuffle = true
    /// Worker threads (0 = all cores).
    public var threads = 0

    public init() {}

    public init(vocabSize: Int) { self.vocabSize = vocabSize }

    /// The short names llm.c and nanoGPT users know, accepted in pipeline files and as flags.
    public static var aliases: [String: String] {
        ["lr": "learningRate", "warmup": "warmupSteps", "lr_min": "minLearningRateFraction", "eps": "epsilon",
         "context": "contextLength", "grad_accum": "gradAccumulation"]
    }

    /// Set from the corpus, not by users.
    public static var derivedKeys: Set<String> { ["vocabSize"] }

    /// Settings a resumed run may change: they do not alter the numbers training produces (the
    /// thread count may, in the last bits) or only extend the run. The batch size is per rank:
    /// it may change with the number of ranks, as long as the global batch (batch size × ranks)
    /// stays, which the loader's state checks.
    public static let resumeMayChange: Set<String> = ["steps", "threads", "evalEvery", "evalBatches", "checkpointEvery",
                                                      "keepCheckpoints", "batchSize"]

    /// llm.c `train_gpt2.c`'s settings: lr 1e-4 constant, no warmup, weight decay 0, no clipping,
    /// β 0.9/0.999, ε 1e-8, sequential batches.
    public static func llmcCPU(vocabSize: Int) -> TrainingSettings {
        var s = TrainingSettings(vocabSize: vocabSize)
        s.learningRate = 1e-4
        s.minLearningRateFraction = 1
        s.gradClip = 0
        s.beta2 = 0.999
        s.shuffle = false
        return s
    }

    /// The shape of a model made from scratch for these settings (maxT = contextLength).
    public var modelConfig: GPTConfig {
        GPTConfig(maxSequenceLength: contextLength, vocabSize: vocabSize, layers: layers, heads: heads, channels: channels)
    }

    /// Tokens per optimiser step.
    public var tokensPerStep: Int { batchSize * contextLength * gradAccumulation }

    /// The thread count to use: `threads`, or all cores for 0.
    public var resolvedThreads: Int { threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount }

    /// Why these settings cannot run, or nil. (The vocabulary size is checked once the corpus gave it.)
    public var problem: SettingsProblem? {
        for (key, value) in [("layers", layers), ("heads", heads), ("channels", channels), ("contextLength", contextLength),
                             ("batchSize", batchSize), ("gradAccumulation", gradAccumulation)] where value < 1 {
            return SettingsProblem(key, "must be at least 1, not \(value)")
        }
        if channels % heads != 0 { return SettingsProblem("channels", "must be a multiple of heads (\(heads)), not \(channels)") }
        if vocabSize > 0, let p = modelConfig.problem { return SettingsProblem("channels", p) }
        for (key, value) in [("steps", steps), ("warmupSteps", warmupSteps), ("evalEvery", evalEvery),
                             ("evalBatches", evalBatches), ("checkpointEvery", checkpointEvery), ("keepCheckpoints", keepCheckpoints),
                             ("threads", threads)] where value < 0 {
            return SettingsProblem(key, "must not be negative, not \(value)")
        }
        if !(learningRate >= 0) { return SettingsProblem("learningRate", "must be 0 or more, not \(learningRate)") }
        if !(0...1).contains(minLearningRateFraction) {
            return SettingsProblem("minLearningRateFraction", "must be in 0…1 (a fraction of the learning rate), not \(minLearningRateFraction)")
        }
        for (key, beta) in [("beta1", beta1), ("beta2", beta2)] where !(beta >= 0 && beta < 1) {
            return SettingsProblem(key, "must be in [0, 1), not \(beta)")
        }
        if !(epsilon > 0) { return SettingsProblem("epsilon", "must be more than 0, not \(epsilon)") }
        if !(weightDecay >= 0) { return SettingsProblem("weightDecay", "must be 0 or more, not \(weightDecay)") }
        if !(gradClip >= 0) { return SettingsProblem("gradClip", "must be 0 or more, not \(gradClip)") }
        return nil
    }
}
