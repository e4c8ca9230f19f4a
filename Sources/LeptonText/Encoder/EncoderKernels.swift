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

    /// Runs `body(lo, hi)` over `0..<n`: split over the engine's threads when `parallel`, else inline
    /// (the caller already runs one such body per core, e.g. one packed batch per thread).
    @inline(__always) static func chunks(_ n: Int, grain: Int, parallel: Bool, _ body: @Sendable (Int, Int) -> Void) {
        if parallel { parallelChunks(n, grain: grain, body) } else { body(0, n) }
    }

    /// e^x for 8 lanes: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 Taylor polynomial for e^r
    /// (relative error ≈ 1e-7), 2^n assembled in the exponent bits. Inputs are clamped to
    /// [-87, 88] so 2^n stays a normal float (-inf gives e^-87 ≈ 1.6e-38, NaN stays NaN).
    /// The clamp uses masked blends: the stdlib's `clamped`/`pointwiseMin/Max` are not inlined and
    /// cost as much as the polynomial.
    @inline(__always) static func exp8(_ xIn: SIMD8<Float>) -> SIMD8<Float> {
        let lo = SIMD8<Float>(repeating: -87), hi = SIMD8<Float>(repeating: 88)
        var x = xIn.replacing(with: lo, where: xIn .< lo)
        x = x.replacing(with: hi, where: x .> hi)
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

    /// Exact-form GELU `x/2 · (1 + erf(x/√2))` with erf from Abramowitz & Stegun 7.1.28,
    /// `erf z ≈ 1 − (1 + a₁z + … + a₆z⁶)⁻¹⁶` for z ≥ 0 (absolute error ≤ 3e-7; in float32 the GELU
    /// is within 4e-7·max(1, |x|) of the double-precision value). No exponential: four squarings
    /// and one division. For large z the 16th power overflows to +inf and erf comes out as
    /// exactly 1, as it should.
    @inline(__always) static func gelu8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let negative = x .< 0
        let z = x.replacing(with: -x, where: negative) * 0.7071067811865476
        var p = SIMD8<Float>(repeating: 0.0002765672).addingProduct(z, SIMD8(repeating: 0.0000430638))
        p = SIMD8(repeating: 0.0001520143).addingProduct(p, z)
        p = SIMD8(repeating: 0.0092705272).addingProduct(p, z)
        p = SIMD8(repeating: 0.0422820123).addingProduct(p, z)
        p = SIMD8(repeating: 0.0705230784).addingProduct(p, z)
        let one = SIMD8<Float>(repeating: 1)
        p = one.addingProduct(p, z)
        p *= p; p *= p; p *= p; p *= p
        let erfAbs = one - one / p
        let erf = erfAbs.replacing(with: -erfAbs, where: negative)
        return x * SIMD8<Float>(repeating: 0.5) * (one + erf)
    }

    /// `x = GELU(x + bias)` row by row over `[rows, width]` (width a multiple of 8): the bias of the
    /// GEMM before it is added here, so that GEMM writes with beta = 0 and no bias rows are copied.
    static func biasGELURows(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int, parallel: Bool) {
        nonisolated(unsafe) let (x, bias) = (x, bias)
        chunks(rows, grain: 16, parallel: parallel) { lo, hi in
            for r in lo..<hi {
                let row = x + r * width
                for i in stride(from: 0, to: width, by: 8) { store(gelu8(load(row + i) + load(bias + i)), row + i) }
            }
        }
    }

    /// `out = a + b + c` over `count` (a multiple of 8).
    @inline(__always) static func add3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                                       into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in stride(from: 0, to: count, by: 8) { store(load(a + i) + load(b + i) + load(c + i), out + i) }
    }

    /// Row-wise `x = LayerNorm(x + residual + bias)` over `[rows, width]` (width a multiple of 8;
    /// biased variance, two passes over the row for accuracy). `residual` and `bias` are optional:
    /// the bias of the GEMM that produced `residual` is added here instead of being copied into
    /// its output rows first.
    static func layerNormRows(_ x: UnsafeMutablePointer<Float>, residual: UnsafeMutablePointer<Float>?, bias: UnsafePointer<Float>? = nil,
                              rows: Int, width: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                              parallel: Bool = true) {
        nonisolated(unsafe) let (x, residual, bias, gamma, beta) = (x, residual, bias, gamma, beta)
        chunks(rows, grain: 32, parallel: parallel) { lo, hi in
            for r in lo..<hi {
                let row = x + r * width
                var s = SIMD8<Float>()
                if let res = residual {
                    let rr = res + r * width
                    if let b = bias {
                        for i in stride(from: 0, to: width, by: 8) {
                            let v = load(row + i) + load(rr + i) + load(b + i); store(v, row + i); s += v
                        }
                    } else {
                        for i in stride(from: 0, to: width, by: 8) { let v = load(row + i) + load(rr + i); store(v, row + i); s += v }
                    }
                } else if let b = bias {
                    for i in stride(from: 0, to: width, by: 8) { let v = load(row + i) + load(b + i); store(v, row + i); s += v }
                } else {
                    for i in stride(from: 0, to: width, by: 8) { s += load(row + i) }
                }
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
                            let e = exp8(load(sc + j) - m)
                            store(e, sc + j)
                            sum += e
                        }
                        // Masked lanes come out as e^-87 ≈ 1.6e-38 (exp8 clamps): nothing measurable
                        // in the sum, and only columns j < t are used below.
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
