import Foundation
import LeptonEngine

/// The MiniLM-specific kernels of the forward pass on raw row-major buffers: the fused attention,
/// embedding sum and mean pooling, plus the row-parallel scheduling of the engine's row operations
/// (``VectorMath``: GELU, layer norm, exp) that the encoder fuses with its GEMMs' biases.
///
/// Widths (hidden 384, intermediate 1536, head size 32) are multiples of 8, so rows are walked in
/// `SIMD8<Float>` steps.
enum EncoderKernels {
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { VectorMath.load(p) }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { VectorMath.load(p) }
    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { VectorMath.store(v, p) }

    /// Runs `body(lo, hi)` over `0..<n`: split over the engine's threads when `parallel`, else inline
    /// (the caller already runs one such body per core, e.g. one packed batch per thread).
    @inline(__always) static func chunks(_ n: Int, grain: Int, parallel: Bool, _ body: @Sendable (Int, Int) -> Void) {
        parallelChunks(n, grain: parallel ? grain : Int.max, body)
    }

    /// `x = GELU(x + bias)` row by row over `[rows, width]` (width a multiple of 8): the bias of the
    /// GEMM before it is added here, so that GEMM writes with beta = 0 and no bias rows are copied.
    static func biasGELURows(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int, parallel: Bool) {
        nonisolated(unsafe) let (x, bias) = (x, bias)
        chunks(rows, grain: 16, parallel: parallel) { lo, hi in
            VectorMath.gelu(x + lo * width, bias: bias, width: width, into: x + lo * width, count: (hi - lo) * width)
        }
    }

    /// Row-wise `x = LayerNorm(x + residual + bias)` over `[rows, width]`
    /// (``VectorMath/layerNorm(_:adding:bias:rows:width:gamma:beta:eps:into:)``). `residual` and `bias`
    /// are optional: the bias of the GEMM that produced `residual` is added here instead of being
    /// copied into its output rows first.
    static func layerNormRows(_ x: UnsafeMutablePointer<Float>, residual: UnsafeMutablePointer<Float>?, bias: UnsafePointer<Float>? = nil,
                              rows: Int, width: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                              parallel: Bool = true) {
        nonisolated(unsafe) let (x, residual, bias, gamma, beta) = (x, residual, bias, gamma, beta)
        chunks(rows, grain: 32, parallel: parallel) { lo, hi in
            VectorMath.layerNorm(x + lo * width, adding: residual.map { UnsafePointer($0 + lo * width) }, bias: bias,
                                 rows: hi - lo, width: width, gamma: gamma, beta: beta, eps: eps, into: x + lo * width)
        }
    }

