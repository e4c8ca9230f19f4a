import Foundation

/// Fused inference kernels of a mean-aggregation SAGE layer,
///
///     out_i = act( mean_{j→i} x_j · W_lᵀ + b + x_i · W_rᵀ ),
///
/// written so that no `[nodes, features]` intermediate is materialised:
///
/// - **Aggregate first** (`out ≥ in`): nodes are processed in blocks small enough for L2; each
///   worker gathers the block's means next to the block's own rows (`[mean_i ‖ x_i]`, `[block, 2·in]`,
///   a private scratch reused across blocks), multiplies once by `[W_l | W_r]ᵀ` (one GEMM with
///   `k = 2·in` on a single BLAS thread, the workers already cover the cores), then applies
///   the activation while the block is still in cache.
/// - **Project first** (`out < in`): one GEMM computes `[x·W_lᵀ ‖ x·W_rᵀ]` `[nodes, 2·out]`, then
///   a single pass gathers the narrow projected rows of the in-neighbours and adds the node's
///   own half and the bias (mean commutes with the linear map).
///
/// Nodes without incoming edges aggregate 0 (their output is `b + x_i·W_rᵀ`), as in PyG.
public enum GraphSAGEFused {
    /// Rows per block of the aggregate-first kernel (`block × 2·in` floats of scratch per worker).
    static let block = 256

    /// - Parameters:
    ///   - x: node features `[nodes, in]`.
    ///   - weightL: `[out, in]`, `bias`: `[out]` or nil, `weightR`: `[out, in]` (PyTorch layout).
    ///   - relu: apply ReLU to the output.
    /// - Returns: `[nodes, out]`.
    public static func forward(_ x: Tensor, graph g: CSRGraph, weightL: Tensor, bias: Tensor?, weightR: Tensor,
                               relu: Bool) -> Tensor {
        let n = g.targetCount, d = x.shape[1], o = weightL.shape[0]
        precondition(x.shape[0] == n && weightL.shape[1] == d && weightR.shape == [o, d], "GraphSAGEFused: shapes \(x.shape) \(weightL.shape) \(weightR.shape)")
        return o < d ? projectFirst(x, g, weightL, bias, weightR, relu) : aggregateFirst(x, g, weightL, bias, weightR, relu)
    }

    static func aggregateFirst(_ x: Tensor, _ g: CSRGraph, _ wl: Tensor, _ bias: Tensor?, _ wr: Tensor, _ relu: Bool) -> Tensor {
        let n = g.targetCount, o = wl.shape[0]
        return Tensor(shape: [n, o]) { ob in
            aggregateFirstBlocks(x, g, wl, bias, wr, relu, out: ob.baseAddress!, next: nil, nextOut: nil)
        }
    }

    /// Two SAGE layers with a ReLU between (the GraphSAGE classifier's inference), fused: the first
    /// layer's output rows never leave the cache; each block is projected by the second layer's
    /// `[W_l ; W_r]` at once, and only that narrow projection is gathered over the graph.
    /// Falls back to two ``forward`` calls when the first layer projects first or the second does not.
    /// - Returns: `[nodes, out₂]` (no activation after the second layer).
    public static func forwardTwoLayers(_ x: Tensor, graph g: CSRGraph,
                                        first: (weightL: Tensor, bias: Tensor?, weightR: Tensor),
                                        second: (weightL: Tensor, bias: Tensor?, weightR: Tensor)) -> Tensor {
        let n = g.targetCount, d = x.shape[1], o1 = first.weightL.shape[0], o2 = second.weightL.shape[0]
        guard o1 >= d, o2 < o1, second.weightL.shape[1] == o1 else {
            let h = forward(x, graph: g, weightL: first.weightL, bias: first.bias, weightR: first.weightR, relu: true)
            return forward(h, graph: g, weightL: second.weightL, bias: second.bias, weightR: second.weightR, relu: false)
        }
        precondition(x.shape[0] == n && first.weightL.shape[1] == d && first.weightR.shape == [o1, d] && second.weightR.shape == [o2, o1],
                     "GraphSAGEFused: shapes")
        let proj = UnsafeMutablePointer<Float>.allocate(capacity: max(n * 2 * o2, 1))
        defer { proj.deallocate() }
        aggregateFirstBlocks(x, g, first.weightL, first.bias, first.weightR, true, out: nil,
                             next: (second.weightL, second.weightR), nextOut: proj)
        return gatherProjected(UnsafePointer(proj), out: o2, graph: g, bias: second.bias, relu: false)
    }

