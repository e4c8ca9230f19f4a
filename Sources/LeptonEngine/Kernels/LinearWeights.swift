import Foundation

/// How a model keeps and multiplies the weights of its linear layers (faster-whisper's
/// `compute_type` names).
public enum ComputeType: String, Sendable, CaseIterable, Codable {
    /// float32 weights and sgemm (OpenBLAS): the reference.
    case float32
    /// Weights stored in float16 (half the memory), widened to float32 per product (F16C) and
    /// multiplied by sgemm: the same arithmetic as float32 on the rounded weights. (OpenBLAS 0.3.21
    /// as Debian builds it exports no `sbgemm`, so there is no bfloat16 product to use instead.)
    case float16
    /// int8 weights with per-output-channel scales and activations quantised per row at run
    /// time, int32 products (``Int8Matrix``): a quarter of float32's memory, approximate.
    case int8
}

/// The weight `W [outputs, inputs]` of a linear layer, kept as a ``ComputeType`` asks, for
/// `y = x · Wᵀ + beta · y` (bias and activation are the caller's). A value; copies share storage.
public struct LinearWeights: Sendable {
    public let outputs: Int
    public let inputs: Int
    public let computeType: ComputeType
    let storage: Storage

    enum Storage: Sendable {
        case float32(FloatBuffer)
        case float16(HalfBuffer)
        case int8(Int8Matrix)
    }

    /// Keeps a row-major float `[outputs, inputs]` matrix as `computeType` asks (rounded to float16,
    /// or quantised per output channel).
    public init(rowMajor w: UnsafePointer<Float>, outputs: Int, inputs: Int, computeType: ComputeType) {
        precondition(outputs > 0 && inputs > 0)
        self.outputs = outputs
        self.inputs = inputs
        self.computeType = computeType
        let count = outputs * inputs
        switch computeType {
        case .float32:
            let b = FloatBuffer(count: count)
            b.pointer.update(from: w, count: count)
            storage = .float32(b)
        case .float16:
            let b = HalfBuffer(count: count)
            for i in 0..<count { b.pointer[i] = Float16(w[i]) }
            storage = .float16(b)
        case .int8:
            storage = .int8(Int8Matrix(rowMajor: w, outputs: outputs, inputs: inputs))
        }
    }

    /// Like ``init(rowMajor:outputs:inputs:computeType:)`` from a `[outputs, inputs]` tensor.
    public init(_ w: Tensor, computeType: ComputeType) {
        precondition(w.rank == 2, "linear weights must be [outputs, inputs], got \(w.shape)")
        let (o, i) = (w.shape[0], w.shape[1])
        self = w.withUnsafeBufferPointer { LinearWeights(rowMajor: $0.baseAddress!, outputs: o, inputs: i, computeType: computeType) }
    }

    /// Bytes the weights occupy.
    public var byteCount: Int {
        switch storage {
        case .float32: outputs * inputs * 4
        case .float16: outputs * inputs * 2
        case .int8(let m): m.byteCount
        }
    }

    /// `y[r, o] = Σ_j x[r, j] · W[o, j] + beta · y[r, o]` for `r < rows`, on the calling thread
    /// (callers split rows over their workers; OpenBLAS and oneDNN are asked for nothing more).
    ///
    /// - Parameters:
    ///   - x: `[rows, inputs]` with row stride `ldx`.
    ///   - y: `[rows, outputs]` with row stride `ldy`.
    ///   - beta: 0 overwrites `y`, 1 accumulates onto it.
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int, beta: Float) {
        guard rows > 0 else { return }
        switch storage {
        case .float32(let b):
            BLAS.sgemm(m: rows, n: outputs, k: inputs, a: x, lda: ldx, b: b.pointer, ldb: inputs, transB: true,
                       beta: beta, c: y, ldc: ldy)
        case .float16(let b):
            // Widened per product: 2 bytes per weight at rest; the float32 copy lives for one GEMM
            // (its conversion costs ~1/inputs·rows of the product's work).
            let count = outputs * inputs
            let wide = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { wide.deallocate() }
            HalfPrecision.float16ToFloatAligned(b.pointer, count: count, into: wide)
            BLAS.sgemm(m: rows, n: outputs, k: inputs, a: x, lda: ldx, b: wide, ldb: inputs, transB: true,
                       beta: beta, c: y, ldc: ldy)
        case .int8(let m):
            m.multiply(x, rows: rows, ldx: ldx, into: y, ldy: ldy, beta: beta)
        }
    }

    /// Like ``multiply(_:rows:ldx:into:ldy:beta:)``, with rows split into blocks of about
    /// `blockRows` spread over the engine's workers (``parallelChunks``), one single-threaded
    /// product each. Results do not depend on the split (rows are independent).
    public func multiplyParallel(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                                 beta: Float, blockRows: Int = 256) {
        nonisolated(unsafe) let x = x, y = y
        let weights = self
        BLAS.withSingleThreadedBLAS {
            parallelChunks(rows, chunk: rows >= 2 * blockRows ? blockRows : rows) { lo, hi in
                weights.multiply(x + lo * ldx, rows: hi - lo, ldx: ldx, into: y + lo * ldy, ldy: ldy, beta: beta)
            }
        }
    }
}

/// Float32 weights owned by a ``LinearWeights``.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(count: Int) { pointer = .allocate(capacity: count) }
    deinit { pointer.deallocate() }
}

/// Float16 weights owned by a ``LinearWeights``.
final class HalfBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float16>
    init(count: Int) { pointer = .allocate(capacity: count) }
    deinit { pointer.deallocate() }
}
