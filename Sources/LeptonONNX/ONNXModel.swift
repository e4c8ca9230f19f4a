import Foundation
import LeptonEngine
import SwiftProtobuf

/// A graph input the caller feeds: its name, element type and extents (nil where the file leaves
/// an axis symbolic, e.g. batch or sequence length).
public struct ONNXTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: ONNXElementType
    public let dims: [Int?]
}

/// An attribute of a node, as read from the file.
enum ONNXAttribute: Sendable {
    case float(Float), int(Int64), string(String), tensor(ONNXValue)
    case floats([Float]), ints([Int64]), strings([String])
    /// A subgraph or another kind no operator here reads.
    case unsupported(String)
}

/// One node of the graph: what it computes and from which tensors (by name; "" = an optional
/// input left out).
struct ONNXNode: Sendable {
    let name: String
    let opType: String
    let inputs: [String]
    let outputs: [String]
    let attributes: [String: ONNXAttribute]
}

/// An ONNX model read from a file: its nodes in a topological order (cycles refused), its
/// initializers as constants, its inputs and outputs.
///
/// The graph is static once the shapes of its inputs are known: ``plan(inputShapes:)`` folds every
/// part that depends only on constants (the `Shape`→`Gather`→`Concat`→`Reshape` chains exporters
/// leave), infers and checks every tensor's shape, fuses Conv+BatchNormalization and MatMul+Add,
/// and gives an ``ONNXPlan`` that runs on the engine's kernels. Plans are cached per input shape,
/// so one model serves many shapes (e.g. sentence lengths).
///
/// Immutable after loading apart from that cache (behind a lock): any number of threads may plan
/// and run one model at once.
public final class ONNXModel: @unchecked Sendable {
    /// The file it was read from (for messages).
    public let file: String
    /// Inputs the caller feeds (graph inputs that no initializer fills).
    public let inputs: [ONNXTensorInfo]
    /// Graph output names, in the file's order.
    public let outputs: [String]
    /// The ai.onnx operator set version the file imports.
    public let opset: Int
    public let limits: ONNXLimits
    let nodes: [ONNXNode]
    let initializers: [String: ONNXValue]
    private let lock = NSLock()
    private var plans: [String: ONNXPlan] = [:]

    /// Reads a model file (size checked before reading).
    public convenience init(contentsOf url: URL, limits: ONNXLimits = .standard) throws {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
            throw ONNXError.cannotRead(file: url.path, reason: FileManager.default.fileExists(atPath: url.path) ? "not readable" : "no such file")
        }
        guard size <= limits.maxFileBytes else { throw ONNXError.fileTooLarge(file: url.path, bytes: size, limit: limits.maxFileBytes) }
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw ONNXError.cannotRead(file: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(data: data, file: url.path, limits: limits)
    }

