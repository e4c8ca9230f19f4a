import Foundation
import LeptonDialog
import LeptonPostgres

/// Where a session store is, as given by `--store` or `$LEPTON_CHAT_STORE`:
///
/// - `sqlite:PATH` or a plain path: a SQLite file, created on first use;
/// - `postgresql://USER[:PASS]@HOST[:PORT]/DB[?sslmode=…&sslrootcert=FILE]` (or `postgres://`): a
///   PostgreSQL database (port 5432 by default; user and password percent-encoded as in any URL;
///   TLS as libpq names it, see ``PostgresAddress``).
public enum SessionStoreLocation: Equatable, Sendable {
    case sqlite(URL)
    case postgres(PostgresSessionStore.Address)

    /// Parses a store URL.
    /// - Throws: ``ChatError/badInput(_:)`` with one line saying what is wrong (the password is never echoed).
    public init(parsing text: String) throws {
        func bad(_ why: String) -> ChatError {
            .badInput("--store: \(why) (expected sqlite:PATH, a file path, or postgresql://USER[:PASS]@HOST[:PORT]/DB[?sslmode=...])")
        }
        if PostgresAddress.isURL(text) {
            let parsed: (address: PostgresAddress, otherParameters: [URLQueryItem])
            do {
                parsed = try PostgresAddress.parse(text)
            } catch {
                throw bad(error.why)
            }
            if let other = parsed.otherParameters.first { throw bad("unknown parameter ?\(other.name)= in the PostgreSQL URL") }
            self = .postgres(parsed.address)
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
