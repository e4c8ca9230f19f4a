import Foundation

// The engine's one set of vectorised row operations: exp, erf, GELU, softmax and layer norm on
// raw float rows, in SIMD8 (one AVX2 register). The tensor ops and the models' fused kernels
// (Whisper, MiniLM) all call these, so every model gets the same numerics and error bounds.
//
// Everything is `@inlinable @inline(__always)`: called from another module, a non-inlined SIMD
// function would be a call per 8 floats, and without the caller's `-target-cpu` the SIMD code
// would turn into library calls (../shared/specs/swift-performance.md).

/// Vectorised math on raw `Float` rows (SIMD8). Error bounds are stated per function and checked
/// against Double-precision references in `VectorMathTests`.
public enum VectorMath {
    public typealias V = SIMD8<Float>

    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inlinable @inline(__always)
    public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    // MARK: Transcendentals

    /// `e^x` for 8 lanes: Cephes range reduction `x = n·ln2 + r` (ln2 in two parts) and a degree-6
    /// polynomial for `e^r`, with `2^n` assembled in the exponent bits.
    ///
    /// Error bound: relative error ≤ 2.5e-7 (about 2 ulp) for `-87.3 ≤ x ≤ 88.72`; `x < -87.3`
    /// (true value < 1.2e-38, the edge of the normal range), `-inf` included, gives 0, as masked
    /// logits must; `x > 88.72` gives `+inf`; NaN gives NaN.
    ///
    /// Rounding to `n` uses the 1.5·2²³ trick and the underflow mask is a bitwise AND, so every step
    /// stays in AVX registers (the stdlib's `pointwiseMin/Max` are not inlined).
    @inlinable @inline(__always)
    public static func exp8(_ x: V) -> V {
        let magic = V(repeating: 12582912)
        let t = x * V(repeating: 1.44269504088896341) + magic
        let n = t - magic
        var r = x - n * V(repeating: 0.693359375)
        r = r - n * V(repeating: -2.12194440e-4)
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + V(repeating: 1.3981999507e-3)
        p = p * r + V(repeating: 8.3334519073e-3)
        p = p * r + V(repeating: 4.1665795894e-2)
        p = p * r + V(repeating: 1.6666665459e-1)
        p = p * r + V(repeating: 5.0000001201e-1)
        p = p * (r * r) + r + V(repeating: 1)
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((ni &+ SIMD8<Int32>(repeating: 127)) &<< SIMD8<Int32>(repeating: 23), to: V.self)
        // Below -87.3 the true value is under the smallest normal: flush to 0. A true mask lane is
        // all ones, a false one 0; NaN compares false and so passes through.
        let flush = unsafeBitCast(x .< V(repeating: -87.3), to: SIMD8<UInt32>.self)
        var result = unsafeBitCast(unsafeBitCast(p * scale, to: SIMD8<UInt32>.self) & ~flush, to: V.self)
        // Past 127.5·ln2, n = 128 has no float exponent: rare, so handled off the main path.
        let high = x .> V(repeating: 88.3762626647949)
        if any(high) {
            let half = unsafeBitCast((ni &+ SIMD8<Int32>(repeating: 126)) &<< SIMD8<Int32>(repeating: 23), to: V.self)
            result.replace(with: p * half * 2, where: high)
            result.replace(with: V(repeating: .infinity), where: x .> V(repeating: 88.72283935546875))
        }
        return result
    }

