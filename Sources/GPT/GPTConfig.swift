import Common

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
        guard let count = countedParameterSizes.flatMap(checkedSum) else {
            return "model too large: its parameter count does not fit in a 64-bit integer"
        }
        if count > GPTConfig.maxParameterCount {
            return "model too large: \(count) parameters (at most \(GPTConfig.maxParameterCount))"
        }
        return nil
    }

    /// The most parameters a model may have (64 × Int32.max: 512 GiB of Float).
    public static let maxParameterCount = Int(Int32.max) * 64

    /// Names of the 16 parameter tensors, in checkpoint order.
    public static let tensorNames = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
                                     "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]

    /// Element counts of the 16 parameter tensors, in checkpoint order, or nil when one does not
    /// fit in an Int (a checkpoint header may hold any 32-bit values).
    var countedParameterSizes: [Int]? {
        let C = channels, L = layers
        let sizes = [checkedProduct(paddedVocabSize, C), checkedProduct(maxSequenceLength, C),
                     checkedProduct(L, C), checkedProduct(L, C), checkedProduct(L, 3, C, C), checkedProduct(L, 3, C),
                     checkedProduct(L, C, C), checkedProduct(L, C),
                     checkedProduct(L, C), checkedProduct(L, C), checkedProduct(L, 4, C, C), checkedProduct(L, 4, C),
                     checkedProduct(L, C, 4, C), checkedProduct(L, C),
                     C, C]
        return sizes.contains(nil) ? nil : sizes.compactMap { $0 }
    }

    /// Element counts of the 16 parameter tensors, in checkpoint order. For a shape with a
    /// `problem`, a count too large for an Int is Int.max.
    public var parameterSizes: [Int] {
        countedParameterSizes ?? Array(repeating: Int.max, count: GPTConfig.tensorNames.count)
    }

    /// Offsets of the 16 tensors in the single parameter allocation (of a shape without a `problem`).
    public var parameterOffsets: [Int] {
        var offsets: [Int] = [], o = 0
        for s in parameterSizes {
            offsets.append(o)
            let (next, overflow) = o.addingReportingOverflow(s)
            o = overflow ? Int.max : next
        }
        return offsets
    }

    /// Total number of parameters (including wte's padding rows); Int.max when it does not fit in
    /// an Int (`problem` says so).
    public var parameterCount: Int {
        parameterSizes.reduce(0) { total, size in
            let (sum, overflow) = total.addingReportingOverflow(size)
            return overflow ? Int.max : sum
        }
    }

    /// Whether tensor `index` (checkpoint order) is a 2-D weight matrix: wte, wpe, qkvw, attprojw,
    /// fcw, fcprojw. Weight decay applies to these only (as in llm.c's CUDA trainer).
    public static func isMatrix(_ index: Int) -> Bool { [0, 1, 4, 6, 10, 12].contains(index) }

    /// Training FLOPs per token by llm.c's estimate: 6·parameters + 6·L·C·T (causal attention).
    public func trainingFLOPsPerToken(sequenceLength T: Int) -> Double {
        6 * Double(parameterCount) + 6 * Double(layers) * Double(channels) * Double(T)
    }
}


/// The sum of `terms`, or nil when it does not fit in an Int.
func checkedSum(_ terms: Int...) -> Int? { checkedSum(terms) }

func checkedSum(_ terms: [Int]) -> Int? {
    var sum = 0
    for t in terms {
        let (s, overflow) = sum.addingReportingOverflow(t)
        if overflow { return nil }
        sum = s
    }
    return sum
}
