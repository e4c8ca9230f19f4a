import Foundation

// Data movement: permute/transpose, slice, concat, gather (embedding), padding.

extension Tensor {
    /// Reorders the axes: result axis `i` is input axis `axes[i]` (PyTorch `permute`).
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && Set(axes) == Set(0..<rank), "bad permutation \(axes) for shape \(shape)")
        if axes == Array(0..<rank) { return self }
        let outShape = axes.map { shape[$0] }
        let inStrides = strides
        let srcStrides = axes.map { inStrides[$0] }
        let r = rank
        return Tensor(shape: outShape) { o in
            guard o.count > 0 else { return }
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                let inner = outShape[r - 1], innerStride = srcStrides[r - 1]
                let outer = o.count / inner
                var idx = [Int](repeating: 0, count: r)
                var off = 0
                for row in 0..<outer {
                    let dst = po + row * inner, src = pa + off
                    if innerStride == 1 { dst.update(from: src, count: inner) }
                    else { for j in 0..<inner { dst[j] = src[j * innerStride] } }
                    var ax = r - 2
                    while ax >= 0 {
                        idx[ax] += 1; off += srcStrides[ax]
                        if idx[ax] < outShape[ax] { break }
                        off -= srcStrides[ax] * idx[ax]; idx[ax] = 0
                        ax -= 1
                    }
                }
            }
        }
    }

    /// Swaps two axes (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let x = a < 0 ? a + rank : a, y = b < 0 ? b + rank : b
        var axes = Array(0..<rank)
        axes.swapAt(x, y)
        return permuted(axes)
    }

    /// Elements `start ..< end` along `axis` (copied).
    public func slice(axis: Int, start: Int, end: Int) -> Tensor {
        let (outer, n, inner, ax) = axisSplit(axis)
        precondition(start >= 0 && start <= end && end <= n, "slice \(start)..<\(end) out of \(n) on axis \(ax) of \(shape)")
        var s = shape
        s[ax] = end - start
        let len = (end - start) * inner
        return Tensor(shape: s) { o in
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                for b in 0..<outer { (po + b * len).update(from: pa + (b * n + start) * inner, count: len) }
            }
        }
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat of nothing")
        let first = parts[0]
        let ax = axis < 0 ? axis + first.rank : axis
        for p in parts {
            precondition(p.rank == first.rank && (0..<first.rank).allSatisfy { $0 == ax || p.shape[$0] == first.shape[$0] },
                         "concat: \(p.shape) does not fit \(first.shape) along axis \(ax)")
        }
        var s = first.shape
        s[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        let total = s[ax] * inner
        return Tensor(shape: s) { o in
            let po = o.baseAddress!
            var col = 0
            for p in parts {
                let len = p.shape[ax] * inner
                p.withUnsafeBufferPointer { a in
                    guard len > 0 else { return }
                    let pa = a.baseAddress!
                    for b in 0..<outer { (po + b * total + col).update(from: pa + b * len, count: len) }
                }
                col += len
            }
        }
    }

    /// Stacks same-shaped tensors along a new leading axis.
    public static func stack(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "stack of nothing")
        return concat(parts.map { $0.reshaped([1] + $0.shape) }, axis: 0)
    }

    /// Rows of a `[vocab, d]` table at `indices` → `[indices.count, d]` (embedding lookup).
    public func gatherRows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "gatherRows needs rank ≥ 1")
        let rows = shape[0], d = count / Swift.max(rows, 1)
        for i in indices { precondition(i >= 0 && i < rows, "index \(i) out of \(rows) rows") }
        return Tensor(shape: [indices.count] + Array(shape.dropFirst())) { o in
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                for (r, i) in indices.enumerated() { (po + r * d).update(from: pa + i * d, count: d) }
            }
        }
    }

    /// Embedding lookup: the rows of this `[vocab, d]` table for `ids`, shaped `idsShape + [d]`.
    public func embedding(_ ids: [Int], idsShape: [Int]? = nil) -> Tensor {
        let g = gatherRows(ids)
        return g.reshaped((idsShape ?? [ids.count]) + Array(shape.dropFirst()))
    }

    /// Zero (or `value`) padding: `padding[i] = (before, after)` for each axis.
    public func padded(_ padding: [(Int, Int)], value: Float = 0) -> Tensor {
        precondition(padding.count == rank, "padding needs one pair per axis")
        var t = self
        for (ax, (lo, hi)) in padding.enumerated() where lo > 0 || hi > 0 {
            var parts: [Tensor] = []
            var s = t.shape
            if lo > 0 { s[ax] = lo; parts.append(Tensor(shape: s, repeating: value)) }
            parts.append(t)
            if hi > 0 { s[ax] = hi; parts.append(Tensor(shape: s, repeating: value)) }
            t = Tensor.concat(parts, axis: ax)
        }
        return t
    }
}
