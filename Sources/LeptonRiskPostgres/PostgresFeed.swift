import Foundation
import LeptonDialog
import LeptonDialogPostgres
import LeptonRisk
import PostgresNIO

/// A PostgreSQL table or query that lepton-risk reads transactions from or writes alerts to:
/// `postgresql://USER[:PASS]@HOST[:PORT]/DB?table=NAME` (or `?query=SELECT …`, percent-encoded).
///
/// The address part is parsed as the chat session store parses `--store`
/// (``SessionStoreLocation``), so both programs accept the same URLs; the password is never shown.
public struct PostgresFeed: Sendable, Equatable {
    public var address: PostgresSessionStore.Address
    /// `schema.table` or `table` (plain identifiers), when the URL names a table.
    public var table: String?
    /// A query whose rows are the transactions, when the URL gives one.
    public var query: String?

    /// Whether `text` is a PostgreSQL URL (else it is a file path).
    public static func isURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://")
    }

    /// Parses a feed URL; `option` names the command-line option in errors.
    /// - Throws: `RiskError.badArgument` with one line saying what is wrong (never the password).
    public init(parsing text: String, option: String, allowQuery: Bool = true) throws {
        let expected = "postgresql://USER[:PASS]@HOST[:PORT]/DB?table=NAME" + (allowQuery ? " or ?query=SELECT..." : "")
        func bad(_ why: String) -> RiskError { .badArgument("\(option): \(why) (expected \(expected))") }
        guard var c = URLComponents(string: text) else { throw bad("not a valid URL") }
        let items = c.queryItems ?? []
        c.query = nil
        c.fragment = nil
        guard let base = c.string else { throw bad("not a valid URL") }
        do {
            guard case .postgres(let address) = try SessionStoreLocation(parsing: base) else { throw bad("not a PostgreSQL URL") }
            self.address = address
        } catch let e as ChatError {
            // "bad input: --store: WHY (expected …)": keep WHY, name our option.
            var why = e.description
            if let r = why.range(of: "--store: ") { why = String(why[r.upperBound...]) }
            if let r = why.range(of: " (expected") { why = String(why[..<r.lowerBound]) }
            throw bad(why)
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
        address.redacted + (table.map { "?table=\($0)" } ?? "?query=…")
    }

    /// A connection for one command (closed by the caller).
    func connect() throws -> PostgresConnection {
        var config = PostgresConnection.Configuration(host: address.host, port: address.port, username: address.user,
                                                      password: address.password, database: address.database, tls: .disable)
        config.options.connectTimeout = .seconds(5)
        config.options.additionalStartupParameters = [("application_name", "lepton-risk")]
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
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] {
                return RiskError.unreadable(path: location, reason: "\(message) (SQLSTATE \(e.serverInfo?[.sqlState] ?? "?"))")
            }
            switch e.code {
            case .connectionError: return RiskError.unreadable(path: location, reason: "cannot connect (is the server running?)")
            default: return RiskError.unreadable(path: location, reason: "\(e.code)")
            }
        }
        return RiskError.unreadable(path: location, reason: String(String(describing: error).split(separator: "\n").first ?? "unknown error"))
    }
}

extension PostgresConnection {
    /// Runs SQL without binds (statements this module builds from checked identifiers).
    @discardableResult
    func run(_ sql: String, logger: Logger) async throws -> [PostgresRow] {
        try await query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
    }
}

/// postgres-nio's logger for this module: errors only (they are reported as RiskErrors anyway).
let riskLogger: Logger = {
    var l = Logger(label: "lepton.risk.postgres")
    l.logLevel = .error
    return l
}()
