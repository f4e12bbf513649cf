/// The naive twin of `GPT2`: llm.c's `gpt2_forward` and `gpt2_backward`, layer by layer, with the
/// reference kernels and llm.c's full set of 23 activation tensors, in `Float` or `Double`. Slow;
/// the oracle for the fast model in tests and the function a finite-difference check differentiates.
package struct ReferenceGPT2<F: ReferenceScalar> {
    package let config: GPTConfig
    /// All parameters in checkpoint order (the layout of `GPT2.parameters`).
    package var params: [F]

    package init(config: GPTConfig, params: [F]) {
        self.config = config
        self.params = params
    }

    /// Mean loss over the batch and, when `gradients` is true, its gradient w.r.t. every parameter.
    /// Without targets the loss is 0 and `probs` (B,T,Vp) is returned instead.
    package func run(inputs: [Int32], targets: [Int32]?, B: Int, T: Int, gradients: Bool)
        -> (loss: F, grads: [F]?, probs: [F]) {
        let C = config.channels, L = config.layers, NH = config.heads, V = config.vocabSize
        let Vp = config.paddedVocabSize, BT = B * T
        // llm.c's ActivationTensors, in its order.
        let actSizes = [BT * C, L * BT * C, L * BT, L * BT, L * BT * 3 * C, L * BT * C, L * B * NH * T * T,
                        L * B * NH * T * T, L * BT * C, L * BT * C, L * BT * C, L * BT, L * BT, L * BT * 4 * C,
                        L * BT * 4 * C, L * BT * C, L * BT * C, BT * C, BT, BT, BT * Vp, BT * Vp, BT]
        var actOffsets: [Int] = [], total = 0
        for s in actSizes { actOffsets.append(total); total += s }
        var acts = [F](repeating: 0, count: total), dacts = [F](repeating: 0, count: gradients ? total : 0)
        var params = self.params
        var grads = [F](repeating: 0, count: gradients ? params.count : 0)
        var loss = F(0)
        let pOff = config.parameterOffsets

        params.withUnsafeMutableBufferPointer { pb in
        acts.withUnsafeMutableBufferPointer { ab in
        dacts.withUnsafeMutableBufferPointer { db in
        grads.withUnsafeMutableBufferPointer { gb in
        inputs.withUnsafeBufferPointer { inp in
            let p = pb.baseAddress!, a = ab.baseAddress!
            func P(_ i: Int) -> UnsafeMutablePointer<F> { p + pOff[i] }
            func A(_ i: Int) -> UnsafeMutablePointer<F> { a + actOffsets[i] }
            let (wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb) = (P(0), P(1), P(2), P(3), P(4), P(5), P(6), P(7))
            let (ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb) = (P(8), P(9), P(10), P(11), P(12), P(13), P(14), P(15))
            let (encoded, ln1, ln1Mean, ln1Rstd, qkv, atty, preatt, att) = (A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7))
            let (attproj, residual2, ln2, ln2Mean, ln2Rstd, fch, fchGelu) = (A(8), A(9), A(10), A(11), A(12), A(13), A(14))
            let (fcproj, residual3, lnf, lnfMean, lnfRstd, logits, probs, losses) =
                (A(15), A(16), A(17), A(18), A(19), A(20), A(21), A(22))
            let R = ReferenceKernels.self

            R.encoderForward(out: encoded, inp: inp.baseAddress!, wte: wte, wpe: wpe, B: B, T: T, C: C)
            for l in 0..<L {
                let residual = l == 0 ? encoded : residual3 + (l - 1) * BT * C
                R.layernormForward(out: ln1 + l * BT * C, mean: ln1Mean + l * BT, rstd: ln1Rstd + l * BT, inp: residual,
                                   weight: ln1w + l * C, bias: ln1b + l * C, B: B, T: T, C: C)
                R.matmulForward(out: qkv + l * BT * 3 * C, inp: ln1 + l * BT * C, weight: qkvw + l * 3 * C * C,
                                bias: qkvb + l * 3 * C, BT: BT, C: C, OC: 3 * C)
                R.attentionForward(out: atty + l * BT * C, preatt: preatt + l * B * NH * T * T, att: att + l * B * NH * T * T,
                                   inp: qkv + l * BT * 3 * C, B: B, T: T, C: C, NH: NH)
                R.matmulForward(out: attproj + l * BT * C, inp: atty + l * BT * C, weight: attprojw + l * C * C,
                                bias: attprojb + l * C, BT: BT, C: C, OC: C)
                R.residualForward(out: residual2 + l * BT * C, inp1: residual, inp2: attproj + l * BT * C, N: BT * C)
                R.layernormForward(out: ln2 + l * BT * C, mean: ln2Mean + l * BT, rstd: ln2Rstd + l * BT,
                                   inp: residual2 + l * BT * C, weight: ln2w + l * C, bias: ln2b + l * C, B: B, T: T, C: C)
                R.matmulForward(out: fch + l * BT * 4 * C, inp: ln2 + l * BT * C, weight: fcw + l * 4 * C * C,
                                bias: fcb + l * 4 * C, BT: BT, C: C, OC: 4 * C)
                R.geluForward(out: fchGelu + l * BT * 4 * C, inp: fch + l * BT * 4 * C, N: BT * 4 * C)
                R.matmulForward(out: fcproj + l * BT * C, inp: fchGelu + l * BT * 4 * C, weight: fcprojw + l * C * 4 * C,
                                bias: fcprojb + l * C, BT: BT, C: 4 * C, OC: C)
                R.residualForward(out: residual3 + l * BT * C, inp1: residual2 + l * BT * C, inp2: fcproj + l * BT * C, N: BT * C)
            }
            R.layernormForward(out: lnf, mean: lnfMean, rstd: lnfRstd, inp: residual3 + (L - 1) * BT * C,
                               weight: lnfw, bias: lnfb, B: B, T: T, C: C)
            R.matmulForward(out: logits, inp: lnf, weight: wte, bias: nil, BT: BT, C: C, OC: Vp)
            R.softmaxForward(probs: probs, logits: logits, BT: BT, V: V, Vp: Vp)
            guard let targets else { return }
            targets.withUnsafeBufferPointer { tgt in
                R.crossEntropyForward(losses: losses, probs: probs, targets: tgt.baseAddress!, BT: BT, Vp: Vp)
                for i in 0..<BT { loss += losses[i] }
                loss /= F(BT)
                guard gradients else { return }

                let g = gb.baseAddress!, d = db.baseAddress!
                func G(_ i: Int) -> UnsafeMutablePointer<F> { g + pOff[i] }
                func D(_ i: Int) -> UnsafeMutablePointer<F> { d + actOffsets[i] }
                let (dwte, dwpe, dln1w, dln1b, dqkvw, dqkvb, dattprojw, dattprojb) = (G(0), G(1), G(2), G(3), G(4), G(5), G(6), G(7))
                let (dln2w, dln2b, dfcw, dfcb, dfcprojw, dfcprojb, dlnfw, dlnfb) = (G(8), G(9), G(10), G(11), G(12), G(13), G(14), G(15))
                let (dencoded, dln1, dqkv, datty, dpreatt, datt) = (D(0), D(1), D(4), D(5), D(6), D(7))
                let (dattproj, dresidual2, dln2, dfch, dfchGelu) = (D(8), D(9), D(10), D(13), D(14))
                let (dfcproj, dresidual3, dlnf, dlogits, dlosses) = (D(15), D(16), D(17), D(20), D(22))

                for i in 0..<BT { dlosses[i] = 1 / F(BT) }
                R.crossEntropySoftmaxBackward(dlogits: dlogits, dlosses: dlosses, probs: probs, targets: tgt.baseAddress!,
                                              BT: BT, V: V, Vp: Vp)
                R.matmulBackward(dinp: dlnf, dweight: dwte, dbias: nil, dout: dlogits, inp: lnf, weight: wte, BT: BT, C: C, OC: Vp)
                R.layernormBackward(dinp: dresidual3 + (L - 1) * BT * C, dweight: dlnfw, dbias: dlnfb, dout: dlnf,
                                    inp: residual3 + (L - 1) * BT * C, weight: lnfw, mean: lnfMean, rstd: lnfRstd,
                                    B: B, T: T, C: C)
                for l in stride(from: L - 1, through: 0, by: -1) {
                    let residual = l == 0 ? encoded : residual3 + (l - 1) * BT * C
                    let dresidual = l == 0 ? dencoded : dresidual3 + (l - 1) * BT * C
                    let o1 = l * BT * C, o3 = l * BT * 3 * C, o4 = l * BT * 4 * C, oa = l * B * NH * T * T
                    R.residualBackward(dinp1: dresidual2 + o1, dinp2: dfcproj + o1, dout: dresidual3 + o1, N: BT * C)
                    R.matmulBackward(dinp: dfchGelu + o4, dweight: dfcprojw + l * C * 4 * C, dbias: dfcprojb + l * C,
                                     dout: dfcproj + o1, inp: fchGelu + o4, weight: fcprojw + l * C * 4 * C,
                                     BT: BT, C: 4 * C, OC: C)
                    R.geluBackward(dinp: dfch + o4, inp: fch + o4, dout: dfchGelu + o4, N: BT * 4 * C)
                    R.matmulBackward(dinp: dln2 + o1, dweight: dfcw + l * 4 * C * C, dbias: dfcb + l * 4 * C, dout: dfch + o4,
                                     inp: ln2 + o1, weight: fcw + l * 4 * C * C, BT: BT, C: C, OC: 4 * C)
                    R.layernormBackward(dinp: dresidual2 + o1, dweight: dln2w + l * C, dbias: dln2b + l * C, dout: dln2 + o1,
                                        inp: residual2 + o1, weight: ln2w + l * C, mean: ln2Mean + l * BT,
                                        rstd: ln2Rstd + l * BT, B: B, T: T, C: C)
                    R.residualBackward(dinp1: dresidual, dinp2: dattproj + o1, dout: dresidual2 + o1, N: BT * C)
                    R.matmulBackward(dinp: datty + o1, dweight: dattprojw + l * C * C, dbias: dattprojb + l * C,
                                     dout: dattproj + o1, inp: atty + o1, weight: attprojw + l * C * C, BT: BT, C: C, OC: C)
                    R.attentionBackward(dinp: dqkv + o3, dpreatt: dpreatt + oa, datt: datt + oa, dout: datty + o1,
                                        inp: qkv + o3, att: att + oa, B: B, T: T, C: C, NH: NH)
                    R.matmulBackward(dinp: dln1 + o1, dweight: dqkvw + l * 3 * C * C, dbias: dqkvb + l * 3 * C,
                                     dout: dqkv + o3, inp: ln1 + o1, weight: qkvw + l * 3 * C * C, BT: BT, C: C, OC: 3 * C)
                    R.layernormBackward(dinp: dresidual, dweight: dln1w + l * C, dbias: dln1b + l * C, dout: dln1 + o1,
                                        inp: residual, weight: ln1w + l * C, mean: ln1Mean + l * BT, rstd: ln1Rstd + l * BT,
                                        B: B, T: T, C: C)
                }
                R.encoderBackward(dwte: dwte, dwpe: dwpe, dout: dencoded, inp: inp.baseAddress!, B: B, T: T, C: C)
            }
        }
        }
        }
        }
        }
        let probs = Array(acts[actOffsets[21]..<(actOffsets[21] + BT * Vp)])
        return (loss, gradients && targets != nil ? grads : nil, probs)
    }
}
