import Foundation
import LeptonEngine

/// The element types the runtime carries: models compute in float32; integers and booleans
/// index, mask and describe shapes.
public enum ONNXElementType: String, Sendable, Equatable {
    case float, int64, bool
}

/// A small integer (or boolean, 0/1) tensor: token ids, masks and the shape arithmetic exporters
/// leave in graphs. Row-major like ``Tensor``.
public struct IntTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Int64]

    public init(shape: [Int], values: [Int64]) {
        precondition(shape.reduce(1, *) == values.count, "IntTensor shape \(shape) holds \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape; self.values = values
    }
    public init(shape: [Int], repeating v: Int64) { self.init(shape: shape, values: [Int64](repeating: v, count: shape.reduce(1, *))) }
    public var count: Int { values.count }
}

/// A tensor flowing through an ONNX graph.
public enum ONNXValue: Sendable {
    case float(Tensor)
    case int64(IntTensor)
    case bool(IntTensor)

    public var shape: [Int] {
        switch self {
        case let .float(t): return t.shape
        case let .int64(t), let .bool(t): return t.shape
        }
    }

    public var type: ONNXElementType {
        switch self {
        case .float: return .float
        case .int64: return .int64
        case .bool: return .bool
        }
    }

    /// The float tensor, or nil for an integer or boolean value.
    public var floatTensor: Tensor? { if case let .float(t) = self { return t }; return nil }

    /// The elements as integers (floats truncated), for shapes, axes and indices.
    var integers: [Int64] {
        switch self {
        case let .float(t): return t.scalars.map { $0.isFinite ? Int64(max(min($0, 9.2e18), -9.2e18)) : 0 }
        case let .int64(t), let .bool(t): return t.values
        }
    }

    /// The elements as floats.
    var floats: [Float] {
        switch self {
        case let .float(t): return t.scalars
        case let .int64(t), let .bool(t): return t.values.map { Float($0) }
        }
    }

    /// The same kind of value with `values` (as integers) under `shape`: used by the layout
    /// operators, which move elements without looking at them.
    static func make(_ type: ONNXElementType, shape: [Int], ints: [Int64]) -> ONNXValue {
        switch type {
        case .float: return .float(Tensor(shape: shape, scalars: ints.map { Float($0) }))
        case .int64: return .int64(IntTensor(shape: shape, values: ints))
        case .bool: return .bool(IntTensor(shape: shape, values: ints))
        }
    }

    /// This value converted to `type` (ONNX `Cast`: to bool is `x != 0`; float to int truncates).
    func cast(to target: ONNXElementType) -> ONNXValue {
        if target == type { return self }
        switch target {
        case .float: return .float(Tensor(shape: shape, scalars: floats))
        case .int64:
            if case let .float(t) = self { return .int64(IntTensor(shape: shape, values: t.scalars.map { $0.isFinite ? Int64(max(min($0, 9.2e18), -9.2e18)) : 0 })) }
            return .int64(IntTensor(shape: shape, values: integers))
        case .bool:
            if case let .float(t) = self { return .bool(IntTensor(shape: shape, values: t.scalars.map { $0 != 0 ? 1 : 0 })) }
            return .bool(IntTensor(shape: shape, values: integers.map { $0 != 0 ? 1 : 0 }))
        }
    }
}

// MARK: - Layout of any element type

/// Element movement shared by every element type: an index map computed once, applied to floats
/// through the engine's tensors and to integers directly. (Float tensors on the hot path take
/// the engine's own kernels — permute, slice, concat, gather — in the operators; this is for the
/// small integer and boolean tensors of masks and shape arithmetic.)
enum Layout {
    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// For each element of the broadcast of `shapes` to `out`, its flat index in each input.
    static func broadcastIndices(_ shape: [Int], to out: [Int]) -> [Int] {
        let r = out.count, pad = r - shape.count
        var src = [Int](repeating: 0, count: r)
        var acc = 1
        for i in stride(from: r - 1, through: pad, by: -1) {
            let n = shape[i - pad]
            src[i] = n == 1 ? 0 : acc
            acc *= n
        }
        // A broadcast axis has stride 0: the walk repeats its element.
        return broadcastLike(out, src)
    }

    /// Gathers `value`'s elements at flat `indices` into a value of `shape`.
    static func take(_ value: ONNXValue, _ indices: [Int], shape: [Int]) -> ONNXValue {
        switch value {
        case let .float(t):
            let src = t.scalars
            return .float(Tensor(shape: shape, scalars: indices.map { src[$0] }))
        case let .int64(t): return .int64(IntTensor(shape: shape, values: indices.map { t.values[$0] }))
        case let .bool(t): return .bool(IntTensor(shape: shape, values: indices.map { t.values[$0] }))
        }
    }

    /// Flat source indices of a transpose of `shape` by `perm`.
    static func permutation(_ shape: [Int], _ perm: [Int]) -> [Int] {
        let st = strides(shape)
        let outShape = perm.map { shape[$0] }
        let permuted = perm.map { st[$0] }
        return broadcastLike(outShape, permuted)
    }

    /// Walks `shape` in row-major order, returning `Σ index[i]·stride[i]` for each element.
    static func broadcastLike(_ shape: [Int], _ stride: [Int]) -> [Int] {
        let total = shape.reduce(1, *), r = shape.count
        var result = [Int](repeating: 0, count: total)
        guard total > 0 else { return result }
        var idx = [Int](repeating: 0, count: r), off = 0
        for k in 0..<total {
            result[k] = off
            var ax = r - 1
            while ax >= 0 {
                idx[ax] += 1; off += stride[ax]
                if idx[ax] < shape[ax] { break }
                off -= stride[ax] * idx[ax]; idx[ax] = 0
                ax -= 1
            }
        }
        return result
    }
}
