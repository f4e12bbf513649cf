#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GPT-2 as llm.c's `train_gpt2.c` defines it, trained on the CPU.
///
/// LayerNorm (eps 1e-5), GELU (tanh form), causal self-attention scaled by 1/√head_size, tied
/// input/output embeddings, logits over the padded vocabulary Vp with softmax and loss over V.
/// All parameters live in one allocation, viewed as 16 tensors in checkpoint order; gradients share
/// the layout.
///
///     let model = try GPT2(config: GPTConfig(maxSequenceLength: 64, vocabSize: 256, layers: 2,
///                                            heads: 2, channels: 64), seed: 1)
///     model.zeroGradients()
///     let loss = try model.forwardBackward(inputs: x, targets: y, batchSize: 4, contextLength: 64)
///
/// A model is not safe to use from several threads at once; it runs its own workers (`threads`).
public final class GPT2 {
    public let config: GPTConfig
    let parameterStorage: FloatBuffer
    let params: ParameterTensors
    private(set) var gradientStorage: FloatBuffer?
    private(set) var grads: ParameterTensors?
    var acts: Activations?
    var scratch: BackwardScratch?
    /// Whether the activations hold a training forward pass (logits overwritten by dlogits).
    private var readyForBackward = false

    /// Worker threads for the kernels (BLAS products included). Results are identical for the
    /// same thread count; the products' row split follows it.
    public var threads: Int {
        didSet { threads = max(1, threads); par = Parallel(threads: threads) }
    }
    var par: Parallel

    /// When true, `kernelSeconds` accumulates the time spent in each kind of kernel call.
    public var profiling = false
    /// Seconds per kernel kind ("matmul.qkvw", "attention.bwd", …) while `profiling` was on: CPU
    /// time of the calling thread with one thread (robust on a busy machine), else wall time.
    public private(set) var kernelSeconds: [String: Double] = [:]

    @inline(__always)
    func timed(_ name: String, _ body: () -> Void) {
        guard profiling else { return body() }
        let clock = threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC
        var t0 = timespec(), t1 = timespec()
        clock_gettime(clock, &t0)
        body()
        clock_gettime(clock, &t1)
        kernelSeconds[name, default: 0] += Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
    }

    /// A model with llm.c/GPT-2 initialisation from `seed`: weights N(0, 0.02), the residual
    /// projections (attprojw, fcprojw) N(0, 0.02/√(2L)), biases 0, LayerNorm weights 1, and wte's
    /// padding rows zero. Tensors are filled in checkpoint order from one random stream.
    public convenience init(config: GPTConfig, seed: UInt64, threads: Int = 1) throws {
        if let problem = config.problem { throw GPTError.invalidConfiguration(problem) }
        let storage = FloatBuffer(count: config.parameterCount)
        var rng = GPTRandom(seed: seed)
        let sizes = config.parameterSizes, offsets = config.parameterOffsets
        let residualStd = 0.02 / (2 * Double(config.layers)).squareRoot()
        for (i, name) in GPTConfig.tensorNames.enumerated() {
            let t = storage.base + offsets[i]
            switch name {
            case "ln1w", "ln2w", "lnfw":
                t.update(repeating: 1, count: sizes[i])
            case "wte":
                for j in 0..<(config.vocabSize * config.channels) { t[j] = Float(0.02 * rng.nextNormal()) }
            case "wpe", "qkvw", "fcw":
                for j in 0..<sizes[i] { t[j] = Float(0.02 * rng.nextNormal()) }
            case "attprojw", "fcprojw":
                for j in 0..<sizes[i] { t[j] = Float(residualStd * rng.nextNormal()) }
            default:
                break   // biases stay 0
            }
        }
        self.init(config: config, storage: storage, threads: threads)
    }

    init(config: GPTConfig, storage: FloatBuffer, threads: Int) {
        BLAS.prepare()
        self.config = config
        parameterStorage = storage
        params = ParameterTensors(base: storage.base, config: config)
        self.threads = max(1, threads)
        par = Parallel(threads: max(1, threads))
    }

    /// Number of parameters (including wte's padding rows).
    public var parameterCount: Int { config.parameterCount }

