import Foundation

/// Reductions over sorted segments of rows (`torch_scatter.segment_csr` semantics) and the
/// edge softmax of attention-based graph layers.
///
/// A tensor `[rows, …]` is read as `[rows, width]`; a segment reduction returns `[segments, …]`.
/// Empty segments give 0 (sum, mean and max alike, as PyTorch Geometric). Parallel over segments.
extension GraphKernels {
    static func width(_ x: Tensor, _ seg: Segments, _ op: String) -> Int {
        precondition(x.rank >= 1 && x.shape[0] == seg.rowCount, "\(op): \(x.shape) rows for segments covering \(seg.rowCount)")
        return x.shape[0] == 0 ? x.shape.dropFirst().reduce(1, *) : x.count / x.shape[0]
    }

    /// Sum of each segment's rows: `out[s] = Σ_{r ∈ segment s} x[r]`.
    public static func segmentSum(_ x: Tensor, _ seg: Segments) -> Tensor {
        segmentReduce(x, seg, mean: false, op: "segmentSum")
    }

    /// Mean of each segment's rows (0 for an empty segment).
    public static func segmentMean(_ x: Tensor, _ seg: Segments) -> Tensor {
        segmentReduce(x, seg, mean: true, op: "segmentMean")
    }

    static func segmentReduce(_ x: Tensor, _ seg: Segments, mean: Bool, op: String) -> Tensor {
        let f = width(x, seg, op), n = seg.count
        return Tensor(shape: [n] + x.shape.dropFirst()) { out in
            guard n > 0, f > 0 else { return }
            out.initialize(repeating: 0)
            x.withUnsafeBufferPointer { xb in seg.offsets.withUnsafeBufferPointer { ob in
                guard let xp0 = xb.baseAddress else { return }
                nonisolated(unsafe) let (xp, op, o) = (xp0, ob.baseAddress!, out.baseAddress!)
                parallelChunks(n, grain: grain) { lo, hi in
                    for s in lo..<hi {
                        let r0 = Int(op[s]), r1 = Int(op[s + 1])
                        let d = o + s * f
                        for r in r0..<r1 {
                            let src = xp + r * f
                            for c in 0..<f { d[c] += src[c] }
                        }
                        if mean && r1 > r0 {
                            let inv = 1 / Float(r1 - r0)
                            for c in 0..<f { d[c] *= inv }
                        }
                    }
                }
            }}
        }
    }

    /// Each segment's row copied to all its rows, times `1/size` when `mean`: the backward of
    /// ``segmentSum(_:_:)`` / ``segmentMean(_:_:)``. `g` is `[segments, …]`; returns `[rows, …]`.
    public static func segmentExpand(_ g: Tensor, _ seg: Segments, mean: Bool = false) -> Tensor {
        precondition(g.rank >= 1 && g.shape[0] == seg.count, "segmentExpand: \(g.shape) for \(seg.count) segments")
        let n = seg.count, rows = seg.rowCount
        let f = n == 0 ? g.shape.dropFirst().reduce(1, *) : g.count / n
        return Tensor(shape: [rows] + g.shape.dropFirst()) { out in
            guard rows > 0, f > 0, let o = out.baseAddress else { return }
            g.withUnsafeBufferPointer { gb in seg.offsets.withUnsafeBufferPointer { ob in
                for s in 0..<n {
                    let r0 = Int(ob[s]), r1 = Int(ob[s + 1])
                    let scale: Float = mean && r1 > r0 ? 1 / Float(r1 - r0) : 1
                    let src = gb.baseAddress! + s * f
                    for r in r0..<r1 { for c in 0..<f { o[r * f + c] = scale * src[c] } }
                }
            }}
        }
    }

    /// Column-wise maximum of each segment's rows (0 for an empty segment), and for every output
    /// element the row it came from (first on ties; -1 for an empty segment).
    public static func segmentMax(_ x: Tensor, _ seg: Segments) -> (values: Tensor, argmax: [Int32]) {
        let f = width(x, seg, "segmentMax"), n = seg.count
        var arg = [Int32](repeating: -1, count: n * f)
        let values = Tensor(shape: [n] + x.shape.dropFirst()) { out in
            guard n > 0, f > 0, let o = out.baseAddress else { return }
            x.withUnsafeBufferPointer { xb in seg.offsets.withUnsafeBufferPointer { ob in arg.withUnsafeMutableBufferPointer { ab in
                for s in 0..<n {
                    let r0 = Int(ob[s]), r1 = Int(ob[s + 1])
                    let d = o + s * f, a = ab.baseAddress! + s * f
                    if r1 == r0 { for c in 0..<f { d[c] = 0 }; continue }
                    let first = xb.baseAddress! + r0 * f
                    for c in 0..<f { d[c] = first[c]; a[c] = Int32(r0) }
                    for r in (r0 + 1)..<r1 {
                        let src = xb.baseAddress! + r * f
                        // `>` keeps the first maximum; a NaN propagates (it wins once seen, like torch).
                        for c in 0..<f where src[c] > d[c] || (src[c].isNaN && !d[c].isNaN) { d[c] = src[c]; a[c] = Int32(r) }
                    }
                }
            }}}
        }
        return (values, arg)
    }

