import Foundation
import GPT
import TestSupport
import Testing

/// GPT-2 in numpy (float64), reading our checkpoint file: an independent oracle for the forward
/// pass, and for one llm.c training step (backward by numpy's own chain rule, then AdamW).
let numpyGPT2 = #"""
import sys, numpy as np

def load(path):
    raw = open(path, "rb").read()
    h = np.frombuffer(raw[:1024], dtype="<i4")
    assert h[0] == 20240326 and h[1] == 3
    maxT, V, L, NH, C, Vp = (int(x) for x in h[2:8])
    flat = np.frombuffer(raw[1024:], dtype="<f4").astype(np.float64)
    shapes = [(Vp, C), (maxT, C), (L, C), (L, C), (L, 3*C, C), (L, 3*C), (L, C, C), (L, C),
              (L, C), (L, C), (L, 4*C, C), (L, 4*C), (L, C, 4*C), (L, C), (C,), (C,)]
    params, o = [], 0
    for s in shapes:
        n = int(np.prod(s)); params.append(flat[o:o+n].reshape(s).copy()); o += n
    assert o == flat.size
    return (maxT, V, L, NH, C, Vp), params

def layernorm(x, w, b):
    m = x.mean(-1, keepdims=True); v = ((x - m)**2).mean(-1, keepdims=True)
    r = 1 / np.sqrt(v + 1e-5); n = (x - m) * r
    return n * w + b, (n, r)

def layernorm_back(dout, w, cache):
    n, r = cache
    dn = dout * w
    dx = (dn - dn.mean(-1, keepdims=True) - n * (dn * n).mean(-1, keepdims=True)) * r
    return dx, (dout * n).sum((0, 1)), dout.sum((0, 1))

S = np.sqrt(2 / np.pi)
def gelu(x): return 0.5 * x * (1 + np.tanh(S * (x + 0.044715 * x**3)))
def gelu_grad(x):
    t = np.tanh(S * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t*t) * S * (1 + 3 * 0.044715 * x*x)

def forward_backward(cfg, P, inp, tgt, backward):
    maxT, V, L, NH, C, Vp = cfg
    wte, wpe, ln1w, ln1b, qkvw, qkvb, apw, apb, ln2w, ln2b, fcw, fcb, fpw, fpb, lnfw, lnfb = P
    B, T = inp.shape; hs = C // NH
    mask = np.tril(np.ones((T, T), dtype=bool))
    x = wte[inp] + wpe[:T]
    caches = []
    for l in range(L):
        a, c1 = layernorm(x, ln1w[l], ln1b[l])
        qkv = a @ qkvw[l].T + qkvb[l]
        q, k, v = (qkv[..., i*C:(i+1)*C].reshape(B, T, NH, hs).transpose(0, 2, 1, 3) for i in range(3))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hs)
        s = np.where(mask, s, -np.inf)
        att = np.exp(s - s.max(-1, keepdims=True)); att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x2 = x + y @ apw[l].T + apb[l]
        a2, c2 = layernorm(x2, ln2w[l], ln2b[l])
        h = a2 @ fcw[l].T + fcb[l]
        g = gelu(h)
        x3 = x2 + g @ fpw[l].T + fpb[l]
        caches.append((x, a, c1, q, k, v, att, y, x2, a2, c2, h, g))
        x = x3
    f, cf = layernorm(x, lnfw, lnfb)
    logits = (f @ wte.T)[..., :V]
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    loss = -np.take_along_axis(logp, tgt[..., None], -1).mean()
    if not backward:
        return loss, None
    G = [np.zeros_like(p) for p in P]
    dlogits = np.exp(logp); np.put_along_axis(dlogits, tgt[..., None], np.take_along_axis(dlogits, tgt[..., None], -1) - 1, -1)
    dlogits /= B * T
    G[0][:V] += np.einsum("btv,btc->vc", dlogits, f)
    df = dlogits @ wte[:V]
    dx, G[14], G[15] = layernorm_back(df, lnfw, cf)
    for l in reversed(range(L)):
        x, a, c1, q, k, v, att, y, x2, a2, c2, h, g = caches[l]
        dx3 = dx
        G[12][l] = np.einsum("bto,bti->oi", dx3, g); G[13][l] = dx3.sum((0, 1))
        dh = (dx3 @ fpw[l]) * gelu_grad(h)
        G[10][l] = np.einsum("bto,bti->oi", dh, a2); G[11][l] = dh.sum((0, 1))
        dx2l, G[8][l], G[9][l] = layernorm_back(dh @ fcw[l], ln2w[l], c2)
        dx2 = dx3 + dx2l
        G[6][l] = np.einsum("bto,bti->oi", dx2, y); G[7][l] = dx2.sum((0, 1))
        dy = (dx2 @ apw[l]).reshape(B, T, NH, hs).transpose(0, 2, 1, 3)
        datt = dy @ v.transpose(0, 1, 3, 2)
        dv = att.transpose(0, 1, 3, 2) @ dy
        ds = att * (datt - (att * datt).sum(-1, keepdims=True)) / np.sqrt(hs)
        dq = ds @ k; dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([t.transpose(0, 2, 1, 3).reshape(B, T, C) for t in (dq, dk, dv)], -1)
        G[4][l] = np.einsum("bto,bti->oi", dqkv, a); G[5][l] = dqkv.sum((0, 1))
        dxl, G[2][l], G[3][l] = layernorm_back(dqkv @ qkvw[l], ln1w[l], c1)
        dx = dx2 + dxl
    np.add.at(G[0], inp, dx)
    G[1][:T] += dx.sum(0)
    return loss, G

