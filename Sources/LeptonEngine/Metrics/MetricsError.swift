/// Why a metric could not be computed from the arrays it was given.
public enum MetricsError: Error, CustomStringConvertible, Equatable {
    /// Two arrays that must pair up element by element differ in length.
    case lengthMismatch(what: String, expected: Int, found: Int)
    /// A label outside `0..<classes` (or not 0/1 for a binary metric).
    case invalidLabel(what: String, index: Int, value: Int)
    /// The metric is undefined for this input (e.g. ROC AUC with only one class present).
    case undefined(metric: String, reason: String)
    /// A parameter out of range (e.g. zero bins).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .lengthMismatch(what, expected, found): return "\(what): expected \(expected) values, found \(found)"
        case let .invalidLabel(what, index, value): return "\(what): invalid label \(value) at index \(index)"
        case let .undefined(metric, reason): return "\(metric) is undefined: \(reason)"
        case let .invalidArgument(reason): return "invalid argument: \(reason)"
        }
    }
}

/// Classification, ranking and calibration metrics, defined as scikit-learn defines them
/// (checked against scikit-learn on the same arrays in the tests). Results are `Double`.
public enum Metrics {
    static func checkLengths(_ a: Int, _ b: Int, _ what: String) throws {
        if a != b { throw MetricsError.lengthMismatch(what: what, expected: a, found: b) }
    }

    static func checkLabels(_ labels: [Int], classes: Int, _ what: String) throws {
        for (i, l) in labels.enumerated() where l < 0 || l >= classes {
            throw MetricsError.invalidLabel(what: what, index: i, value: l)
        }
    }
}
