import CBLAS
import Foundation

/// OpenBLAS as the model uses it: picking the fast kernel for this CPU, and single-threaded sgemm.
///
/// Debian's OpenBLAS 0.3.21 chooses its kernel ("core") when the library loads. On CPUs it does
/// not recognise it falls back to the generic "Prescott" kernel, which runs sgemm ~3× slower than
/// the AVX-512 "SkylakeX" kernel. Setting `OPENBLAS_CORETYPE` from `main` is too late, so
/// `prepare()` re-runs OpenBLAS's selection with the variable set (`gotoblas_dynamic_quit` +
/// `gotoblas_dynamic_init`) — only when the CPU really has AVX-512 F/BW/DQ/VL, only when the active
/// kernel is not already an AVX-512 one, and never when the user set `OPENBLAS_CORETYPE`.
///
/// OpenBLAS's own thread pool is set to one thread: the model splits every product into fixed
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

    nonisolated(unsafe) private static var selection: KernelSelection?
    private static let lock = NSLock()

    /// The name of the active OpenBLAS kernel.
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
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
        let initial = coreName
        let hasAVX512 = tm_cpu_has_avx512_skx() != 0
        var result = KernelSelection(initialCore: initial, core: initial, cpuHasAVX512: hasAVX512,
                                     switched: false, note: "")
        if let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !user.isEmpty {
            result.note = "OPENBLAS_CORETYPE=\(user) set by the user; kernel left as is"
        } else if avx512Cores.contains(initial.lowercased()) {
            result.note = "OpenBLAS already uses an AVX-512 kernel"
        } else if !hasAVX512 {
            result.note = "CPU lacks AVX-512 F/BW/DQ/VL; kernel left as is"
        } else {
            setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
            gotoblas_dynamic_quit()
            gotoblas_dynamic_init()
            unsetenv("OPENBLAS_CORETYPE")   // read only at selection; keep it out of child processes
            result.core = coreName
            result.switched = result.core != initial
            result.note = result.switched ? "switched from \(initial) to \(result.core)"
                                          : "switch to SkylakeX did not take; still \(result.core)"
        }
        openblas_set_num_threads(1)
        selection = result
        return result
    }

    /// Runs `body` with OpenBLAS switched to kernel `core` (e.g. "Prescott"), then switches back to
    /// the kernel active before. For benchmarks only: not safe while other threads run products.
    public static func withCore<R>(_ core: String, _ body: () throws -> R) rethrows -> R {
        prepare()
        let previous = coreName
        func select(_ name: String) {
            let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
            setenv("OPENBLAS_CORETYPE", name, 1)
            gotoblas_dynamic_quit()
            gotoblas_dynamic_init()
            if let user { setenv("OPENBLAS_CORETYPE", user, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
            openblas_set_num_threads(1)
        }
        select(core)
        defer { select(previous) }
        return try body()
    }

    /// Row-major `C = alpha · op(A) · op(B) + beta · C`, with `op(A)` m×k and `op(B)` k×n.
    @inline(__always)
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Row-major `y = alpha · op(A) · x + beta · y`, A m×n.
    @inline(__always)
    static func sgemv(trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, 1, beta, y, 1)
    }
}
