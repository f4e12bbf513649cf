import Common

/// The activations of one forward pass for a fixed (B, T), kept for backward, in one allocation.
/// Per-layer tensors are stacked (L, …); `layer(l)` returns layer l's views.
///
/// Compared with llm.c the set is smaller: the attention and MLP projections are written straight
/// into the residual stream (residual2, residual3), softmax probabilities overwrite the logits,
/// and the pre-softmax attention scores are not kept (backward needs only the probabilities).
final class Activations {
    let B: Int, T: Int
    // Safety: every tensor below is a view carved from `storage` (sizes for this B, T and the
    // model's config), valid while this object lives; the model keeps it until the shape changes.
    private let storage: FloatBuffer
    let encoded: UnsafeMutablePointer<Float>    // (B, T, C)
    let ln1: UnsafeMutablePointer<Float>        // (L, B, T, C)
    let ln1Mean: UnsafeMutablePointer<Float>    // (L, B, T)
    let ln1Rstd: UnsafeMutablePointer<Float>    // (L, B, T)
    let qkv: UnsafeMutablePointer<Float>        // (L, B, T, 3C)
    let atty: UnsafeMutablePointer<Float>       // (L, B, T, C)
    let att: UnsafeMutablePointer<Float>        // (L, B, NH, T, T)
    let residual2: UnsafeMutablePointer<Float>  // (L, B, T, C)
    let ln2: UnsafeMutablePointer<Float>        // (L, B, T, C)
    let ln2Mean: UnsafeMutablePointer<Float>    // (L, B, T)
    let ln2Rstd: UnsafeMutablePointer<Float>    // (L, B, T)
    let fch: UnsafeMutablePointer<Float>        // (L, B, T, 4C)
    let fchGelu: UnsafeMutablePointer<Float>    // (L, B, T, 4C)
    let fchGate: UnsafeMutablePointer<Float>    // (L, B, T, 4C) GELU's 1 − |tanh| (see geluForward)
    let residual3: UnsafeMutablePointer<Float>  // (L, B, T, C)
    let lnf: UnsafeMutablePointer<Float>        // (B, T, C)
    let lnfMean: UnsafeMutablePointer<Float>    // (B, T)
    let lnfRstd: UnsafeMutablePointer<Float>    // (B, T)
    let logits: UnsafeMutablePointer<Float>     // (B, T, Vp): logits, then probs or dlogits
    let losses: UnsafeMutablePointer<Float>     // (B, T)
    /// The token ids of the last forward pass (B, T) and its targets.
    var inputs: [Int32]
    var targets: [Int32]

    /// Element counts of the tensors for (B, T), in the order below, or nil when they (or their
    /// padded total) do not fit in an Int.
    static func sizes(config: GPTConfig, B: Int, T: Int) -> [Int]? {
        let C = config.channels, L = config.layers, NH = config.heads
        guard let BT = checkedProduct(B, T) else { return nil }
        let sizes = [checkedProduct(BT, C), checkedProduct(L, BT, C), checkedProduct(L, BT), checkedProduct(L, BT),
                     checkedProduct(L, BT, 3, C), checkedProduct(L, BT, C), checkedProduct(L, B, NH, T, T),
                     checkedProduct(L, BT, C), checkedProduct(L, BT, C), checkedProduct(L, BT), checkedProduct(L, BT),
                     checkedProduct(L, BT, 4, C), checkedProduct(L, BT, 4, C), checkedProduct(L, BT, C),
                     checkedProduct(BT, C), BT, BT, checkedProduct(BT, config.paddedVocabSize), BT,
                     checkedProduct(L, BT, 4, C)].compactMap { $0 }
        guard sizes.count == 20 else { return nil }
        var total = 0   // as FloatBuffer.carve pads them
        for size in sizes {
            guard let next = checkedSum(total, size, 16) else { return nil }
            total = next
        }
        return sizes
    }

    /// The activations for (B, T); `sizes` from `Activations.sizes(config:B:T:)`.
    init(B: Int, T: Int, sizes: [Int]) {
        self.B = B
        self.T = T
        let BT = B * T
        let t: [UnsafeMutablePointer<Float>]
        (storage, t) = FloatBuffer.carve(sizes)
        encoded = t[0]; ln1 = t[1]; ln1Mean = t[2]; ln1Rstd = t[3]; qkv = t[4]; atty = t[5]
        att = t[6]; residual2 = t[7]; ln2 = t[8]; ln2Mean = t[9]; ln2Rstd = t[10]
        fch = t[11]; fchGelu = t[12]; residual3 = t[13]; lnf = t[14]; lnfMean = t[15]
        lnfRstd = t[16]; logits = t[17]; losses = t[18]; fchGate = t[19]
        inputs = Array(repeating: 0, count: BT)
        targets = Array(repeating: 0, count: BT)
    }
}

/// Scratch for backward: the gradient of the residual stream and per-layer gradient buffers that
/// every layer reuses, plus per-worker attention scratch.
final class BackwardScratch {
    let threads: Int, B: Int, T: Int
    // Safety: as in `Activations`, the views below are carved from `storage` and live as long as it.
    private let storage: FloatBuffer
    let dresidual: UnsafeMutablePointer<Float>  // (B, T, C)
    let dln: UnsafeMutablePointer<Float>        // (B, T, C)
    let datty: UnsafeMutablePointer<Float>      // (B, T, C)
    let dqkv: UnsafeMutablePointer<Float>       // (B, T, 3C)
    let dfch: UnsafeMutablePointer<Float>       // (B, T, 4C)
    let attention: UnsafeMutablePointer<Float>  // (threads, T, T)

    init(config: GPTConfig, B: Int, T: Int, threads: Int) {
        self.threads = threads
        self.B = B
        self.T = T
        let C = config.channels, BT = B * T
        let sizes = [BT * C, BT * C, BT * C, BT * 3 * C, BT * 4 * C,
                     Kernels.attentionScratchCount(T: T, threads: threads)]
        let t: [UnsafeMutablePointer<Float>]
        (storage, t) = FloatBuffer.carve(sizes)
        dresidual = t[0]; dln = t[1]; datty = t[2]; dqkv = t[3]; dfch = t[4]; attention = t[5]
    }
}
