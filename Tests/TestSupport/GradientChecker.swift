import LeptonEngine

/// One gradient entry: the analytic value from a backward pass and the central difference.
public struct GradientComparison: Sendable, CustomStringConvertible {
    /// Name of the checked tensor (a parameter name, or `input k`).
    public let parameter: String
    /// Flat index into that tensor.
    public let index: Int
    public let analytic: Double
    public let numeric: Double

    /// `|analytic − numeric| / max(|analytic| + |numeric|, floor)`: near 0 when they agree, near 1
    /// when a backward pass is wrong (used for statistics over sampled entries).
    public func relativeError(floor: Double = 1e-3) -> Double {
        abs(analytic - numeric) / max(abs(analytic) + abs(numeric), floor)
    }

    public var description: String { "\(parameter)[\(index)]: analytic \(analytic), numeric \(numeric)" }
}

/// Central finite differences `(f(θ + h·eᵢ) − f(θ − h·eᵢ)) / 2h` against analytic gradients: the
/// one checker every test uses (autodiff ops, layers, models with a hand-written backward).
///
/// An entry passes when `|analytic − numeric| ≤ absoluteTolerance + relativeTolerance·|numeric|`.
/// The scalar `f` is `Σ output ⊙ R` for a fixed random `R` (every output element weighted
/// differently) and is summed in Double, so the Float round-off of the difference quotient stays
/// near `1e-7·|f| / h`. What is left is the truncation error `h²·f‴/6` of the stencil — with the
/// default `h = 1e-2` about 1e-5 relative on smooth functions — well below the tolerance. A stencil
/// that straddles a kink (ReLU at 0, a changing maximum) is not smooth: inputs should keep such
/// points more than `h` away rather than widen the tolerance.
public struct GradientChecker: Sendable {
    /// The step `h` (in Float, the precision the functions compute in).
    public var step: Float
    public var absoluteTolerance: Double
    public var relativeTolerance: Double

    public init(step: Float = 1e-2, absoluteTolerance: Double = 2e-3, relativeTolerance: Double = 1e-2) {
        self.step = step; self.absoluteTolerance = absoluteTolerance; self.relativeTolerance = relativeTolerance
    }

    /// Whether one entry is within tolerance.
    public func passes(_ c: GradientComparison) -> Bool {
        abs(c.analytic - c.numeric) <= absoluteTolerance + relativeTolerance * abs(c.numeric)
    }

    /// A message naming the first entry outside tolerance and how many fail; nil when all pass.
    public func failure(_ comparisons: [GradientComparison]) -> String? {
        let bad = comparisons.filter { !passes($0) }
        guard let first = bad.first else { return nil }
        return "\(first) (tolerance \(absoluteTolerance) + \(relativeTolerance)·|numeric|, step \(step)); "
            + "\(bad.count) of \(comparisons.count) entries fail"
    }

    /// Compares `analytic[k]` with central differences of `value` in every tensor `tensors[k]`.
    ///
    /// - Parameters:
    ///   - tensors: the point, `(name, tensor)`; `value` is evaluated at copies with one entry moved.
    ///   - analytic: gradients of `value` at the point, shaped as `tensors`.
    ///   - indices: which flat indices of a tensor of `count` entries to check (all by default).
    ///   - value: the scalar function, accumulated in Double.
    public func compare(_ tensors: [(name: String, value: Tensor)], analytic: [Tensor],
                        indices: (Int) -> [Int] = { Array(0..<$0) },
                        value: ([Tensor]) -> Double) -> [GradientComparison] {
        precondition(tensors.count == analytic.count, "one analytic gradient per tensor")
        var out: [GradientComparison] = []
        let h = step
        for (k, (name, t)) in tensors.enumerated() {
            precondition(analytic[k].shape == t.shape, "\(name): gradient shape \(analytic[k].shape), tensor \(t.shape)")
            for i in indices(t.count) {
                var point = tensors.map(\.value)
                let saved = t[flat: i]
                point[k][flat: i] = saved + h
                let up = value(point)
                point[k][flat: i] = saved - h
                let down = value(point)
                // The step actually taken in Float (saved ± h rounds).
                let taken = Double(saved + h) - Double(saved - h)
                out.append(GradientComparison(parameter: name, index: i, analytic: Double(analytic[k][flat: i]),
                                              numeric: (up - down) / taken))
            }
        }
        return out
    }

    /// `Σ y ⊙ r` in Double.
    public static func weightedSum(_ y: Tensor, _ r: Tensor) -> Double {
        precondition(y.count == r.count, "weights \(r.shape) for output \(y.shape)")
        var s = 0.0
        y.withUnsafeBufferPointer { yb in r.withUnsafeBufferPointer { rb in
            for i in 0..<yb.count { s += Double(yb[i]) * Double(rb[i]) }
        }}
        return s
    }

    /// The fixed random weights `R` of `Σ output ⊙ R` for an output of `shape`.
    public static func projection(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor.randomNormal(shape, using: &rng)
    }

    /// Autodiff through `f` against central differences, for every entry of every input
    /// (named `input 0`, `input 1`, …).
    public func compareInputs(_ inputs: [Tensor], seed: UInt64 = 7, _ f: ([Variable]) -> Variable) -> [GradientComparison] {
        let vars = inputs.map { Variable($0, requiresGrad: true) }
        let out = f(vars)
        let r = Self.projection(out.shape, seed: seed)
        out.backward(r)
        let named = inputs.enumerated().map { (name: "input \($0.offset)", value: $0.element) }
        return compare(named, analytic: zip(vars, inputs).map { $0.grad ?? Tensor.zeros($1.shape) }) { point in
            Self.weightedSum(withoutGradients { f(point.map { Variable($0) }) }.value, r)
        }
    }

    /// Autodiff through `f` with respect to parameters `f` reads when it runs (a module's weights).
    /// - Parameter indices: which flat indices of each parameter to check (all by default).
    public func compareParameters(_ parameters: [(String, Variable)], seed: UInt64 = 11,
                                  indices: (Int) -> [Int] = { Array(0..<$0) }, _ f: () -> Variable) -> [GradientComparison] {
        for (_, p) in parameters { p.zeroGrad() }
        let out = f()
        let r = Self.projection(out.shape, seed: seed)
        out.backward(r)
        let named = parameters.map { (name: $0.0, value: $0.1.value) }
        let analytic = parameters.map { $0.1.grad ?? Tensor.zeros($0.1.shape) }
        return compare(named, analytic: analytic, indices: indices) { point in
            let saved = parameters.map { $0.1.value }
            for (k, (_, p)) in parameters.enumerated() { p.value = point[k] }
            defer { for (k, (_, p)) in parameters.enumerated() { p.value = saved[k] } }
            return Self.weightedSum(withoutGradients { f() }.value, r)
        }
    }
}