mode, ckpt, batch = sys.argv[1], sys.argv[2], sys.argv[3]
cfg, P = load(ckpt)
B, T = int(sys.argv[4]), int(sys.argv[5])
tok = np.fromfile(batch, dtype="<i4").reshape(2, B, T)
if mode == "loss":
    print(repr(float(forward_backward(cfg, P, tok[0], tok[1], False)[0])))
else:
    # One llm.c training step (AdamW lr 1e-4, betas 0.9/0.999, eps 1e-8, no decay, t = 1), then the loss again.
    loss0, G = forward_backward(cfg, P, tok[0], tok[1], True)
    np.concatenate([g.ravel() for g in G]).astype("<f8").tofile(sys.argv[6])
    for p, g in zip(P, G):
        m = 0.1 * g; v = 0.001 * g * g
        p -= 1e-4 * ((m / 0.1) / (np.sqrt(v / 0.001) + 1e-8))
    print(repr(float(loss0)), repr(float(forward_backward(cfg, P, tok[0], tok[1], False)[0])))
"""#

@Suite(.enabled(if: Run.pythonHas("numpy"), "numpy is not installed"))
struct NumpyOracleTests {
    static func write(_ model: GPT2, _ x: [Int32], _ y: [Int32], B: Int, T: Int) throws -> (TempDir, String, String) {
        let dir = try TempDir()
        let ckpt = dir.file("model.bin")
        try model.save(to: ckpt)
        let batch = try dir.write("batch.bin", (x + y).flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } })
        return (dir, ckpt, batch)
    }

    static func python(_ args: [String]) throws -> [Double] {
        let r = try Run.python(numpyGPT2, args)
        #expect(r.status == 0, "python failed: \(r.err)")
        return r.out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test func forwardLossMatchesNumpy() throws {
        var rng = SeededRNG(seed: 31)
        let config = GPTConfig(maxSequenceLength: 32, vocabSize: 100, layers: 2, heads: 4, channels: 32)
        let model = try ModelTests.model(config, seed: 32)
        let B = 3, T = 32
        let x = randomTokens(B * T, vocab: 100, &rng), y = randomTokens(B * T, vocab: 100, &rng)
        let (dir, ckpt, batch) = try Self.write(model, x, y, B: B, T: T)
        let expected = try Self.python(["loss", ckpt, batch, "\(B)", "\(T)"])
        try #require(expected.count == 1)
        let ours = try model.loss(inputs: x, targets: y, batchSize: B, contextLength: T)
        #expect(abs(Double(ours) - expected[0]) < 1e-4, "ours \(ours), numpy \(expected[0])")
        withExtendedLifetime(dir) {}
    }

    /// One step with llm.c's CPU settings from the same checkpoint and batch: the loss before and
    /// after the update agree with numpy's.
    @Test func trainingStepMatchesNumpy() throws {
        var rng = SeededRNG(seed: 33)
        let config = GPTConfig(maxSequenceLength: 16, vocabSize: 60, layers: 2, heads: 2, channels: 16)
        let model = try ModelTests.model(config, seed: 34)
        let B = 2, T = 16
        let x = randomTokens(B * T, vocab: 60, &rng), y = randomTokens(B * T, vocab: 60, &rng)
        let (dir, ckpt, batch) = try Self.write(model, x, y, B: B, T: T)
        let gradPath = dir.file("grads.f64")
        let expected = try Self.python(["step", ckpt, batch, "\(B)", "\(T)", gradPath])
        try #require(expected.count == 2)
        model.zeroGradients()
        let before = try model.forwardBackward(inputs: x, targets: y, batchSize: B, contextLength: T)
        let numpyGrads = Array(try Data(contentsOf: URL(fileURLWithPath: gradPath))).withUnsafeBytes {
            Array($0.bindMemory(to: Double.self))
        }
        let scale = numpyGrads.map(abs).max() ?? 1
        expectClose(model.gradientValues, numpyGrads, atol: 1e-4 * scale, rtol: 1e-3, "gradients vs numpy")
        AdamW(parameterCount: model.parameterCount).update(model: model, t: 1, learningRate: 1e-4, beta1: 0.9,
                                                           beta2: 0.999, epsilon: 1e-8, weightDecay: 0)
        let after = try model.loss(inputs: x, targets: y, batchSize: B, contextLength: T)
        #expect(abs(Double(before) - expected[0]) < 1e-4, "before: ours \(before), numpy \(expected[0])")
        #expect(abs(Double(after) - expected[1]) < 1e-4, "after: ours \(after), numpy \(expected[1])")
        #expect(after < before)
        withExtendedLifetime(dir) {}
    }
}
