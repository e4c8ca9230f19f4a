import Foundation

/// Every way LeptonRisk can refuse its input, with the file, line or field that caused it.
public enum RiskError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// The file has no header or no data row.
    case empty(path: String)
    /// The header does not match the expected schema.
    case badHeader(path: String, expected: String, found: String)
    /// A row could not be used and skipping was not allowed (or every row was bad).
    case malformedRow(path: String, line: Int, reason: String)
    /// Every data row was skipped.
    case noUsableRows(path: String, skipped: Int, firstReason: String)
    /// Training needs at least one positive and one negative label.
    case noPositiveLabels(path: String)
    case noNegativeLabels(path: String)
    /// Cross-validation needs at least two rows of each class (one positive used to read index -1).
    case tooFewLabels(path: String, label: String, found: Int, needed: Int)
    /// A model folder is missing a file or holds an inconsistent one.
    case badModel(path: String, reason: String)
    /// A command-line value is out of range or inconsistent.
    case badArgument(String)
    /// An identifier was not found in the data.
    case unknownID(String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .empty(let p): return "\(p): empty file (no header or no data rows)"
        case .badHeader(let p, let e, let f): return "\(p): unexpected header: expected \(e), found \(f)"
        case .malformedRow(let p, let l, let r): return "\(p):\(l): \(r)"
        case .noUsableRows(let p, let n, let r): return "\(p): no usable rows (\(n) skipped; first: \(r))"
        case .noPositiveLabels(let p): return "\(p): no positive labels: cannot train a risk model without confirmed cases"
        case .noNegativeLabels(let p): return "\(p): no negative labels: cannot train a risk model with only positive cases"
        case .tooFewLabels(let p, let l, let f, let n):
            return "\(p): only \(f) \(l) label\(f == 1 ? "" : "s"): training cross-validates and needs at least \(n)"
        case .badModel(let p, let r): return "\(p): bad model: \(r)"
        case .badArgument(let s): return s
        case .unknownID(let s): return "unknown id: \(s)"
        }
    }
}

/// Rows that were skipped while loading, counted by reason, with the first few line numbers.
public struct SkipReport: Sendable {
    public private(set) var counts: [String: Int] = [:]
    public private(set) var examples: [String] = []
    public var total: Int { counts.values.reduce(0, +) }

    public init() {}

    mutating func add(_ reason: String, line: Int, path: String, detail: String = "") {
        counts[reason, default: 0] += 1
        if examples.count < 5 { examples.append("\(path):\(line): \(reason)\(detail.isEmpty ? "" : ": " + detail)") }
    }

    /// One line per reason, for stderr.
    public var summary: String {
        counts.sorted { $0.value > $1.value }.map { "\($0.value) × \($0.key)" }.joined(separator: "; ")
    }
}
