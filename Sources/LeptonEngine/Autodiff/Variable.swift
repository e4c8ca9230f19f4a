import Foundation

/// Reverse-mode automatic differentiation for training.
///
/// ## Overview
///
/// A ``Variable`` wraps a ``Tensor`` value. Operations on variables (`+`, `matmul`, `relu()`,
/// `conv2d`, `crossEntropy`, …) compute their value immediately *and* record how to send a
/// gradient back to their inputs. Calling ``Variable/backward(_:)`` on a scalar loss walks that
/// record in reverse topological order and accumulates `∂loss/∂x` into ``Variable/grad`` of every
/// variable created with `requiresGrad: true` (the parameters). The record is the object graph
/// itself: dropping the loss frees it, so every training step builds a fresh graph.
///
/// Layers (``Linear``, ``Conv2d``, ``BatchNorm``, ``LayerNorm``, ``Embedding``, ``Dropout``,
/// ``MultiHeadAttention``, ``Sequential``) are classes conforming to ``Module``; their parameters
/// are named (`"0.weight"`, `"conv1.bias"`, …) so a model saves and loads strictly by name with
/// ``Module/stateDict()`` / ``Module/loadStateDict(_:ignoring:)``. Optimizers (``SGD``, ``Adam``,
/// ``AdamW``) update the parameters from their gradients; ``clipGradNorm(_:maxNorm:)`` and the
/// ``LearningRateSchedule`` types (``StepSchedule``, ``CosineSchedule``, ``LinearWarmup``) go with them.
///
/// ```swift
/// var rng = SeededGenerator(seed: 42)
/// let model = Sequential([
///     ("0", Linear(2, 16, rng: &rng)), ("1", ReLU()), ("2", Linear(16, 2, rng: &rng)),
/// ])
/// let opt = Adam(model.parameters(), learningRate: 1e-2)
/// for _ in 0..<200 {
///     let logits = model(Variable(xBatch))            // xBatch: Tensor [n, 2]
///     let loss = crossEntropy(logits, targets: yBatch) // yBatch: [Int]
///     opt.zeroGrad()
///     loss.backward()
///     clipGradNorm(model.parameters(), maxNorm: 5)
///     opt.step()
/// }
/// model.setTraining(false)                            // dropout off, batch norm uses running stats
/// let probs = model(Variable(xTest)).value.softmax()
/// try model.loadStateDict(model.stateDict())          // strict: names and shapes must match
/// ```
///
/// Inference code that needs no gradients can call the ``Tensor`` kernels directly, or run
/// variables inside ``withoutGradients(_:)`` so no graph is recorded.
///
/// Variables are reference types used from one thread at a time (a training loop); the
/// kernels underneath still use both cores.
public final class Variable {
    /// The current value (parameters are updated in place by optimizers).
    public var value: Tensor
    /// Accumulated gradient of the last ``backward(_:)`` (nil until something flows here).
    public var grad: Tensor?
    /// True for parameters and for every result that depends on one (while recording).
    public let requiresGrad: Bool
    /// Optional label, for error messages and debugging.
    public var name: String?

    let parents: [Variable]
    let backwardFn: ((Tensor) -> Void)?

    /// A leaf: an input (`requiresGrad: false`) or a trainable parameter (`requiresGrad: true`).
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
        parents = []
        backwardFn = nil
    }

    init(value: Tensor, parents: [Variable], backward: ((Tensor) -> Void)?) {
        self.value = value
        requiresGrad = backward != nil
        self.parents = parents
        backwardFn = backward
    }

    /// The result of an operation: records `backward` (output gradient → inputs) only when an
    /// input needs a gradient and recording is on.
    public static func result(_ value: Tensor, _ inputs: [Variable], backward: @escaping (Tensor) -> Void) -> Variable {
        if GradientMode.enabled && inputs.contains(where: { $0.requiresGrad }) {
            return Variable(value: value, parents: inputs, backward: backward)
        }
        return Variable(value: value, parents: [], backward: nil)
    }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }
    public var count: Int { value.count }

    /// Adds `g` to ``grad`` (the adjoint of fan-out). Does nothing for constants.
    public func accumulate(_ g: Tensor) {
        guard requiresGrad else { return }
        precondition(g.count == value.count, "gradient \(g.shape) for value \(value.shape)\(name.map { " (\($0))" } ?? "")")
        if grad == nil { grad = g.shape == value.shape ? g : g.reshaped(value.shape) } else { grad!.addScaled(g) }
    }

    /// Back-propagates from this variable. `seed` is `∂loss/∂self`; it defaults to 1, so the
    /// variable must then be a scalar (one element). Intermediate gradients are released as soon
    /// as they have been passed on; leaves keep theirs (accumulating across calls until zeroed).
    public func backward(_ seed: Tensor? = nil) {
        precondition(seed != nil || value.count == 1, "backward() without a seed needs a scalar, got \(value.shape)")
        guard requiresGrad else { return }
        // Iterative DFS post-order = topological order (inputs before results).
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            if !visited.insert(ObjectIdentifier(node)).inserted { continue }
            stack.append((node, true))
            for p in node.parents where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) { stack.append((p, false)) }
        }
        accumulate(seed ?? Tensor(shape: value.shape, repeating: 1))
        for node in order.reversed() {
            guard let fn = node.backwardFn, let g = node.grad else { continue }
            fn(g)
            node.grad = nil
        }
    }

    /// Clears ``grad``.
    public func zeroGrad() { grad = nil }

    /// The same value cut off from the graph (a constant).
    public func detached() -> Variable { Variable(value) }
}

/// Whether operations record a graph. Off inside ``withoutGradients(_:)``.
///
/// Task-local (per thread outside Swift tasks): one thread predicting with gradients off never
/// turns them off for another thread that is training, and a loaded model can serve many
/// threads at once. Read-only from outside: switch it with ``withoutGradients(_:)``.
public enum GradientMode {
    @TaskLocal static var recording = true
    /// True when operations record a graph on the calling thread or task.
    public static var enabled: Bool { recording }
}

/// Runs `body` without recording gradients (evaluation, inference), on this thread or task only.
@discardableResult
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$recording.withValue(false) { try body() }
}
