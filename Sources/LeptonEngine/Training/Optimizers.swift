import Foundation

/// Updates parameters from their gradients. Parameters without a gradient are skipped.
public protocol Optimizer: AnyObject {
    /// The parameters being optimised, in a fixed order.
    var parameters: [Variable] { get }
    /// Current step size (set it from a ``LearningRateSchedule`` each step).
    var learningRate: Float { get set }
    /// Applies one update from the current gradients.
    func step()
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

/// Stochastic gradient descent with optional momentum (PyTorch form: `v = μ·v + g`, `p −= lr·v`;
/// Nesterov uses `g + μ·v`) and L2 weight decay added to the gradient.
public final class SGD: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public var momentum: Float, weightDecay: Float, nesterov: Bool
    var velocity: [Tensor?]

    public init(_ parameters: [Variable], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay; self.nesterov = nesterov
        velocity = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        for (i, p) in parameters.enumerated() {
            guard var g = p.grad else { continue }
            if weightDecay != 0 { g.addScaled(p.value, alpha: weightDecay) }
            if momentum != 0 {
                if var v = velocity[i] {
                    velocity[i] = nil
                    v.withUnsafeMutableBufferPointer { vb in g.withUnsafeBufferPointer { gb in
                        for j in 0..<vb.count { vb[j] = momentum * vb[j] + gb[j] }
                    } }
                    velocity[i] = v
                } else {
                    velocity[i] = g
                }
                if nesterov { g.addScaled(velocity[i]!, alpha: momentum) } else { g = velocity[i]! }
            }
            p.value.addScaled(g, alpha: -learningRate)
        }
    }
}

/// Adam (Kingma & Ba) with bias correction. `weightDecay` here is classic L2 (added to the
/// gradient, PyTorch `Adam`); use ``AdamW`` for decoupled decay.
public class Adam: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public private(set) var stepCount = 0
    var m: [Tensor?], v: [Tensor?]
    var decoupled: Bool { false }

    public init(_ parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = Array(repeating: nil, count: parameters.count)
        v = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        stepCount += 1
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            var mi = m[i] ?? Tensor.zeros(p.shape), vi = v[i] ?? Tensor.zeros(p.shape)
            m[i] = nil; v[i] = nil
            Self.update(&p.value, gradient: g, m: &mi, v: &vi, step: stepCount, learningRate: learningRate,
                        beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupled: decoupled)
            m[i] = mi; v[i] = vi
        }
    }

    /// One Adam update of `parameter` in place from its gradient and moment estimates (`step` ≥ 1,
    /// for the bias correction); the element loop every Adam in the engine runs.
    static func update(_ parameter: inout Tensor, gradient g: Tensor, m: inout Tensor, v: inout Tensor, step: Int,
                       learningRate lr: Float, beta1 b1: Float, beta2 b2: Float, eps e: Float, weightDecay wd: Float, decoupled: Bool) {
        precondition(g.shape == parameter.shape, "Adam: gradient \(g.shape) for parameter \(parameter.shape)")
        let c1 = 1 - powf(b1, Float(step)), c2 = 1 - powf(b2, Float(step))
        parameter.withUnsafeMutableBufferPointer { pb in g.withUnsafeBufferPointer { gb in
            m.withUnsafeMutableBufferPointer { mb in v.withUnsafeMutableBufferPointer { vb in
                for j in 0..<pb.count {
                    var gj = gb[j]
                    if wd != 0 {
                        if decoupled { pb[j] -= lr * wd * pb[j] } else { gj += wd * pb[j] }
                    }
                    mb[j] = b1 * mb[j] + (1 - b1) * gj
                    vb[j] = b2 * vb[j] + (1 - b2) * gj * gj
                    pb[j] -= lr * (mb[j] / c1) / ((vb[j] / c2).squareRoot() + e)
                }
            } }
        } }
    }
}

