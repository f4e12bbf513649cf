// Small vector helpers for the fast kernels: unaligned SIMD loads/stores and exp/tanh
// approximations that compile to straight vector code (the libm calls do not vectorise).

typealias Vec = SIMD8<Float>

@inline(__always) func load(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// The first `count` (< 8) floats at `p` in the low lanes, zeros above.
@inline(__always) func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> Vec {
    var v = Vec()
    for j in 0..<count { v[j] = p[j] }
    return v
}

/// Stores the low `count` (< 8) lanes of `v` at `p`.
@inline(__always) func storePartial(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for j in 0..<count { p[j] = v[j] }
}

/// 0, 1, …, 7: compare with a count to mask the lanes of a partial vector.
let laneIndex = Vec(0, 1, 2, 3, 4, 5, 6, 7)

/// e^x to within ~2 ulp (Cephes' single-precision polynomial) for x in [-87, 88]; below -87 the
/// result is e^-87 ≈ 1.6e-38 (the callers add it to sums of at least 1). Softmax calls it on
/// x − max ≤ 0, so only the lower clamp is needed.
@inline(__always) func fastExp(_ x: Vec) -> Vec {
    var x = x
    x.replace(with: -87.0, where: x .< -87.0)
    return expCore(x)
}

/// e^x for x in [-87, 88], no range check: x = n·ln2 + r with |r| ≤ ln2/2, n rounded by the
/// 1.5·2^23 trick so it sits in t's low mantissa bits, then 2^n·e^r.
@inline(__always) func expCore(_ x: Vec) -> Vec {
    let magic = Vec(repeating: 12582912.0)
    let t = x * 1.44269504088896341 + magic
    let n = t - magic
    var r = x - n * 0.693359375
    r = r - n * -2.12194440e-4
    var p = Vec(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * r * r + r + 1
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Vec.self)
}

/// 1 − |tanh x| = 2/(e^{2|x|} + 1), carrying the sign of x in its sign bit: the form GELU needs
/// without cancellation, since 1 + tanh x, 1 − tanh x and 1 − tanh²x = q(2 − q) all follow from
/// q without subtracting nearly equal numbers. |x| is clamped to 40 (q stays a normal float).
@inline(__always) func tanhComplement(_ x: Vec) -> Vec {
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    var ax = unsafeBitCast(bits & 0x7FFF_FFFF, to: Vec.self)
    ax.replace(with: 40.0, where: ax .> 40.0)
    let q = 2 / (expCore(ax + ax) + 1)
    return unsafeBitCast(unsafeBitCast(q, to: SIMD8<UInt32>.self) | (bits & 0x8000_0000), to: Vec.self)
}

/// From a signed q (see `tanhComplement`): (|q|, ½(1 + tanh x)) — for x ≥ 0 that is 1 − q/2, for
/// x < 0 it is q/2.
@inline(__always) func halfOnePlusTanh(_ qs: Vec) -> (q: Vec, half: Vec) {
    let bits = unsafeBitCast(qs, to: SIMD8<UInt32>.self)
    let q = unsafeBitCast(bits & 0x7FFF_FFFF, to: Vec.self)
    let negative = unsafeBitCast(SIMD8<Int32>(truncatingIfNeeded: bits) &>> 31, to: SIMD8<UInt32>.self)
    let small = 0.5 * q, large = 1 - small
    let pick = (unsafeBitCast(small, to: SIMD8<UInt32>.self) & negative)
        | (unsafeBitCast(large, to: SIMD8<UInt32>.self) & ~negative)
    return (q, unsafeBitCast(pick, to: Vec.self))
}

/// Scalar twin for loop tails.
@inline(__always) func fastExp(_ x: Float) -> Float { fastExp(Vec(repeating: x))[0] }

/// Sum of `n` floats, eight lanes at a time, lanes added in a fixed order.
@inline(__always) func vectorSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec(), i = 0
    while i + 8 <= n { acc += load(p + i); i += 8 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Maximum of `n ≥ 1` floats.
@inline(__always) func vectorMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0, m = -Float.infinity
    if n >= 8 {
        var acc = load(p)
        i = 8
        while i + 8 <= n { let v = load(p + i); acc.replace(with: v, where: v .> acc); i += 8 }
        m = acc.max()
    }
    while i < n { m = max(m, p[i]); i += 1 }
    return m
}
