import Foundation
import LeptonPostgres
import LeptonRisk
import PostgresNIO

/// A PostgreSQL table or query that lepton-risk reads transactions from or writes alerts to:
/// `postgresql://USER[:PASS]@HOST[:PORT]/DB?table=NAME` (or `?query=SELECT …`, percent-encoded).
///
/// The address part (with TLS: `&sslmode=verify-full&sslrootcert=FILE`) is read by
/// ``PostgresAddress``, as the chat session store reads `--store`, so both programs accept the same
/// URLs; the password is never shown.
public struct PostgresFeed: Sendable, Equatable {
    public var address: PostgresAddress
    /// `schema.table` or `table` (plain identifiers), when the URL names a table.
    public var table: String?
    /// A query whose rows are the transactions, when the URL gives one.
    public var query: String?
    /// How long one statement may run. Sent to the server as its `statement_timeout` (it cancels
    /// a longer statement with its own message), and the client waits that long plus 5 s for any
    /// answer: a network that goes silent (no packet, no reset: a dropped route, a firewall that
    /// forgets the connection) fails the command with one line instead of hanging it.
    public var statementTimeout: Duration = .seconds(600)

    /// The client's wait for an answer to one statement (``statementTimeout`` + 5 s).
    var answerDeadline: Duration { statementTimeout + .seconds(5) }

    /// Whether `text` is a PostgreSQL URL (else it is a file path).
    public static func isURL(_ text: String) -> Bool { PostgresAddress.isURL(text) }

    /// Parses a feed URL; `option` names the command-line option in errors.
    /// - Throws: `RiskError.badArgument` with one line saying what is wrong (never the password).
    public init(parsing text: String, option: String, allowQuery: Bool = true) throws {
        let expected = "postgresql://USER[:PASS]@HOST[:PORT]/DB?table=NAME" + (allowQuery ? " or ?query=SELECT..." : "")
        func bad(_ why: String) -> RiskError { .badArgument("\(option): \(why) (expected \(expected))") }
        let items: [URLQueryItem]
        do {
            (address, items) = try PostgresAddress.parse(text)
        } catch {
            throw bad(error.why)
        }
        for item in items where !["table", "query"].contains(item.name) {
            throw bad("unknown parameter ?\(item.name)=")
        }
        table = items.first { $0.name == "table" }?.value
        query = items.first { $0.name == "query" }?.value
        if let t = table {
            let part = "[A-Za-z_][A-Za-z0-9_]{0,62}"
            guard t.range(of: "^\(part)(\\.\(part))?$", options: .regularExpression) != nil else {
                throw bad("table must be a plain name or schema.name (letters, digits, _), got \(t)")
            }
        }
        if query != nil && !allowQuery { throw bad("give ?table=NAME") }
        guard (table == nil) != (query == nil) else { throw bad("give exactly one of ?table=NAME and ?query=...") }
        if let q = query, q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw bad("empty ?query=") }
    }

    /// The table name quoted for SQL (`"public"."alerts"`).
    var quotedTable: String? {
        table.map { $0.split(separator: ".").map { "\"\($0)\"" }.joined(separator: ".") }
    }

    /// The feed as shown in messages: the URL without the password (and without the query's text).
    public var description: String {
        let base = address.redacted
        return base + (base.contains("?") ? "&" : "?") + (table.map { "table=\($0)" } ?? "query=…")
    }

    /// A connection for one command (closed by the caller).
    func connect() throws -> PostgresConnection {
        var config: PostgresConnection.Configuration
        do {
            config = try address.connectionConfiguration()
        } catch {
            throw RiskError.unreadable(path: description, reason: "\(error)")
        }
        config.options.connectTimeout = .seconds(5)
        let ms = statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
        config.options.additionalStartupParameters = [("application_name", "lepton-risk"), ("statement_timeout", "\(max(ms, 1))")]
        let configuration = config
        do {
            return try blocking { try await PostgresConnection.connect(configuration: configuration, id: 0, logger: riskLogger) }
        } catch RiskError.unreadable(let path, let reason) where !reason.hasPrefix("cannot connect") && !reason.contains("SQLSTATE") {
            throw RiskError.unreadable(path: path, reason: "cannot connect: \(reason)")
        }
    }

    /// Runs `work` in a task and waits for it on this thread (the commands are synchronous);
    /// errors come back as one-line ``RiskError``s naming the feed without its password.
    @discardableResult
    func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<T, any Error>?
        Task.detached {
            do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
            done.signal()
        }
        done.wait()
        switch outcome! {
        case .success(let value): return value
        case .failure(let error): throw riskError(error)
        }
    }

    /// The server's own message (with its SQLSTATE) or why it could not be reached.
    func riskError(_ error: any Error) -> any Error {
        if error is RiskError { return error }
        let location = description
        if let e = error as? UnansweredQuery { return RiskError.unreadable(path: location, reason: e.description) }
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] {
                return RiskError.unreadable(path: location, reason: "\(message) (SQLSTATE \(e.serverInfo?[.sqlState] ?? "?"))")
            }
            if let why = PostgresAddress.tlsFailure(e) { return RiskError.unreadable(path: location, reason: "cannot connect: \(why)") }
            switch e.code {
            case .serverClosedConnection, .uncleanShutdown: return RiskError.unreadable(path: location, reason: "the server closed the connection")
            case .connectionError: return RiskError.unreadable(path: location, reason: "cannot connect (is the server running?)")
            default: return RiskError.unreadable(path: location, reason: "\(e.code)")
            }
        }
        return RiskError.unreadable(path: location, reason: String(String(describing: error).split(separator: "\n").first ?? "unknown error"))
    }
}

extension PostgresConnection {
    /// Runs SQL without binds (statements this module builds from checked identifiers); fails
    /// instead of waiting forever when the server closes the connection or nothing answers
    /// within `deadline` (see ``answeredQuery``).
    @discardableResult
    func run(_ sql: String, within deadline: Duration, logger: Logger) async throws -> [PostgresRow] {
        try await answeredQuery(PostgresQuery(unsafeSQL: sql), logger: logger, deadline: deadline).collect()
    }
}

/// postgres-nio's logger for this module: errors only (they are reported as RiskErrors anyway).
let riskLogger: Logger = {
    var l = Logger(label: "lepton.risk.postgres")
    l.logLevel = .error
    return l
}()
