import GPT
import TestSupport
import Testing

/// Owns the buffers of one test. Call `free()` in a `defer` at the top of the test: that use keeps
/// the arena (and every pointer handed out) alive until the test's end.
final class Arena {
    // Safety: each block is allocated (zeroed) by `raw` and freed only by `free`; the `Buf`s and
    // `DBuf`s handed out point into them and are used only before the test's deferred `free()`.
    private var blocks: [UnsafeMutableRawPointer] = []

    func raw(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 8), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 8))
        blocks.append(p)
        return p
    }

    func f(_ count: Int) -> Buf { Buf(p: raw(4 * count).bindMemory(to: Float.self, capacity: count), count: count, arena: self) }
    func f(_ values: [Float]) -> Buf { let b = f(values.count); for (i, v) in values.enumerated() { b.p[i] = v }; return b }
    /// Uniform values in [-scale, scale).
    func f(random count: Int, _ rng: inout SeededRNG, scale: Float = 1) -> Buf {
        let b = f(count)
        for i in 0..<count { b.p[i] = Float.random(in: -scale..<scale, using: &rng) }
        return b
    }
    func d(_ count: Int) -> DBuf { DBuf(p: raw(8 * count).bindMemory(to: Double.self, capacity: count), count: count) }
    func d(_ values: [Double]) -> DBuf { let b = d(values.count); for (i, v) in values.enumerated() { b.p[i] = v }; return b }

    func free() {
        for b in blocks { b.deallocate() }
        blocks = []
    }
}

/// A float buffer owned by an `Arena`.
struct Buf {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    unowned let arena: Arena
    var values: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    /// A Double copy, for the reference kernels.
    var doubles: DBuf { arena.d(values.map(Double.init)) }
    func copy() -> Buf { arena.f(values) }
}

/// A double buffer owned by an `Arena`.
struct DBuf {
    let p: UnsafeMutablePointer<Double>
    let count: Int
    var values: [Double] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

/// Largest |a − b| / (atol + rtol·|b|) over the elements; ≤ 1 means close.
func closeness(_ a: [Float], _ b: [Double], atol: Double = 1e-5, rtol: Double = 1e-4) -> Double {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let e = abs(Double(x) - y) / (atol + rtol * abs(y))
        if !(e <= worst) { worst = e.isNaN ? .infinity : e }
    }
    return worst
}

func expectClose(_ a: [Float], _ b: [Double], atol: Double = 1e-5, rtol: Double = 1e-4, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    let c = closeness(a, b, atol: atol, rtol: rtol)
    #expect(c <= 1, "\(what): off by \(c)× the tolerance", sourceLocation: sourceLocation)
}

func randomTokens(_ n: Int, vocab: Int, _ rng: inout SeededRNG) -> [Int32] {
    (0..<n).map { _ in Int32.random(in: 0..<Int32(vocab), using: &rng) }
}

/// A tiny model shape for tests: V 37 (Vp 128), L 2, NH 2, C 16, maxT 8.
let tinyConfig = GPTConfig(maxSequenceLength: 8, vocabSize: 37, layers: 2, heads: 2, channels: 16)
