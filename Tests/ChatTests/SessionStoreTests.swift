import CSQLite3
import XCTest
@testable import LeptonText
@testable import LeptonDialog

final class SessionStoreTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-store-\(UUID().uuidString)")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func record(_ n: Int) -> TurnRecord {
        TurnRecord(turn: n, text: "t\(n)", intent: "greet", confidence: 1, entities: [], reply: "r")
    }

    func testCreatedOnFirstUseAndPersistsAcrossOpenings() throws {
        let url = dir.appendingPathComponent("sub/s.sqlite")
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        do {
            let s = try SQLiteSessionStore(url: url)
            XCTAssertNil(try s.state(of: "x"))
            try s.turn(session: "x") { st, isNew in
                XCTAssertTrue(isNew); st.slots["amount"] = "5.00 USD"; st.turn += 1; return self.record(0)
            }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))
        let s = try SQLiteSessionStore(url: url)
        XCTAssertEqual(try s.state(of: "x")?.slots["amount"], "5.00 USD")
        try s.turn(session: "x") { _, isNew in XCTAssertFalse(isNew); return self.record(1) }
        XCTAssertEqual(try s.history(of: "x").map(\.turn), [0, 1])
        XCTAssertEqual(try s.integrityCheck(), "ok")
    }

    func testFailedTurnWritesNothing() throws {
        let s = try SQLiteSessionStore(url: dir.appendingPathComponent("s.sqlite"))
        struct Boom: Error {}
        XCTAssertThrowsError(try s.turn(session: "y") { st, _ in st.turn = 99; throw Boom() })
        XCTAssertNil(try s.state(of: "y"))
        XCTAssertEqual(try s.history(of: "y").count, 0)
    }

    func testHistoryMasksCardNumbers() throws {
        let s = try SQLiteSessionStore(url: dir.appendingPathComponent("s.sqlite"))
        let x = EntityExtractor(referenceDay: Day(year: 2026, month: 1, day: 1)!)
        let text = "my card number is 4111 1111 1111 1234"
        try s.turn(session: "m") { st, _ in
            st.turn += 1
            return TurnRecord(turn: 0, text: text, intent: "lost_or_stolen_card", confidence: 0.9, entities: x.extract(text), reply: "ok")
        }
        let h = try s.history(of: "m")[0]
        XCTAssertEqual(h.text, "my card number is **** **** **** 1234")
        XCTAssertEqual(h.entities.first?.value, "************1234")
        // Nor is the full number anywhere in the file.
        let raw = try Data(contentsOf: dir.appendingPathComponent("s.sqlite"))
        + ((try? Data(contentsOf: dir.appendingPathComponent("s.sqlite-wal"))) ?? Data())
        XCTAssertNil(raw.range(of: Data("4111111111111234".utf8)))
        XCTAssertNil(raw.range(of: Data("4111 1111 1111 1234".utf8)))
    }

    func testNotADatabaseIsAClearError() throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("junk.sqlite")
        try Data(repeating: 0x41, count: 4096).write(to: url)
        XCTAssertThrowsError(try SQLiteSessionStore(url: url)) { e in
            XCTAssertTrue("\(e)".contains("junk.sqlite"), "\(e)")
        }
    }

    /// Eight threads, each with its own connection, play turns on shared and private sessions.
    /// Every turn must be counted exactly once (no lost update) and the file must stay sound.
    func testConcurrentTurnsFromManyConnections() throws {
        let url = dir.appendingPathComponent("c.sqlite")
        let threads = 8, turns = 25
        let errors = NSLock()
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: threads) { k in
            do {
                let s = try SQLiteSessionStore(url: url)
                for i in 0..<turns {
                    for id in ["shared", "own\(k)"] {
                        try s.turn(session: id) { st, _ in
                            let n = st.turn
                            st.turn = n + 1
                            st.slots["last"] = "\(k)-\(i)"
                            return TurnRecord(turn: n, text: "\(k) \(i)", intent: "x", confidence: 1, entities: [], reply: "")
                        }
                    }
                }
            } catch {
                errors.lock(); failures.append("\(error)"); errors.unlock()
            }
        }
        XCTAssertEqual(failures, [])
        let s = try SQLiteSessionStore(url: url)
        XCTAssertEqual(try s.state(of: "shared")?.turn, threads * turns)
        XCTAssertEqual(try s.history(of: "shared").map(\.turn), Array(0..<(threads * turns)))
        for k in 0..<threads { XCTAssertEqual(try s.state(of: "own\(k)")?.turn, turns) }
        XCTAssertEqual(try s.sessionCount(), threads + 1)
        XCTAssertEqual(try s.integrityCheck(), "ok")
    }

    /// A turn that waits (a backend action taking seconds) holds only its own session: another
    /// session's turn, through another connection as another process would, commits meanwhile.
    /// Its own session's next turn waits for it and sees its state.
    func testSlowTurnHoldsOnlyItsOwnSession() throws {
        let url = dir.appendingPathComponent("slow.sqlite")
        let slow = try SQLiteSessionStore(url: url), other = try SQLiteSessionStore(url: url)
        let inBody = DispatchSemaphore(value: 0), otherDone = DispatchSemaphore(value: 0)
        let outcome = NSLock()
        nonisolated(unsafe) var otherCommittedWhileWaiting = false
        let first = record(0)
        let thread = Thread {
            try? slow.turn(session: "slow") { st, _ in
                inBody.signal()
                let done = otherDone.wait(timeout: .now() + 5) == .success
                outcome.lock(); otherCommittedWhileWaiting = done; outcome.unlock()
                st.turn += 1
                return first
            }
        }
        thread.start()
        XCTAssertEqual(inBody.wait(timeout: .now() + 10), .success)
        try other.turn(session: "fast") { st, _ in st.turn += 1; return self.record(0) }
        otherDone.signal()
        // The slow session's next turn (another connection) waits for the first and follows it.
        try other.turn(session: "slow") { st, isNew in
            XCTAssertFalse(isNew); XCTAssertEqual(st.turn, 1); st.turn += 1; return self.record(1)
        }
        outcome.lock(); XCTAssertTrue(otherCommittedWhileWaiting, "the other session waited for the slow turn"); outcome.unlock()
        XCTAssertEqual(try other.history(of: "slow").map(\.turn), [0, 1])
        XCTAssertEqual(try other.state(of: "fast")?.turn, 1)
    }
}

/// What the store's file holds, read through a SQLite connection of the test's own (as an
/// operator's `sqlite3` shell would), not through the store.
extension SQLiteSessionStore {
    /// Number of sessions in the store.
    func sessionCount() throws -> Int { Int(try Self.column(url, "SELECT COUNT(*) FROM sessions")) ?? -1 }

    /// `PRAGMA integrity_check` ("ok" when the file is sound).
    func integrityCheck() throws -> String { try Self.column(url, "PRAGMA integrity_check") }

    /// The first column of every row of `sql`, joined by "; ".
    static func column(_ url: URL, _ sql: String) throws -> String {
        var db: OpaquePointer?
        guard sqlite3_open_v2(url.path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else { throw ChatError.store(file: url.path, reason: "open") }
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else { throw ChatError.store(file: url.path, reason: sql) }
        defer { sqlite3_finalize(stmt) }
        var lines: [String] = []
        while sqlite3_step(stmt) == SQLITE_ROW { lines.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "") }
        return lines.joined(separator: "; ")
    }
}
