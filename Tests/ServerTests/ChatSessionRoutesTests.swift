import Foundation
import LeptonTestSupport
import XCTest

/// `GET /v1/sessions` and `GET /v1/sessions/{id}` of `lepton-chat serve`, on the SQLite and the
/// PostgreSQL store: what they answer is compared with the store's database read by its own tool
/// (`sqlite3`, `psql`), never through the store under test. Also: card numbers masked, 404 for an
/// unknown session, 400 for a bad limit or id, a sealed store's list without ids, and the key.
final class ChatSessionRoutesTests: XCTestCase {
    var cleanup: [String] = []

    override func tearDown() {
        for path in cleanup { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
    }

    func temporary(_ suffix: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString)\(suffix)").path
        cleanup.append(path)
        return path
    }

    /// The turns every test plays: two sessions, the newer with one turn, the older quoting a card.
    let script: [(session: String, text: String)] = [
        ("older", "hello"),
        ("older", "I lost my card, the number is 4111 1111 1111 1234"),
        ("newer", "what is my balance"),
    ]
    let card = ["4111 1111 1111 1234", "4111111111111234", "411111"]

    func play(_ s: ServiceProcess, key: String? = nil) throws {
        for turn in script {
            var headers = ["Content-Type": "application/json"]
            if let key { headers["Authorization"] = "Bearer \(key)" }
            let body = try JSONSerialization.data(withJSONObject: ["text": turn.text])
            let a = try s.call("POST", "/v1/sessions/\(turn.session)/turns", headers: headers, body: body)
            XCTAssertEqual(a.status, 200, a.text)
            // Distinct `updated` times, so the newest-first order is the script's.
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Runs a tool; its stdout (it must exit 0).
    func tool(_ path: String, _ args: [String]) throws -> String { try runTool(URL(fileURLWithPath: path), args) }

    /// Rows of `|`-separated cells.
    func rows(_ text: String) -> [[String]] {
        text.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    /// The listing and the conversations, checked against the database's own rows:
    /// `sessions`: id|turns|created|updated newest first; `turns(id)`: turn|text|intent|confidence|reply.
    func checkRoutes(_ s: ServiceProcess, headers: [String: String] = [:], sessions: [[String]], turns: (String) throws -> [[String]]) throws {
        let listing = try s.call("GET", "/v1/sessions?limit=10", headers: headers)
        XCTAssertEqual(listing.status, 200, listing.text)
        let listed = try XCTUnwrap(listing.json?["sessions"] as? [[String: Any]], listing.text)
        XCTAssertEqual(listed.map { $0["id"] as? String }, sessions.map { $0[0] })
        XCTAssertEqual(listed.map { $0["turns"] as? Int }, sessions.map { Int($0[1]) })
        for (got, row) in zip(listed, sessions) {
            XCTAssertEqual(try XCTUnwrap(got["created"] as? Double), try XCTUnwrap(Double(row[2])), accuracy: 1e-3)
            XCTAssertEqual(try XCTUnwrap(got["updated"] as? Double), try XCTUnwrap(Double(row[3])), accuracy: 1e-3)
        }
        let one = try s.call("GET", "/v1/sessions?limit=1", headers: headers)
        XCTAssertEqual((one.json?["sessions"] as? [[String: Any]])?.map { $0["id"] as? String }, [sessions[0][0]])

        for id in ["older", "newer"] {
            let a = try s.call("GET", "/v1/sessions/\(id)", headers: headers)
            XCTAssertEqual(a.status, 200, a.text)
            XCTAssertEqual(a.json?["session"] as? String, id)
            let got = try XCTUnwrap(a.json?["turns"] as? [[String: Any]], a.text)
            let want = try turns(id)
            XCTAssertEqual(got.map { $0["turn"] as? Int }, want.map { Int($0[0]) })
            XCTAssertEqual(got.map { $0["text"] as? String }, want.map { $0[1] })
            XCTAssertEqual(got.map { $0["intent"] as? String }, want.map { $0[2] })
            XCTAssertEqual(got.map { $0["reply"] as? String }, want.map { $0[4] })
            for (g, w) in zip(got, want) {
                XCTAssertEqual(try XCTUnwrap(g["confidence"] as? Double), try XCTUnwrap(Double(w[3])), accuracy: 1e-6)
            }
            for digits in card { XCTAssertFalse(a.text.contains(digits), "a card number in \(a.text)") }
        }
        XCTAssertTrue(try s.call("GET", "/v1/sessions/older", headers: headers).text.contains("**** **** **** 1234"))

        let unknown = try s.call("GET", "/v1/sessions/nobody", headers: headers)
        XCTAssertEqual(unknown.status, 404, unknown.text)
        XCTAssertEqual(unknown.json?["error"] as? String, "no session nobody in the store")
        for bad in ["/v1/sessions?limit=0", "/v1/sessions?limit=201", "/v1/sessions?limit=ten", "/v1/sessions/a%20b"] {
            let a = try s.call("GET", bad, headers: headers)
            XCTAssertEqual(a.status, 400, "\(bad): \(a.text)")
            XCTAssertNotNil(a.json?["error"] as? String, bad)
        }
    }

    func testRoutesAnswerAsTheSQLiteFileSaysAndNeedTheKey() throws {
        let file = temporary(".sqlite")
        let keyFile = temporary(".key")
        try Data("k3y-for-sessions\n".utf8).write(to: URL(fileURLWithPath: keyFile))
        let s = try ServiceProcess.start("lepton-chat", ["--store", file, "--api-key-file", keyFile])
        defer { s.stop() }
        try play(s, key: "k3y-for-sessions")
        for path in ["/v1/sessions", "/v1/sessions/older"] {
            XCTAssertEqual(try s.call("GET", path).status, 401, path)
            XCTAssertEqual(try s.call("GET", path, headers: ["Authorization": "Bearer wrong"]).status, 401, path)
        }
        let sessions = rows(try tool("/usr/bin/sqlite3", [file, """
            SELECT id, (SELECT COUNT(*) FROM turns t WHERE t.session = s.id), printf('%.6f', created), printf('%.6f', updated)
            FROM sessions s ORDER BY updated DESC
            """]))
        XCTAssertEqual(sessions.map { $0[0] }, ["newer", "older"])
        try checkRoutes(s, headers: ["Authorization": "Bearer k3y-for-sessions"], sessions: sessions) { id in
            rows(try tool("/usr/bin/sqlite3", [file, "SELECT turn, text, intent, printf('%.9f', confidence), reply FROM turns WHERE session = '\(id)' ORDER BY turn"]))
        }
    }

    func testRoutesAnswerAsPsqlReadsThePostgresStore() throws {
        guard let base = TestPostgres.url else { throw XCTSkip(TestPostgres.notRunning) }
        let url = try TestPostgres.freshDatabase(prefix: "routes", on: base)
        let psql = { (sql: String) throws -> [[String]] in
            self.rows(try self.tool("/usr/bin/psql", [url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]))
        }
        let s = try ServiceProcess.start("lepton-chat", ["--store", url])
        defer { s.stop() }
        try play(s)
        let sessions = try psql("""
            SELECT id, (SELECT count(*) FROM lepton_chat_turns t WHERE t.session = s.id), to_char(created, 'FM9999999999.999999'),
                   to_char(updated, 'FM9999999999.999999')
            FROM lepton_chat_sessions s ORDER BY updated DESC
            """)
        XCTAssertEqual(sessions.map { $0[0] }, ["newer", "older"])
        try checkRoutes(s, sessions: sessions) { id in
            try psql("SELECT turn, text, intent, confidence, reply FROM lepton_chat_turns WHERE session = '\(id)' ORDER BY turn")
        }
    }

    /// A sealed store keeps only keyed hashes of the ids: the list gives counts and times without
    /// ids, and a conversation is still found by its id.
    func testASealedStoreListsSessionsWithoutIds() throws {
        let file = temporary(".sqlite")
        let sealKey = temporary(".seal")
        try Data(String(repeating: "ab", count: 32).utf8).write(to: URL(fileURLWithPath: sealKey))
        let s = try ServiceProcess.start("lepton-chat", ["--store", file, "--store-key-file", sealKey])
        defer { s.stop() }
        try play(s)
        let listed = try XCTUnwrap(try s.call("GET", "/v1/sessions").json?["sessions"] as? [[String: Any]])
        XCTAssertEqual(listed.map { $0["turns"] as? Int }, [1, 2])
        XCTAssertTrue(listed.allSatisfy { $0["id"] == nil }, "\(listed)")
        let stored = try tool("/usr/bin/sqlite3", [file, "SELECT id FROM sessions"])
        XCTAssertFalse(stored.contains("older"), stored)
        let a = try s.call("GET", "/v1/sessions/older")
        XCTAssertEqual(a.status, 200, a.text)
        XCTAssertEqual((a.json?["turns"] as? [[String: Any]])?.first?["text"] as? String, "hello")
    }
}