/// Adam / AdamW for layers that keep their weights and gradients themselves (the graph layers
/// with a hand-written backward pass, which visit `(name, &parameter, gradient)`): the same
/// update as ``Adam`` / ``AdamW``, with the moment estimates kept per parameter name.
///
///     optimizer.beginStep()
///     layer.visitParameters { name, p, g in optimizer.update(name, &p, g) }
public struct AdamByName: Sendable {
    public var learningRate: Float
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Decoupled weight decay (AdamW) when true, L2 added to the gradient (Adam) when false.
    public let decoupled: Bool
    public private(set) var stepCount = 0
    var moments: [String: (m: Tensor, v: Tensor)] = [:]

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0, decoupled: Bool = true) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.decoupled = decoupled
    }

    /// Starts an optimisation step (call once before visiting the parameters).
    public mutating func beginStep() { stepCount += 1 }

    /// Updates one parameter from its gradient.
    public mutating func update(_ name: String, _ parameter: inout Tensor, _ gradient: Tensor) {
        precondition(stepCount > 0, "AdamByName.update before beginStep")
        var (m, v) = moments.removeValue(forKey: name) ?? (Tensor.zeros(parameter.shape), Tensor.zeros(parameter.shape))
        Adam.update(&parameter, gradient: gradient, m: &m, v: &v, step: stepCount, learningRate: learningRate,
                    beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupled: decoupled)
        moments[name] = (m, v)
    }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter): `p −= lr·wd·p` before the Adam step
/// (PyTorch `AdamW`, default decay 0.01).
public final class AdamW: Adam {
    override var decoupled: Bool { true }

    public override init(_ parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                         eps: Float = 1e-8, weightDecay: Float = 0.01) {
        super.init(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
    }
}

/// Scales all gradients together so their global L2 norm is at most `maxNorm`.
/// - Returns: the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var total = 0.0
    for p in parameters { if let g = p.grad { g.withUnsafeBufferPointer { for x in $0 { total += Double(x) * Double(x) } } } }
    let norm = Float(total.squareRoot())
    if norm > maxNorm && norm > 0 {
        let s = maxNorm / (norm + 1e-6)
        for p in parameters where p.grad != nil { p.grad = p.grad! * s }
    }
    return norm
}

// MARK: - Learning-rate schedules

/// Learning rate as a function of the (0-based) optimisation step.
public protocol LearningRateSchedule: Sendable {
    func learningRate(at step: Int) -> Float
}

/// The same rate at every step.
public struct ConstantSchedule: LearningRateSchedule {
    public let rate: Float
    public init(_ rate: Float) { self.rate = rate }
    public func learningRate(at step: Int) -> Float { rate }
}

/// `base · gamma^⌊step / stepSize⌋` (PyTorch `StepLR`).
public struct StepSchedule: LearningRateSchedule {
    public let base: Float, stepSize: Int, gamma: Float
    public init(base: Float, stepSize: Int, gamma: Float = 0.1) { self.base = base; self.stepSize = max(1, stepSize); self.gamma = gamma }
    public func learningRate(at step: Int) -> Float { base * powf(gamma, Float(step / stepSize)) }
}

/// Cosine annealing from `base` to `minimum` over `totalSteps`, then `minimum`.
public struct CosineSchedule: LearningRateSchedule {
    public let base: Float, totalSteps: Int, minimum: Float
    public init(base: Float, totalSteps: Int, minimum: Float = 0) { self.base = base; self.totalSteps = max(1, totalSteps); self.minimum = minimum }
    public func learningRate(at step: Int) -> Float {
        let t = Float(min(max(step, 0), totalSteps)) / Float(totalSteps)
        return minimum + (base - minimum) * 0.5 * (1 + cosf(.pi * t))
    }
}

/// Linear decay from `base` to `end` over `totalSteps`.
public struct LinearSchedule: LearningRateSchedule {
    public let base: Float, end: Float, totalSteps: Int
    public init(base: Float, end: Float = 0, totalSteps: Int) { self.base = base; self.end = end; self.totalSteps = max(1, totalSteps) }
    public func learningRate(at step: Int) -> Float {
        let t = Float(min(max(step, 0), totalSteps)) / Float(totalSteps)
        return base + (end - base) * t
    }
}

/// Linear warm-up from ~0 to the wrapped schedule's rate over `warmupSteps`, then the wrapped
/// schedule (whose step count starts after the warm-up).
public struct LinearWarmup: LearningRateSchedule {
    public let warmupSteps: Int
    public let after: any LearningRateSchedule
    public init(warmupSteps: Int, then after: any LearningRateSchedule) { self.warmupSteps = max(0, warmupSteps); self.after = after }
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return after.learningRate(at: 0) * Float(step + 1) / Float(warmupSteps) }
        return after.learningRate(at: step - warmupSteps)
    }
}
