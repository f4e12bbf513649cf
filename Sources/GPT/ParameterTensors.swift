/// Views of the 16 parameter tensors inside one allocation, in checkpoint order (llm.c's
/// `ParameterTensors`). The same struct views the gradients, which share the layout.
struct ParameterTensors {
    var wte: UnsafeMutablePointer<Float>        // (Vp, C)
    var wpe: UnsafeMutablePointer<Float>        // (maxT, C)
    var ln1w: UnsafeMutablePointer<Float>       // (L, C)
    var ln1b: UnsafeMutablePointer<Float>       // (L, C)
    var qkvw: UnsafeMutablePointer<Float>       // (L, 3C, C)
    var qkvb: UnsafeMutablePointer<Float>       // (L, 3C)
    var attprojw: UnsafeMutablePointer<Float>   // (L, C, C)
    var attprojb: UnsafeMutablePointer<Float>   // (L, C)
    var ln2w: UnsafeMutablePointer<Float>       // (L, C)
    var ln2b: UnsafeMutablePointer<Float>       // (L, C)
    var fcw: UnsafeMutablePointer<Float>        // (L, 4C, C)
    var fcb: UnsafeMutablePointer<Float>        // (L, 4C)
    var fcprojw: UnsafeMutablePointer<Float>    // (L, C, 4C)
    var fcprojb: UnsafeMutablePointer<Float>    // (L, C)
    var lnfw: UnsafeMutablePointer<Float>       // (C)
    var lnfb: UnsafeMutablePointer<Float>       // (C)

    init(base: UnsafeMutablePointer<Float>, config: GPTConfig) {
        let o = config.parameterOffsets
        wte = base + o[0]; wpe = base + o[1]; ln1w = base + o[2]; ln1b = base + o[3]
        qkvw = base + o[4]; qkvb = base + o[5]; attprojw = base + o[6]; attprojb = base + o[7]
        ln2w = base + o[8]; ln2b = base + o[9]; fcw = base + o[10]; fcb = base + o[11]
        fcprojw = base + o[12]; fcprojb = base + o[13]; lnfw = base + o[14]; lnfb = base + o[15]
    }

    /// The weights of layer `l`.
    func layer(_ l: Int, _ C: Int) -> LayerTensors {
        LayerTensors(ln1w: ln1w + l * C, ln1b: ln1b + l * C, qkvw: qkvw + l * 3 * C * C, qkvb: qkvb + l * 3 * C,
                     attprojw: attprojw + l * C * C, attprojb: attprojb + l * C,
                     ln2w: ln2w + l * C, ln2b: ln2b + l * C, fcw: fcw + l * 4 * C * C, fcb: fcb + l * 4 * C,
                     fcprojw: fcprojw + l * 4 * C * C, fcprojb: fcprojb + l * C)
    }
}

/// One layer's slice of `ParameterTensors`.
struct LayerTensors {
    var ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb: UnsafeMutablePointer<Float>
}
