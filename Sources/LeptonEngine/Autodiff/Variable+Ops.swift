import Foundation

// Differentiable elementwise, matrix and shape operations. Each records the adjoint of its
// forward kernel; broadcasting is undone with `sumToShape`.

extension Variable {
    // MARK: Arithmetic (broadcasting)

    public static func + (a: Variable, b: Variable) -> Variable {
        Variable.result(a.value + b.value, [a, b]) { g in
            a.accumulate(g.sumToShape(a.shape)); b.accumulate(g.sumToShape(b.shape))
        }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        Variable.result(a.value - b.value, [a, b]) { g in
            a.accumulate(g.sumToShape(a.shape))
            if b.requiresGrad { b.accumulate((-g).sumToShape(b.shape)) }
        }
    }

    public static func * (a: Variable, b: Variable) -> Variable {
        let av = a.value, bv = b.value
        return Variable.result(av * bv, [a, b]) { g in
            if a.requiresGrad { a.accumulate((g * bv).sumToShape(a.shape)) }
            if b.requiresGrad { b.accumulate((g * av).sumToShape(b.shape)) }
        }
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        let av = a.value, bv = b.value
        return Variable.result(av / bv, [a, b]) { g in
            if a.requiresGrad { a.accumulate((g / bv).sumToShape(a.shape)) }
            if b.requiresGrad { b.accumulate((-(g * av) / (bv * bv)).sumToShape(b.shape)) }
        }
    }

    public static func + (a: Variable, b: Tensor) -> Variable { a + Variable(b) }
    public static func - (a: Variable, b: Tensor) -> Variable { a - Variable(b) }
    public static func * (a: Variable, b: Tensor) -> Variable { a * Variable(b) }
    public static func / (a: Variable, b: Tensor) -> Variable { a / Variable(b) }

