import Foundation

/// Limited-memory BFGS: a full-batch minimiser for smooth objectives such as a regularised
/// logistic regression, where it reaches the optimum in a few hundred evaluations that stochastic
/// steps only approach (scikit-learn's `LogisticRegression` uses the same method by default).
///
/// Each iteration takes the direction of the two-loop recursion (Nocedal & Wright, Algorithm 7.4)
/// over the last `memory` steps and gradient changes, scaled by `sᵀy / yᵀy`, and a
/// backtracking line search that asks for sufficient decrease (Armijo, `c₁ = 10⁻⁴`, or its
/// approximate form once the `Float` loss stops resolving decreases). A pair whose curvature
/// `sᵀy` is not positive is not stored, so the implied Hessian stays positive definite.
///
/// Histories are kept in `Float` (the parameters' type) and every dot product is summed in
/// `Double`; for a `[32 000, 77]` weight, 10 pairs take 200 MB.
public struct LBFGS: Sendable {
    /// Pairs of (step, gradient change) remembered.
    public var memory = 10
    /// Most iterations (each costs one or more objective evaluations).
    public var maxIterations = 300
    /// Stop when the largest gradient component is at most this (scipy's `pgtol`).
    public var gradientTolerance = 1e-5
    /// Stop when an iteration lowers the objective by at most this, relative to its size. Off (0)
    /// by default: the engine's losses are `Float`, whose rounding (~10⁻⁷) would stop a descent
    /// that the gradient shows is not finished (scipy's `factr · eps` is 2.2·10⁻⁹ in `Double`).
    public var relativeDecrease = 0.0

    public init() {}

    /// How a minimisation ended.
    public struct Result: Sendable {
        public var value: Double
        public var iterations: Int
        public var evaluations: Int
        /// True when a tolerance was met; false after `maxIterations` or a failed line search.
        public var converged: Bool
    }

    /// Minimises `objective` over `parameters`, leaving the best point found in their values.
    ///
    /// - Parameters:
    ///   - parameters: the variables to optimise (their current values are the starting point).
    ///   - objective: builds the scalar loss from the parameters' current values; it is called
    ///     once per evaluation and differentiated with ``Variable/backward(_:)``.
    @discardableResult
    public func minimize(_ parameters: [Variable], objective: () -> Variable) -> Result {
        let sizes = parameters.map(\.value.count)
        let n = sizes.reduce(0, +)
        var evaluations = 0

        func read() -> [Float] {
            var x = [Float](); x.reserveCapacity(n)
            for p in parameters { p.value.withUnsafeBufferPointer { x.append(contentsOf: $0) } }
            return x
        }
        func write(_ x: [Float]) {
            var offset = 0
            for (p, size) in zip(parameters, sizes) {
                p.value = Tensor(shape: p.value.shape, scalars: Array(x[offset..<offset + size]))
                offset += size
            }
        }
        func evaluate() -> (Double, [Float]) {
            evaluations += 1
            for p in parameters { p.zeroGrad() }
            let loss = objective()
            loss.backward()
            var g = [Float](); g.reserveCapacity(n)
            for (p, size) in zip(parameters, sizes) {
                if let grad = p.grad { grad.withUnsafeBufferPointer { g.append(contentsOf: $0) } } else { g += repeatElement(0, count: size) }
            }
            return (Double(loss.value[flat: 0]), g)
        }

        var x = read()
        var (f, g) = evaluate()
        var s: [[Float]] = [], y: [[Float]] = [], rho: [Double] = []
        var iteration = 0
        while iteration < maxIterations {
            if Self.maxAbs(g) <= gradientTolerance { return Result(value: f, iterations: iteration, evaluations: evaluations, converged: true) }
            iteration += 1
            // Two-loop recursion: d = −H·g.
            var q = g.map(Double.init)
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * Self.dot(s[i], q)
                Self.axpy(-alpha[i], y[i], &q)
            }
            if let sl = s.last, let yl = y.last {
                let gamma = Self.dot(sl, yl) / max(Self.dot(yl, yl), .leastNormalMagnitude)
                for j in 0..<n { q[j] *= gamma }
            }
            for i in 0..<s.count {
                let beta = rho[i] * Self.dot(y[i], q)
                Self.axpy(alpha[i] - beta, s[i], &q)
            }
            var d = q.map { -$0 }
            var slope = zip(d, g).reduce(0.0) { $0 + $1.0 * Double($1.1) }
            if slope >= 0 {                       // not a descent direction: restart from −g
                s.removeAll(); y.removeAll(); rho.removeAll()
                d = g.map { -Double($0) }
                slope = -d.reduce(0) { $0 + $1 * $1 }
            }
            // Backtracking line search; the first step is scaled so it moves by at most 1.
            var step = s.isEmpty ? min(1, 1 / max(Self.norm(d), 1e-12)) : 1
            var accepted: (Double, [Float], [Float])?
            for _ in 0..<40 {
                let trial = (0..<n).map { x[$0] + Float(step * d[$0]) }
                write(trial)
                let (ft, gt) = evaluate()
                // Armijo's sufficient decrease; near the optimum the Float loss no longer resolves
                // it, so a step is also taken when the loss stays within rounding and the slope
                // along d at the trial shows the step did not overshoot (approximate Wolfe,
                // Hager & Zhang 2005).
                let trialSlope = zip(d, gt).reduce(0.0) { $0 + $1.0 * Double($1.1) }
                if ft.isFinite, ft <= f + 1e-4 * step * slope || (ft <= f + 1e-6 * abs(f) && trialSlope <= -0.8 * slope) {
                    accepted = (ft, gt, trial); break
                }
                step *= 0.5
            }
            guard let (fNew, gNew, xNew) = accepted else {
                write(x)
                return Result(value: f, iterations: iteration, evaluations: evaluations, converged: false)
            }
            let sk = (0..<n).map { xNew[$0] - x[$0] }, yk = (0..<n).map { gNew[$0] - g[$0] }
            let sy = Self.dot(sk, yk.map(Double.init))
            if sy > 1e-10 * Self.dot(yk, yk.map(Double.init)) {
                if s.count == memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sk); y.append(yk); rho.append(1 / sy)
            }
            let decrease = (f - fNew) / max(abs(f), abs(fNew), 1)
            x = xNew; f = fNew; g = gNew
            if relativeDecrease > 0, decrease <= relativeDecrease { return Result(value: f, iterations: iteration, evaluations: evaluations, converged: true) }
        }
        return Result(value: f, iterations: iteration, evaluations: evaluations, converged: Self.maxAbs(g) <= gradientTolerance)
    }

    // MARK: Vector helpers (Double sums over Float storage)

    static func dot(_ a: [Float], _ b: [Double]) -> Double {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            var t = 0.0
            for i in 0..<pa.count { t += Double(pa[i]) * pb[i] }
            return t
        } }
    }
    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            var t = 0.0
            for i in 0..<pa.count { t += Double(pa[i]) * Double(pb[i]) }
            return t
        } }
    }
    static func axpy(_ a: Double, _ x: [Float], _ y: inout [Double]) {
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
            for i in 0..<px.count { py[i] += a * Double(px[i]) }
        } }
    }
    static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    static func maxAbs(_ v: [Float]) -> Double { Double(v.reduce(0) { max($0, abs($1)) }) }
}