    /// `out = a + b + c` over `count` (a multiple of 8).
    @inline(__always) static func add3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                                       into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in stride(from: 0, to: count, by: 8) { store(load(a + i) + load(b + i) + load(c + i), out + i) }
    }

    /// Self-attention of a packed batch, per sentence and head: `softmax(Q Kᵀ/√d) V`, with the
    /// Q and V biases added here (the QKV GEMM writes with beta = 0).
    ///
    /// - The key bias is dropped: it adds `q·b_k` to every score of a query, a constant that the
    ///   softmax cancels exactly.
    /// - Per (sentence, head) the keys are copied transposed (`kT`, `[d, t]`); scores are then
    ///   computed 8 queries × 8 keys at a time (8 independent SIMD FMA chains, no horizontal sums).
    /// - The softmax stays unnormalised; the context is divided by the sum once at the end, then the
    ///   value bias is added (the weights sum to 1, so `Σ p_j (v_j + b) = Σ p_j v_j + b`).
    ///
    /// - Parameters:
    ///   - qkv: `[tokens, 3·heads·headDim]`, each row = query | key | value, without biases.
    ///   - bias: `[3·heads·headDim]` query | key | value biases.
    ///   - offsets: sentence `s` owns rows `offsets[s]..<offsets[s+1]`; keys never cross sentences.
    ///   - longest: an upper bound on `offsets[s+1] - offsets[s]` (sizes the scratch buffers).
    ///   - into: `[tokens, heads·headDim]` context vectors, heads side by side.
    static func attention(qkv: UnsafePointer<Float>, bias: UnsafePointer<Float>, offsets: [Int], heads: Int, headDim d: Int,
                          longest: Int, into ctx: UnsafeMutablePointer<Float>, parallel: Bool = true) {
        let hidden = heads * d, stride3 = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let sentences = offsets.count - 1
        let t8max = (longest + 7) / 8 * 8
        nonisolated(unsafe) let (qkv, bias, ctx) = (qkv, bias, ctx)
        offsets.withUnsafeBufferPointer { ob in
        nonisolated(unsafe) let offsets = ob.baseAddress!
        chunks(sentences * heads, grain: 4, parallel: parallel) { lo, hi in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: t8max * d + 8 * d + 8 * t8max)
            defer { scratch.deallocate() }
            let kT = scratch, q = scratch + t8max * d, scores = q + 8 * d
            for item in lo..<hi {
                let s = item / heads, hd = item % heads
                let base = offsets[s], t = offsets[s + 1] - base, t8 = (t + 7) / 8 * 8
                let qb = bias + hd * d, vb = bias + 2 * hidden + hd * d
                // kT[c, j] = k_j[c]; padding columns are zero (their scores are masked below).
                var k = qkv + base * stride3 + hidden + hd * d
                for j in 0..<t {
                    var dst = kT + j
                    for c in 0..<d { dst.pointee = k[c]; dst += t8 }
                    k += stride3
                }
                for j in t..<t8 { for c in 0..<d { kT[c * t8 + j] = 0 } }
                for i0 in Swift.stride(from: 0, to: t, by: 8) {
                    let rows = min(8, t - i0)
                    // Up to 8 queries, bias added and pre-scaled by 1/√d; missing rows are zero.
                    for r in 0..<8 {
                        let qr = q + r * d
                        if r < rows {
                            let row = qkv + (base + i0 + r) * stride3 + hd * d
                            for c in Swift.stride(from: 0, to: d, by: 8) { store((load(row + c) + load(qb + c)) * scale, qr + c) }
                        } else {
                            for c in Swift.stride(from: 0, to: d, by: 8) { store(SIMD8<Float>(), qr + c) }
                        }
                    }
                    for j in Swift.stride(from: 0, to: t8, by: 8) {
                        var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
                        for c in 0..<d {
                            let kv = load(kT + c * t8 + j)
                            a0 = a0.addingProduct(SIMD8(repeating: q[c]), kv)
                            a1 = a1.addingProduct(SIMD8(repeating: q[d + c]), kv)
                            a2 = a2.addingProduct(SIMD8(repeating: q[2 * d + c]), kv)
                            a3 = a3.addingProduct(SIMD8(repeating: q[3 * d + c]), kv)
                            a4 = a4.addingProduct(SIMD8(repeating: q[4 * d + c]), kv)
                            a5 = a5.addingProduct(SIMD8(repeating: q[5 * d + c]), kv)
                            a6 = a6.addingProduct(SIMD8(repeating: q[6 * d + c]), kv)
                            a7 = a7.addingProduct(SIMD8(repeating: q[7 * d + c]), kv)
                        }
                        if j + 8 > t {
                            // Keys past the sentence's end score -inf (masked in registers: scalar
                            // stores followed by a vector load would stall store forwarding).
                            let pad = (SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &+ Int32(j)) .>= Int32(t)
                            let ninf = SIMD8<Float>(repeating: -.infinity)
                            a0.replace(with: ninf, where: pad); a1.replace(with: ninf, where: pad)
                            a2.replace(with: ninf, where: pad); a3.replace(with: ninf, where: pad)
                            a4.replace(with: ninf, where: pad); a5.replace(with: ninf, where: pad)
                            a6.replace(with: ninf, where: pad); a7.replace(with: ninf, where: pad)
                        }
                        store(a0, scores + j); store(a1, scores + t8 + j)
                        store(a2, scores + 2 * t8 + j); store(a3, scores + 3 * t8 + j)
                        store(a4, scores + 4 * t8 + j); store(a5, scores + 5 * t8 + j)
                        store(a6, scores + 6 * t8 + j); store(a7, scores + 7 * t8 + j)
                    }
                    for r in 0..<rows {
                        let sc = scores + r * t8
                        var best = SIMD8<Float>(repeating: -.infinity)
                        for j in Swift.stride(from: 0, to: t8, by: 8) { let v = load(sc + j); best = best.replacing(with: v, where: v .> best) }
                        let m = SIMD8<Float>(repeating: best.max())
                        var sum = SIMD8<Float>()
                        for j in Swift.stride(from: 0, to: t8, by: 8) {
                            let e = VectorMath.exp8(load(sc + j) - m)
                            store(e, sc + j)
                            sum += e
                        }
                        // Masked lanes (-inf) come out as 0, and only columns j < t are used below.
                        let inv = SIMD8<Float>(repeating: 1 / sum.sum())
                        let out = ctx + (base + i0 + r) * hidden + hd * d
                        let v0 = qkv + base * stride3 + 2 * hidden + hd * d
                        if d == 32 {
                            // MiniLM's head size: the whole context row stays in 4 registers.
                            var c0 = SIMD8<Float>(), c1 = c0, c2 = c0, c3 = c0
                            var v = v0
                            for j in 0..<t {
                                let p = SIMD8<Float>(repeating: sc[j])
                                c0 = c0.addingProduct(p, load(v)); c1 = c1.addingProduct(p, load(v + 8))
                                c2 = c2.addingProduct(p, load(v + 16)); c3 = c3.addingProduct(p, load(v + 24))
                                v += stride3
                            }
                            store(c0 * inv + load(vb), out); store(c1 * inv + load(vb + 8), out + 8)
                            store(c2 * inv + load(vb + 16), out + 16); store(c3 * inv + load(vb + 24), out + 24)
                        } else {
                            for c in Swift.stride(from: 0, to: d, by: 8) {
                                var acc = SIMD8<Float>()
                                var v = v0 + c
                                for j in 0..<t { acc = acc.addingProduct(SIMD8(repeating: sc[j]), load(v)); v += stride3 }
                                store(acc * inv + load(vb + c), out + c)
                            }
                        }
                    }
                }
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
