import Foundation
import LeptonEngine

/// Configuration of the scan classifier, saved as `config.json` beside `model.safetensors`.
public struct ScanClassifierConfig: Codable, Sendable, Equatable {
    /// Square input side in pixels (images are resized to it).
    public var inputSize: Int = 28
    /// Output channels of each conv block (3×3, padding 1, BatchNorm, ReLU).
    public var channels: [Int] = [16, 32, 64]
    /// Whether a 2×2 max pool follows each block.
    public var pool: [Bool] = [true, true, false]
    /// Class names; index 1 is the positive (abnormal) class.
    public var classes: [String] = ["normal", "pneumonia"]
    public var bnEps: Float = 1e-5
    /// Temperature fitted on validation: probabilities are `softmax(logits / temperature)`.
    public var temperature: Float = 1
    /// Decision threshold on the positive-class probability.
    public var threshold: Float = 0.5
    /// Input normalisation: `x = (pixel/255 - mean) / std`.
    public var mean: Float = 0.5
    public var std: Float = 0.5
    /// Free-form provenance (training command, seed, validation figures).
    public var notes: [String: String] = [:]

    public init() {}
}

/// A small CNN for chest X-ray classification with hand-written forward and backward passes:
///
///     c{i}: Conv2d(cin, cout, 3, pad 1) → b{i}: BatchNorm2d → ReLU [→ MaxPool2d(2)]   for each block
///     global average pool → fc: Linear(C, classes)
///
/// Checkpoint names and shapes (PyTorch state_dict convention, as in ../shared/data/medical/models):
/// `c{i}.weight [cout, cin, 3, 3]`, `c{i}.bias [cout]`, `b{i}.weight|bias|running_mean|running_var [cout]`,
/// `fc.weight [classes, C]`, `fc.bias [classes]` (i from 1). The last block's ReLU output is the
/// Grad-CAM layer.
public final class ScanClassifier: @unchecked Sendable {
    public var config: ScanClassifierConfig
    var convW: [[Float]], convB: [[Float]]
    var gamma: [[Float]], beta: [[Float]], runMean: [[Float]], runVar: [[Float]]
    var fcW: [Float], fcB: [Float]

    var blocks: Int { config.channels.count }
    var classCount: Int { config.classes.count }
    func cin(_ i: Int) -> Int { i == 0 ? 1 : config.channels[i - 1] }

    /// A randomly initialised network (Kaiming-uniform like PyTorch's defaults).
    public init(config: ScanClassifierConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        convW = []; convB = []; gamma = []; beta = []; runMean = []; runVar = []
        for i in 0..<config.channels.count {
            let fanIn = (i == 0 ? 1 : config.channels[i - 1]) * 9, cout = config.channels[i]
            let bound = 1 / Float(fanIn).squareRoot()
            convW.append((0..<cout * fanIn).map { _ in (rng.nextUniform() * 2 - 1) * bound })
            convB.append((0..<cout).map { _ in (rng.nextUniform() * 2 - 1) * bound })
            gamma.append([Float](repeating: 1, count: cout)); beta.append([Float](repeating: 0, count: cout))
            runMean.append([Float](repeating: 0, count: cout)); runVar.append([Float](repeating: 1, count: cout))
        }
        let c = config.channels.last ?? 1, k = config.classes.count
        let bound = 1 / Float(c).squareRoot()
        fcW = (0..<k * c).map { _ in (rng.nextUniform() * 2 - 1) * bound }
        fcB = (0..<k).map { _ in (rng.nextUniform() * 2 - 1) * bound }
    }

    /// Loads weights strictly from a store: a missing, unused or mis-shaped weight is an error naming it.
    public init(config: ScanClassifierConfig, weights: WeightStore) throws {
        self.config = config
        convW = []; convB = []; gamma = []; beta = []; runMean = []; runVar = []
        for i in 0..<config.channels.count {
            let cin = i == 0 ? 1 : config.channels[i - 1], cout = config.channels[i]
            convW.append(try weights.take("c\(i + 1).weight", shape: [cout, cin, 3, 3]).scalars)
            convB.append(try weights.take("c\(i + 1).bias", shape: [cout]).scalars)
            gamma.append(try weights.take("b\(i + 1).weight", shape: [cout]).scalars)
            beta.append(try weights.take("b\(i + 1).bias", shape: [cout]).scalars)
            runMean.append(try weights.take("b\(i + 1).running_mean", shape: [cout]).scalars)
            runVar.append(try weights.take("b\(i + 1).running_var", shape: [cout]).scalars)
        }
        weights.skip(where: { $0.hasSuffix("num_batches_tracked") })
        let c = config.channels.last ?? 1, k = config.classes.count
        fcW = try weights.take("fc.weight", shape: [k, c]).scalars
        fcB = try weights.take("fc.bias", shape: [k]).scalars
        try weights.finish()
    }

