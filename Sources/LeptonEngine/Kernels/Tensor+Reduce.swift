import Foundation

// Reductions along one axis and the row-wise softmax family.
//
// A tensor viewed around `axis` is `[outer, n, inner]`; reducing `n` gives `[outer, inner]`.
// Accumulation is in Float with the inner axis contiguous, which vectorises for inner > 1
// and is a plain serial sum for the (common) last-axis case.

extension Tensor {
    @usableFromInline
    func axisSplit(_ axis: Int) -> (outer: Int, n: Int, inner: Int, axis: Int) {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank, "axis \(axis) out of range for shape \(shape)")
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        return (outer, shape[ax], inner, ax)
    }

    func reducedShape(_ ax: Int, keeping: Bool) -> [Int] {
        var s = shape
        if keeping { s[ax] = 1 } else { s.remove(at: ax) }
        return s
    }

    /// Sum along `axis` (negative counts from the end).
    public func sum(axis: Int, keepingAxis: Bool = false) -> Tensor {
        let (outer, n, inner, ax) = axisSplit(axis)
        return Tensor(shape: reducedShape(ax, keeping: keepingAxis)) { o in
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                for b in 0..<outer {
                    let src = pa + b * n * inner, dst = po + b * inner
                    if inner == 1 {
                        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
                        var i = 0
                        while i + 4 <= n { s0 += src[i]; s1 += src[i + 1]; s2 += src[i + 2]; s3 += src[i + 3]; i += 4 }
                        while i < n { s0 += src[i]; i += 1 }
                        dst[0] = (s0 + s1) + (s2 + s3)
                    } else {
                        for j in 0..<inner { dst[j] = 0 }
                        for i in 0..<n { let row = src + i * inner; for j in 0..<inner { dst[j] += row[j] } }
                    }
                }
            }
        }
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepingAxis: Bool = false) -> Tensor {
        let n = shape[axis < 0 ? axis + rank : axis]
        return sum(axis: axis, keepingAxis: keepingAxis) * (1 / Float(n))
    }

    /// Maximum along `axis`.
    public func max(axis: Int, keepingAxis: Bool = false) -> Tensor {
        let (outer, n, inner, ax) = axisSplit(axis)
        precondition(n > 0, "max over an empty axis")
        return Tensor(shape: reducedShape(ax, keeping: keepingAxis)) { o in
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                for b in 0..<outer {
                    let src = pa + b * n * inner, dst = po + b * inner
                    for j in 0..<inner { dst[j] = src[j] }
                    for i in 1..<Swift.max(n, 1) { let row = src + i * inner; for j in 0..<inner { dst[j] = Swift.max(dst[j], row[j]) } }
                }
            }
        }
    }

    /// Index of the maximum along `axis` (first one on ties), as integers in row-major order of the reduced shape.
    public func argmax(axis: Int) -> [Int] {
        let (outer, n, inner, _) = axisSplit(axis)
        precondition(n > 0, "argmax over an empty axis")
        var result = [Int](repeating: 0, count: outer * inner)
        withUnsafeBufferPointer { a in
            let pa = a.baseAddress!
            for b in 0..<outer {
                for j in 0..<inner {
                    var best = pa[b * n * inner + j], bi = 0
                    for i in 1..<Swift.max(n, 1) { let v = pa[(b * n + i) * inner + j]; if v > best { best = v; bi = i } }
                    result[b * inner + j] = bi
                }
            }
        }
        return result
    }

    /// Sum of all elements (Double accumulation).
    public func sum() -> Float {
        withUnsafeBufferPointer { a in var s = 0.0; for x in a { s += Double(x) }; return Float(s) }
    }

    /// Mean of all elements.
    public func mean() -> Float { count == 0 ? 0 : sum() / Float(count) }

    /// Largest element.
    public func max() -> Float { withUnsafeBufferPointer { $0.max() ?? -.infinity } }

    // MARK: Softmax family

    /// Softmax over the last axis, numerically stable (the row maximum is subtracted first).
    public func softmax() -> Tensor {
        precondition(rank >= 1, "softmax needs rank ≥ 1")
        let n = shape[rank - 1], rows = count / Swift.max(n, 1)
        return Tensor(shape: shape) { o in
            withUnsafeBufferPointer { a in
                nonisolated(unsafe) let (pa, po) = (a.baseAddress!, o.baseAddress!)
                parallelChunks(rows, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { lo, hi in
                    for r in lo..<hi { softmaxRow(pa + r * n, po + r * n, n) }
                }
            }
        }
    }

    /// Log-softmax over the last axis: `x - max - log Σ exp(x - max)`.
    public func logSoftmax() -> Tensor {
        precondition(rank >= 1, "logSoftmax needs rank ≥ 1")
        let n = shape[rank - 1], rows = count / Swift.max(n, 1)
        return Tensor(shape: shape) { o in
            withUnsafeBufferPointer { a in
                nonisolated(unsafe) let (pa, po) = (a.baseAddress!, o.baseAddress!)
                parallelChunks(rows, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { lo, hi in
                    for r in lo..<hi {
                        let src = pa + r * n, dst = po + r * n
                        var m = -Float.infinity
                        for i in 0..<n { m = Swift.max(m, src[i]) }
                        var s: Float = 0
                        for i in 0..<n { s += expf(src[i] - m) }
                        let lse = m + logf(s)
                        for i in 0..<n { dst[i] = src[i] - lse }
                    }
                }
            }
        }
    }
}

/// Stable softmax of one row of `n` (may alias): ``VectorMath/softmax(_:into:_:)`` (a fully masked
/// row gives zeros rather than NaN, which is what it should contribute to attention).
@inlinable @inline(__always)
func softmaxRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    VectorMath.softmax(src, into: dst, n)
}
