import Foundation

/// The floating-point type a trained model's weights are saved in (`--save-dtype`).
///
/// Float16 and bfloat16 halve a checkpoint; loading converts them back to Float32 (F16C for
/// float16, a shift for bfloat16), so a model computes in Float32 either way and only the rounding
/// of each stored weight differs: relative error ≤ 2⁻¹¹ for float16 (in its normal range,
/// 6.1e-5…65504), ≤ 2⁻⁸ for bfloat16 (Float32's whole range).
public enum SaveDType: String, CaseIterable, Sendable, Codable {
    case float32, float16, bfloat16

    /// The safetensors dtype it is written as.
    public var weightDType: WeightDType {
        switch self {
        case .float32: return .f32
        case .float16: return .f16
        case .bfloat16: return .bf16
        }
    }

    /// Largest finite magnitude the type holds; a finite weight above it (after rounding) is
    /// refused rather than stored as infinity.
    public var largestFinite: Float {
        switch self {
        case .float32: return .greatestFiniteMagnitude
        case .float16: return 65504
        case .bfloat16: return Float(bitPattern: 0x7F7F_0000)
        }
    }
}

/// A finite weight that the chosen save type cannot hold (it would round to ±infinity).
public struct WeightRangeError: Error, CustomStringConvertible, Equatable {
    public let weight: String
    /// Flat index of the first such element, and its value.
    public let index: Int
    public let value: Float
    public let dtype: SaveDType

    public var description: String {
        "weight '\(weight)' element \(index) = \(value) is outside \(dtype.rawValue)'s range (largest \(dtype.largestFinite)); "
            + "save it as \(dtype == .float16 ? "bfloat16 or float32" : "float32")"
    }
}

extension WeightEntry {
    /// `tensor`, named `name`, stored as `dtype` (round to nearest even). NaN and ±infinity are
    /// kept as they are (a loader refuses them by name); a finite value that would round to
    /// infinity throws ``WeightRangeError`` naming the weight instead of being stored as one.
    public init(saving tensor: Tensor, as dtype: SaveDType, name: String) throws {
        self.init(encoding: tensor, as: dtype.weightDType)
        guard dtype != .float32, let i = firstNonFiniteIndex() else { return }
        // Rare path: find the first element that was finite before rounding and is not after.
        let source = tensor.scalars
        let stored = floatTensor().scalars
        for j in i..<source.count where source[j].isFinite && !stored[j].isFinite {
            throw WeightRangeError(weight: name, index: j, value: source[j], dtype: dtype)
        }
    }
}

extension Safetensors {
    /// Float32 tensors as entries stored in `dtype`; throws ``WeightRangeError`` for the first
    /// weight (in name order) holding a finite value `dtype` cannot represent.
    public static func entries(_ tensors: [String: Tensor], saving dtype: SaveDType) throws -> [String: WeightEntry] {
        var out: [String: WeightEntry] = [:]
        for name in tensors.keys.sorted() { out[name] = try WeightEntry(saving: tensors[name]!, as: dtype, name: name) }
        return out
    }

    /// Writes Float32 tensors stored as `dtype`, and the `exact` entries as they are whatever
    /// `dtype` is (indices, split thresholds: values that must not be rounded), to `url`
    /// atomically. A value out of `dtype`'s range is a ``WeightFormatError/cannotWrite(file:reason:)``
    /// naming the file and the weight, and nothing is written.
    public static func write(tensors: [String: Tensor], saving dtype: SaveDType, keeping exact: [String: WeightEntry] = [:],
                             metadata: [String: String] = [:], to url: URL) throws {
        var weights = exact
        do { weights.merge(try entries(tensors, saving: dtype)) { kept, _ in kept } } catch let e as WeightRangeError {
            throw WeightFormatError.cannotWrite(file: url.path, reason: e.description)
        }
        try write(weights, metadata: metadata, to: url)
    }
}
