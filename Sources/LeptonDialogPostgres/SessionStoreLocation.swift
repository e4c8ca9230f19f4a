import Foundation
import LeptonDialog

/// Where a session store is, as given by `--store` or `$LEPTON_CHAT_STORE`:
///
/// - `sqlite:PATH` or a plain path: a SQLite file, created on first use;
/// - `postgresql://USER[:PASS]@HOST[:PORT]/DB` (or `postgres://`): a PostgreSQL database
///   (port 5432 by default; user and password percent-encoded as in any URL).
public enum SessionStoreLocation: Equatable, Sendable {
    case sqlite(URL)
    case postgres(PostgresSessionStore.Address)

    /// Parses a store URL.
    /// - Throws: ``ChatError/badInput(_:)`` with one line saying what is wrong (the password is never echoed).
    public init(parsing text: String) throws {
        func bad(_ why: String) -> ChatError {
            .badInput("--store: \(why) (expected sqlite:PATH, a file path, or postgresql://USER[:PASS]@HOST[:PORT]/DB)")
        }
        let lower = text.lowercased()
        if lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://") {
            guard let c = URLComponents(string: text) else { throw bad("not a valid URL") }
            guard let host = c.host, !host.isEmpty else { throw bad("no host in the PostgreSQL URL") }
            guard let user = c.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
                throw bad("no user in the PostgreSQL URL")
            }
            let database = String(c.path.dropFirst())
            guard !database.isEmpty, !database.contains("/") else { throw bad("no database name after the host in the PostgreSQL URL") }
            if let port = c.port, !(1...65_535).contains(port) { throw bad("port \(port) out of range") }
            if c.query != nil || c.fragment != nil { throw bad("query parameters are not supported in the PostgreSQL URL") }
            self = .postgres(.init(host: host, port: c.port ?? 5432, user: user,
                                   password: c.percentEncodedPassword.flatMap { $0.removingPercentEncoding }, database: database))
            return
        }
        if let colon = text.firstIndex(of: ":"), !text.hasPrefix("/"), !text.hasPrefix(".") {
            let scheme = text[..<colon].lowercased()
            if scheme == "sqlite" {
                let path = String(text[text.index(after: colon)...])
                guard !path.isEmpty else { throw bad("no path after sqlite:") }
                self = .sqlite(URL(fileURLWithPath: path))
                return
            }
            if text[colon...].hasPrefix("://") { throw bad("unknown scheme \(scheme)://") }
        }
        guard !text.isEmpty else { throw bad("empty") }
        self = .sqlite(URL(fileURLWithPath: text))
    }

    /// The location to use: `explicit` (`--store`), else `$LEPTON_CHAT_STORE`, else the default
    /// SQLite file (``AgentLocation/storeFile(explicit:)``).
    public static func resolve(explicit: String? = nil) throws -> SessionStoreLocation {
        if let explicit { return try SessionStoreLocation(parsing: explicit) }
        if let e = ProcessInfo.processInfo.environment["LEPTON_CHAT_STORE"], !e.isEmpty { return try SessionStoreLocation(parsing: e) }
        return .sqlite(AgentLocation.storeFile())
    }

    /// The location as shown in messages (never with a password).
    public var description: String {
        switch self {
        case .sqlite(let url): return url.path
        case .postgres(let address): return address.redacted
        }
    }

    /// Opens the store here.
    /// - Parameters:
    ///   - key: seals what the store writes (see ``SessionStoreKey``).
    ///   - maximumConnections: PostgreSQL only: connections shared by the calling threads.
    /// - Throws: ``ChatError`` with one clear line: a bad file, an unreachable database
    ///   (``ChatError/storeUnavailable(_:)``), a refused login, a missing or wrong key.
    public func open(key: SessionStoreKey? = nil, maximumConnections: Int = 8) throws -> any SessionStore {
        switch self {
        case .sqlite(let url): return try SQLiteSessionStore(url: url, key: key)
        case .postgres(let address): return try PostgresSessionStore(address: address, key: key, maximumConnections: maximumConnections)
        }
    }
}
