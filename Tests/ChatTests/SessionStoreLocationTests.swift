import XCTest
import LeptonTestSupport
@testable import LeptonDialog
@testable import LeptonDialogPostgres

/// `--store URL`: which store a URL names, and one clear line for a bad URL or a database that
/// cannot be reached.
final class SessionStoreLocationTests: XCTestCase {
    func testURLsNameTheirStore() throws {
        XCTAssertEqual(try SessionStoreLocation(parsing: "/tmp/a.sqlite"), .sqlite(URL(fileURLWithPath: "/tmp/a.sqlite")))
        XCTAssertEqual(try SessionStoreLocation(parsing: "sqlite:/tmp/a.sqlite"), .sqlite(URL(fileURLWithPath: "/tmp/a.sqlite")))
        XCTAssertEqual(try SessionStoreLocation(parsing: "rel/b.sqlite"), .sqlite(URL(fileURLWithPath: "rel/b.sqlite")))
        XCTAssertEqual(try SessionStoreLocation(parsing: "postgresql://lepton:s%40cret@db.internal:6543/chat"),
                       .postgres(.init(host: "db.internal", port: 6543, user: "lepton", password: "s@cret", database: "chat")))
        XCTAssertEqual(try SessionStoreLocation(parsing: "postgres://app@127.0.0.1/chat"),
                       .postgres(.init(host: "127.0.0.1", port: 5432, user: "app", password: nil, database: "chat")))
        // Messages never show the password.
        let location = try SessionStoreLocation(parsing: "postgresql://lepton:hunter22@db:5432/chat")
        XCTAssertEqual(location.description, "postgresql://lepton@db:5432/chat")
    }

    func testBadURLsAreOneClearLine() {
        let cases = [
            "mysql://u@h/db": "unknown scheme mysql://",
            "postgresql://h/db": "no user",
            "postgresql://u@/db": "no host",
            "postgresql://u@h:5432": "no database name",
            "postgresql://u@h:5432/": "no database name",
            "postgresql://u@h:99999/db": "port 99999 out of range",
            "postgresql://u:pw@h/db?sslmode=often": "sslmode must be one of",
            "postgresql://u:pw@h/db?table=x": "unknown parameter ?table=",
            "postgresql://u:pw@h/db?sslmode=prefer&sslrootcert=/ca.pem": "sslrootcert is used only with",
            "sqlite:": "no path after sqlite:",
            "": "empty",
        ]
        for (url, why) in cases {
            XCTAssertThrowsError(try SessionStoreLocation(parsing: url), url) { e in
                let line = "\(e)"
                XCTAssertTrue(line.contains(why), "\(url): \(line)")
                XCTAssertTrue(line.contains("--store"), line)
                XCTAssertFalse(line.contains("\n"), line)
                XCTAssertFalse(line.contains("pw"), "the password is not echoed: \(line)")
            }
        }
    }

    /// Nothing listens on the port: the store says it is unavailable, naming where, within its timeout.
    func testUnreachableDatabaseIsUnavailableQuickly() throws {
        let port = try freePort()
        let t0 = Date()
        XCTAssertThrowsError(try PostgresSessionStore(address: .init(host: "127.0.0.1", port: port, user: "u", database: "d"),
                                                      timeout: .seconds(3))) { e in
            guard case ChatError.storeUnavailable(let why)? = e as? ChatError else { return XCTFail("\(e)") }
            XCTAssertTrue(why.contains("127.0.0.1:\(port)"), why)
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 6)
    }
}

/// A loopback port nobody listens on (bound by the kernel, then released).
func freePort() throws -> Int {
    let r = try runTool("/usr/bin/python3", ["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
    return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 9
}

/// `lepton-chat respond --store` as a user runs it: bad URLs, unreachable databases and key files
/// are one line on stderr with exit status 1; a PostgreSQL URL keeps the conversation there.
extension RespondPipelineTests {
    func testStoreOptionErrorsAreOneLineExitOne() throws {
        let port = try freePort()
        let short = dir.appendingPathComponent("short.key")
        try Data(repeating: 1, count: 5).write(to: short)
        let cases: [([String], String)] = [
            (["--store", "mysql://u@h/db"], "unknown scheme"),
            (["--store", "postgresql://u@127.0.0.1:\(port)/db"], "session store unavailable"),
            (["--store-key-file", short.path], "32 bytes or 64 hex digits"),
        ]
        for (args, expected) in cases {
            let r = try run(["respond", "--text", "hello"] + args)
            XCTAssertEqual(r.status, 1, "\(args) \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(args) \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
    }

    func testPostgresStoreKeepsTheConversationAcrossCalls() throws {
        guard let url = TestPostgres.url else { throw XCTSkip(TestPostgres.notRunning) }
        let session = "cli-\(UUID().uuidString)"
        let first = try json(try run(["respond", "--json", "--store", url, "--session", session, "--text", "I want to send money"]))
        let second = try json(try run(["respond", "--json", "--session", session, "--text", "50 dollars"], env: ["LEPTON_CHAT_STORE": url]))
        XCTAssertEqual(first["new_session"] as? Bool, true)
        XCTAssertEqual(second["new_session"] as? Bool, false)
        let r = try runTool("/usr/bin/psql", [url, "-At", "-c",
                            "SELECT string_agg(reply, '|' ORDER BY turn) FROM lepton_chat_turns WHERE session = '\(session)'"])
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .newlines), "\(first["reply"] as? String ?? "?")|\(second["reply"] as? String ?? "?")")
    }
}
