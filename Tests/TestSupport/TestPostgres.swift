// TestPostgres.swift: the throwaway PostgreSQL cluster of scripts/with-postgres.sh, as tests use it.

import Foundation

/// The test cluster (`LEPTON_TEST_POSTGRES_URL`, `LEPTON_TEST_POSTGRES_CA`) and fresh databases on it,
/// made with `psql`, an independent client, never through the code under test.
public enum TestPostgres {
    /// Why a PostgreSQL test is skipped outside the script.
    public static let notRunning = "LEPTON_TEST_POSTGRES_URL is not set (run the tests under scripts/with-postgres.sh)"

    /// The cluster's URL (`postgresql://postgres@127.0.0.1:PORT/lepton`), nil outside the script.
    public static var url: String? { nonEmpty("LEPTON_TEST_POSTGRES_URL") }

    /// The cluster's self-signed certificate (PEM), for `sslmode=verify-full`.
    public static var certificateAuthority: String? { nonEmpty("LEPTON_TEST_POSTGRES_CA") }

    /// What psql said when it failed.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates an empty database `PREFIX_<random>` on the cluster at `base` and returns its URL.
    public static func freshDatabase(prefix: String, on base: String) throws -> String {
        let name = prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["60", "psql", base, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE \(name)"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "psql CREATE DATABASE \(name): \(String(decoding: message, as: UTF8.self))")
        }
        var c = URLComponents(string: base)!
        c.path = "/" + name
        return c.string!
    }

    private static func nonEmpty(_ variable: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[variable], !v.isEmpty else { return nil }
        return v
    }
}
