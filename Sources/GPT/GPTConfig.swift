/// The shape of a GPT-2 model, as llm.c's checkpoint header records it.
///
/// Legend used in kernels: B = batch size, T = sequence length (≤ maxT), C = channels,
/// NH = heads, hs = C/NH head size, L = layers, V = vocabulary, Vp = V padded to a multiple of 128.
public struct GPTConfig: Codable, Equatable, Hashable, Sendable {
    /// Longest sequence the position table holds (maxT).
    public var maxSequenceLength: Int
    /// Real vocabulary size (V); logits beyond it are padding.
    public var vocabSize: Int
    /// Vocabulary rounded up for speed (Vp ≥ V; a multiple of 128 for models made here).
    public var paddedVocabSize: Int
    public var layers: Int
    public var heads: Int
    public var channels: Int

    /// A config with `paddedVocabSize` = `vocabSize` rounded up to a multiple of 128.
    public init(maxSequenceLength: Int, vocabSize: Int, layers: Int, heads: Int, channels: Int) {
        self.init(maxSequenceLength: maxSequenceLength, vocabSize: vocabSize,
                  paddedVocabSize: (vocabSize + 127) / 128 * 128, layers: layers, heads: heads, channels: channels)
    }

    public init(maxSequenceLength: Int, vocabSize: Int, paddedVocabSize: Int, layers: Int, heads: Int, channels: Int) {
        self.maxSequenceLength = maxSequenceLength
        self.vocabSize = vocabSize
        self.paddedVocabSize = paddedVocabSize
        self.layers = layers
        self.heads = heads
        self.channels = channels
    }

    /// Why this shape cannot be built, or nil when it can.
    public var problem: String? {
        if maxSequenceLength < 1 { return "context length must be at least 1 (got \(maxSequenceLength))" }
        if vocabSize < 1 { return "vocabulary size must be at least 1 (got \(vocabSize))" }
        if paddedVocabSize < vocabSize { return "padded vocabulary \(paddedVocabSize) is smaller than vocabulary \(vocabSize)" }
        if layers < 1 { return "layers must be at least 1 (got \(layers))" }
        if heads < 1 { return "heads must be at least 1 (got \(heads))" }
        if channels < 1 { return "channels must be at least 1 (got \(channels))" }
        if channels % heads != 0 { return "channels (\(channels)) must be a multiple of heads (\(heads))" }
        if parameterCount > Int(Int32.max) * 64 { return "model too large" }
        return nil
    }

    /// Names of the 16 parameter tensors, in checkpoint order.
    public static let tensorNames = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
                                     "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]

    /// Element counts of the 16 parameter tensors, in checkpoint order.
    public var parameterSizes: [Int] {
        let C = channels, L = layers
        return [paddedVocabSize * C, maxSequenceLength * C,
                L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
                L * C, L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C,
                C, C]
    }

    /// Offsets of the 16 tensors in the single parameter allocation.
    public var parameterOffsets: [Int] {
        var offsets: [Int] = [], o = 0
        for s in parameterSizes { offsets.append(o); o += s }
        return offsets
    }

    /// Total number of parameters (including wte's padding rows).
    public var parameterCount: Int { parameterSizes.reduce(0, +) }

    /// Whether tensor `index` (checkpoint order) is a 2-D weight matrix: wte, wpe, qkvw, attprojw,
    /// fcw, fcprojw. Weight decay applies to these only (as in llm.c's CUDA trainer).
    public static func isMatrix(_ index: Int) -> Bool { [0, 1, 4, 6, 10, 12].contains(index) }

    /// Training FLOPs per token by llm.c's estimate: 6·parameters + 6·L·C·T (causal attention).
    public func trainingFLOPsPerToken(sequenceLength T: Int) -> Double {
        6 * Double(parameterCount) + 6 * Double(layers * channels * T)
    }
}