    public static func + (a: Variable, s: Float) -> Variable {
        Variable.result(a.value + s, [a]) { g in a.accumulate(g) }
    }
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
    public static func * (a: Variable, s: Float) -> Variable {
        Variable.result(a.value * s, [a]) { g in a.accumulate(g * s) }
    }
    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }
    public static func * (s: Float, a: Variable) -> Variable { a * s }
    public static func + (s: Float, a: Variable) -> Variable { a + s }
    public static prefix func - (a: Variable) -> Variable { a * -1 }

    // MARK: Matrix products

    /// Matrix product over the last two axes (batch axes as in ``Tensor/matmul(_:transposeSelf:transposeOther:)``).
    public func matmul(_ other: Variable, transposeSelf: Bool = false, transposeOther: Bool = false) -> Variable {
        let a = self, b = other, av = value, bv = other.value
        let (ta, tb) = (transposeSelf, transposeOther)
        return Variable.result(av.matmul(bv, transposeSelf: ta, transposeOther: tb), [a, b]) { g in
            if a.requiresGrad {
                let da = ta ? bv.matmul(g, transposeSelf: tb, transposeOther: true)
                            : g.matmul(bv, transposeOther: !tb)
                a.accumulate(da.sumToShape(a.shape))
            }
            if b.requiresGrad {
                let db = tb ? g.matmul(av, transposeSelf: true, transposeOther: ta)
                            : av.matmul(g, transposeSelf: !ta)
                b.accumulate(db.sumToShape(b.shape))
            }
        }
    }

    /// `x · weightᵀ + bias` over the last axis: `x` `[..., in]`, `weight` `[out, in]`, `bias` `[out]` → `[..., out]`.
    public func linear(weight: Variable, bias: Variable? = nil) -> Variable {
        let inF = shape[rank - 1]
        precondition(weight.rank == 2 && weight.shape[1] == inF, "linear: input \(shape) vs weight \(weight.shape)")
        let flat = rank == 2 ? self : reshaped([-1, inF])
        var y = flat.matmul(weight, transposeOther: true)
        if let bias { y = y + bias }
        return rank == 2 ? y : y.reshaped(Array(shape.dropLast()) + [weight.shape[0]])
    }

    // MARK: Activations

    public func relu() -> Variable {
        let x = value
        return Variable.result(x.relu(), [self]) { [self] g in
            accumulate(Tensor(shape: g.shape) { o in
                g.withUnsafeBufferPointer { gb in x.withUnsafeBufferPointer { xb in
                    for i in 0..<o.count { o[i] = xb[i] > 0 ? gb[i] : 0 }
                } }
            })
        }
    }

    /// Leaky ReLU with slope `alpha` for negative inputs.
    public func leakyRelu(_ alpha: Float = 0.01) -> Variable {
        let x = value
        let y = Tensor(shape: x.shape) { o in x.withUnsafeBufferPointer { xb in for i in 0..<o.count { o[i] = xb[i] > 0 ? xb[i] : alpha * xb[i] } } }
        return Variable.result(y, [self]) { [self] g in
            accumulate(Tensor(shape: g.shape) { o in
                g.withUnsafeBufferPointer { gb in x.withUnsafeBufferPointer { xb in
                    for i in 0..<o.count { o[i] = xb[i] > 0 ? gb[i] : alpha * gb[i] }
                } }
            })
        }
    }

    /// Exact (erf) GELU.
    public func gelu() -> Variable {
        let x = value
        return Variable.result(x.gelu(), [self]) { [self] g in
            accumulate(Tensor(shape: g.shape) { o in
                g.withUnsafeBufferPointer { gb in x.withUnsafeBufferPointer { xb in
                    for i in 0..<o.count {
                        let v = xb[i]
                        let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                        let pdf = 0.3989422804014327 * expf(-0.5 * v * v)
                        o[i] = gb[i] * (cdf + v * pdf)
                    }
                } }
            })
        }
    }

    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        return Variable.result(y, [self]) { [self] g in accumulate(g * y * (1 - y)) }
    }

    public func tanh() -> Variable {
        let y = value.tanh()
        return Variable.result(y, [self]) { [self] g in accumulate(g * (1 - y * y)) }
    }

    public func exp() -> Variable {
        let y = value.exp()
        return Variable.result(y, [self]) { [self] g in accumulate(g * y) }
    }

    public func log() -> Variable {
        let x = value
        return Variable.result(x.log(), [self]) { [self] g in accumulate(g / x) }
    }

    public func sqrt() -> Variable {
        let y = value.sqrt()
        return Variable.result(y, [self]) { [self] g in accumulate(g / (2 * y)) }
    }

    public func squared() -> Variable {
        let x = value
        return Variable.result(x.squared(), [self]) { [self] g in accumulate(g * x * 2) }
    }

    // MARK: Softmax family (last axis)

    public func softmax() -> Variable {
        let y = value.softmax()
        return Variable.result(y, [self]) { [self] g in
            // dx = y ⊙ (g − Σ g·y)
            let gy = g * y
            accumulate(gy - y * gy.sum(axis: -1, keepingAxis: true))
        }
    }

    public func logSoftmax() -> Variable {
        let y = value.logSoftmax()
        return Variable.result(y, [self]) { [self] g in
            // dx = g − softmax · Σ g
            accumulate(g - y.exp() * g.sum(axis: -1, keepingAxis: true))
        }
    }

    // MARK: Reductions

    /// Sum of all elements → scalar `[]`.
    public func sum() -> Variable {
        let s = shape
        return Variable.result(Tensor(scalar: value.sum()), [self]) { [self] g in
            accumulate(Tensor(shape: s, repeating: g[flat: 0]))
        }
    }

    /// Mean of all elements → scalar `[]`.
    public func mean() -> Variable {
        let s = shape, n = Float(Swift.max(count, 1))
        return Variable.result(Tensor(scalar: value.mean()), [self]) { [self] g in
            accumulate(Tensor(shape: s, repeating: g[flat: 0] / n))
        }
    }

    public func sum(axis: Int, keepingAxis: Bool = false) -> Variable {
        let s = shape, ax = axis < 0 ? axis + rank : axis
        return Variable.result(value.sum(axis: ax, keepingAxis: keepingAxis), [self]) { [self] g in
            var ks = s; ks[ax] = 1
            accumulate(g.reshaped(ks) + Tensor.zeros(s))
        }
    }

    public func mean(axis: Int, keepingAxis: Bool = false) -> Variable {
        let ax = axis < 0 ? axis + rank : axis
        return sum(axis: ax, keepingAxis: keepingAxis) * (1 / Float(shape[ax]))
    }

    // MARK: Shape

    public func reshaped(_ newShape: [Int]) -> Variable {
        let s = shape
        return Variable.result(value.reshaped(newShape), [self]) { [self] g in accumulate(g.reshaped(s)) }
    }

    /// Flattens all axes after the first: `[N, ...]` → `[N, rest]`.
    public func flattened() -> Variable { reshaped([shape[0], -1]) }

    public func permuted(_ axes: [Int]) -> Variable {
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return Variable.result(value.permuted(axes), [self]) { [self] g in accumulate(g.permuted(inverse)) }
    }

    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Variable {
        let x = a < 0 ? a + rank : a, y = b < 0 ? b + rank : b
        var axes = Array(0..<rank)
        axes.swapAt(x, y)
        return permuted(axes)
    }

    public func slice(axis: Int, start: Int, end: Int) -> Variable {
        let ax = axis < 0 ? axis + rank : axis, n = shape[ax]
        return Variable.result(value.slice(axis: ax, start: start, end: end), [self]) { [self] g in
            var pads = Array(repeating: (0, 0), count: g.rank)
            pads[ax] = (start, n - end)
            accumulate(g.padded(pads))
        }
    }

    /// Joins variables along `axis`.
    public static func concat(_ parts: [Variable], axis: Int) -> Variable {
        let ax = axis < 0 ? axis + parts[0].rank : axis
        let sizes = parts.map { $0.shape[ax] }
        return Variable.result(Tensor.concat(parts.map(\.value), axis: ax), parts) { g in
            var start = 0
            for (p, n) in zip(parts, sizes) {
                if p.requiresGrad { p.accumulate(g.slice(axis: ax, start: start, end: start + n)) }
                start += n
            }
        }
    }

    /// Rows of this `[rows, d...]` variable at `indices` (embedding lookup); the gradient scatter-adds.
    public func gatherRows(_ indices: [Int]) -> Variable {
        let s = shape
        return Variable.result(value.gatherRows(indices), [self]) { [self] g in
            let d = g.count / Swift.max(indices.count, 1)
            accumulate(Tensor(shape: s) { o in
                o.initialize(repeating: 0)
                g.withUnsafeBufferPointer { gb in
                    let po = o.baseAddress!, pg = gb.baseAddress!
                    for (r, i) in indices.enumerated() {
                        let dst = po + i * d, src = pg + r * d
                        for j in 0..<d { dst[j] += src[j] }
                    }
                }
            })
        }
    }
}