    /// The aggregate-first block loop. Writes `act([mean‖x]·[W_l|W_r]ᵀ + b)` `[nodes, out]` to
    /// `out`, or, with `next = (W_l₂, W_r₂)`, that block times `[W_l₂ ; W_r₂]ᵀ` `[nodes, 2·out₂]` to
    /// `nextOut` instead.
    static func aggregateFirstBlocks(_ x: Tensor, _ g: CSRGraph, _ wl: Tensor, _ bias: Tensor?, _ wr: Tensor, _ relu: Bool,
                                     out: UnsafeMutablePointer<Float>?, next: (Tensor, Tensor)?, nextOut: UnsafeMutablePointer<Float>?) {
        let n = g.targetCount, d = x.shape[1], o = wl.shape[0], k2 = 2 * d
        // [W_l | W_r] as [out, 2·in]: row c holds W_l[c, :] then W_r[c, :].
        var wcat = [Float](repeating: 0, count: o * k2)
        wl.withUnsafeBufferPointer { lb in wr.withUnsafeBufferPointer { rb in
            for c in 0..<o {
                for q in 0..<d { wcat[c * k2 + q] = lb[c * d + q]; wcat[c * k2 + d + q] = rb[c * d + q] }
            }
        }}
        // [W_l₂ ; W_r₂] as [2·out₂, out].
        let wnext: [Float] = next.map { $0.0.scalars + $0.1.scalars } ?? []
        let n2 = wnext.count / max(o, 1)
        let b = bias?.scalars ?? [Float](repeating: 0, count: o)
        let blocks = (n + block - 1) / block
        let workers = min(EngineThreads.count, max(1, blocks))
        nonisolated(unsafe) let out = out, nextOut = nextOut
        x.withUnsafeBufferPointer { xb in
        wcat.withUnsafeBufferPointer { wb in wnext.withUnsafeBufferPointer { w2b in b.withUnsafeBufferPointer { bb in
        g.rowStart.withUnsafeBufferPointer { st in g.source.withUnsafeBufferPointer { so in
            nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, bp = bb.baseAddress!, w2p = w2b.baseAddress
            nonisolated(unsafe) let stp = st.baseAddress!, sop = so.baseAddress!
            BLAS.withSingleThreadedBLAS {
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: block * k2)
                    let hidden = UnsafeMutablePointer<Float>.allocate(capacity: out == nil ? block * o : 1)
                    defer { scratch.deallocate(); hidden.deallocate() }
                    var blk = w
                    while blk < blocks {
                        let lo = blk * block, hi = min(n, lo + block), rows = hi - lo
                        for i in lo..<hi {
                            let z = scratch + (i - lo) * k2
                            gatherMean(z, xp, d, sop, Int(stp[i]), Int(stp[i + 1]))
                            (z + d).update(from: xp + i * d, count: d)
                        }
                        let hb = out.map { $0 + lo * o } ?? hidden
                        for r in 0..<rows { (hb + r * o).update(from: bp, count: o) }
                        BLAS.sgemm(m: rows, n: o, k: k2, a: UnsafePointer(scratch), lda: k2, b: wp, ldb: k2, transB: true,
                                   beta: 1, c: hb, ldc: o)
                        if relu { reluInPlace(hb, rows * o) }
                        if let np = nextOut, let w2 = w2p {
                            BLAS.sgemm(m: rows, n: n2, k: o, a: UnsafePointer(hb), lda: o, b: w2, ldb: o, transB: true,
                                       beta: 0, c: np + lo * n2, ldc: n2)
                        }
                        blk += workers
                    }
                }
            }
        }}}}}}
    }

    /// `z[0..<d] = mean of x rows src[k0..<k1]` (zeros when there are none).
    @inline(__always)
    static func gatherMean(_ z: UnsafeMutablePointer<Float>, _ xp: UnsafePointer<Float>, _ d: Int,
                           _ src: UnsafePointer<Int32>, _ k0: Int, _ k1: Int) {
        if d == 64 {
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var k = k0
            while k < k1 {
                let s = UnsafeRawPointer(xp + Int(src[k]) * 64)
                a0 += s.loadUnaligned(as: SIMD16<Float>.self)
                a1 += s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                a2 += s.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                a3 += s.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
                k += 1
            }
            let inv: Float = k1 > k0 ? 1 / Float(k1 - k0) : 0
            let o = UnsafeMutableRawPointer(z)
            o.storeBytes(of: a0 * inv, as: SIMD16<Float>.self)
            o.storeBytes(of: a1 * inv, toByteOffset: 64, as: SIMD16<Float>.self)
            o.storeBytes(of: a2 * inv, toByteOffset: 128, as: SIMD16<Float>.self)
            o.storeBytes(of: a3 * inv, toByteOffset: 192, as: SIMD16<Float>.self)
            return
        }
        z.update(repeating: 0, count: d)
        for k in k0..<k1 {
            let s = xp + Int(src[k]) * d
            for c in 0..<d { z[c] += s[c] }
        }
        let inv: Float = k1 > k0 ? 1 / Float(k1 - k0) : 0
        for c in 0..<d { z[c] *= inv }
    }

    @inline(__always)
    static func reluInPlace(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 16 <= count {
            let r = UnsafeMutableRawPointer(p + i)
            let v = r.loadUnaligned(as: SIMD16<Float>.self)
            r.storeBytes(of: v.replacing(with: 0, where: v .< 0), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { if p[i] < 0 { p[i] = 0 }; i += 1 }
    }

    static func projectFirst(_ x: Tensor, _ g: CSRGraph, _ wl: Tensor, _ bias: Tensor?, _ wr: Tensor, _ relu: Bool) -> Tensor {
        let n = g.targetCount, d = x.shape[1], o = wl.shape[0], o2 = 2 * o
        // [W_l ; W_r] as [2·out, in].
        var wstack = wl.scalars
        wstack += wr.scalars
        let proj = UnsafeMutablePointer<Float>.allocate(capacity: max(n * o2, 1))
        defer { proj.deallocate() }
        x.withUnsafeBufferPointer { xb in wstack.withUnsafeBufferPointer { wb in
            if n > 0 {
                BLAS.sgemm(m: n, n: o2, k: d, a: xb.baseAddress!, lda: d, b: wb.baseAddress!, ldb: d, transB: true,
                           beta: 0, c: proj, ldc: o2)
            }
        }}
        return gatherProjected(UnsafePointer(proj), out: o, graph: g, bias: bias, relu: relu)
    }

    /// Second half of project-first: `out_i = act(mean_{j→i} P[j, :o] + b + P[i, o:2o])` from
    /// `P = [x·W_lᵀ ‖ x·W_rᵀ]` `[nodes, 2·out]`.
    static func gatherProjected(_ pp: UnsafePointer<Float>, out o: Int, graph g: CSRGraph, bias: Tensor?, relu: Bool) -> Tensor {
        let n = g.targetCount, o2 = 2 * o
        nonisolated(unsafe) let pp = pp
        let b = bias?.scalars ?? [Float](repeating: 0, count: o)
        return Tensor(shape: [n, o]) { ob in b.withUnsafeBufferPointer { bb in
        g.rowStart.withUnsafeBufferPointer { st in g.source.withUnsafeBufferPointer { so in
            nonisolated(unsafe) let op = ob.baseAddress!, bp = bb.baseAddress!
            nonisolated(unsafe) let stp = st.baseAddress!, sop = so.baseAddress!
            parallelChunks(n, grain: 4096) { lo, hi in
                if o == 2 {
                    // The benchmark's two-class head: two scalars per message.
                    for i in lo..<hi {
                        let k0 = Int(stp[i]), k1 = Int(stp[i + 1])
                        var s0: Float = 0, s1: Float = 0
                        for k in k0..<k1 { let r = pp + Int(sop[k]) * 4; s0 += r[0]; s1 += r[1] }
                        let inv: Float = k1 > k0 ? 1 / Float(k1 - k0) : 0
                        let own = pp + i * 4
                        var y0 = s0 * inv + bp[0] + own[2], y1 = s1 * inv + bp[1] + own[3]
                        if relu { y0 = max(y0, 0); y1 = max(y1, 0) }
                        op[i * 2] = y0; op[i * 2 + 1] = y1
                    }
                    return
                }
                for i in lo..<hi {
                    let k0 = Int(stp[i]), k1 = Int(stp[i + 1])
                    let y = op + i * o
                    y.update(repeating: 0, count: o)
                    for k in k0..<k1 { let r = pp + Int(sop[k]) * o2; for c in 0..<o { y[c] += r[c] } }
                    let inv: Float = k1 > k0 ? 1 / Float(k1 - k0) : 0
                    let own = pp + i * o2 + o
                    for c in 0..<o { y[c] = y[c] * inv + bp[c] + own[c] }
                    if relu { for c in 0..<o where y[c] < 0 { y[c] = 0 } }
                }
            }
        }}}}
    }
}
