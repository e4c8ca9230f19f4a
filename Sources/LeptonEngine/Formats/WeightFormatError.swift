/// Why a weight file could not be read or written, or why its weights do not fit a model.
///
/// Every case names the file and, where there is one, the weight, so the one line a program
/// prints on stderr is enough to find the problem.
public enum WeightFormatError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case cannotRead(file: String, reason: String)
    /// The file could not be written.
    case cannotWrite(file: String, reason: String)
    /// The file's header is malformed (bad length, not JSON, bad offsets…).
    case invalidHeader(file: String, reason: String)
    /// A container (an `.npz` archive, an `.npy` array) is malformed.
    case malformed(file: String, reason: String)
    /// One tensor's description is malformed (bad shape, byte size ≠ dtype × shape…).
    case invalidTensor(file: String, weight: String, reason: String)
    /// A dtype this reader does not know, or a conversion the caller asked for that cannot be done.
    case unsupportedDType(file: String, weight: String, dtype: String)
    /// The model asked for a weight the file does not have.
    case missingWeight(file: String, weight: String)
    /// The model asked for a weight of one shape and the file has another.
    case shapeMismatch(file: String, weight: String, expected: [Int], found: [Int])
    /// The model finished loading and these weights of the file were never used.
    case unusedWeights(file: String, weights: [String])
    /// A float weight holds NaN or ±inf (element `index`, flat): the file is damaged.
    case nonFinite(file: String, weight: String, index: Int)

    public var description: String {
        switch self {
        case let .cannotRead(file, reason): return "cannot read \(file): \(reason)"
        case let .cannotWrite(file, reason): return "cannot write \(file): \(reason)"
        case let .invalidHeader(file, reason): return "\(file): invalid header: \(reason)"
        case let .malformed(file, reason): return "\(file): \(reason)"
        case let .invalidTensor(file, weight, reason): return "\(file): weight '\(weight)': \(reason)"
        case let .unsupportedDType(file, weight, dtype): return "\(file): weight '\(weight)': unsupported dtype \(dtype)"
        case let .missingWeight(file, weight): return "\(file): missing weight '\(weight)'"
        case let .shapeMismatch(file, weight, expected, found):
            return "\(file): weight '\(weight)' has shape \(found), the model expects \(expected)"
        case let .nonFinite(file, weight, index):
            return "\(file): weight '\(weight)' holds a non-finite value (NaN or inf) at element \(index)"
        case let .unusedWeights(file, weights):
            let shown = weights.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            return "\(file): \(weights.count) unused weight\(weights.count == 1 ? "" : "s"): \(shown)\(weights.count > 5 ? ", …" : "")"
        }
    }
}
