import Foundation
import LeptonEngine

/// What an operator's compiler sees: the node, its inputs' shapes, types and (when folded) values.
struct OpContext {
    let node: ONNXNode
    let inputs: [PlanSymbol?]
    let limits: ONNXLimits
    let opset: Int

    var op: String { node.opType }

    /// A shape error naming this node.
    func mismatch(_ reason: String) -> ONNXError { .shapeMismatch(node: node.name, op: op, reason: reason) }
    /// An unsupported attribute value or form of this operator.
    func unsupported(_ reason: String) -> ONNXError { .unsupportedOperator(op: op, node: node.name, reason: reason) }

    /// Required input `i`.
    func input(_ i: Int) throws -> PlanSymbol {
        guard i < inputs.count, let s = inputs[i] else { throw mismatch("input \(i) is required") }
        return s
    }
    /// Optional input `i` (nil when absent).
    func optional(_ i: Int) -> PlanSymbol? { i < inputs.count ? inputs[i] : nil }
    /// Input `i`, which must be known at load (shape arithmetic, weights of fused forms).
    func constant(_ i: Int, _ what: String) throws -> ONNXValue {
        let s = try input(i)
        guard let c = s.constant else { throw unsupported("\(what) (input \(i)) must be a constant or computable from the input shapes") }
        return c
    }
    func float(_ i: Int) throws -> PlanSymbol {
        let s = try input(i)
        guard s.type == .float else { throw mismatch("input \(i) is \(s.type.rawValue), float expected") }
        return s
    }

    func int(_ name: String, _ fallback: Int64) -> Int64 {
        switch node.attributes[name] {
        case let .int(v)?: return v
        case let .float(v)?: return Int64(v)
        default: return fallback
        }
    }
    func float(_ name: String, _ fallback: Float) -> Float {
        switch node.attributes[name] {
        case let .float(v)?: return v
        case let .int(v)?: return Float(v)
        default: return fallback
        }
    }
    func ints(_ name: String) -> [Int64]? {
        if case let .ints(v)? = node.attributes[name] { return v }
        return nil
    }
    func string(_ name: String, _ fallback: String) -> String {
        if case let .string(v)? = node.attributes[name] { return v }
        return fallback
    }

    /// `axis` (negative counts from the end) as an index into `rank` axes.
    func axis(_ a: Int64, rank: Int) throws -> Int {
        let r = a < 0 ? Int(a) + rank : Int(clamping: a)
        guard r >= 0 && r < rank else { throw mismatch("axis \(a) is out of range for rank \(rank)") }
        return r
    }

    /// The element count of `shape`, refused past the limits.
    func checked(_ shape: [Int]) throws -> [Int] {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw mismatch("negative extent in \(shape)") }
        _ = try limits.elementCount(shape, tensor: node.outputs.first ?? node.name)
        return shape
    }
}

/// The operator set: each entry compiles a node into a ``Kernel`` for known input shapes (its
/// outputs' shapes checked there) on the engine's kernels. `Sources/LeptonONNX/README.md` lists them.
enum Operators {
    typealias Compiler = @Sendable (OpContext) throws -> Kernel

    static let table: [String: Compiler] = {
        var t: [String: Compiler] = [:]
        registerElementwise(&t)
        registerLayout(&t)
        registerNN(&t)
        registerRecurrent(&t)
        return t
    }()

    /// The names of the implemented operators, sorted.
    static var names: [String] { table.keys.sorted() }

    /// A kernel with one output.
    static func single(_ shape: [Int], _ type: ONNXElementType = .float,
                       variable: (@Sendable ([Variable?]) throws -> Variable)? = nil,
                       _ run: @escaping @Sendable ([ONNXValue?]) throws -> ONNXValue) -> Kernel {
        Kernel(outputs: [(shape, type)], run: { [try run($0)] }, variable: variable)
    }
}

/// The float tensor of an argument the planner typed as float.
@inline(__always)
func floatArg(_ args: [ONNXValue?], _ i: Int) -> Tensor {
    guard i < args.count, case let .float(t)? = args[i] else { preconditionFailure("planned float input \(i) missing") }
    return t
}

/// The variable of an argument Grad-CAM passes (a float input).
@inline(__always)
func variableArg(_ args: [Variable?], _ i: Int) throws -> Variable {
    guard i < args.count, let v = args[i] else { throw ONNXError.badInput(name: "input \(i)", reason: "no gradient path through a non-float input") }
    return v
}

/// The operators ``ONNXModel`` runs.
public enum ONNXOperatorSet {
    /// Every operator type the runtime implements (ai.onnx domain), sorted.
    public static var supported: [String] { Operators.names }
}
