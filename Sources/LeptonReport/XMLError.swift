// XMLError.swift: the one error type of LeptonReport.

/// Everything that can go wrong loading or querying an XML document.
///
/// `path` is the file (or the name given for in-memory data); `line` is 1-based (0 when unknown);
/// `message` is libxml2's own wording, captured rather than printed.
public enum XMLError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file (or not a regular file) at the path.
    case fileNotFound(path: String)
    /// Zero bytes.
    case emptyDocument(path: String)
    /// Larger than ``XMLLimits/maxBytes``.
    case tooLarge(path: String, bytes: Int, limit: Int)
    /// Not well-formed XML (or libxml2 refused it, e.g. nesting deeper than 256).
    case malformed(path: String, line: Int, column: Int, message: String)
    /// The DTD declares an entity. Refused outright: entities are how XXE and "billion laughs" work,
    /// and reports and GraphML never need them.
    case entityDeclarationRefused(path: String, line: Int, name: String)
    /// The document refers to an entity other than the five predefined ones and character references.
    case entityReferenceRefused(path: String, line: Int, name: String)
    /// The parser asked to load an external resource (DTD or entity); nothing is ever fetched.
    case externalResourceRefused(path: String, line: Int, uri: String)
    /// An XPath expression did not compile or evaluate.
    case invalidXPath(expression: String, message: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such XML file"
        case .emptyDocument(let path): return "\(path): the document is empty"
        case .tooLarge(let path, let bytes, let limit): return "\(path): \(bytes) bytes exceeds the \(limit)-byte limit for XML"
        case .malformed(let path, let line, let column, let message):
            return "\(path):\(line):\(column): malformed XML: \(message)"
        case .entityDeclarationRefused(let path, let line, let name):
            return "\(path):\(line): refused: the DTD declares entity '\(name)' (entities are not allowed: XXE / entity-expansion defence)"
        case .entityReferenceRefused(let path, let line, let name):
            return "\(path):\(line): refused: reference to entity '&\(name);' (only the predefined entities are allowed)"
        case .externalResourceRefused(let path, let line, let uri):
            return "\(path):\(line): refused to load external resource '\(uri)'"
        case .invalidXPath(let expression, let message): return "invalid XPath '\(expression)': \(message)"
        }
    }
}
