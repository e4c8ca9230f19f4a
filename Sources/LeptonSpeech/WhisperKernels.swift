import Foundation
import LeptonEngine

/// Fused, allocation-free kernels of the Whisper forward pass, on raw pointers and SIMD8 (AVX2).
///
/// The engine's tensor ops allocate their outputs; the per-token decoder loop cannot afford that,
/// so these write into preallocated buffers.
enum WhisperKernels {
    typealias V = SIMD8<Float>

    /// `e^x` for 8 lanes: Cephes range reduction `x = n·ln2 + r` and a degree-6 polynomial
    /// (≈1 ulp on [-87, 88]); inputs below -87.3 give 0 (as `-inf` logits must).
    @inline(__always)
    static func exp8(_ xIn: V) -> V {
        let tiny = xIn .< V(repeating: -87.3)
        let x = xIn.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.7))
        let n = (x * V(repeating: 1.44269504088896341)).rounded(.toNearestOrEven)
        var r = x - n * V(repeating: 0.693359375)
        r = r - n * V(repeating: -2.12194440e-4)
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + V(repeating: 1.3981999507e-3)
        p = p * r + V(repeating: 8.3334519073e-3)
        p = p * r + V(repeating: 4.1665795894e-2)
        p = p * r + V(repeating: 1.6666665459e-1)
        p = p * r + V(repeating: 5.0000001201e-1)
        p = p * (r * r) + r + V(repeating: 1)
        let ni = SIMD8<Int32>(n, rounding: .towardZero)
        let bits = (ni &+ SIMD8<Int32>(repeating: 127)) &<< SIMD8<Int32>(repeating: 23)
        let scale = unsafeBitCast(bits, to: V.self)
        return (p * scale).replacing(with: 0, where: tiny)
    }

    /// `erf(x)` for 8 lanes (Abramowitz–Stegun 7.1.26 refined: |error| < 1.5e-7).
    @inline(__always)
    static func erf8(_ x: V) -> V {
        let sign = V(repeating: 1).replacing(with: -1, where: x .< 0)
        let a = x.replacing(with: -x, where: x .< 0)
        let t = V(repeating: 1) / (V(repeating: 1) + V(repeating: 0.3275911) * a)
        var y = V(repeating: 1.061405429)
        y = y * t + V(repeating: -1.453152027)
        y = y * t + V(repeating: 1.421413741)
        y = y * t + V(repeating: -0.284496736)
        y = y * t + V(repeating: 0.254829592)
        y = y * t
        return sign * (V(repeating: 1) - y * exp8(-(a * a)))
    }

    /// `x[i] = gelu(x[i] + bias[i % width])` over `rows × width` (exact erf form).
    static func biasGELU(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int) {
        precondition(width % 8 == 0)
        nonisolated(unsafe) let x = x, bias = bias
        parallelChunks(rows, grain: 64) { lo, hi in
            let rs = V(repeating: 0.7071067811865476)
            for r in lo..<hi {
                let row = x + r * width
                var j = 0
                while j < width {
                    let v = UnsafeRawPointer(row + j).loadUnaligned(as: V.self) + UnsafeRawPointer(bias + j).loadUnaligned(as: V.self)
                    let g = V(repeating: 0.5) * v * (V(repeating: 1) + erf8(v * rs))
                    UnsafeMutableRawPointer(row + j).storeBytes(of: g, as: V.self)
                    j += 8
                }
            }
        }
    }

    /// `x[i] += bias[i % width]`.
    static func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let row = x + r * width
            for j in 0..<width { row[j] += bias[j] }
        }
    }

    /// `y = LayerNorm(x)` row-wise over `width` (epsilon 1e-5), `rows × width`.
    static func layerNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let xr = x + r * width, yr = y + r * width
            var s: Float = 0
            for j in 0..<width { s += xr[j] }
            let mean = s / Float(width)
            var v: Float = 0
            for j in 0..<width { let d = xr[j] - mean; v += d * d }
            let inv = 1 / (v / Float(width) + 1e-5).squareRoot()
            for j in 0..<width { yr[j] = (xr[j] - mean) * inv * gamma[j] + beta[j] }
        }
    }

    /// In-place softmax of `row[0..<n]`, returning nothing; `-inf` entries become 0.
    @inline(__always)
    static func softmax(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for j in 0..<n where row[j] > m { m = row[j] }
        var sum: Float = 0
        var j = 0
        let mv = V(repeating: m)
        var acc = V(repeating: 0)
        while j + 8 <= n {
            let e = exp8(UnsafeRawPointer(row + j).loadUnaligned(as: V.self) - mv)
            UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: V.self)
            acc += e
            j += 8
        }
        sum = acc.sum()
        while j < n { let e = Foundation.exp(row[j] - m); row[j] = e; sum += e; j += 1 }
        let inv = 1 / sum
        for k in 0..<n { row[k] *= inv }
    }

    /// `y[rows, out] = x[rows, in] · Wᵀ (+ b)` with OpenBLAS.
    static func linear(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                       into y: UnsafeMutablePointer<Float>, ldx: Int? = nil, addBias: Bool = true) {
        BLAS.sgemm(m: rows, n: layer.outputs, k: layer.inputs, a: x, lda: ldx ?? layer.inputs,
                   b: layer.weight, ldb: layer.inputs, transB: true, c: y, ldc: layer.outputs)
        if addBias { Self.addBias(y, bias: layer.bias, rows: rows, width: layer.outputs) }
    }

    /// `y += x · Wᵀ + b` (residual connection fused into the GEMM with beta = 1).
    static func linearAccumulate(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                                 into y: UnsafeMutablePointer<Float>) {
        BLAS.sgemm(m: rows, n: layer.outputs, k: layer.inputs, a: x, lda: layer.inputs,
                   b: layer.weight, ldb: layer.inputs, transB: true, beta: 1, c: y, ldc: layer.outputs)
        Self.addBias(y, bias: layer.bias, rows: rows, width: layer.outputs)
    }
}
