import Foundation

// Scaled dot-product multi-head attention for inference.
//
// Heads are not split into separate tensors: head h of a `[t, d]` matrix is the column block
// `h·dh ..< (h+1)·dh`, which BLAS reads directly with leading dimension `d`. Each (batch, head)
// pair is two GEMMs around a row softmax, and pairs are spread over the cores.

/// Floats of attention scores one worker keeps at a time (rows × keys): 1.5 MB fits L2.
/// Tests pass a smaller `scoreBudget` to force many small blocks.
let attentionScoreBudget = 393_216

extension Tensor {
    /// Multi-head scaled dot-product attention of one sequence, with the heads packed in the last axis.
    ///
    /// Suited to a key/value cache: pass all cached keys/values and only the new queries, with
    /// `queryOffset` = the number of positions already in the cache, so that causal masking
    /// lets query `i` see keys `0 ... queryOffset + i`.
    ///
    /// - Parameters:
    ///   - query: `[tq, d]` (d = heads · headDim), already projected.
    ///   - key: `[tk, d]`.
    ///   - value: `[tk, dv]` (dv divisible by `heads`; usually = d).
    ///   - heads: number of heads.
    ///   - causal: mask keys after each query's absolute position.
    ///   - queryOffset: absolute position of query 0 (for causal masking with a cache).
    ///   - keyMask: `tk` flags, `true` = a real token that may be attended, `false` = padding.
    ///   - additiveMask: `[tq, tk]` added to every head's scores (e.g. -inf or a bias), or nil.
    ///   - scale: score scale; default `1/sqrt(headDim)`.
    /// - Returns: `[tq, dv]`. A query whose keys are all masked gets zeros.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int,
                                 causal: Bool = false, queryOffset: Int = 0, keyMask: [Bool]? = nil,
                                 additiveMask: Tensor? = nil, scale: Float? = nil) -> Tensor {
        precondition(query.rank == 2 && key.rank == 2 && value.rank == 2, "attention expects [t, d] operands")
        let out = batchedAttention(query: query.reshaped([1] + query.shape), key: key.reshaped([1] + key.shape),
                                   value: value.reshaped([1] + value.shape), heads: heads, causal: causal,
                                   queryOffset: queryOffset, keyMask: keyMask.map { [$0] },
                                   additiveMask: additiveMask, scale: scale)
        return out.reshaped([query.shape[0], value.shape[1]])
    }

    /// Batched multi-head attention: `query` `[B, tq, d]`, `key` `[B, tk, d]`, `value` `[B, tk, dv]` → `[B, tq, dv]`.
    ///
    /// - Parameters:
    ///   - keyMask: per batch item, `tk` flags (`true` = attend), or nil.
    ///   - additiveMask: `[tq, tk]` (shared) or `[B, tq, tk]`, added to the scaled scores.
    ///   - Other parameters as in ``attention(query:key:value:heads:causal:queryOffset:keyMask:additiveMask:scale:)``.
    public static func batchedAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int,
                                        causal: Bool = false, queryOffset: Int = 0, keyMask: [[Bool]]? = nil,
                                        additiveMask: Tensor? = nil, scale: Float? = nil) -> Tensor {
        batchedAttention(query: query, key: key, value: value, heads: heads, causal: causal, queryOffset: queryOffset,
                         keyMask: keyMask, additiveMask: additiveMask, scale: scale, scoreBudget: attentionScoreBudget)
    }

    /// ``batchedAttention(query:key:value:heads:causal:queryOffset:keyMask:additiveMask:scale:)`` keeping at
    /// most `scoreBudget` scores (rows × keys) per block.
    static func batchedAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, queryOffset: Int,
                                 keyMask: [[Bool]]?, additiveMask: Tensor?, scale: Float?, scoreBudget: Int) -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "batchedAttention expects [B, t, d] operands")
        let bsz = query.shape[0], tq = query.shape[1], d = query.shape[2]
        let tk = key.shape[1], dv = value.shape[2]
        precondition(key.shape[0] == bsz && value.shape[0] == bsz && key.shape[2] == d && value.shape[1] == tk,
                     "attention shapes: q \(query.shape), k \(key.shape), v \(value.shape)")
        precondition(heads > 0 && d % heads == 0 && dv % heads == 0, "d = \(d), dv = \(dv) not divisible by \(heads) heads")
        if let m = keyMask { precondition(m.count == bsz && m.allSatisfy { $0.count == tk }, "keyMask needs \(bsz) × \(tk) flags") }
        let maskPerBatch: Bool
        if let am = additiveMask {
            precondition(am.shape == [tq, tk] || am.shape == [bsz, tq, tk], "additiveMask \(am.shape) for [\(tq), \(tk)]")
            maskPerBatch = am.rank == 3
        } else { maskPerBatch = false }
        let dh = d / heads, dvh = dv / heads
        let s = scale ?? 1 / Float(dh).squareRoot()
        // Flatten the key mask to -inf/0 biases once.
        var keyBias = [Float](repeating: 0, count: keyMask == nil ? 0 : bsz * tk)
        if let m = keyMask { for b in 0..<bsz { for j in 0..<tk where !m[b][j] { keyBias[b * tk + j] = -.infinity } } }
        let emptyMask = Tensor(shape: [0])
        let am = additiveMask ?? emptyMask
        let hasAdditive = additiveMask != nil, hasKeyMask = keyMask != nil

        return Tensor(shape: [bsz, tq, dv]) { o in
            query.withUnsafeBufferPointer { qb in key.withUnsafeBufferPointer { kb in value.withUnsafeBufferPointer { vb in
            am.withUnsafeBufferPointer { mb in keyBias.withUnsafeBufferPointer { kbias in
                nonisolated(unsafe) let (pq, pk, pv, po) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, o.baseAddress!)
                nonisolated(unsafe) let pm = mb.baseAddress, pkb = kbias.baseAddress
                // Work item = (batch, head, block of query rows). A block's scores (rows × tk) stay
                // in L2 between the QKᵀ GEMM, the softmax and the PV GEMM; whole-head score
                // matrices (9 MB for Whisper's 1500 frames) would stream through memory twice.
                let rows = Swift.max(1, Swift.min(tq, scoreBudget / Swift.max(tk, 1)))
                let blocks = (tq + rows - 1) / rows
                let work = bsz * heads * blocks
                // One block is ~4·rows·tk·dh FLOP; small problems stay on one thread.
                let grain = Swift.max(1, 400_000 / Swift.max(4 * Swift.min(rows, tq) * tk * dh, 1))
                // Blocks are spread over the cores here, so each GEMM runs single-threaded.
                BLAS.withSingleThreadedBLAS { parallelChunks(work, grain: grain) { lo, hi in
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(rows * tk, 1))
                    defer { scores.deallocate() }
                    for item in lo..<hi {
                        let b = item / (heads * blocks), h = (item / blocks) % heads, blk = item % blocks
                        let i0 = blk * rows, m = Swift.min(rows, tq - i0)
                        let q = pq + (b * tq + i0) * d + h * dh, k = pk + b * tk * d + h * dh
                        let v = pv + b * tk * dv + h * dvh, out = po + (b * tq + i0) * dv + h * dvh
                        BLAS.sgemm(m: m, n: tk, k: dh, alpha: s, a: q, lda: d, b: k, ldb: d, transB: true,
                                   c: scores, ldc: tk)
                        for r in 0..<m {
                            let i = i0 + r, row = scores + r * tk
                            if hasAdditive {
                                let mrow = pm! + (maskPerBatch ? b * tq * tk : 0) + i * tk
                                for j in 0..<tk { row[j] += mrow[j] }
                            }
                            if hasKeyMask { let kr = pkb! + b * tk; for j in 0..<tk { row[j] += kr[j] } }
                            if causal {
                                let last = queryOffset + i
                                if last + 1 < tk { for j in (last + 1)..<tk { row[j] = -.infinity } }
                            }
                            softmaxRow(row, row, tk)
                        }
                        BLAS.sgemm(m: m, n: dvh, k: tk, a: scores, lda: tk, b: v, ldb: dv, c: out, ldc: dv)
                    }
                } }
            } } } } }
        }
    }
}