    /// `erf(x)` for 8 lanes: Abramowitz & Stegun 7.1.28, `erf z ≈ 1 − (1 + a₁z + … + a₆z⁶)⁻¹⁶` for
    /// `z = |x|`, odd by symmetry. No exponential: six FMAs, four squarings and one division. For
    /// large `z` the 16th power overflows to +inf and erf comes out as exactly ±1, as it should.
    ///
    /// Error bound: absolute error ≤ 2e-6 for every `x` (the formula's own bound is 3e-7; the four
    /// squarings multiply the float rounding of `p` by 16); `±inf` give ±1, NaN gives NaN.
    @inlinable @inline(__always)
    public static func erf8(_ x: V) -> V {
        let negative = x .< 0
        let z = x.replacing(with: -x, where: negative)
        var p = V(repeating: 0.0002765672).addingProduct(z, V(repeating: 0.0000430638))
        p = V(repeating: 0.0001520143).addingProduct(p, z)
        p = V(repeating: 0.0092705272).addingProduct(p, z)
        p = V(repeating: 0.0422820123).addingProduct(p, z)
        p = V(repeating: 0.0705230784).addingProduct(p, z)
        let one = V(repeating: 1)
        p = one.addingProduct(p, z)
        p *= p; p *= p; p *= p; p *= p
        let magnitude = one - one / p
        return magnitude.replacing(with: -magnitude, where: negative)
    }

    /// Exact-form GELU `x/2 · (1 + erf(x/√2))` for 8 lanes (as PyTorch `gelu`, BERT, Whisper).
    ///
    /// Error bound: absolute error ≤ 4e-7·max(1, |x|) (``erf8(_:)``'s error is largest where `x/2` is small).
    @inlinable @inline(__always)
    public static func gelu8(_ x: V) -> V {
        x * V(repeating: 0.5) * (V(repeating: 1) + erf8(x * V(repeating: 0.7071067811865476)))
    }

    /// `y[i] = gelu(x[i] (+ bias[i % width]))` for `i < count` (`y` may be `x`), any `count`;
    /// with a bias, `count` is a multiple of `width` and `width` of 8.
    @inlinable @inline(__always)
    public static func gelu(_ x: UnsafePointer<Float>, bias: UnsafePointer<Float>? = nil, width: Int = 0,
                            into y: UnsafeMutablePointer<Float>, count: Int) {
        if let bias {
            precondition(width % 8 == 0 && count % width == 0)
            var r = 0
            while r < count {
                for j in Swift.stride(from: 0, to: width, by: 8) { store(gelu8(load(x + r + j) + load(bias + j)), y + r + j) }
                r += width
            }
            return
        }
        var i = 0
        while i + 8 <= count { store(gelu8(load(x + i)), y + i); i += 8 }
        if i < count { tail(x + i, y + i, count - i) { gelu8($0) } }
    }

