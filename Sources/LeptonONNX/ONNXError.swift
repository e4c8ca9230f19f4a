/// Why an ONNX model could not be loaded, planned or run.
///
/// Every case prints as one line naming the file, the node (its name and operator type) or the
/// tensor concerned, so the line a program prints on stderr is enough to find the problem.
public enum ONNXError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read.
    case cannotRead(file: String, reason: String)
    /// The file is larger than ``ONNXLimits/maxFileBytes``.
    case fileTooLarge(file: String, bytes: Int, limit: Int)
    /// The bytes are not a valid ONNX protobuf (truncated, corrupt, or nested too deeply).
    case malformed(file: String, reason: String)
    /// The model imports an operator set this runtime does not implement.
    case unsupportedOpset(domain: String, version: Int)
    /// A node uses an operator (or an attribute value of one) that is not implemented.
    case unsupportedOperator(op: String, node: String, reason: String?)
    /// The graph's nodes depend on each other in a cycle; `node` is one node on it.
    case cycle(node: String)
    /// A node reads a tensor that no node, initializer or graph input produces.
    case missingInput(tensor: String, node: String)
    /// The graph has more nodes than ``ONNXLimits/maxNodes``.
    case tooManyNodes(count: Int, limit: Int)
    /// A tensor's dimensions are negative, too many, or multiply past ``ONNXLimits/maxElements``.
    case tensorTooLarge(tensor: String, dims: [Int64], limit: Int)
    /// An initializer or constant is inconsistent (data length against dims, external data, a type not read).
    case badTensor(tensor: String, reason: String)
    /// Shapes that do not fit the operator (found while inferring shapes at load).
    case shapeMismatch(node: String, op: String, reason: String)
    /// A graph input given to ``ONNXModel/plan(inputShapes:)`` or ``ONNXPlan/run(_:)`` is missing or has the wrong shape, type or values.
    case badInput(name: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(file, reason): return "cannot read \(file): \(reason)"
        case let .fileTooLarge(file, bytes, limit): return "\(file): \(bytes) bytes is more than the limit of \(limit) for an ONNX model"
        case let .malformed(file, reason): return "\(file): not a valid ONNX model: \(reason)"
        case let .unsupportedOpset(domain, version):
            return "unsupported operator set \(domain.isEmpty ? "ai.onnx" : domain) version \(version) (supported: ai.onnx 7-\(ONNXLimits.maxOpset))"
        case let .unsupportedOperator(op, node, reason):
            return "unsupported operator \(op) (node '\(node)')" + (reason.map { ": \($0)" } ?? "")
        case let .cycle(node): return "the graph has a cycle through node '\(node)'"
        case let .missingInput(tensor, node): return "node '\(node)' reads '\(tensor)', which nothing produces"
        case let .tooManyNodes(count, limit): return "the graph has \(count) nodes, more than the limit of \(limit)"
        case let .tensorTooLarge(tensor, dims, limit): return "tensor '\(tensor)' has dimensions \(dims): over the limit of \(limit) elements"
        case let .badTensor(tensor, reason): return "tensor '\(tensor)': \(reason)"
        case let .shapeMismatch(node, op, reason): return "node '\(node)' (\(op)): \(reason)"
        case let .badInput(name, reason): return "input '\(name)': \(reason)"
        }
    }
}

/// Bounds on what a model file may ask for, checked before anything of that size is allocated.
public struct ONNXLimits: Sendable {
    /// Largest file read (default 1 GiB).
    public var maxFileBytes = 1 << 30
    /// Largest element count of any one tensor, initializer or intermediate (default 2^28: 1 GiB of floats).
    public var maxElements = 1 << 28
    /// Most nodes in the graph.
    public var maxNodes = 100_000
    /// Deepest protobuf nesting (subgraphs in attributes nest messages).
    public var maxMessageDepth = 64
    /// Most axes of a tensor.
    public var maxRank = 8
    /// Newest ai.onnx operator set whose semantics the operators here follow.
    public static let maxOpset = 21

    public init() {}
    public static let standard = ONNXLimits()

    /// The element count of `dims`, or ``ONNXError/tensorTooLarge(tensor:dims:limit:)`` when an
    /// extent is negative, the rank is too high or the product passes ``maxElements`` (checked
    /// before multiplying past it, so no overflow).
    func elementCount(_ dims: [Int64], tensor: String) throws -> Int {
        guard dims.count <= maxRank else { throw ONNXError.tensorTooLarge(tensor: tensor, dims: dims, limit: maxElements) }
        var n = 1
        for d in dims {
            guard d >= 0, d <= Int64(maxElements) else { throw ONNXError.tensorTooLarge(tensor: tensor, dims: dims, limit: maxElements) }
            let (p, overflow) = n.multipliedReportingOverflow(by: Int(d))
            guard !overflow, p <= maxElements else { throw ONNXError.tensorTooLarge(tensor: tensor, dims: dims, limit: maxElements) }
            n = p
        }
        return n
    }

    func elementCount(_ shape: [Int], tensor: String) throws -> Int { try elementCount(shape.map(Int64.init), tensor: tensor) }
}
