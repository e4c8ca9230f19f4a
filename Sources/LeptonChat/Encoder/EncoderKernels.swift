import Foundation
import LeptonEngine

/// Fused, allocation-free kernels of the MiniLM forward pass on raw row-major buffers.
///
/// Widths (hidden 384, intermediate 1536, head size 32) are multiples of 8, so rows are walked in
/// `SIMD8<Float>` steps; transcendentals use the vectorised `exp8` below (libm's `expf`/`erff`
/// cost 10–20 ns each and would dominate the GELU over `[tokens, 1536]`).
enum EncoderKernels {
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// e^x for 8 lanes: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 Taylor polynomial for e^r
    /// (relative error ≈ 1e-7), 2^n assembled in the exponent bits. Inputs are clamped to
    /// [-87, 88] so 2^n stays a normal float.
    @inline(__always) static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let x = x.clamped(lowerBound: SIMD8(repeating: -87), upperBound: SIMD8(repeating: 88))
        // Adding 1.5·2²³ rounds to an integer and leaves it in the low mantissa bits (no slow
        // float→int SIMD conversion).
        let shifted = x * 1.442695040888963 + 12582912
        let n = shifted - 12582912
        var r = x.addingProduct(n, SIMD8(repeating: -0.693359375))
        r = r.addingProduct(n, SIMD8(repeating: 2.12194440e-4))
        var p = SIMD8<Float>(repeating: 1.0 / 120).addingProduct(SIMD8(repeating: 1.0 / 720), r)
        p = SIMD8(repeating: 1.0 / 24).addingProduct(p, r)
        p = SIMD8(repeating: 1.0 / 6).addingProduct(p, r)
        p = SIMD8(repeating: 0.5).addingProduct(p, r)
        p = SIMD8(repeating: 1).addingProduct(p, r)
        p = SIMD8(repeating: 1).addingProduct(p, r)
        let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// Exact-form GELU `x/2 · (1 + erf(x/√2))` with erf from Abramowitz & Stegun 7.1.26
    /// (absolute error ≤ 1.5e-7).
    @inline(__always) static func gelu8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = x.replacing(with: -x, where: x .< 0) * 0.7071067811865476
        let t = 1 / SIMD8<Float>(repeating: 1).addingProduct(z, SIMD8(repeating: 0.3275911))
        var poly = SIMD8<Float>(repeating: 1.061405429)
        poly = SIMD8(repeating: -1.453152027).addingProduct(poly, t)
        poly = SIMD8(repeating: 1.421413741).addingProduct(poly, t)
        poly = SIMD8(repeating: -0.284496736).addingProduct(poly, t)
        poly = SIMD8(repeating: 0.254829592).addingProduct(poly, t)
        let one = SIMD8<Float>(repeating: 1)
        let erfAbs = one - poly * t * exp8(-(z * z))
        let erf = erfAbs.replacing(with: -erfAbs, where: x .< 0)
        return x * SIMD8<Float>(repeating: 0.5) * (one + erf)
    }

    /// GELU in place over `count` elements, split across the engine's threads.
    static func geluInPlace(_ p: UnsafeMutablePointer<Float>, count: Int) {
        nonisolated(unsafe) let p = p
        parallelChunks(count / 8, grain: 2048) { lo, hi in
            for c in lo..<hi { store(gelu8(load(p + 8 * c)), p + 8 * c) }
        }
        for i in (count / 8 * 8)..<count { p[i] = 0.5 * p[i] * (1 + erff(p[i] * 0.7071067811865476)) }
    }

    /// Copies `bias` into each of `rows` rows of `out` (then a GEMM with beta = 1 adds the product).
    static func broadcastRows(_ bias: UnsafeBufferPointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let w = bias.count
        for r in 0..<rows { (out + r * w).update(from: bias.baseAddress!, count: w) }
    }

    /// `out = a + b + c` over `count` (a multiple of 8).
    @inline(__always) static func add3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                                       into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in stride(from: 0, to: count, by: 8) { store(load(a + i) + load(b + i) + load(c + i), out + i) }
    }

    /// Row-wise `x = LayerNorm(x + residual)` (biased variance, two passes for accuracy).
    static func layerNormRows(_ x: UnsafeMutablePointer<Float>, residual: UnsafeMutablePointer<Float>?, rows: Int, width: Int,
                              gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
        nonisolated(unsafe) let (x, residual, gamma, beta) = (x, residual, gamma, beta)
        parallelChunks(rows, grain: 32) { lo, hi in
            for r in lo..<hi {
                let row = x + r * width
                if let res = residual {
                    let rr = res + r * width
                    for i in stride(from: 0, to: width, by: 8) { store(load(row + i) + load(rr + i), row + i) }
                }
                var s = SIMD8<Float>()
                for i in stride(from: 0, to: width, by: 8) { s += load(row + i) }
                let mean = s.sum() / Float(width)
                var v = SIMD8<Float>()
                for i in stride(from: 0, to: width, by: 8) { let d = load(row + i) - mean; v = v.addingProduct(d, d) }
                let rstd = 1 / (v.sum() / Float(width) + eps).squareRoot()
                for i in stride(from: 0, to: width, by: 8) {
                    let y = (load(row + i) - mean) * rstd
                    store(y * load(gamma + i) + load(beta + i), row + i)
                }
            }
        }
    }

    /// Self-attention of a packed batch, per sentence and head: `softmax(Q Kᵀ/√d) V`.
    ///
    /// - Parameters:
    ///   - qkv: `[tokens, 3·heads·headDim]`, each row = query | key | value (biases added).
    ///   - offsets: sentence `s` owns rows `offsets[s]..<offsets[s+1]`; keys never cross sentences.
    ///   - into: `[tokens, heads·headDim]` context vectors, heads side by side.
    static func attention(qkv: UnsafeMutablePointer<Float>, offsets: [Int], heads: Int, headDim d: Int, longest: Int,
                          into ctx: UnsafeMutablePointer<Float>) {
        let hidden = heads * d, stride3 = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let sentences = offsets.count - 1
        nonisolated(unsafe) let (qkv, ctx) = (qkv, ctx)
        parallelChunks(sentences * heads, grain: 4) { lo, hi in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: (longest + 7) / 8 * 8)
            defer { scores.deallocate() }
            for item in lo..<hi {
                let s = item / heads, hd = item % heads
                let base = offsets[s], t = offsets[s + 1] - base
                for i in 0..<t {
                    let q = qkv + (base + i) * stride3 + hd * d
                    var best = -Float.infinity
                    for j in 0..<t {
                        let k = qkv + (base + j) * stride3 + hidden + hd * d
                        var acc = SIMD8<Float>()
                        for c in Swift.stride(from: 0, to: d, by: 8) { acc = acc.addingProduct(load(q + c), load(k + c)) }
                        let v = acc.sum() * scale
                        scores[j] = v
                        best = max(best, v)
                    }
                    let t8 = (t + 7) / 8 * 8
                    for j in t..<t8 { scores[j] = -Float.infinity }
                    for j in Swift.stride(from: 0, to: t8, by: 8) { store(exp8(load(scores + j) - best), scores + j) }
                    var sum: Float = 0
                    for j in 0..<t { sum += scores[j] }
                    let out = ctx + (base + i) * hidden + hd * d
                    for c in Swift.stride(from: 0, to: d, by: 8) { store(SIMD8<Float>(), out + c) }
                    for j in 0..<t {
                        let p = SIMD8<Float>(repeating: scores[j])
                        let v = qkv + (base + j) * stride3 + 2 * hidden + hd * d
                        for c in Swift.stride(from: 0, to: d, by: 8) { store(load(out + c).addingProduct(p, load(v + c)), out + c) }
                    }
                    let inv = SIMD8<Float>(repeating: 1 / sum)
                    for c in Swift.stride(from: 0, to: d, by: 8) { store(load(out + c) * inv, out + c) }
                }
            }
        }
    }

    /// `out = normalize(mean of rows)`: `e / max(‖e‖₂, 1e-12)` (all rows belong to one sentence).
    static func meanPoolNormalize(_ x: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        for i in stride(from: 0, to: width, by: 8) {
            var s = SIMD8<Float>()
            for r in 0..<rows { s += load(x + r * width + i) }
            store(s / Float(max(rows, 1)), out + i)
        }
        var n2: Double = 0
        for i in 0..<width { n2 += Double(out[i]) * Double(out[i]) }
        let inv = Float(1 / max(n2.squareRoot(), 1e-12))
        for i in 0..<width { out[i] *= inv }
    }
}
