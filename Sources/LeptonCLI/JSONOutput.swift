import Foundation
import LeptonEngine

/// A JSON string literal for `s` (the engine's one escaper, under the programs' short name).
@inlinable public func jsonString(_ s: String) -> String { jsonStringLiteral(s) }

/// One line of JSON for `value`: snake_case keys (the convention of all three programs), sorted
/// keys (stable output to diff), no escaped slashes. Non-finite floats are an error, never `nan`.
public func jsonLine<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
