/// Everything that defines a training run. Stored (as JSON) in every trainer state file.
///
/// Defaults follow llm.c's CUDA trainer where it has one: AdamW β 0.9/0.95, ε 1e-8, lr 3e-4,
/// no warmup, cosine decay to 0 (`minLearningRateFraction` 0), weight decay 0, gradient clipping
/// at global norm 1. `TrainingSettings.llmcCPU` gives llm.c's CPU `train_gpt2.c` settings.
public struct TrainingSettings: Codable, Equatable, Sendable {
    /// Vocabulary size of the data (the model's V).
    public var vocabSize: Int
    public var layers: Int = 4
    public var heads: Int = 4
    public var channels: Int = 128
    /// Sequence length T of a batch; also the model's maxT unless it comes from a checkpoint.
    public var contextLength: Int = 128
    /// Sequences per micro-batch (B).
    public var batchSize: Int = 8
    /// Optimiser steps in the whole run.
    public var steps: Int = 1000
    /// Peak learning rate.
    public var learningRate: Float = 3e-4
    /// Steps of linear warmup.
    public var warmupSteps: Int = 0
    /// The cosine decay ends at `learningRate · minLearningRateFraction` (1 = constant rate).
    public var minLearningRateFraction: Float = 0
    /// AdamW weight decay, applied to the 2-D weight matrices only (see `AdamW`).
    public var weightDecay: Float = 0
    /// Clip the gradient to this global L2 norm (0 = no clipping).
    public var gradClip: Float = 1
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var epsilon: Float = 1e-8
    /// Seeds the initial weights (and the trainer's random stream).
    public var seed: UInt64 = 1337
    /// Evaluate the validation loss every this many steps, and at the last step (0 = never).
    public var evalEvery: Int = 100
    /// Validation batches per evaluation.
    public var evalBatches: Int = 10
    /// Write a checkpoint every this many steps (0 = only at the end); always at the end.
    public var checkpointEvery: Int = 0
    /// Micro-batches per optimiser step (gradient accumulation).
    public var gradAccumulation: Int = 1
    /// Worker threads.
    public var threads: Int = 1
    /// Whether the training data is read in shuffled order (a loader setting, recorded here).
    public var shuffle: Bool = true

    public init(vocabSize: Int) { self.vocabSize = vocabSize }

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

    /// Why these settings cannot run, or nil.
    public var problem: String? {
        if let p = modelConfig.problem { return p }
        if batchSize < 1 { return "batch size must be at least 1 (got \(batchSize))" }
        if steps < 0 { return "steps must not be negative (got \(steps))" }
        if gradAccumulation < 1 { return "gradient accumulation must be at least 1 (got \(gradAccumulation))" }
        if !(learningRate >= 0) { return "learning rate must be ≥ 0 (got \(learningRate))" }
        if warmupSteps < 0 { return "warmup steps must not be negative" }
        if !(0...1).contains(minLearningRateFraction) { return "min learning-rate fraction must be in 0…1" }
        if !(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1) { return "AdamW betas must be in [0, 1)" }
        if !(epsilon > 0) { return "AdamW epsilon must be > 0" }
        if !(weightDecay >= 0) || !(gradClip >= 0) { return "weight decay and grad clip must be ≥ 0" }
        if evalEvery < 0 || evalBatches < 0 || checkpointEvery < 0 { return "eval and checkpoint intervals must be ≥ 0" }
        if threads < 1 { return "threads must be at least 1" }
        return nil
    }

    /// Fields a resumed run may change: they do not alter the numbers training produces (the
    /// thread count may, in the last bits) or only extend the run.
    static let resumeMayChange: Set<String> = ["steps", "threads", "evalEvery", "evalBatches", "checkpointEvery"]

    /// (name, stored value as text) for each field, for comparing runs.
    var fieldsForComparison: [(String, String)] {
        [("vocabSize", "\(vocabSize)"), ("layers", "\(layers)"), ("heads", "\(heads)"), ("channels", "\(channels)"),
         ("contextLength", "\(contextLength)"), ("batchSize", "\(batchSize)"), ("steps", "\(steps)"),
         ("learningRate", "\(learningRate)"), ("warmupSteps", "\(warmupSteps)"),
         ("minLearningRateFraction", "\(minLearningRateFraction)"), ("weightDecay", "\(weightDecay)"),
         ("gradClip", "\(gradClip)"), ("beta1", "\(beta1)"), ("beta2", "\(beta2)"), ("epsilon", "\(epsilon)"),
         ("seed", "\(seed)"), ("evalEvery", "\(evalEvery)"), ("evalBatches", "\(evalBatches)"),
         ("checkpointEvery", "\(checkpointEvery)"), ("gradAccumulation", "\(gradAccumulation)"),
         ("threads", "\(threads)"), ("shuffle", "\(shuffle)")]
    }
}
