import Foundation
import LeptonCLI
import Logging

/// A swift-log handler writing one JSON object per line on stderr (`--log-format json`):
/// `time`, `level`, `logger`, `message` and the metadata (the request id as `request_id`).
///
/// Values are what the code logs: request lines carry method, path, status and duration, never a
/// body, so no caller's words or card number reach a log collector.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[k == "hb.request.id" ? "request_id" : k] = "\(v)"
        }
        fields["time"] = Self.timestamp()
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["message"] = event.message.description
        Self.write(fields)
    }

    /// Writes `fields` as one JSON line on stderr (keys sorted).
    static func write(_ fields: [String: String]) {
        let body = fields.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",")
        Log.error("{\(body)}")
    }

    static func timestamp() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
