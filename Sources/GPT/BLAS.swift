import CBLAS
import Foundation

/// OpenBLAS as the model uses it: picking the fast kernel for this CPU, and single-threaded sgemm.
///
/// Debian's OpenBLAS 0.3.21 chooses its kernel ("core") when the library loads. On CPUs it does
/// not recognise it falls back to the generic "Prescott" kernel, whose sgemm is far slower than
/// the AVX-512 "SkylakeX" kernel's. Setting `OPENBLAS_CORETYPE` from `main` is too late, so
/// `prepare()` re-runs OpenBLAS's selection with the variable set (`gotoblas_dynamic_quit` +
/// `gotoblas_dynamic_init`) — only when the CPU really has AVX-512 F/BW/DQ/VL, only when the active
/// kernel is not already an AVX-512 one, and never when the user set `OPENBLAS_CORETYPE`.
///
/// OpenBLAS is loaded with dlopen on first use (`CBLAS`), so commands that never multiply a
/// matrix do not load it. It is loaded with OPENBLAS_NUM_THREADS=1, and its thread count is set
/// to one after every kernel selection: the model splits every product into fixed
/// row blocks and runs them on its own workers (`Parallel`), so its thread count is the only one
/// and the pool's spinning threads never compete with the other kernels.
public enum BLAS {
    /// What `prepare()` found and did.
    public struct KernelSelection: Sendable, Equatable {
        /// The OpenBLAS core active before `prepare()` (e.g. "Prescott", "SkylakeX").
        public var initialCore: String
        /// The OpenBLAS core active now.
        public var core: String
        /// Whether the CPU (and OS) support AVX-512 F/BW/DQ/VL.
        public var cpuHasAVX512: Bool
        /// Whether `prepare()` switched the kernel.
        public var switched: Bool
        /// One line saying why the kernel is what it is.
        public var note: String
    }

    /// OpenBLAS cores that already use AVX-512.
    static let avx512Cores: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    // Safety (nonisolated): `selection` is read and written only in `prepare`, while `lock` is held.
    nonisolated(unsafe) private static var selection: KernelSelection?
    private static let lock = NSLock()

    /// The name of the active OpenBLAS kernel.
    public static var coreName: String {
        guard let p = tm_openblas_corename() else { return "unknown" }
        return String(cString: p).trimmingCharacters(in: .whitespaces)
    }

    /// Selects the fastest OpenBLAS kernel for this CPU (once per process; later calls return the
    /// first answer) and sets OpenBLAS to one thread. Call before any product; the model and the
    /// trainer call it themselves.
    @discardableResult
    public static func prepare() -> KernelSelection {
        lock.lock()
        defer { lock.unlock() }
        if let selection { return selection }
        let result = selectFastKernel(userCore: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"],
                                      cpuHasAVX512: tm_cpu_has_avx512_skx() != 0)
        selection = result
        return result
    }

    /// What to do about the kernel: the core to switch to (nil = leave it) and why. Pure; see `prepare`.
    package static func decide(initialCore: String, userCore: String?, cpuHasAVX512: Bool) -> (switchTo: String?, note: String) {
        if let userCore, !userCore.isEmpty { return (nil, "OPENBLAS_CORETYPE=\(userCore) set by the user; kernel left as is") }
        if avx512Cores.contains(initialCore.lowercased()) { return (nil, "OpenBLAS already uses an AVX-512 kernel") }
        if !cpuHasAVX512 { return (nil, "CPU lacks AVX-512 F/BW/DQ/VL; kernel left as is") }
        return ("SkylakeX", "")
    }

    /// Applies `decide` to the active kernel, switching OpenBLAS when it says so.
    static func selectFastKernel(userCore: String?, cpuHasAVX512: Bool) -> KernelSelection {
        let initial = coreName
        let (target, note) = decide(initialCore: initial, userCore: userCore, cpuHasAVX512: cpuHasAVX512)
        var result = KernelSelection(initialCore: initial, core: initial, cpuHasAVX512: cpuHasAVX512,
                                     switched: false, note: note)
        if let target {
            select(core: target)
            result.core = coreName
            result.switched = result.core != initial
            result.note = result.switched ? "switched from \(initial) to \(result.core)"
                                          : "switch to \(target) did not take; still \(result.core)"
        }
        tm_openblas_set_num_threads(1)
        return result
    }

    /// Demonstrates the switch: forces OpenBLAS to the generic "Prescott" kernel, measures sgemm,
    /// runs the selection as `prepare` would, measures again, and restores the kernel. Returns
    /// (kernel after the switch, GFLOP/s before, GFLOP/s after). For benchmarks only: it changes
    /// the process-wide kernel while it runs.
    public static func demonstrateSwitch(seconds: Double = 0.3) -> (core: String, generic: Double, switched: Double) {
        withCore("Prescott") {
            let slow = TrainingBenchmark.sgemmGFLOPS(seconds: seconds)
            let selection = selectFastKernel(userCore: nil, cpuHasAVX512: cpuHasAVX512)
            return (selection.core, slow, TrainingBenchmark.sgemmGFLOPS(seconds: seconds))
        }
    }

    /// Re-runs OpenBLAS's kernel selection with `OPENBLAS_CORETYPE=core`, then restores the
    /// variable (OpenBLAS reads it only while selecting; child processes should not inherit ours).
    static func select(core: String) {
        let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        setenv("OPENBLAS_CORETYPE", core, 1)
        tm_openblas_reselect()
        if let user { setenv("OPENBLAS_CORETYPE", user, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
        tm_openblas_set_num_threads(1)
    }

    /// Whether the CPU (and OS) support AVX-512 F/BW/DQ/VL.
    public static var cpuHasAVX512: Bool { tm_cpu_has_avx512_skx() != 0 }

    /// Runs `body` with OpenBLAS switched to kernel `core` (e.g. "Prescott"), then switches back to
    /// the kernel active before. For benchmarks only: not safe while other threads run products.
    static func withCore<R>(_ core: String, _ body: () throws -> R) rethrows -> R {
        prepare()
        let previous = coreName
        select(core: core)
        defer { select(core: previous) }
        return try body()
    }

    /// Row-major `C = alpha · op(A) · op(B) + beta · C`, with `op(A)` m×k and `op(B)` k×n.
    @inline(__always)
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        tm_sgemm(Int32(TM_BLAS_ROW_MAJOR), Int32(transA ? TM_BLAS_TRANS : TM_BLAS_NO_TRANS),
                 Int32(transB ? TM_BLAS_TRANS : TM_BLAS_NO_TRANS), Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Row-major `y = alpha · op(A) · x + beta · y`, A m×n.
    @inline(__always)
    static func sgemv(trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>) {
        tm_sgemv(Int32(TM_BLAS_ROW_MAJOR), Int32(trans ? TM_BLAS_TRANS : TM_BLAS_NO_TRANS), Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, 1, beta, y, 1)
    }
}
