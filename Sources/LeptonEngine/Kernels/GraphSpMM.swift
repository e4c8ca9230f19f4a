/// Sparse × dense products and edge gathers over a ``CSRGraph``: the message-passing kernels of
/// graph networks. Parallel over rows (each output row is written by one thread, so no atomics);
/// the feature axis is processed 64 floats at a time in four SIMD16 accumulators that stay in
/// registers for a whole row, so each gathered source row is read once and the output row written
/// once. The cost is dominated by the random row gathers (latency-bound), not by arithmetic.
public enum GraphKernels {
    static func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let t else { return body(nil) }
        return t.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    static func withOptionalPointer<R>(_ a: [Int32]?, _ body: (UnsafePointer<Int32>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Rows per parallel task below which the work stays on one thread.
    @usableFromInline static let grain = 512

    /// `out[r, :] = Σ_{p ∈ start[r]..<start[r+1]} w(p) · x[index[p], :]`, `w(p) = weights[weightIndex[p]]`
    /// (or `weights[p]`, or 1). The one loop behind SpMM, its transpose and the scatter-adds.
    @inlinable
    static func accumulateRows(_ lo: Int, _ hi: Int, start: UnsafePointer<Int32>, index: UnsafePointer<Int32>,
                               weights: UnsafePointer<Float>?, weightIndex: UnsafePointer<Int32>?,
                               x: UnsafePointer<Float>, width f: Int, out: UnsafeMutablePointer<Float>) {
        for r in lo..<hi {
            let k0 = Int(start[r]), k1 = Int(start[r + 1])
            let o = UnsafeMutableRawPointer(out + r * f)
            var c = 0
            while c + 64 <= f {
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                for k in k0..<k1 {
                    let w: Float = weights.map { $0[weightIndex.map { Int($0[k]) } ?? k] } ?? 1
                    let s = UnsafeRawPointer(x + Int(index[k]) * f + c)
                    a0.addProduct(w, s.loadUnaligned(as: SIMD16<Float>.self))
                    a1.addProduct(w, s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self))
                    a2.addProduct(w, s.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self))
                    a3.addProduct(w, s.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self))
                }
                o.storeBytes(of: a0, toByteOffset: 4 * c, as: SIMD16<Float>.self)
                o.storeBytes(of: a1, toByteOffset: 4 * c + 64, as: SIMD16<Float>.self)
                o.storeBytes(of: a2, toByteOffset: 4 * c + 128, as: SIMD16<Float>.self)
                o.storeBytes(of: a3, toByteOffset: 4 * c + 192, as: SIMD16<Float>.self)
                c += 64
            }
            while c + 16 <= f {
                var a = SIMD16<Float>()
                for k in k0..<k1 {
                    let w: Float = weights.map { $0[weightIndex.map { Int($0[k]) } ?? k] } ?? 1
                    a.addProduct(w, UnsafeRawPointer(x + Int(index[k]) * f + c).loadUnaligned(as: SIMD16<Float>.self))
                }
                o.storeBytes(of: a, toByteOffset: 4 * c, as: SIMD16<Float>.self)
                c += 16
            }
            if c < f {
                let ro = out + r * f
                for j in c..<f { ro[j] = 0 }
                for k in k0..<k1 {
                    let w: Float = weights.map { $0[weightIndex.map { Int($0[k]) } ?? k] } ?? 1
                    let s = x + Int(index[k]) * f
                    for j in c..<f { ro[j] += w * s[j] }
                }
            }
        }
    }

    /// Runs ``accumulateRows`` over `rows` rows, split across ``EngineThreads``; with `rowScale`,
    /// each output row `r` is then multiplied by `rowScale[r]` while it is still in cache.
    static func accumulate(rows: Int, start: [Int32], index: [Int32], weights: Tensor?, weightIndex: [Int32]?,
                           x: Tensor, width: Int, rowScale: [Float]? = nil) -> Tensor {
        Tensor(shape: [rows, width]) { out in
            guard rows > 0, width > 0, let op = out.baseAddress else { return }
            if index.isEmpty { out.initialize(repeating: 0); return }
            start.withUnsafeBufferPointer { sb in index.withUnsafeBufferPointer { ib in x.withUnsafeBufferPointer { xb in
            withOptionalPointer(weights) { wp in withOptionalPointer(weightIndex) { wip in
            (rowScale ?? []).withUnsafeBufferPointer { rsb in
                nonisolated(unsafe) let (sp, ip, xp, o) = (sb.baseAddress!, ib.baseAddress!, xb.baseAddress!, op)
                nonisolated(unsafe) let (w, wi) = (wp, wip)
                nonisolated(unsafe) let scale = rowScale == nil ? nil : rsb.baseAddress
                parallelChunks(rows, grain: grain) { lo, hi in
                    accumulateRows(lo, hi, start: sp, index: ip, weights: w, weightIndex: wi, x: xp, width: width, out: o)
                    if let scale {
                        for r in lo..<hi { let s = scale[r], row = o + r * width; for c in 0..<width { row[c] *= s } }
                    }
                }
            }
            }}
            }}}
        }
    }

    /// Sparse × dense: `out[i, :] = Σ_{edges j→i} w_e · x[j, :]`, i.e. `A · x` with `A[target, source]`.
    ///
    /// - Parameters:
    ///   - x: source node features `[sourceNodes, features]`.
    ///   - weights: per-edge weights `[edges]` in CSR order (nil = 1: a plain sum of neighbours).
    /// - Returns: `[targetNodes, features]`; nodes without incoming edges get 0.
    public static func spmm(_ g: CSRGraph, _ x: Tensor, weights: Tensor? = nil) -> Tensor {
        precondition(x.rank == 2 && x.shape[0] == g.sourceCount, "spmm: features \(x.shape) for \(g.sourceCount) source nodes")
        precondition(weights == nil || weights!.count == g.edgeCount, "spmm: \(weights!.count) weights for \(g.edgeCount) edges")
        return accumulate(rows: g.targetCount, start: g.rowStart, index: g.source, weights: weights, weightIndex: nil,
                          x: x, width: x.shape[1])
    }

    /// Transposed product `Aᵀ · y`: `out[j, :] = Σ_{edges j→i} w_e · y[i, :]` (the backward of ``spmm(_:_:weights:)``).
    ///
    /// - Parameters:
    ///   - y: target node rows `[targetNodes, features]`.
    /// - Returns: `[sourceNodes, features]`.
    public static func spmmTransposed(_ g: CSRGraph, _ y: Tensor, weights: Tensor? = nil) -> Tensor {
        precondition(y.rank == 2 && y.shape[0] == g.targetCount, "spmmTransposed: rows \(y.shape) for \(g.targetCount) target nodes")
        precondition(weights == nil || weights!.count == g.edgeCount, "spmmTransposed: \(weights!.count) weights for \(g.edgeCount) edges")
        return accumulate(rows: g.sourceCount, start: g.reverseStart, index: g.reverseTarget, weights: weights,
                          weightIndex: weights == nil ? nil : g.reversePosition, x: y, width: y.shape[1])
    }

    /// `1 / in-degree` of every target node (0 for a node without incoming edges).
    static func inverseInDegree(_ g: CSRGraph) -> [Float] {
        (0..<g.targetCount).map { i in let k = g.rowStart[i + 1] - g.rowStart[i]; return k > 0 ? 1 / Float(k) : 0 }
    }

    /// Mean of the incoming source rows, `out[i, :] = (1/deg_i) Σ_{edges j→i} x[j, :]` (GraphSAGE's
    /// mean aggregation; 0 for a node without incoming edges). Sums first, then scales, so it is
    /// exactly the mean of ``spmm(_:_:weights:)``'s sum.
    /// - Parameter x: `[sourceNodes, features]`; returns `[targetNodes, features]`.
    public static func meanOfSources(_ g: CSRGraph, _ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[0] == g.sourceCount, "meanOfSources: features \(x.shape) for \(g.sourceCount) source nodes")
        return accumulate(rows: g.targetCount, start: g.rowStart, index: g.source, weights: nil, weightIndex: nil,
                          x: x, width: x.shape[1], rowScale: inverseInDegree(g))
    }

    /// The transpose of ``meanOfSources(_:_:)`` (its backward): `out[j, :] = Σ_{edges j→i} y[i, :] / deg_i`.
    /// - Parameter y: `[targetNodes, features]`; returns `[sourceNodes, features]`.
    public static func meanOfSourcesTransposed(_ g: CSRGraph, _ y: Tensor) -> Tensor {
        precondition(y.rank == 2 && y.shape[0] == g.targetCount, "meanOfSourcesTransposed: rows \(y.shape) for \(g.targetCount) target nodes")
        let inv = Tensor(shape: [g.targetCount], scalars: inverseInDegree(g))
        return accumulate(rows: g.sourceCount, start: g.reverseStart, index: g.reverseTarget, weights: inv,
                          weightIndex: g.reverseTarget, x: y, width: y.shape[1])
    }

    /// Source rows per edge: `out[p, :] = x[source(p), :]`, `[edges, features]` in CSR order.
    public static func gatherSources(_ g: CSRGraph, _ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[0] == g.sourceCount, "gatherSources: \(x.shape) for \(g.sourceCount) source nodes")
        let f = x.shape[1]
        return Tensor(shape: [g.edgeCount, f]) { out in
            guard let o = out.baseAddress else { return }
            x.withUnsafeBufferPointer { xb in g.source.withUnsafeBufferPointer { sb in
                for p in 0..<g.edgeCount { (o + p * f).update(from: xb.baseAddress! + Int(sb[p]) * f, count: f) }
            }}
        }
    }

    /// Target rows per edge: `out[p, :] = x[target(p), :]`, `[edges, features]` in CSR order.
    public static func gatherTargets(_ g: CSRGraph, _ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[0] == g.targetCount, "gatherTargets: \(x.shape) for \(g.targetCount) target nodes")
        let f = x.shape[1]
        return Tensor(shape: [g.edgeCount, f]) { out in
            guard let o = out.baseAddress else { return }
            x.withUnsafeBufferPointer { xb in g.rowStart.withUnsafeBufferPointer { st in
                for i in 0..<g.targetCount {
                    for p in Int(st[i])..<Int(st[i + 1]) { (o + p * f).update(from: xb.baseAddress! + i * f, count: f) }
                }
            }}
        }
    }

    /// Sums edge rows into their source nodes: `out[j, :] = Σ_{p: source(p) = j} e[p, :]` (the backward
    /// of ``gatherSources(_:_:)``); `[sourceNodes, features]`.
    public static func scatterToSources(_ g: CSRGraph, _ e: Tensor) -> Tensor {
        precondition(e.rank == 2 && e.shape[0] == g.edgeCount, "scatterToSources: \(e.shape) for \(g.edgeCount) edges")
        return accumulate(rows: g.sourceCount, start: g.reverseStart, index: g.reversePosition, weights: nil, weightIndex: nil,
                          x: e, width: e.shape[1])
    }

    /// Per-edge dot product `out[p] = ⟨a[target(p), :], b[source(p), :]⟩` (`[edges]`, CSR order): the gradient
    /// of ``spmm(_:_:weights:)`` with respect to its weights (a = output gradient, b = features).
    public static func edgeDot(_ g: CSRGraph, targetRows a: Tensor, sourceRows b: Tensor) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2 && a.shape[1] == b.shape[1], "edgeDot: \(a.shape) · \(b.shape)")
        precondition(a.shape[0] == g.targetCount && b.shape[0] == g.sourceCount, "edgeDot: node counts")
        let f = a.shape[1]
        return Tensor(shape: [g.edgeCount]) { out in
            guard g.edgeCount > 0, let op = out.baseAddress else { return }
            a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in
            g.rowStart.withUnsafeBufferPointer { sb in g.source.withUnsafeBufferPointer { srcb in
                nonisolated(unsafe) let (ap, bp, sp, srp, o) = (ab.baseAddress!, bb.baseAddress!, sb.baseAddress!, srcb.baseAddress!, op)
                parallelChunks(g.targetCount, grain: grain) { lo, hi in
                    for i in lo..<hi {
                        let ar = ap + i * f
                        for p in Int(sp[i])..<Int(sp[i + 1]) {
                            let br = bp + Int(srp[p]) * f
                            var acc = SIMD16<Float>()
                            var c = 0
                            while c + 16 <= f {
                                acc.addProduct(UnsafeRawPointer(ar + c).loadUnaligned(as: SIMD16<Float>.self),
                                               UnsafeRawPointer(br + c).loadUnaligned(as: SIMD16<Float>.self))
                                c += 16
                            }
                            var s = acc.sum()
                            while c < f { s += ar[c] * br[c]; c += 1 }
                            o[p] = s
                        }
                    }
                }
            }}}}
        }
    }
}