    /// All weights by checkpoint name.
    public func namedTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for i in 0..<blocks {
            let cout = config.channels[i]
            out["c\(i + 1).weight"] = Tensor(shape: [cout, cin(i), 3, 3], scalars: convW[i])
            out["c\(i + 1).bias"] = Tensor(shape: [cout], scalars: convB[i])
            out["b\(i + 1).weight"] = Tensor(shape: [cout], scalars: gamma[i])
            out["b\(i + 1).bias"] = Tensor(shape: [cout], scalars: beta[i])
            out["b\(i + 1).running_mean"] = Tensor(shape: [cout], scalars: runMean[i])
            out["b\(i + 1).running_var"] = Tensor(shape: [cout], scalars: runVar[i])
        }
        out["fc.weight"] = Tensor(shape: [classCount, config.channels.last ?? 1], scalars: fcW)
        out["fc.bias"] = Tensor(shape: [classCount], scalars: fcB)
        return out
    }

    /// Per-block buffers of one forward pass, kept for the backward pass.
    struct BlockCache {
        var h = 0, w = 0
        var input: [Float] = []      // [cin, n, h, w]
        var col: [Float] = []        // [cin·9, n·h·w]
        var xhat: [Float] = []       // normalised conv output [cout, n·h·w]
        var invStd: [Float] = []     // [cout]
        var act: [Float] = []        // ReLU output [cout, n, h, w]
        var pooled: [Float] = []     // [cout, n, h/2, w/2] when pooled
        var argmax: [Int32] = []
    }

    /// Output of a forward pass: logits `[n, classes]`, the Grad-CAM activations `[C, n, h, w]`,
    /// and (for training) the caches.
    struct Forward {
        var logits: [Float]
        var camAct: [Float]
        var camH: Int, camW: Int
        var gap: [Float]             // [C, n]
        var caches: [BlockCache]
    }

    /// Runs the network on `images` (`[n, size, size]`, already normalised).
    /// `training` uses batch statistics and updates the running statistics (momentum 0.1).
    func forward(_ images: [Float], n: Int, training: Bool) -> Forward {
        var x = images  // [1, n, h, w] is the same memory as [n, 1, h, w]
        var h = config.inputSize, w = config.inputSize
        var caches: [BlockCache] = []
        for i in 0..<blocks {
            let ci = cin(i), co = config.channels[i], m = n * h * w
            var cache = BlockCache()
            cache.h = h; cache.w = w
            var col = [Float](repeating: 0, count: ci * 9 * m)
            x.withUnsafeBufferPointer { xp in col.withUnsafeMutableBufferPointer { cp in
                im2col3x3(xp.baseAddress!, cin: ci, n: n, h: h, w: w, cp.baseAddress!)
            } }
            var z = [Float](repeating: 0, count: co * m)
            convW[i].withUnsafeBufferPointer { wp in col.withUnsafeBufferPointer { cp in z.withUnsafeMutableBufferPointer { zp in
                BLAS.sgemm(m: co, n: m, k: ci * 9, a: wp.baseAddress!, lda: ci * 9, b: cp.baseAddress!, ldb: m,
                           c: zp.baseAddress!, ldc: m)
            } } }
            // Conv bias + batch norm + ReLU, one channel (a contiguous run of m values) at a time.
            var xhat = training ? [Float](repeating: 0, count: co * m) : []
            var invStd = [Float](repeating: 0, count: co)
            let eps = config.bnEps
            z.withUnsafeMutableBufferPointer { zp in
                for c in 0..<co {
                    let p = zp.baseAddress! + c * m
                    let b = convB[i][c]
                    var mean: Float, variance: Float
                    if training {
                        var s: Double = 0, s2: Double = 0
                        for j in 0..<m { let v = p[j] + b; s += Double(v); s2 += Double(v) * Double(v) }
                        let md = s / Double(m)
                        mean = Float(md); variance = Float(max(s2 / Double(m) - md * md, 0))
                        runMean[i][c] = 0.9 * runMean[i][c] + 0.1 * mean
                        runVar[i][c] = 0.9 * runVar[i][c] + 0.1 * variance * Float(m) / Float(max(m - 1, 1))
                    } else {
                        mean = runMean[i][c]; variance = runVar[i][c]
                    }
                    let inv = 1 / (variance + eps).squareRoot()
                    invStd[c] = inv
                    let g = gamma[i][c], be = beta[i][c]
                    if training {
                        xhat.withUnsafeMutableBufferPointer { xh in
                            let q = xh.baseAddress! + c * m
                            for j in 0..<m { let v = (p[j] + b - mean) * inv; q[j] = v; p[j] = max(0, g * v + be) }
                        }
                    } else {
                        let scale = g * inv, shift = be + (b - mean) * scale
                        for j in 0..<m { p[j] = max(0, p[j] * scale + shift) }
                    }
                }
            }
            if training { cache.input = x; cache.col = col; cache.xhat = xhat; cache.invStd = invStd }
            cache.act = z
            if config.pool[i] {
                var pooled = [Float](repeating: 0, count: co * m / 4)
                var arg = [Int32](repeating: 0, count: co * m / 4)
                z.withUnsafeBufferPointer { zp in pooled.withUnsafeMutableBufferPointer { pp in arg.withUnsafeMutableBufferPointer { ap in
                    maxPool2(zp.baseAddress!, planes: co * n, h: h, w: w, pp.baseAddress!, ap.baseAddress!)
                } } }
                h /= 2; w /= 2
                x = pooled
                cache.argmax = arg
            } else {
                x = z
            }
            caches.append(cache)
        }
        // Global average pool → [C, n]; fc → [n, classes].
        let c = config.channels.last ?? 1, plane = h * w, k = classCount
        var gap = [Float](repeating: 0, count: c * n)
        for ch in 0..<c { for b in 0..<n {
            var s: Float = 0
            let o = (ch * n + b) * plane
            for j in 0..<plane { s += x[o + j] }
            gap[ch * n + b] = s / Float(plane)
        } }
        var logits = [Float](repeating: 0, count: n * k)
        for b in 0..<n { for j in 0..<k {
            var s = fcB[j]
            for ch in 0..<c { s += fcW[j * c + ch] * gap[ch * n + b] }
            logits[b * k + j] = s
        } }
        return Forward(logits: logits, camAct: caches.last?.act ?? [], camH: caches.last?.h ?? 0, camW: caches.last?.w ?? 0,
                       gap: gap, caches: training ? caches : [])
    }

    /// Gradients of every parameter, same layout as the parameters.
    struct Gradients {
        var convW: [[Float]], convB: [[Float]], gamma: [[Float]], beta: [[Float]]
        var fcW: [Float], fcB: [Float]
    }

    /// Backward pass from `dLogits [n, classes]` through a training forward.
    func backward(_ f: Forward, dLogits: [Float], n: Int) -> Gradients {
        let c = config.channels.last ?? 1, k = classCount
        let last = f.caches[blocks - 1]
        let lastH = config.pool[blocks - 1] ? last.h / 2 : last.h, lastW = config.pool[blocks - 1] ? last.w / 2 : last.w
        let plane = lastH * lastW
        var gfcW = [Float](repeating: 0, count: k * c), gfcB = [Float](repeating: 0, count: k)
        var dGap = [Float](repeating: 0, count: c * n)
        for b in 0..<n { for j in 0..<k {
            let d = dLogits[b * k + j]
            gfcB[j] += d
            for ch in 0..<c { gfcW[j * c + ch] += d * f.gap[ch * n + b]; dGap[ch * n + b] += d * fcW[j * c + ch] }
        } }
        // d(block output) [C, n, h, w]
        var dx = [Float](repeating: 0, count: c * n * plane)
        for i in 0..<(c * n) { let v = dGap[i] / Float(plane); for j in 0..<plane { dx[i * plane + j] = v } }
        var g = Gradients(convW: convW.map { [Float](repeating: 0, count: $0.count) }, convB: convB.map { [Float](repeating: 0, count: $0.count) },
                          gamma: gamma.map { [Float](repeating: 0, count: $0.count) }, beta: beta.map { [Float](repeating: 0, count: $0.count) },
                          fcW: gfcW, fcB: gfcB)
        for i in stride(from: blocks - 1, through: 0, by: -1) {
            let cache = f.caches[i]
            let h = cache.h, w = cache.w, m = n * h * w, co = config.channels[i], ci = cin(i)
            // Un-pool: route each gradient to its argmax.
            var dAct: [Float]
            if config.pool[i] {
                dAct = [Float](repeating: 0, count: co * m)
                for j in 0..<dx.count { dAct[Int(cache.argmax[j])] += dx[j] }
            } else {
                dAct = dx
            }
            // ReLU and batch norm backward, per channel; dAct becomes dz (gradient of conv output).
            dAct.withUnsafeMutableBufferPointer { dp in
                cache.act.withUnsafeBufferPointer { ap in cache.xhat.withUnsafeBufferPointer { xp in
                    for ch in 0..<co {
                        let d = dp.baseAddress! + ch * m, a = ap.baseAddress! + ch * m, xh = xp.baseAddress! + ch * m
                        var sumD: Float = 0, sumDX: Float = 0
                        for j in 0..<m { if a[j] <= 0 { d[j] = 0 }; sumD += d[j]; sumDX += d[j] * xh[j] }
                        g.beta[i][ch] = sumD; g.gamma[i][ch] = sumDX
                        let gm = gamma[i][ch], inv = cache.invStd[ch], fm = Float(m)
                        let k1 = gm * inv / fm
                        for j in 0..<m { d[j] = k1 * (fm * d[j] - sumD - xh[j] * sumDX) }
                        var sb: Float = 0
                        for j in 0..<m { sb += d[j] }
                        g.convB[i][ch] = sb
                    }
                } }
            }
            // dW = dz · colᵀ ; dcol = Wᵀ · dz ; dx = col2im(dcol)
            dAct.withUnsafeBufferPointer { dp in cache.col.withUnsafeBufferPointer { cp in g.convW[i].withUnsafeMutableBufferPointer { gw in
                BLAS.sgemm(m: co, n: ci * 9, k: m, a: dp.baseAddress!, lda: m, b: cp.baseAddress!, ldb: m, transB: true,
                           c: gw.baseAddress!, ldc: ci * 9)
            } } }
            if i > 0 {
                var dcol = [Float](repeating: 0, count: ci * 9 * m)
                convW[i].withUnsafeBufferPointer { wp in dAct.withUnsafeBufferPointer { dp in dcol.withUnsafeMutableBufferPointer { dc in
                    BLAS.sgemm(m: ci * 9, n: m, k: co, a: wp.baseAddress!, lda: ci * 9, transA: true, b: dp.baseAddress!, ldb: m,
                               c: dc.baseAddress!, ldc: m)
                } } }
                var dIn = [Float](repeating: 0, count: ci * m)
                dcol.withUnsafeBufferPointer { dc in dIn.withUnsafeMutableBufferPointer { di in
                    col2im3x3(dc.baseAddress!, cin: ci, n: n, h: h, w: w, di.baseAddress!)
                } }
                dx = dIn
            }
        }
        return g
    }

    // MARK: Inference

    /// Normalises 8-bit-range pixels (`[n, size, size]` in 0…1) into network input.
    public func normalise(_ pixels01: [Float]) -> [Float] {
        let m = config.mean, s = config.std
        return pixels01.map { ($0 - m) / s }
    }

    /// Raw logits `[n, classes]` for normalised input `[n, size, size]` (eval mode).
    public func logits(_ input: [Float], n: Int) -> [Float] {
        forward(input, n: n, training: false).logits
    }

    /// Temperature-scaled probabilities `[n, classes]`.
    public func probabilities(_ input: [Float], n: Int, temperature: Float? = nil) -> [Float] {
        let t = temperature ?? config.temperature
        return ScanClassifier.softmax(logits(input, n: n), classes: classCount, temperature: t)
    }

    static func softmax(_ logits: [Float], classes k: Int, temperature t: Float) -> [Float] {
        var out = logits
        let n = logits.count / k
        for b in 0..<n {
            var mx = -Float.infinity
            for j in 0..<k { mx = max(mx, logits[b * k + j] / t) }
            var s: Float = 0
            for j in 0..<k { let e = Foundation.exp(logits[b * k + j] / t - mx); out[b * k + j] = e; s += e }
            for j in 0..<k { out[b * k + j] /= s }
        }
        return out
    }
}