    /// Applies `f` to the last `n` < 8 elements through one zero-padded vector.
    @inlinable @inline(__always)
    static func tail(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V) -> V) {
        var v = V()
        for k in 0..<n { v[k] = x[k] }
        let r = f(v)
        for k in 0..<n { y[k] = r[k] }
    }

    // MARK: Softmax

    /// Largest of `row[0..<n]` (−inf for an empty row), 16 lanes at a time (`replace(with:where:)`
    /// compiles to `vmaxps`). NaN entries are skipped.
    @inlinable @inline(__always)
    public static func maxValue(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        var m0 = V(repeating: -.infinity), m1 = m0
        var j = 0
        while j + 16 <= n {
            let v0 = load(row + j), v1 = load(row + j + 8)
            m0.replace(with: v0, where: v0 .> m0)
            m1.replace(with: v1, where: v1 .> m1)
            j += 16
        }
        m0.replace(with: m1, where: m1 .> m0)
        var m = m0[0]
        for i in 1..<8 where m0[i] > m { m = m0[i] }
        while j < n { m = row[j] > m ? row[j] : m; j += 1 }
        return m
    }

    /// `y[j] = e^(x[j] − max x)` for `j < n` (`y` may be `x`), returning `Σ y` (callers that divide
    /// later, e.g. the few outputs of `P·V` instead of every probability, use this directly).
    ///
    /// Error bound: each term has relative error ≤ 2.5e-7 (``exp8(_:)``) plus 6e-8·|x − max| from
    /// rounding the argument `x − max` to float; the sum adds ≤ n·6e-8 relative. A row whose maximum is −inf (all masked) gives zeros and sum 0.
    @inlinable @inline(__always)
    public static func expShifted(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        let m = maxValue(x, n)
        if m == -.infinity {
            y.update(repeating: 0, count: n)
            return 0
        }
        let mv = V(repeating: m)
        var acc = V(repeating: 0)
        var j = 0
        while j + 8 <= n {
            let e = exp8(load(x + j) - mv)
            store(e, y + j)
            acc += e
            j += 8
        }
        if j < n {
            // The last n mod 8 through one vector padded with −inf (whose lanes give 0).
            var v = V(repeating: -.infinity)
            for k in 0..<(n - j) { v[k] = x[j + k] }
            let e = exp8(v - mv)
            for k in 0..<(n - j) { y[j + k] = e[k] }
            acc += e
        }
        return acc.sum()
    }

    /// Stable softmax `y = e^(x − max) / Σ e^(x − max)` of `x[0..<n]` (`y` may be `x`); −inf
    /// entries (masked) give 0, and a fully masked row gives zeros rather than NaN.
    ///
    /// Error bound: relative error ≤ 4e-7 + 6e-8·(|x − max| + n) per probability
    /// (``expShifted(_:into:_:)``, one division and one product).
    @inlinable @inline(__always)
    public static func softmax(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        let sum = expShifted(x, into: y, n)
        if sum == 0 { return }
        let inv = 1 / sum, iv = V(repeating: inv)
        var j = 0
        while j + 8 <= n { store(load(y + j) * iv, y + j); j += 8 }
        while j < n { y[j] *= inv; j += 1 }
    }

    // MARK: Layer norm

    /// Mean and `1/√(variance + eps)` of `x[0..<n]` (biased variance, two passes over the row).
    ///
    /// Error bound: relative error of both ≤ n·1.2e-7 (float sums in 8 lanes).
    @inlinable @inline(__always)
    public static func meanAndInverseDeviation(_ x: UnsafePointer<Float>, _ n: Int, eps: Float) -> (mean: Float, inverse: Float) {
        let invN = 1 / Float(n)
        var s = V(repeating: 0)
        var j = 0
        while j + 8 <= n { s += load(x + j); j += 8 }
        var total = s.sum()
        for k in j..<n { total += x[k] }
        let mean = total * invN
        let mv = V(repeating: mean)
        var v = V(repeating: 0)
        j = 0
        while j + 8 <= n { let d = load(x + j) - mv; v.addProduct(d, d); j += 8 }
        var squares = v.sum()
        for k in j..<n { let d = x[k] - mean; squares += d * d }
        return (mean, 1 / (squares * invN + eps).squareRoot())
    }

    /// Layer normalisation of `rows` rows of `width`: `y = (x − mean) / √(var + eps) · gamma + beta`
    /// (biased variance, as PyTorch `LayerNorm`). With `residual` and/or `bias`, `x` first becomes
    /// `x + residual (+ bias)` in place (a transformer's residual connection, with the bias of the
    /// GEMM that produced `residual`), and that sum is normalised. `y` may be `x`.
    ///
    /// Error bound: as ``meanAndInverseDeviation(_:_:eps:)``, plus 2 roundings per output.
    @inlinable @inline(__always)
    public static func layerNorm(_ x: UnsafeMutablePointer<Float>, adding residual: UnsafePointer<Float>? = nil,
                                 bias: UnsafePointer<Float>? = nil, rows: Int, width: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                 into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * width, out = y + r * width
            if residual != nil || bias != nil {
                let res = residual.map { $0 + r * width }
                var j = 0
                while j + 8 <= width {
                    var v = load(row + j)
                    if let res { v += load(res + j) }
                    if let bias { v += load(bias + j) }
                    store(v, row + j)
                    j += 8
                }
                while j < width {
                    if let res { row[j] += res[j] }
                    if let bias { row[j] += bias[j] }
                    j += 1
                }
            }
            let (mean, inverse) = meanAndInverseDeviation(row, width, eps: eps)
            let mv = V(repeating: mean), iv = V(repeating: inverse)
            var j = 0
            while j + 8 <= width {
                let d = (load(row + j) - mv) * iv
                store(d * load(gamma + j) + load(beta + j), out + j)
                j += 8
            }
            while j < width { out[j] = (row[j] - mean) * inverse * gamma[j] + beta[j]; j += 1 }
        }
    }
}