    /// Calls `body` with all parameters, in checkpoint order.
    package func withParameters<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(parameterStorage.buffer)
    }

    /// Calls `body` with all gradients (zeros before the first backward pass), in checkpoint order.
    package func withGradients<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(gradients().buffer)
    }

    /// A copy of the parameters.
    public var parameters: [Float] { Array(parameterStorage.buffer) }

    /// A copy of the gradients.
    public var gradientValues: [Float] { Array(gradients().buffer) }

    func gradients() -> FloatBuffer {
        if let gradientStorage { return gradientStorage }
        let g = FloatBuffer(count: config.parameterCount)
        gradientStorage = g
        grads = ParameterTensors(base: g.base, config: config)
        return g
    }

    /// Sets all gradients to zero.
    public func zeroGradients() { gradients().zero() }

    // MARK: forward and backward

    /// The mean loss over the batch, without touching the gradients. `inputs` and `targets` are
    /// B·T token ids, row-major (B, T).
    public func loss(inputs: [Int32], targets: [Int32], batchSize: Int, contextLength: Int) throws -> Float {
        try inputs.withUnsafeBufferPointer { i in
            try targets.withUnsafeBufferPointer { t in
                try forward(inputs: i, targets: t, B: batchSize, T: contextLength, dloss: nil)
            }
        }
    }

    /// Forward and backward on one batch: returns the mean loss and *adds* the gradient of
    /// `lossScale · loss` to the gradients (call `zeroGradients()` first; a `lossScale` of
    /// 1/accumulationSteps averages micro-batches).
    @discardableResult
    public func forwardBackward(inputs: [Int32], targets: [Int32], batchSize: Int, contextLength: Int,
                                lossScale: Float = 1) throws -> Float {
        try inputs.withUnsafeBufferPointer { i in
            try targets.withUnsafeBufferPointer { t in
                try forwardBackward(inputs: i, targets: t, B: batchSize, T: contextLength, lossScale: lossScale)
            }
        }
    }

    func forwardBackward(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                         B: Int, T: Int, lossScale: Float) throws -> Float {
        let (BT, overflow) = B.multipliedReportingOverflow(by: T)   // forward refuses a shape that overflows
        let loss = try forward(inputs: inputs, targets: targets, B: B, T: T, dloss: overflow ? 0 : lossScale / Float(BT))
        backward()
        return loss
    }

    /// Runs the model on (B, T) tokens. With targets, returns the mean loss; with `dloss`, the
    /// logits are replaced by dlogits = dloss·∂loss_i/∂logits ready for `backward()`. Without
    /// targets, the logits are replaced by probabilities and the result is 0.
    @discardableResult
    func forward(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>?,
                 B: Int, T: Int, dloss: Float?) throws -> Float {
        let C = config.channels, L = config.layers, NH = config.heads, V = config.vocabSize
        let Vp = config.paddedVocabSize
        guard B >= 1, T >= 1, T <= config.maxSequenceLength else {
            throw GPTError.invalidConfiguration(
                "batch shape \(B)×\(T) does not fit the model (context ≤ \(config.maxSequenceLength))")
        }
        guard let sizes = Activations.sizes(config: config, B: B, T: T) else {
            throw GPTError.invalidConfiguration("batch shape \(B)×\(T) is too large: its activations do not fit in memory")
        }
        let BT = B * T
        guard inputs.count == BT, targets.map({ $0.count == BT }) ?? true else {
            throw GPTError.badBatch("expected \(BT) inputs and targets, got \(inputs.count) and \(targets?.count ?? 0)")
        }
        for (i, tok) in inputs.enumerated() where tok < 0 || Int(tok) >= V {
            throw GPTError.tokenOutOfRange(token: tok, position: i, vocabSize: V)
        }
        if let targets {
            for (i, tok) in targets.enumerated() where tok < 0 || Int(tok) >= V {
                throw GPTError.tokenOutOfRange(token: tok, position: i, vocabSize: V)
            }
        }
        if acts?.B != B || acts?.T != T { acts = Activations(B: B, T: T, sizes: sizes) }
        let a = acts!   // just set above
        readyForBackward = false
        for i in 0..<BT { a.inputs[i] = inputs[i] }
        if let targets { for i in 0..<BT { a.targets[i] = targets[i] } }
        let p = params, par = par
        typealias K = Kernels

        a.inputs.withUnsafeBufferPointer { inp in
            timed("encoder") {
                K.encoderForward(out: a.encoded, inp: inp.baseAddress!, wte: p.wte, wpe: p.wpe, B: B, T: T, C: C, par: par)
            }
        }
        for l in 0..<L {
            let w = p.layer(l, C)
            let residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * BT * C
            let ln1 = a.ln1 + l * BT * C, qkv = a.qkv + l * BT * 3 * C, atty = a.atty + l * BT * C
            let att = a.att + l * B * NH * T * T
            let residual2 = a.residual2 + l * BT * C, ln2 = a.ln2 + l * BT * C, residual3 = a.residual3 + l * BT * C
            let fch = a.fch + l * BT * 4 * C, fchGelu = a.fchGelu + l * BT * 4 * C, gate = a.fchGate + l * BT * 4 * C
            timed("layernorm") {
                K.layernormForward(out: ln1, mean: a.ln1Mean + l * BT, rstd: a.ln1Rstd + l * BT, inp: residual,
                                   weight: w.ln1w, bias: w.ln1b, B: B, T: T, C: C, par: par)
            }
            timed("matmul.qkvw") {
                K.matmulForward(out: qkv, inp: ln1, weight: w.qkvw, bias: w.qkvb, BT: BT, C: C, OC: 3 * C, par: par)
            }
            timed("attention") { K.attentionForward(out: atty, att: att, qkv: qkv, B: B, T: T, C: C, NH: NH, par: par) }
            timed("matmul.attprojw") {   // residual2 = residual + attention projection
                K.matmulForward(out: residual2, inp: atty, weight: w.attprojw, bias: w.attprojb, residual: residual,
                                BT: BT, C: C, OC: C, par: par)
            }
            timed("layernorm") {
                K.layernormForward(out: ln2, mean: a.ln2Mean + l * BT, rstd: a.ln2Rstd + l * BT, inp: residual2,
                                   weight: w.ln2w, bias: w.ln2b, B: B, T: T, C: C, par: par)
            }
            timed("matmul.fcw") {
                K.matmulForward(out: fch, inp: ln2, weight: w.fcw, bias: w.fcb, BT: BT, C: C, OC: 4 * C, par: par)
            }
            timed("gelu") { K.geluForward(out: fchGelu, gate: gate, inp: fch, N: BT * 4 * C, par: par) }
            timed("matmul.fcprojw") {   // residual3 = residual2 + MLP projection
                K.matmulForward(out: residual3, inp: fchGelu, weight: w.fcprojw, bias: w.fcprojb, residual: residual2,
                                BT: BT, C: 4 * C, OC: C, par: par)
            }
        }
        timed("layernorm") {
            K.layernormForward(out: a.lnf, mean: a.lnfMean, rstd: a.lnfRstd, inp: a.residual3 + (L - 1) * BT * C,
                               weight: p.lnfw, bias: p.lnfb, B: B, T: T, C: C, par: par)
        }
        timed("matmul.wte") {   // logits = lnf · wteᵀ (tied embeddings)
            K.matmulForward(out: a.logits, inp: a.lnf, weight: p.wte, bias: nil, BT: BT, C: C, OC: Vp, par: par)
        }
        guard targets != nil else {
            timed("softmax") { K.softmaxForward(probs: a.logits, logits: a.logits, BT: BT, V: V, Vp: Vp, par: par) }
            return 0
        }
        a.targets.withUnsafeBufferPointer { tgt in
            timed("crossentropy") {
                K.crossEntropyForward(losses: a.losses, logits: a.logits, targets: tgt.baseAddress!, BT: BT, V: V, Vp: Vp,
                                      dloss: dloss, par: par)
            }
        }
        var sum = 0.0
        for i in 0..<BT { sum += Double(a.losses[i]) }
        readyForBackward = dloss != nil
        return Float(sum / Double(BT))
    }

    /// Adds the gradients of the last `forward` (which must have had targets and `dloss`).
    ///
    /// The residual stream's gradient flows down one buffer (`dresidual`); each block's branch adds
    /// to it. Per-layer gradient buffers are written (not accumulated), so only `dresidual` is zeroed.
    func backward() {
        guard readyForBackward, let a = acts else { return }
        readyForBackward = false
        _ = gradients()
        let g = grads!   // allocated by gradients()
        let p = params, par = par
        let B = a.B, T = a.T, C = config.channels, L = config.layers, NH = config.heads
        let Vp = config.paddedVocabSize, BT = B * T
        if scratch?.B != B || scratch?.T != T || scratch?.threads != threads {
            scratch = BackwardScratch(config: config, B: B, T: T, threads: threads)
        }
        let s = scratch!   // just set above
        typealias K = Kernels
        s.dresidual.update(repeating: 0, count: BT * C)

        timed("matmul.wte.bwd") {   // logits holds dlogits
            K.matmulBackward(dinp: s.dln, dweight: g.wte, dbias: nil, dout: a.logits, inp: a.lnf, weight: p.wte,
                             BT: BT, C: C, OC: Vp, accumulateInput: false, par: par)
        }
        timed("layernorm.bwd") {
            K.layernormBackward(dinp: s.dresidual, dweight: g.lnfw, dbias: g.lnfb, dout: s.dln,
                                inp: a.residual3 + (L - 1) * BT * C, weight: p.lnfw, mean: a.lnfMean, rstd: a.lnfRstd,
                                B: B, T: T, C: C, par: par)
        }
        for l in stride(from: L - 1, through: 0, by: -1) {
            let w = p.layer(l, C), dw = g.layer(l, C)
            let residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * BT * C
            let ln1 = a.ln1 + l * BT * C, qkv = a.qkv + l * BT * 3 * C, atty = a.atty + l * BT * C
            let att = a.att + l * B * NH * T * T
            let residual2 = a.residual2 + l * BT * C, ln2 = a.ln2 + l * BT * C
            let fch = a.fch + l * BT * 4 * C, fchGelu = a.fchGelu + l * BT * 4 * C, gate = a.fchGate + l * BT * 4 * C

            timed("matmul.fcprojw.bwd") {
                K.matmulBackward(dinp: s.dfch, dweight: dw.fcprojw, dbias: dw.fcprojb, dout: s.dresidual, inp: fchGelu,
                                 weight: w.fcprojw, BT: BT, C: 4 * C, OC: C, accumulateInput: false, par: par)
            }
            timed("gelu.bwd") {
                K.geluBackward(dinp: s.dfch, inp: fch, gate: gate, dout: s.dfch, N: BT * 4 * C, accumulate: false, par: par)
            }
            timed("matmul.fcw.bwd") {
                K.matmulBackward(dinp: s.dln, dweight: dw.fcw, dbias: dw.fcb, dout: s.dfch, inp: ln2, weight: w.fcw,
                                 BT: BT, C: C, OC: 4 * C, accumulateInput: false, par: par)
            }
            timed("layernorm.bwd") {
                K.layernormBackward(dinp: s.dresidual, dweight: dw.ln2w, dbias: dw.ln2b, dout: s.dln, inp: residual2,
                                    weight: w.ln2w, mean: a.ln2Mean + l * BT, rstd: a.ln2Rstd + l * BT, B: B, T: T, C: C,
                                    par: par)
            }
            timed("matmul.attprojw.bwd") {
                K.matmulBackward(dinp: s.datty, dweight: dw.attprojw, dbias: dw.attprojb, dout: s.dresidual, inp: atty,
                                 weight: w.attprojw, BT: BT, C: C, OC: C, accumulateInput: false, par: par)
            }
            timed("attention.bwd") {
                K.attentionBackward(dqkv: s.dqkv, dout: s.datty, qkv: qkv, att: att, scratch: s.attention,
                                    B: B, T: T, C: C, NH: NH, accumulate: false, par: par)
            }
            timed("matmul.qkvw.bwd") {
                K.matmulBackward(dinp: s.dln, dweight: dw.qkvw, dbias: dw.qkvb, dout: s.dqkv, inp: ln1, weight: w.qkvw,
                                 BT: BT, C: C, OC: 3 * C, accumulateInput: false, par: par)
            }
            timed("layernorm.bwd") {
                K.layernormBackward(dinp: s.dresidual, dweight: dw.ln1w, dbias: dw.ln1b, dout: s.dln, inp: residual,
                                    weight: w.ln1w, mean: a.ln1Mean + l * BT, rstd: a.ln1Rstd + l * BT, B: B, T: T, C: C,
                                    par: par)
            }
        }
        a.inputs.withUnsafeBufferPointer { inp in
            timed("encoder.bwd") {
                K.encoderBackward(dwte: g.wte, dwpe: g.wpe, dout: s.dresidual, inp: inp.baseAddress!, B: B, T: T, C: C, par: par)
            }
        }
    }

    /// Probabilities over the vocabulary (V values) for the token after `tokens`, by a full forward
    /// pass over the last `maxSequenceLength` of them.
    package func nextTokenProbabilities(_ tokens: [Int32]) throws -> [Float] {
        let context = Array(tokens.suffix(config.maxSequenceLength))
        try context.withUnsafeBufferPointer { c in
            _ = try forward(inputs: c, targets: nil, B: 1, T: context.count, dloss: nil)
        }
        let row = acts!.logits + (context.count - 1) * config.paddedVocabSize   // set by forward
        return Array(UnsafeBufferPointer(start: row, count: config.vocabSize))
    }
}
