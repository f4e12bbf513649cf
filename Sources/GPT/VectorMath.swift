// Small vector helpers for the fast Swift kernels: unaligned SIMD loads/stores and sums.
// The exp/tanh-based element-wise kernels live in C (Sources/CKernels), built for wider vectors.

typealias Vec = SIMD8<Float>

@inline(__always) func load(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// Sum of `n` floats, eight lanes at a time, lanes added in a fixed order.
@inline(__always) func vectorSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec(), i = 0
    while i + 8 <= n { acc += load(p + i); i += 8 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}