    /// The backward of ``segmentMax(_:_:)``: each output gradient goes to the row that held the maximum.
    public static func segmentMaxBackward(_ g: Tensor, argmax: [Int32], rowShape: [Int]) -> Tensor {
        let rows = rowShape.first ?? 0
        let f = rows == 0 ? 0 : rowShape.reduce(1, *) / rows
        precondition(g.count == argmax.count, "segmentMaxBackward: \(g.count) gradients for \(argmax.count) positions")
        var out = Tensor.zeros(rowShape)
        guard f > 0 else { return out }
        out.withUnsafeMutableBufferPointer { o in g.withUnsafeBufferPointer { gb in
            for (i, r) in argmax.enumerated() where r >= 0 { o[Int(r) * f + i % f] += gb[i] }
        }}
        return out
    }

    /// Softmax within each segment, separately for every column: `y[r, h] = exp(x[r, h] − m) / Σ_{r' ∈ seg} exp(x[r', h] − m)`
    /// with `m` the segment's column maximum (numerically safe).
    public static func segmentSoftmax(_ x: Tensor, _ seg: Segments) -> Tensor {
        let f = width(x, seg, "segmentSoftmax"), n = seg.count
        return Tensor(shape: x.shape) { out in
            guard x.count > 0, let o0 = out.baseAddress else { return }
            x.withUnsafeBufferPointer { xb in seg.offsets.withUnsafeBufferPointer { ob in
                nonisolated(unsafe) let (xp, op, o) = (xb.baseAddress!, ob.baseAddress!, o0)
                parallelChunks(n, grain: grain) { lo, hi in
                    for s in lo..<hi {
                        let r0 = Int(op[s]), r1 = Int(op[s + 1])
                        if r1 == r0 { continue }
                        for c in 0..<f {
                            var m = -Float.infinity
                            for r in r0..<r1 { m = Swift.max(m, xp[r * f + c]) }
                            if m == -.infinity { m = 0 }   // all −∞: avoid (−∞) − (−∞)
                            var z: Float = 0
                            for r in r0..<r1 { let e = expf(xp[r * f + c] - m); o[r * f + c] = e; z += e }
                            let inv = z > 0 ? 1 / z : 0
                            for r in r0..<r1 { o[r * f + c] *= inv }
                        }
                    }
                }
            }}
        }
    }

    /// The backward of ``segmentSoftmax(_:_:)`` from its output `y` and output gradient `g`:
    /// `dx[r, h] = y[r, h] · (g[r, h] − Σ_{r' ∈ seg} g[r', h] · y[r', h])`.
    public static func segmentSoftmaxBackward(output y: Tensor, gradient g: Tensor, _ seg: Segments) -> Tensor {
        precondition(y.shape == g.shape, "segmentSoftmaxBackward: \(y.shape) vs \(g.shape)")
        let f = width(y, seg, "segmentSoftmaxBackward"), n = seg.count
        return Tensor(shape: y.shape) { out in
            guard y.count > 0, let o0 = out.baseAddress else { return }
            y.withUnsafeBufferPointer { yb in g.withUnsafeBufferPointer { gb in seg.offsets.withUnsafeBufferPointer { ob in
                nonisolated(unsafe) let (yp, gp, op, o) = (yb.baseAddress!, gb.baseAddress!, ob.baseAddress!, o0)
                parallelChunks(n, grain: grain) { lo, hi in
                    for s in lo..<hi {
                        let r0 = Int(op[s]), r1 = Int(op[s + 1])
                        for c in 0..<f {
                            var dot: Float = 0
                            for r in r0..<r1 { dot += gp[r * f + c] * yp[r * f + c] }
                            for r in r0..<r1 { o[r * f + c] = yp[r * f + c] * (gp[r * f + c] - dot) }
                        }
                    }
                }
            }}}
        }
    }

    /// Softmax of edge scores over the edges arriving at each node (GAT attention):
    /// `scores` is `[edges]` or `[edges, heads]` in CSR order; every head is normalised separately.
    public static func edgeSoftmax(_ g: CSRGraph, _ scores: Tensor) -> Tensor {
        segmentSoftmax(scores, g.targetSegments)
    }
}
