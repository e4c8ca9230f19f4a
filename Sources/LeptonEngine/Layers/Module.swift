import Foundation

/// Why a state dictionary does not fit a model (strict loading by name).
public enum ModuleError: Error, CustomStringConvertible, Equatable {
    /// The model has a weight the state does not provide.
    case missingWeight(String)
    /// The state provides a weight the model does not have.
    case unusedWeight(String)
    /// Same name, different shape.
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missingWeight(let n): return "missing weight '\(n)'"
        case .unusedWeight(let n): return "unused weight '\(n)' (the model has no such parameter)"
        case .shapeMismatch(let n, let e, let f): return "weight '\(n)' has shape \(f), the model expects \(e)"
        }
    }
}

/// A trainable component with named parameters (PyTorch `nn.Module` style).
///
/// Conformers list their own parameters, buffers (non-trained state such as batch-norm running
/// statistics) and sub-modules; the extension methods walk the tree and build dotted names
/// (`"encoder.0.conv1.weight"`). All requirements except ``isTraining`` have empty defaults.
public protocol Module: AnyObject {
    /// Named direct sub-modules, in a stable order.
    var children: [(String, any Module)] { get }
    /// This module's own trainable parameters (not its children's).
    var ownParameters: [(String, Variable)] { get }
    /// This module's own non-trainable state saved with the weights.
    var ownBuffers: [(String, Variable)] { get }
    /// Training mode (dropout active, batch norm on batch statistics); set the tree with ``setTraining(_:)``.
    var isTraining: Bool { get set }
}

extension Module {
    public var children: [(String, any Module)] { [] }
    public var ownParameters: [(String, Variable)] { [] }
    public var ownBuffers: [(String, Variable)] { [] }

    /// Every trainable parameter in the tree with its dotted name.
    public func namedParameters() -> [(String, Variable)] {
        var out = ownParameters
        for (name, child) in children { out += child.namedParameters().map { ("\(name).\($0.0)", $0.1) } }
        return out
    }

    /// Every buffer in the tree with its dotted name.
    public func namedBuffers() -> [(String, Variable)] {
        var out = ownBuffers
        for (name, child) in children { out += child.namedBuffers().map { ("\(name).\($0.0)", $0.1) } }
        return out
    }

    /// The trainable parameters (for an optimizer).
    public func parameters() -> [Variable] { namedParameters().map(\.1) }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Sets training mode on this module and every descendant.
    public func setTraining(_ on: Bool) {
        isTraining = on
        for (_, child) in children { child.setTraining(on) }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters() { p.zeroGrad() } }

    /// Parameters and buffers by dotted name (what a checkpoint stores).
    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (n, v) in namedParameters() + namedBuffers() { d[n] = v.value }
        return d
    }

    /// Loads parameters and buffers strictly by name: every model weight must be present with
    /// its exact shape, and every entry of `state` must be used (unless `ignoring` says to skip it).
    /// Nothing is modified when an error is thrown.
    public func loadStateDict(_ state: [String: Tensor], ignoring: (String) -> Bool = { _ in false }) throws(ModuleError) {
        let targets = namedParameters() + namedBuffers()
        var used = Set<String>()
        for (name, v) in targets {
            guard let t = state[name] else { throw .missingWeight(name) }
            guard t.shape == v.shape else { throw .shapeMismatch(name: name, expected: v.shape, found: t.shape) }
            used.insert(name)
        }
        if let extra = state.keys.sorted().first(where: { !used.contains($0) && !ignoring($0) }) { throw .unusedWeight(extra) }
        for (name, v) in targets { v.value = state[name]! }
    }
}

/// A module mapping one variable to another (so it can sit in a ``Sequential``).
public protocol Layer: Module {
    func callAsFunction(_ x: Variable) -> Variable
}

/// Layers applied in order; children are named `"0"`, `"1"`, … unless names are given.
public final class Sequential: Layer {
    public let layers: [(String, any Layer)]
    public var isTraining = true

    public init(_ layers: [any Layer]) { self.layers = layers.enumerated().map { ("\($0.offset)", $0.element) } }
    public init(_ named: [(String, any Layer)]) { layers = named }

    public var children: [(String, any Module)] { layers.map { ($0.0, $0.1 as any Module) } }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = x
        for (_, l) in layers { h = l(h) }
        return h
    }
}

/// max(x, 0) as a layer.
public final class ReLU: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.relu() }
}

/// Exact GELU as a layer.
public final class GELU: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.gelu() }
}

/// tanh as a layer.
public final class Tanh: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.tanh() }
}

/// Sigmoid as a layer.
public final class Sigmoid: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.sigmoid() }
}

/// `[N, ...]` → `[N, rest]`.
public final class Flatten: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.flattened() }
}

/// Max pooling as a layer.
public final class MaxPool2d: Layer {
    public var isTraining = true
    public let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
    }
    public func callAsFunction(_ x: Variable) -> Variable { x.maxPool2d(kernel: kernel, stride: stride, padding: padding) }
}

/// Average pooling as a layer.
public final class AvgPool2d: Layer {
    public var isTraining = true
    public let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
    }
    public func callAsFunction(_ x: Variable) -> Variable { x.avgPool2d(kernel: kernel, stride: stride, padding: padding) }
}

/// `[N, C, H, W]` → `[N, C]` by averaging.
public final class GlobalAvgPool2d: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.globalAvgPool2d() }
}
