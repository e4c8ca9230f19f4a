/// Why a study, a model or a labels file could not be processed. Each case names the input.
public enum DiagnoseError: Error, CustomStringConvertible {
    /// A report could not be read or has none of the configured sections.
    case badReport(file: String, reason: String)
    /// A report file that holds no report text: zero bytes, only white space, or none of the
    /// configured sections has text. Reading it as "no findings" would be a silent wrong result.
    case emptyReport(file: String, reason: String)
    /// A scan could not be decoded (wraps DICOM/PNG errors as text so batch output stays uniform).
    case badScan(file: String, reason: String)
    /// The salt file for subject IDs cannot be read or created, or is empty.
    case saltFile(path: String, reason: String)
    /// A folder given as a batch holds no study (or cannot be listed).
    case emptyFolder(path: String, reason: String)
    /// A model folder is missing a file, or its weights do not match the configuration.
    case badModel(path: String, reason: String)
    /// A labels CSV is malformed.
    case badLabels(file: String, line: Int, reason: String)
    /// An argument combination that cannot work (e.g. neither a scan nor a report).
    case usage(String)

    public var description: String {
        switch self {
        case let .badReport(f, r): return "\(f): cannot read report: \(r)"
        case let .emptyReport(f, r): return "\(f): report has no text: \(r)"
        case let .badScan(f, r): return "\(f): cannot read scan: \(r)"
        case let .emptyFolder(p, r): return "\(p): \(r)"
        case let .saltFile(p, r): return "\(p): salt file: \(r)"
        case let .badModel(p, r): return "\(p): bad model: \(r)"
        case let .badLabels(f, l, r): return l > 0 ? "\(f):\(l): \(r)" : "\(f): \(r)"
        case let .usage(m): return m
        }
    }
}
