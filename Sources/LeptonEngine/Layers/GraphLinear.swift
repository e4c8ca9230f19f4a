import Foundation

/// Dense affine map `y = x·Wᵀ + b` with a hand-written backward pass, the building block of the
/// graph layers. `weight` is `[out, in]` (PyTorch `Linear` layout), `bias` `[out]`.
public struct GraphLinear: Sendable {
    public var weight: Tensor
    public var bias: Tensor?
    public var weightGrad: Tensor
    public var biasGrad: Tensor?
    var input: Tensor? = nil

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// Glorot-uniform weights, zero bias.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededGenerator) {
        let limit = (6 / Float(inFeatures + outFeatures)).squareRoot()
        weight = Tensor.randomUniform([outFeatures, inFeatures], low: -limit, high: limit, using: &rng)
        self.bias = bias ? Tensor.zeros([outFeatures]) : nil
        weightGrad = Tensor.zeros([outFeatures, inFeatures])
        biasGrad = bias ? Tensor.zeros([outFeatures]) : nil
    }

    /// `x` `[rows, in]` → `[rows, out]`; keeps `x` for `backward` when `training`.
    public mutating func forward(_ x: Tensor, training: Bool = true) -> Tensor {
        if training { input = x }
        return Self.apply(x, weight, bias)
    }

    /// `x·Wᵀ + b` without any state.
    public static func apply(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?) -> Tensor {
        let rows = x.shape[0], i = weight.shape[1], o = weight.shape[0]
        precondition(x.shape[1] == i, "GraphLinear expects \(i) inputs, got \(x.shape)")
        var y = Tensor(shape: [rows, o]) { yb in
            let yp = yb.baseAddress!
            if let b = bias {
                b.withUnsafeBufferPointer { bb in
                    let bp = bb.baseAddress!
                    for r in 0..<rows { (yp + r * o).update(from: bp, count: o) }
                }
            } else { yb.initialize(repeating: 0) }
        }
        if rows > 0 {
            x.withUnsafeBufferPointer { xb in weight.withUnsafeBufferPointer { wb in
                y.withUnsafeMutableBufferPointer { yb in
                    BLAS.sgemm(m: rows, n: o, k: i, a: xb.baseAddress!, lda: i, b: wb.baseAddress!, ldb: i, transB: true,
                               beta: 1, c: yb.baseAddress!, ldc: o)
                }
            }}
        }
        return y
    }

    /// Accumulates weight/bias gradients from `dy` `[rows, out]`; returns `dx` `[rows, in]`.
    public mutating func backward(_ dy: Tensor, needInputGrad: Bool = true) -> Tensor? {
        guard let x = input else { preconditionFailure("GraphLinear.backward before forward(training: true)") }
        let rows = x.shape[0], i = inFeatures, o = outFeatures
        if rows > 0 {
            dy.withUnsafeBufferPointer { db in x.withUnsafeBufferPointer { xb in
                weightGrad.withUnsafeMutableBufferPointer { gb in
                    BLAS.sgemm(m: o, n: i, k: rows, a: db.baseAddress!, lda: o, transA: true, b: xb.baseAddress!, ldb: i,
                               beta: 1, c: gb.baseAddress!, ldc: i)
                }
            }}
            if biasGrad != nil {
                dy.withUnsafeBufferPointer { db in biasGrad!.withUnsafeMutableBufferPointer { bg in
                    let dp = db.baseAddress!, gp = bg.baseAddress!
                    for r in 0..<rows { let row = dp + r * o; for c in 0..<o { gp[c] += row[c] } }
                }}
            }
        }
        guard needInputGrad else { return nil }
        var dx = Tensor.zeros([rows, i])
        if rows > 0 {
            dy.withUnsafeBufferPointer { db in weight.withUnsafeBufferPointer { wb in dx.withUnsafeMutableBufferPointer { xb in
                BLAS.sgemm(m: rows, n: i, k: o, a: db.baseAddress!, lda: o, b: wb.baseAddress!, ldb: i, c: xb.baseAddress!, ldc: i)
            }}}
        }
        return dx
    }

    /// Sets gradients to zero.
    public mutating func zeroGrad() {
        weightGrad = Tensor.zeros(weight.shape)
        if let b = bias { biasGrad = Tensor.zeros(b.shape) }
    }

    /// Calls `body(name, &parameter, gradient)` for every parameter (optimizers update in place).
    public mutating func visitParameters(prefix: String = "", _ body: (String, inout Tensor, Tensor) -> Void) {
        body(prefix + "weight", &weight, weightGrad)
        if bias != nil, let g = biasGrad { body(prefix + "bias", &bias!, g) }
    }
}
