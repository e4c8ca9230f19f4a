import ArgumentParser
import Foundation
import LeptonCLI

/// How a service writes its log lines on stderr.
public enum LogFormat: String, ExpressibleByArgument, Sendable, CaseIterable {
    /// One readable line per event (swift-log's stream format).
    case text
    /// One JSON object per line, for a log collector.
    case json
}

/// Options every `serve` command shares: where to listen, who may call, and how much work to accept.
///
/// Declared once here and used by the three programs as `@OptionGroup var serve: ServeOptions`.
public struct ServeOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Address to listen on.")
    public var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0: any free port; the port taken is printed in the `listening on` line).")
    public var port = 8080

    @Option(name: .long, help: ArgumentHelp("A file holding the API key: every route but /healthz then needs `Authorization: Bearer KEY` (a trailing newline is ignored).", valueName: "file"))
    public var apiKeyFile: String?

    @Option(name: .long, help: "Largest request body accepted, in megabytes (a larger one: 413).")
    public var maxBodyMb: Double = 16

    @Option(name: .long, help: "Seconds a request's model work may take (longer: 504).")
    public var timeout: Double = 60

    @Option(name: .long, help: "Requests running model work at once, each on one thread (default: --threads).")
    public var workers: Int?

    @Option(name: .long, help: "Requests waiting or running at most (beyond: 503 with Retry-After).")
    public var queue: Int = 64

    @Option(name: .long, help: "Log lines on stderr: text or json (one object per line, with the request id).")
    public var logFormat: LogFormat = .text

    public init() {}

    public func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard maxBodyMb > 0, maxBodyMb.isFinite, maxBodyMb <= 4096 else { throw ValidationError("--max-body-mb must be in (0, 4096]") }
        guard timeout > 0, timeout.isFinite, timeout <= 86400 else { throw ValidationError("--timeout must be in (0, 86400] seconds") }
        if let workers { guard (1...256).contains(workers) else { throw ValidationError("--workers must be 1...256, got \(workers)") } }
        guard (1...100_000).contains(queue) else { throw ValidationError("--queue must be 1...100000, got \(queue)") }
    }

    /// The body limit in bytes.
    public var maxBodyBytes: Int { Int(maxBodyMb * 1_048_576) }

    /// The API key from `--api-key-file`, read once at start (nil without the option).
    ///
    /// - Throws: `CLIFailure.input` when the file cannot be read or holds no key: a service that was
    ///   asked to check a key must never start open.
    public func apiKey() throws -> String? {
        guard let apiKeyFile else { return nil }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: apiKeyFile)) } catch {
            throw CLIFailure.input("--api-key-file \(apiKeyFile): \(describe(error))")
        }
        var key = String(decoding: data, as: UTF8.self)
        while key.hasSuffix("\n") || key.hasSuffix("\r") { key.removeLast() }
        guard !key.isEmpty else { throw CLIFailure.input("--api-key-file \(apiKeyFile) is empty") }
        guard !key.contains(where: \.isNewline) else { throw CLIFailure.input("--api-key-file \(apiKeyFile) holds more than one line") }
        return key
    }
}
