import Foundation
import LeptonEngine

/// Fused, allocation-free kernels of the Whisper forward pass, on raw pointers and SIMD8 (AVX2).
///
/// The engine's tensor ops allocate their outputs; the per-token decoder loop cannot afford that,
/// so these write into preallocated buffers.
enum WhisperKernels {
    typealias V = SIMD8<Float>

    /// Runs `body(task)` for `task` in `0..<tasks`, tasks taken dynamically by the worker
    /// threads (GCD `concurrentPerform`). More tasks than cores keeps both cores busy on a
    /// loaded machine: when one thread is descheduled the other takes the remaining tasks,
    /// where a fixed two-way split would wait for it. Serial when `EngineThreads.count == 1`.
    @inline(__always)
    static func forEachTask(_ tasks: Int, _ body: (Int) -> Void) {
        if EngineThreads.count <= 1 || tasks <= 1 {
            for t in 0..<tasks { body(t) }
        } else {
            withoutActuallyEscaping(body) { b in
                nonisolated(unsafe) let b = b
                DispatchQueue.concurrentPerform(iterations: tasks) { b($0) }
            }
        }
    }

    /// A small pool of scratch buffers for tasks that each need one at a time.
    final class BufferPool: @unchecked Sendable {
        private var free: [UnsafeMutablePointer<Float>]
        private let all: [UnsafeMutablePointer<Float>]
        private let lock = NSLock()
        init(count: Int, capacity: Int) {
            all = (0..<count).map { _ in .allocate(capacity: capacity) }
            free = all
        }
        deinit { for p in all { p.deallocate() } }
        func take() -> UnsafeMutablePointer<Float> {
            lock.lock(); defer { lock.unlock() }
            return free.removeLast()
        }
        func give(_ p: UnsafeMutablePointer<Float>) {
            lock.lock(); defer { lock.unlock() }
            free.append(p)
        }
    }

    /// `e^x` for 8 lanes: Cephes range reduction `x = n·ln2 + r` and a degree-6 polynomial
    /// (≈1 ulp on [-87, 88]); inputs below -87.3, `-inf` included, give 0 (as masked logits must).
    /// Inputs must be ≤ 88 (callers pass `x - max` or `-x²`). Rounding uses the 1.5·2²³ trick
    /// and the underflow mask is a bitwise AND, so every step stays in AVX registers (the
    /// stdlib's `pointwiseMin/Max` are not inlined).
    @inline(__always)
    static func exp8(_ xIn: V) -> V {
        let x = xIn
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
        // Below -87.3 the true value is under the smallest normal: flush to 0.
        // A true mask lane is all ones (-1), a false one 0.
        let keep = unsafeBitCast(xIn .>= V(repeating: -87.3), to: SIMD8<UInt32>.self)
        return unsafeBitCast(unsafeBitCast(p * scale, to: SIMD8<UInt32>.self) & keep, to: V.self)
    }

    /// `erf(x)` for 8 lanes (Abramowitz–Stegun 7.1.26 refined: |error| < 1.5e-7).
    @inline(__always)
    static func erf8(_ x: V) -> V {
        // |x| and the sign bit by masking.
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let signBit = bits & SIMD8<UInt32>(repeating: 0x8000_0000)
        let a = unsafeBitCast(bits & SIMD8<UInt32>(repeating: 0x7FFF_FFFF), to: V.self)
        let t = V(repeating: 1) / (V(repeating: 1) + V(repeating: 0.3275911) * a)
        var y = V(repeating: 1.061405429)
        y = y * t + V(repeating: -1.453152027)
        y = y * t + V(repeating: 1.421413741)
        y = y * t + V(repeating: -0.284496736)
        y = y * t + V(repeating: 0.254829592)
        y = y * t
        let e = V(repeating: 1) - y * exp8(-(a * a))
        return unsafeBitCast(unsafeBitCast(e, to: SIMD8<UInt32>.self) | signBit, to: V.self)
    }

