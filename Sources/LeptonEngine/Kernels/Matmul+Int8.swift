import CDNNL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// int8 linear layers: `y = x · Wᵀ` with W quantised once at load and x quantised per call.
//
// Why this scheme: it is CTranslate2's (`compute_type=int8` on x86: weights symmetric int8 with one
// scale per output channel, activations quantised dynamically per row, int32 accumulation, then
// dequantised). ONNX Runtime's `quantize_dynamic` uses one asymmetric uint8 scale per activation
// tensor instead; per row keeps a row of small values (a quiet frame) from losing its precision to
// a loud one elsewhere in the batch, at no cost in the GEMM. The GEMM itself is oneDNN's
// `dnnl_gemm_s8s8s32` (VNNI `vpdpbusd` on CPUs that have it, Apache-2.0): measured 4.4× the
// float32 sgemm's rate at 500×1152×384 on one AVX-512 VNNI core (0.72 ms against 3.2 ms).

/// A weight matrix `W [outputs, inputs]` quantised to int8 with one scale per output channel:
/// `W[o, j] ≈ scale[o] · q[o, j]`, `q = round(W · 127 / max_j |W[o, j]|)` (CTranslate2's rule; a
/// zero row has scale 0). Immutable after packing; copies share the storage.
public struct Int8Matrix: Sendable {
    public let outputs: Int
    public let inputs: Int
    @usableFromInline let storage: Int8MatrixStorage

    /// Quantises a row-major float `[outputs, inputs]` matrix.
    public init(rowMajor w: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0)
        self.outputs = outputs
        self.inputs = inputs
        storage = Int8MatrixStorage(count: outputs * inputs, outputs: outputs)
        for o in 0..<outputs {
            storage.scales[o] = Int8Quantizer.quantizeRow(w + o * inputs, count: inputs, into: storage.values + o * inputs)
        }
    }

    /// `q[o, j]`, row-major `[outputs, inputs]`.
    public var values: UnsafePointer<Int8> { UnsafePointer(storage.values) }
    /// `scale[o]`, `[outputs]`.
    public var scales: UnsafePointer<Float> { UnsafePointer(storage.scales) }
    /// Bytes held (values and scales).
    public var byteCount: Int { outputs * inputs + outputs * MemoryLayout<Float>.size }

    /// `y[r, o] = Σ_j x[r, j] · W[o, j] + beta · y[r, o]` for `r < rows`, on the calling thread.
    ///
    /// x is quantised per row (``Int8Quantizer/quantizeRow(_:count:into:)``), the product is an
    /// exact int32 sum, and `y = sum · scale_x[r] · scale[o]`. Error per output, with `sx`, `sw` the
    /// two scales: at most `sw/2 · Σ|x| + sx/2 · Σ|W| + inputs · sx · sw / 4` (each rounding moves a
    /// value by at most half its scale), plus float32 rounding.
    ///
    /// - Parameters:
    ///   - x: `[rows, inputs]` with row stride `ldx`.
    ///   - y: `[rows, outputs]` with row stride `ldy`.
    ///   - beta: 0 overwrites `y`; 1 adds to it (a residual connection or bias rows written first).
    ///   - outputRange: only these outputs `o` (a worker's share); `y`'s column `o` is still `o`.
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int, beta: Float,
                         outputRange: Range<Int>? = nil) {
        let range = outputRange ?? 0..<outputs
        precondition(range.lowerBound >= 0 && range.upperBound <= outputs)
        guard rows > 0, !range.isEmpty else { return }
        let k = inputs, n = range.count
        let qx = UnsafeMutablePointer<Int8>.allocate(capacity: rows * k)
        let sx = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        let sums = UnsafeMutablePointer<Int32>.allocate(capacity: rows * n)
        defer { qx.deallocate(); sx.deallocate(); sums.deallocate() }
        for r in 0..<rows { sx[r] = Int8Quantizer.quantizeRow(x + r * ldx, count: k, into: qx + r * k) }
        Int8GEMM.multiply(m: rows, n: n, k: k, a: qx, b: storage.values + range.lowerBound * k, into: sums)
        let sw = storage.scales + range.lowerBound
        for r in 0..<rows {
            Int8Quantizer.dequantizeRow(sums + r * n, count: n, rowScale: sx[r], columnScales: sw, beta: beta,
                                        into: y + r * ldy + range.lowerBound)
        }
    }

    /// Row `o` of W dequantised (`q[o, j] · scale[o]`), e.g. an embedding lookup in a tied table.
    /// - Parameter destination: `inputs` floats.
    public func row(_ o: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(o >= 0 && o < outputs)
        HalfPrecision.int8ToFloat(storage.values + o * inputs, count: inputs, scale: storage.scales[o], into: destination)
    }
}

/// The memory of an ``Int8Matrix``: allocated once, freed with the last copy.
@usableFromInline
final class Int8MatrixStorage: @unchecked Sendable {
    let values: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>

    init(count: Int, outputs: Int) {
        values = .allocate(capacity: count)
        scales = .allocate(capacity: outputs)
    }

