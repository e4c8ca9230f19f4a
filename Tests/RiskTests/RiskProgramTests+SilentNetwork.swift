import Foundation
import XCTest

/// A network that goes silent under a PostgreSQL feed (no packet and no reset: a dropped route, a
/// firewall that forgot the connection): the command fails with one line within its
/// `--statement-timeout` + 5 s instead of waiting forever. The silence is made by
/// scripts/silent-proxy.py between lepton-risk and the test cluster, on loopback only.
extension RiskProgramTests {
    /// Starts the proxy to the test cluster; it goes silent once the client sends `trigger`.
    /// Returns the URL through it (TLS off, so that the proxy can see the statement) and the process.
    func silentProxy(to db: String, after trigger: String) throws -> (url: URLComponents, process: Process) {
        var c = try XCTUnwrap(URLComponents(string: db))
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "scripts/silent-proxy.py", "--to", "\(c.host ?? "127.0.0.1"):\(c.port ?? 5432)",
                       "--silent-after", trigger, "--max-seconds", "90"]
        p.currentDirectoryURL = Self.repoRoot
        p.standardOutput = out
        try p.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let port = try XCTUnwrap(Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        c.host = "127.0.0.1"; c.port = port
        c.queryItems = (c.queryItems ?? []) + [URLQueryItem(name: "sslmode", value: "disable")]
        return (c, p)
    }

    func testASilentNetworkFailsTheFeedAndTheAlertSinkWithOneLine() throws {
        let db = try freshRiskDatabase()
        _ = try psql(db, "CREATE TABLE feed_text (a text, b text, c text, d text, e text, f text, g text, h text, i text, j text, k text)")
        _ = try psql(db, "\\copy feed_text FROM 'samples/risk/test.csv' CSV HEADER")
        let model = Self.samples + "/model", history = Self.samples + "/train.csv"

        // Reading: silent from the first batch's FETCH on.
        var (feed, reader) = try silentProxy(to: db, after: "FETCH 10000")
        defer { reader.terminate() }
        feed.queryItems! += [URLQueryItem(name: "table", value: "feed_text")]
        var started = Date()
        let read = try risk(["score", "--model", model, "--transactions", feed.string!, "--history", history,
                             "--statement-timeout", "1"], timeout: 60)
        assertOneLineError(read, status: 1, contains: "no answer from the server within")
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)

        // Writing alerts: silent from the INSERT on; nothing is written.
        var (sink, writer) = try silentProxy(to: db, after: "INSERT INTO")
        defer { writer.terminate() }
        sink.queryItems! += [URLQueryItem(name: "table", value: "alerts")]
        started = Date()
        let write = try risk(["score", "--model", model, "--transactions", Self.samples + "/test.csv", "--history", history,
                              "--alerts-to", sink.string!, "--statement-timeout", "1", "--top", "5"], timeout: 60)
        assertOneLineError(write, status: 1, contains: "no answer from the server within")
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        XCTAssertEqual(try psql(db, "SELECT count(*) FROM alerts"), "0")

        // The option's range.
        assertOneLineError(try risk(["score", "--model", model, "--transactions", Self.samples + "/test.csv", "--statement-timeout", "0"]),
                           status: 64, contains: "--statement-timeout")
    }
}