    /// `x[i] = gelu(x[i] + bias[i % width])` over `rows × width` (exact erf form).
    static func biasGELU(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int) {
        precondition(width % 8 == 0)
        nonisolated(unsafe) let x = x, bias = bias
        let chunk = 128
        forEachTask((rows + chunk - 1) / chunk) { task in
            let lo = task * chunk, hi = min(rows, lo + chunk)
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
        let m = maxValue(row, n)
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

    /// Largest of `row[0..<n]` (8 lanes at a time).
    @inline(__always)
    static func maxValue(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0
        var j = 0
        while j + 4 <= n {
            m0 = row[j] > m0 ? row[j] : m0
            m1 = row[j + 1] > m1 ? row[j + 1] : m1
            m2 = row[j + 2] > m2 ? row[j + 2] : m2
            m3 = row[j + 3] > m3 ? row[j + 3] : m3
            j += 4
        }
        while j < n { m0 = row[j] > m0 ? row[j] : m0; j += 1 }
        return max(max(m0, m1), max(m2, m3))
    }

    /// `y[rows, out] = x[rows, in] · Wᵀ (+ b)`.
    ///
    /// OpenBLAS runs single-threaded during transcription (its idle workers spin in
    /// `sched_yield` between the many small products and burn a core); large products are
    /// split by rows into tasks (``forEachTask(_:_:)``) instead, one single-threaded GEMM per chunk.
    static func linear(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                       into y: UnsafeMutablePointer<Float>, ldx: Int? = nil, addBias: Bool = true, accumulate: Bool = false) {
        let lda = ldx ?? layer.inputs
        nonisolated(unsafe) let x = x, y = y
        let layer = layer
        let chunk = rows >= 512 ? 256 : rows
        forEachTask((rows + chunk - 1) / chunk) { task in
            let lo = task * chunk, hi = min(rows, lo + chunk)
            BLAS.sgemm(m: hi - lo, n: layer.outputs, k: layer.inputs, a: x + lo * lda, lda: lda,
                       b: layer.weight, ldb: layer.inputs, transB: true, beta: accumulate ? 1 : 0,
                       c: y + lo * layer.outputs, ldc: layer.outputs)
            if addBias { Self.addBias(y + lo * layer.outputs, bias: layer.bias, rows: hi - lo, width: layer.outputs) }
        }
    }

    /// `y[rows, out] (+)= x[rows, in] · Wᵀ + b` for a few rows (decoder hypotheses): every weight
    /// row is read once for all rows, 4 output columns at a time with independent SIMD8
    /// accumulators, and no packing copy (OpenBLAS packs the whole weight on every call).
    static func smallLinear(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                            into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, gelu: Bool = false) {
        let n = layer.inputs, outputs = layer.outputs
        precondition(n % 8 == 0 && outputs % 4 == 0)
        nonisolated(unsafe) let x = x, y = y
        let layer = layer
        let blocks = outputs / 4, per = 96
        forEachTask((blocks + per - 1) / per) { task in
            let lo = task * per, hi = min(blocks, lo + per)
            for block in lo..<hi {
                let o = block * 4
                let w0 = UnsafePointer(layer.weight + o * n), w1 = w0 + n, w2 = w1 + n, w3 = w2 + n
                for r in 0..<rows {
                    let xr = x + r * n
                    var a0 = V(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                    var j = 0
                    while j < n {
                        let xv = UnsafeRawPointer(xr + j).loadUnaligned(as: V.self)
                        a0.addProduct(xv, UnsafeRawPointer(w0 + j).loadUnaligned(as: V.self))
                        a1.addProduct(xv, UnsafeRawPointer(w1 + j).loadUnaligned(as: V.self))
                        a2.addProduct(xv, UnsafeRawPointer(w2 + j).loadUnaligned(as: V.self))
                        a3.addProduct(xv, UnsafeRawPointer(w3 + j).loadUnaligned(as: V.self))
                        j += 8
                    }
                    let out = y + r * outputs + o
                    let b = layer.bias + o
                    var v = SIMD4<Float>(a0.sum(), a1.sum(), a2.sum(), a3.sum()) + SIMD4<Float>(b[0], b[1], b[2], b[3])
                    if accumulate { v += SIMD4<Float>(out[0], out[1], out[2], out[3]) }
                    out[0] = v[0]; out[1] = v[1]; out[2] = v[2]; out[3] = v[3]
                }
            }
        }
        if gelu {
            // Bias already added: apply GELU alone (zero bias).
            let count = rows * outputs
            var i = 0
            while i + 8 <= count {
                let v = UnsafeRawPointer(y + i).loadUnaligned(as: V.self)
                let g = V(repeating: 0.5) * v * (V(repeating: 1) + erf8(v * V(repeating: 0.7071067811865476)))
                UnsafeMutableRawPointer(y + i).storeBytes(of: g, as: V.self)
                i += 8
            }
        }
    }

    /// `y += x · Wᵀ + b` (residual connection fused into the GEMM with beta = 1).
    static func linearAccumulate(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                                 into y: UnsafeMutablePointer<Float>) {
        linear(x, layer, rows: rows, into: y, accumulate: true)
    }
}

/// Entry points of the kernels for benchmarks.
public enum WhisperProbe {
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) { WhisperKernels.softmax(x, n) }
    public static func gelu(_ x: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ r: Int, _ w: Int) { WhisperKernels.biasGELU(x, bias: b, rows: r, width: w) }
    public static func layerNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ r: Int, _ w: Int) {
        WhisperKernels.layerNorm(x, y, gamma: g, beta: b, rows: r, width: w)
    }
}
