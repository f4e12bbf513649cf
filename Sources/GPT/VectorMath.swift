// Small vector helpers for the fast kernels: unaligned SIMD loads/stores and exp/tanh
// approximations that compile to straight vector code (the libm calls do not vectorise).

typealias Vec = SIMD8<Float>

@inline(__always) func load(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// e^x to within ~2 ulp (Cephes' single-precision polynomial), for every finite x; results for
/// x < -87 are ~0 and for x > 88 saturate at e^88.
@inline(__always) func fastExp(_ x: Vec) -> Vec {
    var x = x
    x.replace(with: 88.0, where: x .> 88.0)
    x.replace(with: -87.0, where: x .< -87.0)
    // x = n·ln2 + r with |r| ≤ ln2/2; n rounded by the 1.5·2^23 trick, so it sits in t's low bits.
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

/// tanh(x) = sign(x)·(1 − 2/(e^{2|x|} + 1)); absolute error below 1e-7.
@inline(__always) func fastTanh(_ x: Vec) -> Vec {
    let ax = x.replacing(with: -x, where: x .< 0)
    let e = fastExp(ax + ax)
    let t = 1 - 2 / (e + 1)
    return t.replacing(with: -t, where: x .< 0)
}

/// Scalar twins (same formulas) for loop tails.
@inline(__always) func fastExp(_ x: Float) -> Float { fastExp(Vec(repeating: x))[0] }
@inline(__always) func fastTanh(_ x: Float) -> Float { fastTanh(Vec(repeating: x))[0] }

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