    deinit {
        values.deallocate()
        scales.deallocate()
    }
}

/// Symmetric int8 quantisation of float rows and dequantisation of int32 sums.
public enum Int8Quantizer {
    /// Quantises `count` floats to `round(v · 127 / max|v|)` (in −127…127) and returns the scale
    /// `max|v| / 127` that maps them back (0 for an all-zero row, whose values become 0).
    /// A non-finite input gives a non-finite scale, so it shows in the output instead of vanishing.
    @inlinable
    public static func quantizeRow(_ v: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> Float {
        typealias V = SIMD8<Float>
        // max |v| as the largest bit pattern with the sign cleared: integer compares vectorise
        // (Swift's `pointwiseMax` on floats did not: 28× slower), and NaN (above infinity) is kept.
        var peakBits = SIMD8<UInt32>(repeating: 0)
        var j = 0
        while j + 8 <= count {
            let a = UnsafeRawPointer(v + j).loadUnaligned(as: SIMD8<UInt32>.self) & 0x7FFF_FFFF
            peakBits = peakBits.replacing(with: a, where: a .> peakBits)
            j += 8
        }
        var top = peakBits.max()
        while j < count { top = Swift.max(top, v[j].bitPattern & 0x7FFF_FFFF); j += 1 }
        let peak = Float(bitPattern: top)
        guard peak > 0, peak.isFinite else {
            q.update(repeating: 0, count: count)
            return peak
        }
        // Rounding by adding 1.5·2²³: the sum's low mantissa bits are then the value rounded to
        // nearest even, as a two's-complement integer (|value| ≤ 127 < 2²²), so the low byte is
        // the int8. (Swift's checked Float → Int32 conversion does not vectorise: 40× slower.)
        let inv = V(repeating: 127 / peak), magic = V(repeating: 12_582_912)
        j = 0
        while j + 8 <= count {
            let a = UnsafeRawPointer(v + j).loadUnaligned(as: V.self) * inv + magic
            let bits = unsafeBitCast(a, to: SIMD8<Int32>.self)
            UnsafeMutableRawPointer(q + j).storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: bits), as: SIMD8<Int8>.self)
            j += 8
        }
        while j < count { q[j] = Int8((v[j] * (127 / peak)).rounded(.toNearestOrEven)); j += 1 }
        return peak / 127
    }

    /// `y[o] = Float(sums[o]) · rowScale · columnScales[o] + beta · y[o]`.
    @inlinable
    public static func dequantizeRow(_ sums: UnsafePointer<Int32>, count: Int, rowScale: Float, columnScales: UnsafePointer<Float>,
                                     beta: Float, into y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let s = V(repeating: rowScale), b = V(repeating: beta)
        var o = 0
        while o + 8 <= count {
            let c = V(UnsafeRawPointer(sums + o).loadUnaligned(as: SIMD8<Int32>.self))
            var out = c * s * UnsafeRawPointer(columnScales + o).loadUnaligned(as: V.self)
            if beta != 0 { out.addProduct(b, UnsafeRawPointer(y + o).loadUnaligned(as: V.self)) }
            UnsafeMutableRawPointer(y + o).storeBytes(of: out, as: V.self)
            o += 8
        }
        while o < count {
            let out = Float(sums[o]) * rowScale * columnScales[o]
            y[o] = beta != 0 ? out + beta * y[o] : out
            o += 1
        }
    }
}

/// oneDNN's int8 GEMM, always on the calling thread.
public enum Int8GEMM {
    /// `c[m, n] = a[m, k] · b[n, k]ᵀ` in exact int32 arithmetic (row-major, no offsets).
    ///
    /// Exact while `k · 127² < 2³¹` (k < 133,000). oneDNN runs on OpenMP; each call asks for one
    /// thread, because callers already spread row blocks over the engine's workers (two levels of
    /// threads oversubscribe the cores and OpenMP's waiting threads spin).
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, b: UnsafePointer<Int8>, into c: UnsafeMutablePointer<Int32>) {
        precondition(k < 133_000, "int8 GEMM inner extent \(k) could overflow int32")
        singleThreadOpenMP()
        var offsetC: Int32 = 0
        let status = dnnl_gemm_s8s8s32(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
                                       dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), 1, a, dnnl_dim_t(k), 0,
                                       b, dnnl_dim_t(k), 0, 0, c, dnnl_dim_t(n), &offsetC)
        precondition(status == dnnl_success, "dnnl_gemm_s8s8s32 failed with status \(status.rawValue) for \(m)×\(n)×\(k)")
    }

    /// OpenMP's `omp_set_num_threads(1)` for the calling thread (a per-thread setting), looked up
    /// in the OpenMP runtime oneDNN loaded: linking it by name would tie us to one runtime (gomp).
    static func singleThreadOpenMP() {
        if let set = setThreads { set(1) }
    }

    private typealias SetThreads = @convention(c) (Int32) -> Void
    private static let setThreads: SetThreads? = {
        guard let symbol = dlsym(nil, "omp_set_num_threads") else { return nil }
        return unsafeBitCast(symbol, to: SetThreads.self)
    }()
}
