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

    /// `x[i] = gelu(x[i])` for `i < count` (`count` a multiple of 8; exact erf form).
    @inline(__always)
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count % 8 == 0)
        let rs = V(repeating: 0.7071067811865476)
        var i = 0
        while i < count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            let g = V(repeating: 0.5) * v * (V(repeating: 1) + erf8(v * rs))
            UnsafeMutableRawPointer(x + i).storeBytes(of: g, as: V.self)
            i += 8
        }
    }

    /// `x[i] += bias[i % width]`.
    static func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let row = x + r * width
            for j in 0..<width { row[j] += bias[j] }
        }
    }

    /// `y = LayerNorm(x)` row-wise over `width` (epsilon 1e-5, two-pass variance), `rows × width`;
    /// `width` a multiple of 8. `y` may be `x`.
    static func layerNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, rows: Int, width: Int) {
        precondition(width % 8 == 0)
        let invWidth = 1 / Float(width)
        for r in 0..<rows {
            let xr = UnsafeRawPointer(x + r * width), yr = UnsafeMutableRawPointer(y + r * width)
            var s = V(repeating: 0)
            for j in stride(from: 0, to: width * 4, by: 32) { s += xr.loadUnaligned(fromByteOffset: j, as: V.self) }
            let mean = V(repeating: s.sum() * invWidth)
            var v = V(repeating: 0)
            for j in stride(from: 0, to: width * 4, by: 32) {
                let d = xr.loadUnaligned(fromByteOffset: j, as: V.self) - mean
                v.addProduct(d, d)
            }
            let inv = V(repeating: 1 / (v.sum() * invWidth + 1e-5).squareRoot())
            let g = UnsafeRawPointer(gamma), b = UnsafeRawPointer(beta)
            for j in stride(from: 0, to: width * 4, by: 32) {
                let d = (xr.loadUnaligned(fromByteOffset: j, as: V.self) - mean) * inv
                yr.storeBytes(of: d * g.loadUnaligned(fromByteOffset: j, as: V.self) + b.loadUnaligned(fromByteOffset: j, as: V.self),
                              toByteOffset: j, as: V.self)
            }
        }
    }

    /// In-place `row[j] = exp(row[j] - max)` of `row[0..<n]`, returning the sum (the caller
    /// divides later, e.g. the 64 outputs of `P·V` instead of the 1500 probabilities).
    @inline(__always)
    static func expShifted(_ row: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        let m = maxValue(row, n)
        var j = 0
        let mv = V(repeating: m)
        var acc = V(repeating: 0)
        while j + 8 <= n {
            let e = exp8(UnsafeRawPointer(row + j).loadUnaligned(as: V.self) - mv)
            UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: V.self)
            acc += e
            j += 8
        }
        var sum = acc.sum()
        while j < n { let e = Foundation.exp(row[j] - m); row[j] = e; sum += e; j += 1 }
        return sum
    }

    /// In-place softmax of `row[0..<n]`, returning nothing; `-inf` entries become 0.
    @inline(__always)
    static func softmax(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        let inv = 1 / expShifted(row, n)
        let iv = V(repeating: inv)
        var j = 0
        while j + 8 <= n {
            let p = UnsafeMutableRawPointer(row + j)
            p.storeBytes(of: p.loadUnaligned(as: V.self) * iv, as: V.self)
            j += 8
        }
        while j < n { row[j] *= inv; j += 1 }
    }

    /// Largest of `row[0..<n]`, 16 lanes at a time (`replace(with:where:)` compiles to `vmaxps`).
    @inline(__always)
    static func maxValue(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        var m0 = V(repeating: -.infinity), m1 = m0
        var j = 0
        while j + 16 <= n {
            let v0 = UnsafeRawPointer(row + j).loadUnaligned(as: V.self)
            let v1 = UnsafeRawPointer(row + j + 8).loadUnaligned(as: V.self)
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

    /// `y[rows, out] = x[rows, in] · Wᵀ (+ b)`.
    ///
    /// OpenBLAS runs single-threaded during transcription (its idle workers spin in
    /// `sched_yield` between the many small products and burn a core); large products are
    /// split by rows into tasks (``forEachTask(_:_:)``) instead, one single-threaded GEMM per chunk.
    static func linear(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                       into y: UnsafeMutablePointer<Float>, ldx: Int? = nil, addBias: Bool = true, accumulate: Bool = false,
                       gelu: Bool = false) {
        let lda = ldx ?? layer.inputs
        nonisolated(unsafe) let x = x, y = y
        let layer = layer
        // 500-row chunks: packing the weights once per chunk costs ~8% at 256 rows, while 3+
        // chunks still let a core that is running take over the work of a descheduled one.
        let chunk = rows >= 1000 ? 500 : rows
        forEachTask((rows + chunk - 1) / chunk) { task in
            let lo = task * chunk, hi = min(rows, lo + chunk)
            let out = y + lo * layer.outputs
            // Without accumulation, start from the bias rows and let the GEMM add (beta = 1):
            // one pass over the output instead of a zero fill and a bias pass.
            let prefill = addBias && !accumulate
            if prefill {
                for r in 0..<(hi - lo) { (out + r * layer.outputs).update(from: layer.bias, count: layer.outputs) }
            }
            BLAS.sgemm(m: hi - lo, n: layer.outputs, k: layer.inputs, a: x + lo * lda, lda: lda,
                       b: layer.weight, ldb: layer.inputs, transB: true, beta: accumulate || prefill ? 1 : 0,
                       c: out, ldc: layer.outputs)
            if addBias && accumulate { Self.addBias(out, bias: layer.bias, rows: hi - lo, width: layer.outputs) }
            // GELU on the chunk while it is still in cache.
            if gelu { Self.gelu(out, count: (hi - lo) * layer.outputs) }
        }
    }

    /// `y[rows, out] (+)= x[rows, in] · Wᵀ + b` for a few rows (decoder hypotheses), `W` in
    /// float16 panels: every weight is read once for all rows (see ``HalfPanelMatrix``).
    /// With `gelu`, GELU is applied after the bias.
    static func halfLinear(_ x: UnsafePointer<Float>, _ layer: WhisperModel.PanelLinear, rows: Int,
                           into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, gelu: Bool = false) {
        panelProduct(x, layer.weight, rows: rows, into: y, bias: layer.bias, accumulate: accumulate, tasks: nil)
        if gelu { Self.gelu(y, count: rows * layer.outputs) }
    }

    /// `y[rows, W.outputs] (+)= x[rows, W.inputs] · Wᵀ (+ bias)`, panels shared out over the workers
    /// in about `tasks` tasks (default: ~200 KB of weights per task).
    static func panelProduct(_ x: UnsafePointer<Float>, _ w: PanelMatrix, rows: Int, into y: UnsafeMutablePointer<Float>,
                             bias: UnsafePointer<Float>?, accumulate: Bool, tasks: Int?) {
        nonisolated(unsafe) let x = x, y = y, bias = bias
        // Default: ≥ 256 K weights per task (a task is then ≳ 30 µs; below that, waking the
        // other worker costs more than it saves).
        let per = tasks.map { max(1, (w.panels + $0 - 1) / $0) } ?? max(2, 262_144 / (w.inputs * HalfPanelMatrix.width))
        let count = (w.panels + per - 1) / per
        forEachTask(count) { task in
            let lo = task * per, hi = min(w.panels, lo + per)
            w.multiply(x, rows: rows, ldx: w.inputs, panelRange: lo..<hi, into: y, ldy: w.outputs, bias: bias, accumulate: accumulate)
        }
    }

    /// Attention scores `s[r, j] = scale · q[r, 0..<64] · K[j, 0..<64]` for any number of query
    /// rows (taken 5 at a time, the most whose accumulators stay in registers), with K in panels
    /// of 16 keys `[panelCount][64][16]`; `s` is `[rows, keys]` (stride `keys`).
    static func panelScores(_ q: UnsafePointer<Float>, rows: Int, ldq: Int, panels: UnsafePointer<Float>,
                            panelCount: Int, keys: Int, scale: Float, into s: UnsafeMutablePointer<Float>) {
        precondition(rows >= 1)
        var r0 = 0
        while r0 < rows {
            let n = min(5, rows - r0)
            let qr = q + r0 * ldq, sr = s + r0 * keys
            for p in 0..<panelCount {
                switch n {
                case 5: scorePanel(5, qr, ldq, panels + p * 64 * 16, p * 16, keys, scale, sr)
                case 4: scorePanel(4, qr, ldq, panels + p * 64 * 16, p * 16, keys, scale, sr)
                case 3: scorePanel(3, qr, ldq, panels + p * 64 * 16, p * 16, keys, scale, sr)
                case 2: scorePanel(2, qr, ldq, panels + p * 64 * 16, p * 16, keys, scale, sr)
                default: scorePanel(1, qr, ldq, panels + p * 64 * 16, p * 16, keys, scale, sr)
                }
            }
            r0 += n
        }
    }

    @inline(__always)
    private static func scorePanel(_ n: Int, _ q: UnsafePointer<Float>, _ ldq: Int, _ k: UnsafePointer<Float>,
                                   _ j0: Int, _ keys: Int, _ scale: Float, _ s: UnsafeMutablePointer<Float>) {
        let q0 = q, q1 = q + (n > 1 ? ldq : 0), q2 = q + (n > 2 ? 2 * ldq : 0)
        let q3 = q + (n > 3 ? 3 * ldq : 0), q4 = q + (n > 4 ? 4 * ldq : 0)
        var a0 = V(repeating: 0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0
        for c in 0..<64 {
            let kp = UnsafeRawPointer(k + c * 16)
            let lo = kp.loadUnaligned(as: V.self), hi = (kp + 32).loadUnaligned(as: V.self)
            let s0 = V(repeating: q0[c]); a0.addProduct(s0, lo); b0.addProduct(s0, hi)
            if n > 1 { let t = V(repeating: q1[c]); a1.addProduct(t, lo); b1.addProduct(t, hi) }
            if n > 2 { let t = V(repeating: q2[c]); a2.addProduct(t, lo); b2.addProduct(t, hi) }
            if n > 3 { let t = V(repeating: q3[c]); a3.addProduct(t, lo); b3.addProduct(t, hi) }
            if n > 4 { let t = V(repeating: q4[c]); a4.addProduct(t, lo); b4.addProduct(t, hi) }
        }
        let valid = min(16, keys - j0), sv = V(repeating: scale)
        @inline(__always) func put(_ lo: V, _ hi: V, _ out: UnsafeMutablePointer<Float>) {
            if valid == 16 {
                UnsafeMutableRawPointer(out).storeBytes(of: lo * sv, as: V.self)
                UnsafeMutableRawPointer(out + 8).storeBytes(of: hi * sv, as: V.self)
            } else {
                let l = lo * sv, h = hi * sv
                for i in 0..<valid { out[i] = i < 8 ? l[i] : h[i - 8] }
            }
        }
        put(a0, b0, s + j0)
        if n > 1 { put(a1, b1, s + keys + j0) }
        if n > 2 { put(a2, b2, s + 2 * keys + j0) }
        if n > 3 { put(a3, b3, s + 3 * keys + j0) }
        if n > 4 { put(a4, b4, s + 4 * keys + j0) }
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
