// PostgresAddress.swift: one reading of `postgresql://` URLs for every program, with TLS as libpq
// names it (`sslmode`, `sslrootcert`), so a bank's database that requires encrypted, verified
// connections is reachable by the chat session store and by lepton-risk's feeds alike.

import Foundation
import NIOSSL
import PostgresNIO

/// A PostgreSQL server and database:
/// `postgresql://USER[:PASS]@HOST[:PORT]/DB[?sslmode=MODE][&sslrootcert=FILE]` (or `postgres://`;
/// port 5432 by default; user and password percent-encoded as in any URL).
///
/// `sslmode` follows libpq: `disable` (plain), `prefer` (the default: TLS when the server offers
/// it, unverified), `require` (TLS or no connection, unverified), `verify-ca` (the server's
/// certificate must chain to `sslrootcert`, or to the system's roots without it), `verify-full`
/// (as verify-ca, and its name must match the host).
public struct PostgresAddress: Sendable, Equatable {
    /// How the connection is protected (libpq's `sslmode` values).
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// PEM file of the certificate authorities trusted for `verify-ca`/`verify-full`.
    public var rootCertificate: String?

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String,
                tls: TLSMode = .prefer, rootCertificate: String? = nil) {
        self.host = host; self.port = port; self.user = user; self.password = password; self.database = database
        self.tls = tls; self.rootCertificate = rootCertificate
    }

    /// Why a URL is not a usable PostgreSQL address (one line, never the password).
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let why: String
        public init(why: String) { self.why = why }
        public var description: String { why }
    }

    /// Whether `text` starts like a PostgreSQL URL.
    public static func isURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://")
    }

    /// Parses a URL; the query parameters other than `sslmode` and `sslrootcert` are returned for
    /// the caller to handle (or refuse).
    public static func parse(_ text: String) throws(ParseError) -> (address: PostgresAddress, otherParameters: [URLQueryItem]) {
        func bad(_ why: String) -> ParseError { ParseError(why: why) }
        guard isURL(text) else { throw bad("not a PostgreSQL URL") }
        guard let c = URLComponents(string: text) else { throw bad("not a valid URL") }
        guard let host = c.host, !host.isEmpty else { throw bad("no host in the PostgreSQL URL") }
        guard let user = c.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw bad("no user in the PostgreSQL URL")
        }
        let database = String(c.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else { throw bad("no database name after the host in the PostgreSQL URL") }
        if let port = c.port, !(1...65_535).contains(port) { throw bad("port \(port) out of range") }
        if c.fragment != nil { throw bad("a fragment (#...) is not part of a PostgreSQL URL") }
        var address = PostgresAddress(host: host, port: c.port ?? 5432, user: user,
                                      password: c.percentEncodedPassword.flatMap { $0.removingPercentEncoding }, database: database)
        var others: [URLQueryItem] = []
        for item in c.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw bad("sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                address.tls = mode
            case "sslrootcert":
                guard let file = item.value, !file.isEmpty else { throw bad("sslrootcert needs a file") }
                address.rootCertificate = file
            default:
                others.append(item)
            }
        }
        if address.rootCertificate != nil && ![.verifyCA, .verifyFull].contains(address.tls) {
            throw bad("sslrootcert is used only with sslmode=verify-ca or verify-full")
        }
        return (address, others)
    }

    /// The address as shown in messages: a URL without the password (with a TLS mode other than the default).
    public var redacted: String {
        "postgresql://\(user)@\(host):\(port)/\(database)" + (tls == .prefer ? "" : "?sslmode=\(tls.rawValue)")
    }

    /// NIOSSL's client settings for this mode (nil for `disable`).
    /// - Throws: ``ParseError`` when the root certificate file cannot be read.
    public func tlsConfiguration() throws(ParseError) -> TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let file = rootCertificate {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            } catch {
                throw ParseError(why: "sslrootcert \(file): not a readable PEM certificate file")
            }
        }
        return configuration
    }

    /// Settings for one connection (`PostgresConnection.connect`).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let mode: PostgresConnection.Configuration.TLS
        if let tls = try tlsConfiguration() {
            let context = try NIOSSLContext(configuration: tls)
            mode = self.tls == .prefer ? .prefer(context) : .require(context)
        } else {
            mode = .disable
        }
        return PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                database: database, tls: mode)
    }

    /// Settings for a pool of connections (`PostgresClient`).
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        let mode: PostgresClient.Configuration.TLS
        if let tls = try tlsConfiguration() {
            mode = self.tls == .prefer ? .prefer(tls) : .require(tls)
        } else {
            mode = .disable
        }
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password,
                                            database: database, tls: mode)
    }
}

extension PostgresAddress {
    /// Why a connection could not be made, in one line, when the cause was TLS (a certificate the
    /// settings do not accept, a server without TLS under `sslmode=require`); nil otherwise. A
    /// refused certificate must not read as "is the server running?".
    public static func tlsFailure(_ error: any Error) -> String? {
        guard let e = error as? PSQLError else { return nil }
        if e.code == .sslUnsupported { return "the server does not offer TLS (sslmode requires it)" }
        switch e.underlying {
        case let ssl as NIOSSLError:
            return "TLS handshake failed: \(String(describing: ssl).split(separator: "\n").first ?? "") (is sslrootcert the server's authority?)"
        case let ssl as BoringSSLError:
            return "TLS failed: \(String(describing: ssl).split(separator: "\n").first ?? "")"
        default:
            return nil
        }
    }
}
