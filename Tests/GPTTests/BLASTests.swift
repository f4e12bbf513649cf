import GPT
import Testing

/// The OpenBLAS kernel decision: never against the user's OPENBLAS_CORETYPE, only with AVX-512,
/// only from a kernel that lacks it. (The switch itself changes a process-wide setting, so it is
/// exercised by the benchmark, `BLAS.demonstrateSwitch`, not by in-process tests.)
@Test func kernelDecision() {
    #expect(BLAS.decide(initialCore: "Prescott", userCore: nil, cpuHasAVX512: true).switchTo == "SkylakeX")
    #expect(BLAS.decide(initialCore: "Haswell", userCore: nil, cpuHasAVX512: true).switchTo == "SkylakeX")
    #expect(BLAS.decide(initialCore: "Prescott", userCore: nil, cpuHasAVX512: false)
            == (nil, "CPU lacks AVX-512 F/BW/DQ/VL; kernel left as is"))
    #expect(BLAS.decide(initialCore: "Prescott", userCore: "Haswell", cpuHasAVX512: true)
            == (nil, "OPENBLAS_CORETYPE=Haswell set by the user; kernel left as is"))
    #expect(BLAS.decide(initialCore: "Cooperlake", userCore: nil, cpuHasAVX512: true).switchTo == nil)
    #expect(BLAS.decide(initialCore: "SkylakeX", userCore: nil, cpuHasAVX512: true).switchTo == nil)
    // prepare() is idempotent and leaves an AVX-512 kernel active on an AVX-512 CPU.
    let selection = BLAS.prepare()
    #expect(BLAS.prepare() == selection)
    #expect(selection.core == BLAS.coreName)
    if BLAS.cpuHasAVX512 && !selection.note.hasPrefix("OPENBLAS_CORETYPE") {
        #expect(["SkylakeX", "Cooperlake", "SapphireRapids"].contains(selection.core), "\(selection)")
    }
}