    /// Parses a model from its serialized bytes; `file` names it in messages.
    public init(data: Data, file: String, limits: ONNXLimits = .standard) throws {
        self.file = file
        self.limits = limits
        guard data.count <= limits.maxFileBytes else { throw ONNXError.fileTooLarge(file: file, bytes: data.count, limit: limits.maxFileBytes) }
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = limits.maxMessageDepth
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data, options: options) } catch {
            throw ONNXError.malformed(file: file, reason: "\(error)")
        }
        guard proto.hasGraph else { throw ONNXError.malformed(file: file, reason: "no graph") }
        var opset: Int?
        for imp in proto.opsetImport where imp.domain.isEmpty || imp.domain == "ai.onnx" {
            guard imp.version >= 7 && imp.version <= Int64(ONNXLimits.maxOpset) else {
                throw ONNXError.unsupportedOpset(domain: imp.domain, version: Int(clamping: imp.version))
            }
            opset = Int(imp.version)
        }
        guard let opset else { throw ONNXError.malformed(file: file, reason: "no ai.onnx operator set imported") }
        self.opset = opset
        let graph = proto.graph
        guard graph.node.count <= limits.maxNodes else { throw ONNXError.tooManyNodes(count: graph.node.count, limit: limits.maxNodes) }

        var constants: [String: ONNXValue] = [:]
        for t in graph.initializer { constants[t.name] = try Self.value(of: t, limits: limits) }
        initializers = constants
        var inputs: [ONNXTensorInfo] = []
        for v in graph.input where constants[v.name] == nil {
            let tt = v.type.tensorType
            let type = try Self.elementType(tt.elemType, tensor: v.name)
            let dims: [Int?] = tt.shape.dim.map { d in
                if case let .dimValue(n)? = d.value, n >= 0 { return Int(clamping: n) }
                return nil
            }
            inputs.append(ONNXTensorInfo(name: v.name, type: type, dims: dims))
        }
        self.inputs = inputs
        outputs = graph.output.map(\.name)
        let parsed = try graph.node.enumerated().map { i, n in try Self.node(n, index: i, limits: limits) }
        nodes = try Self.topologicalOrder(parsed, available: Set(constants.keys).union(inputs.map(\.name)), outputs: outputs)
    }

    // MARK: Plans

    /// The static plan for inputs of these shapes (every input named), built once per shape set.
    public func plan(inputShapes: [String: [Int]]) throws -> ONNXPlan {
        for name in inputShapes.keys where !inputs.contains(where: { $0.name == name }) {
            throw ONNXError.badInput(name: name, reason: "the model has no such input (inputs: \(inputs.map(\.name).joined(separator: ", ")))")
        }
        let key = inputs.map { "\($0.name)=\(inputShapes[$0.name] ?? [])" }.joined(separator: ";")
        lock.lock()
        let cached = plans[key]
        lock.unlock()
        if let cached { return cached }
        let plan = try ONNXPlan(model: self, inputShapes: inputShapes, fastConvolutions: ONNXPlan.fastConvolutionsByDefault)
        lock.lock()
        if plans.count > 64 { plans.removeAll() }   // bounded: a new length per call must not grow it forever
        plans[key] = plan
        lock.unlock()
        return plan
    }

    /// Runs the model on `inputs` (by name) and returns every graph output by name.
    public func run(_ inputs: [String: ONNXValue]) throws -> [String: ONNXValue] {
        try plan(inputShapes: inputs.mapValues(\.shape)).run(inputs)
    }

    // MARK: Reading the protobuf

    static func elementType(_ code: Int32, tensor: String) throws -> ONNXElementType {
        switch code {
        case 1: return .float
        case 6, 7: return .int64
        case 9: return .bool
        default: throw ONNXError.badTensor(tensor: tensor, reason: "element type \(code) is not supported (float, int32, int64, bool are)")
        }
    }

    /// An initializer or constant as a value: dims checked against the limits before allocating,
    /// the data's length against the dims.
    static func value(of t: Onnx_TensorProto, limits: ONNXLimits) throws -> ONNXValue {
        let name = t.name.isEmpty ? "(unnamed)" : t.name
        let count = try limits.elementCount(t.dims, tensor: name)
        let shape = t.dims.map { Int($0) }
        if t.hasDataLocation && t.dataLocation == .external || !t.externalData.isEmpty {
            throw ONNXError.badTensor(tensor: name, reason: "external data files are not read (save the model as one file)")
        }
        func checkCount(_ n: Int, _ what: String) throws {
            guard n == count else { throw ONNXError.badTensor(tensor: name, reason: "\(what) holds \(n) elements, dims \(t.dims) need \(count)") }
        }
        let raw = t.hasRawData ? t.rawData : Data()
        switch t.dataType {
        case 1:
            if t.hasRawData {
                try checkCount(raw.count / 4, "raw data"); guard raw.count % 4 == 0 else { throw ONNXError.badTensor(tensor: name, reason: "raw data length \(raw.count) is not a multiple of 4") }
                return .float(Tensor(shape: shape) { out in raw.withUnsafeBytes { b in
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                } })
            }
            try checkCount(t.floatData.count, "float_data")
            return .float(Tensor(shape: shape, scalars: t.floatData))
        case 7:
            if t.hasRawData {
                try checkCount(raw.count / 8, "raw data"); guard raw.count % 8 == 0 else { throw ONNXError.badTensor(tensor: name, reason: "raw data length \(raw.count) is not a multiple of 8") }
                let v = raw.withUnsafeBytes { b in (0..<count).map { Int64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) } }
                return .int64(IntTensor(shape: shape, values: v))
            }
            try checkCount(t.int64Data.count, "int64_data")
            return .int64(IntTensor(shape: shape, values: t.int64Data))
        case 6, 9:
            let width = t.dataType == 6 ? 4 : 1
            var v: [Int64]
            if t.hasRawData {
                try checkCount(raw.count / width, "raw data"); guard raw.count % width == 0 else { throw ONNXError.badTensor(tensor: name, reason: "raw data length \(raw.count) is not a multiple of \(width)") }
                v = raw.withUnsafeBytes { b in (0..<count).map {
                    width == 4 ? Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) : Int64(b[$0])
                } }
            } else {
                try checkCount(t.int32Data.count, "int32_data")
                v = t.int32Data.map { Int64($0) }
            }
            if t.dataType == 9 { v = v.map { $0 != 0 ? 1 : 0 }; return .bool(IntTensor(shape: shape, values: v)) }
            return .int64(IntTensor(shape: shape, values: v))
        default:
            throw ONNXError.badTensor(tensor: name, reason: "element type \(t.dataType) is not supported (float, int32, int64, bool are)")
        }
    }

    static func node(_ n: Onnx_NodeProto, index: Int, limits: ONNXLimits) throws -> ONNXNode {
        let name = n.name.isEmpty ? "\(n.opType)_\(index)" : n.name
        guard n.domain.isEmpty || n.domain == "ai.onnx" else {
            throw ONNXError.unsupportedOperator(op: "\(n.domain)::\(n.opType)", node: name, reason: "only the ai.onnx domain is implemented")
        }
        var attributes: [String: ONNXAttribute] = [:]
        for a in n.attribute {
            switch a.type {
            case .float: attributes[a.name] = .float(a.f)
            case .int: attributes[a.name] = .int(a.i)
            case .string: attributes[a.name] = .string(String(decoding: a.s, as: UTF8.self))
            case .tensor: attributes[a.name] = .tensor(try value(of: a.t, limits: limits))
            case .floats: attributes[a.name] = .floats(a.floats)
            case .ints: attributes[a.name] = .ints(a.ints)
            case .strings: attributes[a.name] = .strings(a.strings.map { String(decoding: $0, as: UTF8.self) })
            default:
                // Attributes written without a type (old exporters) by which field is set.
                if a.hasF { attributes[a.name] = .float(a.f) } else if a.hasI { attributes[a.name] = .int(a.i) }
                else if !a.ints.isEmpty { attributes[a.name] = .ints(a.ints) } else if !a.floats.isEmpty { attributes[a.name] = .floats(a.floats) }
                else { attributes[a.name] = .unsupported("\(a.type)") }
            }
        }
        return ONNXNode(name: name, opType: n.opType, inputs: n.input, outputs: n.output, attributes: attributes)
    }

    /// Kahn's algorithm: a node runs after every node producing its inputs. A node left over is on
    /// a cycle; an input nothing produces is refused by name.
    static func topologicalOrder(_ nodes: [ONNXNode], available: Set<String>, outputs: [String]) throws -> [ONNXNode] {
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.outputs where !o.isEmpty {
                guard producer[o] == nil, !available.contains(o) else {
                    throw ONNXError.shapeMismatch(node: n.name, op: n.opType, reason: "output '\(o)' is written twice")
                }
                producer[o] = i
            }
        }
        var pending = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for input in n.inputs where !input.isEmpty && !available.contains(input) {
                guard let p = producer[input] else { throw ONNXError.missingInput(tensor: input, node: n.name) }
                pending[i] += 1
                consumers[p].append(i)
            }
        }
        for o in outputs where producer[o] == nil && !available.contains(o) {
            throw ONNXError.missingInput(tensor: o, node: "graph output")
        }
        // Ready nodes in file order: a graph already in order keeps it.
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }.reversed().map { $0 }
        var order: [ONNXNode] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.popLast() {
            order.append(nodes[i])
            for c in consumers[i].reversed() {
                pending[c] -= 1
                if pending[c] == 0 { ready.append(c) }
            }
        }
        if order.count < nodes.count, let stuck = pending.firstIndex(where: { $0 > 0 }) {
            throw ONNXError.cycle(node: nodes[stuck].name)
        }
        return order
    }
}
