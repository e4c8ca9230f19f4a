import CBLAS

/// GEMM through OpenBLAS: the one kernel the engine does not write itself.
public enum BLAS {
    /// `C[m,n] = alpha * op(A) · op(B) + beta * C` on raw row-major buffers.
    ///
    /// - Parameters:
    ///   - transA: `A` is stored `[k, m]` and used transposed.
    ///   - transB: `B` is stored `[n, k]` and used transposed (as PyTorch `Linear` weights are).
    @inlinable
    public static func sgemm(m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
                             b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = kernelSetup
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of OpenBLAS threads (1 is often fastest for small products on 2 cores).
    public static func setThreads(_ n: Int) { _ = kernelSetup; openblas_set_num_threads(Int32(max(1, n))) }
}

extension Tensor {
    /// Matrix product over the last two axes; leading axes are batch axes (broadcast if one side is 2-D).
    ///
    /// - Parameters:
    ///   - other: `[..., k, n]`, or `[..., n, k]` when `transposeOther` is true.
    ///   - transposeOther: use `other` transposed (e.g. a `[out, in]` weight).
    /// - Returns: `[..., m, n]`.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs rank ≥ 2, got \(shape) and \(other.shape)")
        let (ar, ac) = (shape[rank - 2], shape[rank - 1])
        let (br, bc) = (other.shape[other.rank - 2], other.shape[other.rank - 1])
        let (m, k) = transposeSelf ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeOther ? (bc, br) : (br, bc)
        precondition(k == k2, "matmul inner extents differ: \(shape) · \(other.shape)")
        let aBatch = Array(shape.dropLast(2)), bBatch = Array(other.shape.dropLast(2))
        let batchShape: [Int]
        if aBatch == bBatch { batchShape = aBatch }
        else if bBatch.isEmpty { batchShape = aBatch }
        else if aBatch.isEmpty { batchShape = bBatch }
        else { preconditionFailure("matmul batch axes differ: \(shape) · \(other.shape)") }
        let batches = batchShape.reduce(1, *)
        let aStep = aBatch.isEmpty ? 0 : ar * ac, bStep = bBatch.isEmpty ? 0 : br * bc
        return Tensor(shape: batchShape + [m, n]) { out in
            withUnsafeBufferPointer { a in
                other.withUnsafeBufferPointer { b in
                    for i in 0..<batches {
                        BLAS.sgemm(m: m, n: n, k: k, a: a.baseAddress! + i * aStep, lda: ac, transA: transposeSelf,
                                   b: b.baseAddress! + i * bStep, ldb: bc, transB: transposeOther,
                                   c: out.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
    }
}
