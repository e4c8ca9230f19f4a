import XCTest
@testable import LeptonText
@testable import LeptonDialog
@testable import LeptonDialogPostgres
import LeptonTestSupport

/// The PostgreSQL store against a real server (scripts/with-postgres.sh starts a throwaway
/// cluster and sets LEPTON_TEST_POSTGRES_URL; scripts/test.sh runs the suite under it). What the
/// database holds is read with `psql` and `pg_dump`, and compared with the SQLite store's file
/// read with `sqlite3`, never through the store under test.
final class SessionStorePostgresTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-pgstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    // MARK: Helpers

    /// A new empty database on the test cluster, for one test.
    func freshDatabase() throws -> (url: String, address: PostgresSessionStore.Address) {
        guard let base = TestPostgres.url else { throw XCTSkip(TestPostgres.notRunning) }
        let url = try TestPostgres.freshDatabase(prefix: "t", on: base)
        guard case .postgres(let address) = try SessionStoreLocation(parsing: url) else { throw XCTSkip("not a PostgreSQL URL: \(base)") }
        return (url, address)
    }

    /// `psql -At -c SQL`: rows as lines, columns separated by `|`.
    func psql(_ url: String, _ sql: String) throws -> String {
        let r = try runTool("/usr/bin/psql", [url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        XCTAssertEqual(r.status, 0, "psql: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .newlines)
    }

    func sqlite3(_ file: URL, _ sql: String) throws -> String {
        let r = try runTool("/usr/bin/sqlite3", [file.path, sql])
        XCTAssertEqual(r.status, 0, "sqlite3: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .newlines)
    }

    func agent(_ store: any SessionStore) throws -> ChatAgent {
        ChatAgent(domain: try Domain.load(Repo.bank.appendingPathComponent("domain.yml")), classifier: KeywordClassifier(),
                  extractor: EntityExtractor(referenceDay: Day(year: 2026, month: 11, day: 25)!), store: store, seed: 7)
    }

    let transfer = ["hello", "I want to transfer money", "two hundred and fifty dollars", "to my landlord", "yes", "thank you", "bye"]

    // MARK: Tests

    /// The same scripted dialog through SQLite and PostgreSQL: the same replies and states, and the
    /// two databases, read with their own tools, hold the same turns.
    func testSameConversationAsSQLite() throws {
        let db = try freshDatabase()
        let file = dir.appendingPathComponent("s.sqlite")
        let lite = try agent(try SQLiteSessionStore(url: file))
        let pg = try agent(try PostgresSessionStore(address: db.address))
        var replies: [String] = []
        for line in transfer {
            let a = try lite.respond(text: line, session: "conv"), b = try pg.respond(text: line, session: "conv")
            XCTAssertEqual(a.reply, b.reply, line)
            XCTAssertEqual(a.state, b.state, line)
            XCTAssertEqual(a.newSession, b.newSession, line)
            replies.append(b.reply)
        }
        XCTAssertEqual(try pg.store.history(of: "conv"), try lite.store.history(of: "conv"))
        let fromPsql = try psql(db.url, "SELECT turn, text, intent, reply FROM lepton_chat_turns WHERE session = 'conv' ORDER BY turn")
        let fromSqlite = try sqlite3(file, "SELECT turn, text, intent, reply FROM turns WHERE session = 'conv' ORDER BY turn")
        XCTAssertEqual(fromPsql, fromSqlite)
        XCTAssertEqual(fromPsql.split(separator: "\n").map { String($0.split(separator: "|", maxSplits: 3)[3]) }, replies)
        XCTAssertTrue(fromPsql.contains("transfer_money"), fromPsql)
        let statePg = try psql(db.url, "SELECT state FROM lepton_chat_sessions WHERE id = 'conv'")
        let stateLite = try sqlite3(file, "SELECT state FROM sessions WHERE id = 'conv'")
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(statePg.utf8)) as? NSDictionary,
                       try JSONSerialization.jsonObject(with: Data(stateLite.utf8)) as? NSDictionary)
    }

    /// Two replicas (two stores, two agents) take turns of one conversation: each sees the state
    /// the other committed, and the conversation is the one a single SQLite store gives.
    func testTwoReplicasAlternateTurnsOfOneConversation() throws {
        let db = try freshDatabase()
        let replicas = [try agent(try PostgresSessionStore(address: db.address)), try agent(try PostgresSessionStore(address: db.address))]
        let single = try agent(try SQLiteSessionStore(url: dir.appendingPathComponent("one.sqlite")))
        for (i, line) in transfer.enumerated() {
            let r = try replicas[i % 2].respond(text: line, session: "call-7")
            let expected = try single.respond(text: line, session: "call-7")
            XCTAssertEqual(r.reply, expected.reply, "turn \(i) on replica \(i % 2)")
            XCTAssertEqual(r.state, expected.state, "turn \(i) on replica \(i % 2)")
            XCTAssertEqual(r.state.turn, i + 1)
            XCTAssertEqual(try replicas[(i + 1) % 2].store.state(of: "call-7"), r.state, "the other replica sees turn \(i)")
            if line == "to my landlord" {
                // The form was filled across replicas: the amount told to one, the recipient to the other.
                let slots = try psql(db.url, "SELECT (state::json->'slots'->>'amount') || ' to ' || (state::json->'slots'->>'recipient') FROM lepton_chat_sessions")
                XCTAssertEqual(slots, "\(expected.state.slots["amount"] ?? "-") to \(expected.state.slots["recipient"] ?? "-")")
                XCTAssertTrue(slots.hasPrefix("250.00 USD to "), slots)
            }
        }
        XCTAssertEqual(try psql(db.url, "SELECT string_agg(turn::text, ',' ORDER BY turn) FROM lepton_chat_turns WHERE session = 'call-7'"),
                       (0..<transfer.count).map(String.init).joined(separator: ","))
    }

    /// 10 threads × 20 turns of one session through two stores (two replicas): no turn is lost
    /// or played twice.
    func testConcurrentTurnsOnOneSessionLoseNone() throws {
        let db = try freshDatabase()
        let stores = [try PostgresSessionStore(address: db.address, maximumConnections: 4),
                      try PostgresSessionStore(address: db.address, maximumConnections: 4)]
        let threads = 10, turns = 20
        let failures = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { k in
            for i in 0..<turns {
                do {
                    try stores[k % 2].turn(session: "busy") { st, _ in
                        let n = st.turn
                        st.turn = n + 1
                        return TurnRecord(turn: n, text: "thread \(k) turn \(i)", intent: "x", confidence: 1, entities: [], reply: "")
                    }
                } catch {
                    failures.set(failures.value + ["\(error)"])
                }
            }
        }
        XCTAssertEqual(failures.value, [])
        XCTAssertEqual(try stores[0].state(of: "busy")?.turn, threads * turns)
        XCTAssertEqual(try psql(db.url, "SELECT count(*), count(DISTINCT text), min(turn), max(turn) FROM lepton_chat_turns"),
                       "\(threads * turns)|\(threads * turns)|0|\(threads * turns - 1)")
    }

    /// With a key, `pg_dump` of the whole database holds no plaintext of the conversation; the
    /// store gives it back with the key and refuses without it or with another.
    func testSealedAtRestAndRefusedWithoutTheKey() throws {
        let db = try freshDatabase()
        let keyFile = dir.appendingPathComponent("k").path
        XCTAssertEqual(try runTool("/bin/sh", ["-c", "head -c 32 /dev/urandom > '\(keyFile)'"]).status, 0)
        let key = try SessionStoreKey.read(file: keyFile)
        let sealed = try agent(try PostgresSessionStore(address: db.address, key: key))
        let lines = ["I want to transfer money", "two hundred and fifty dollars", "to my landlord", "yes"]
        var replies: [String] = []
        for line in lines { replies.append(try sealed.respond(text: line, session: "caller-555-0199").reply) }
        XCTAssertEqual(try sealed.store.history(of: "caller-555-0199").map(\.text), lines)
        XCTAssertEqual(try sealed.store.history(of: "caller-555-0199").map(\.reply), replies)
        let dump = try runTool("/usr/bin/pg_dump", ["--data-only", db.url])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        XCTAssertTrue(dump.stdout.contains("lepton_chat_turns"), "the dump reads the turns")
        // Long enough not to occur by chance in base64 or in the dump's own SQL ("yes" could).
        let secrets = lines + ["landlord", "250.00", "555-0199", "caller"] + replies.map { String($0.prefix(20)) }
        for secret in secrets where secret.count >= 6 { XCTAssertFalse(dump.stdout.contains(secret), "\(secret) in pg_dump") }

        XCTAssertThrowsError(try PostgresSessionStore(address: db.address)) { e in
            XCTAssertTrue("\(e)".contains("encrypted: give its key"), "\(e)")
        }
        let otherFile = dir.appendingPathComponent("other").path
        XCTAssertEqual(try runTool("/bin/sh", ["-c", "head -c 32 /dev/urandom > '\(otherFile)'"]).status, 0)
        XCTAssertThrowsError(try PostgresSessionStore(address: db.address, key: try SessionStoreKey.read(file: otherFile))) { e in
            XCTAssertTrue("\(e)".contains("another key"), "\(e)")
        }
    }

    /// Replicas starting together create the schema once (the advisory lock); a schema from a
    /// newer program is refused with a clear error.
    func testSchemaCreatedOnceByReplicasStartingTogether() throws {
        let db = try freshDatabase()
        let failures = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do { _ = try PostgresSessionStore(address: db.address) } catch { failures.set(failures.value + ["\(error)"]) }
        }
        XCTAssertEqual(failures.value, [])
        XCTAssertEqual(try psql(db.url, "SELECT value FROM lepton_chat_meta WHERE key = 'schema_version'"), "2")
        XCTAssertEqual(try psql(db.url, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'lepton_chat%'"),
                       "lepton_chat_meta,lepton_chat_sessions,lepton_chat_turn_keys,lepton_chat_turns")
        _ = try psql(db.url, "UPDATE lepton_chat_meta SET value = '99' WHERE key = 'schema_version'")
        XCTAssertThrowsError(try PostgresSessionStore(address: db.address)) { e in
            XCTAssertTrue("\(e)".contains("schema version 99 is newer"), "\(e)")
        }
    }

    /// A database that does not exist is the server's refusal (a store error, not "unavailable").
    /// TLS with libpq's names: with `sslmode=verify-full` and the test cluster's certificate the
    /// store's connections are encrypted (the server's own `pg_stat_ssl`, read with psql, says so
    /// while the store is open); with `sslmode=disable` they are not; a bad mode is one line.
    func testVerifiedTLSConnectionsAreEncrypted() throws {
        guard let ca = TestPostgres.certificateAuthority else { throw XCTSkip(TestPostgres.notRunning) }
        let db = try freshDatabase()
        let encrypted = "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND application_name = 'lepton-chat' AND datname = '\(db.address.database)'"
        let plain = "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE NOT ssl AND application_name = 'lepton-chat' AND datname = '\(db.address.database)'"
        let verified = db.url.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "?sslmode=verify-full&sslrootcert=" + ca
        guard case .postgres(let address) = try SessionStoreLocation(parsing: verified) else { return XCTFail("not PostgreSQL") }
        XCTAssertEqual(address.tls, .verifyFull)
        XCTAssertFalse(address.redacted.contains(ca))
        do {
            let a = try agent(try SessionStoreLocation(parsing: verified).open())
            _ = try a.respond(text: "hello", session: "tls")
            XCTAssertGreaterThan(Int(try psql(db.url, encrypted)) ?? 0, 0)
            XCTAssertEqual(try psql(db.url, plain), "0")
        }
        let clear = try agent(try SessionStoreLocation(parsing: db.url + "?sslmode=disable").open())
        _ = try clear.respond(text: "hello", session: "clear")
        XCTAssertGreaterThan(Int(try psql(db.url, plain)) ?? 0, 0)
        XCTAssertThrowsError(try SessionStoreLocation(parsing: db.url + "?sslmode=maybe")) {
            XCTAssertTrue("\($0)".contains("sslmode must be one of"), "\($0)")
        }
        XCTAssertThrowsError(try SessionStoreLocation(parsing: db.url + "?table=x")) {
            XCTAssertTrue("\($0)".contains("unknown parameter ?table="), "\($0)")
        }
    }

    func testMissingDatabaseIsAClearError() throws {
        var address = try freshDatabase().address
        address.database = "no_such_database"
        XCTAssertThrowsError(try PostgresSessionStore(address: address)) { e in
            guard case ChatError.store(let file, let reason)? = e as? ChatError else { return XCTFail("\(e)") }
            XCTAssertTrue(file.hasSuffix("/no_such_database"), file)
            XCTAssertTrue(reason.contains("does not exist"), reason)
        }
    }

    /// The server stopped for 20 s while a caller keeps playing turns: calls fail with
    /// `storeUnavailable` meanwhile; once it is back the same store instance works again, and
    /// every acknowledged turn is in the database.
    func testOutageGivesUnavailableThenRecoversWithoutLosingTurns() throws {
        guard let ctl = ProcessInfo.processInfo.environment["LEPTON_TEST_POSTGRES_CTL"], !ctl.isEmpty else {
            throw XCTSkip("LEPTON_TEST_POSTGRES_CTL is not set (run the tests under scripts/with-postgres.sh)")
        }
        let db = try freshDatabase()
        let store = try PostgresSessionStore(address: db.address, maximumConnections: 2, timeout: .seconds(3))
        var acknowledged: [Int] = []
        func play() throws {
            let state = try store.turn(session: "outage") { st, _ in
                let n = st.turn
                st.turn = n + 1
                return TurnRecord(turn: n, text: "turn \(n)", intent: "x", confidence: 1, entities: [], reply: "")
            }
            acknowledged.append(state.turn - 1)
        }
        for _ in 0..<5 { try play() }
        XCTAssertEqual(try runTool(ctl, ["stop"]).status, 0)
        let stopped = Date()
        var unavailable = 0, other: [String] = []
        while Date().timeIntervalSince(stopped) < 20 {
            let t0 = Date()
            do { try play() } catch ChatError.storeUnavailable { unavailable += 1 } catch { other.append("\(error)") }
            XCTAssertLessThan(Date().timeIntervalSince(t0), 8, "a call during the outage must not hang")
            usleep(500_000)
        }
        XCTAssertGreaterThan(unavailable, 0)
        XCTAssertEqual(other, [])
        XCTAssertEqual(acknowledged.count, 5, "no turn can succeed while the server is down")
        XCTAssertEqual(try runTool(ctl, ["start"]).status, 0)
        let restarted = Date()
        var recovered = false
        while !recovered, Date().timeIntervalSince(restarted) < 60 {
            do { try play(); recovered = true } catch ChatError.storeUnavailable { usleep(250_000) }
        }
        XCTAssertTrue(recovered, "the store works again after the outage")
        print("store recovered \(String(format: "%.1f", Date().timeIntervalSince(restarted))) s after the server restarted")
        for _ in 0..<3 { try play() }
        let stored = try psql(db.url, "SELECT string_agg(turn::text, ',' ORDER BY turn) FROM lepton_chat_turns WHERE session = 'outage'")
        XCTAssertEqual(stored, acknowledged.map(String.init).joined(separator: ","))
        XCTAssertEqual(acknowledged, Array(0..<acknowledged.count))
    }

    /// The server drops the store's connection in the middle of a turn (`pg_terminate_backend`,
    /// as a restart or a failover does): the call fails as unavailable within its bounds instead
    /// of waiting forever for statements written to a closed connection (postgres-nio 1.33 never
    /// fails those: CI saw every worker of a chat service stuck so during a database restart),
    /// nothing of the turn is stored, and the same store plays the next turn.
    func testConnectionDroppedMidTurnFailsTheCallAndTheNextTurnWorks() throws {
        let db = try freshDatabase()
        let store = try PostgresSessionStore(address: db.address, maximumConnections: 2, timeout: .seconds(3))
        let psqlURL = db.url
        let outcome = LockedBox<Result<KeyedTurnOutcome, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let started = Date()
        Thread.detachNewThread {
            outcome.set(Result {
                try store.turn(session: "dropped", idempotency: nil) { st, _ in
                    // Inside the transaction: the server ends this very connection, then the store goes on.
                    _ = try? runTool("/usr/bin/psql", [psqlURL, "-At", "-c", """
                        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name = 'lepton-chat' AND state = 'idle in transaction'
                        """])
                    usleep(500_000)
                    st.turn += 1
                    return (TurnRecord(turn: 0, text: "lost", intent: "x", confidence: 1, entities: [], reply: ""), "answer")
                }
            })
            done.signal()
        }
        guard done.wait(timeout: .now() + 45) == .success else {
            return XCTFail("the turn still waits 45 s after the server dropped its connection")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 15, "bounded by the statement bound (3 s + 2 s), not the call's last guard")
        switch outcome.value! {
        case .success(let o): XCTFail("the turn cannot have committed on a dropped connection: \(o)")
        case .failure(let e):
            guard case ChatError.storeUnavailable = e else { return XCTFail("expected storeUnavailable, got \(e)") }
        }
        XCTAssertEqual(try psql(db.url, "SELECT count(*) FROM lepton_chat_turns WHERE session = 'dropped'"), "0")
        var next: Result<DialogState, any Error>?
        let deadline = Date().addingTimeInterval(20)
        repeat {
            next = Result { try store.turn(session: "dropped") { st, _ in
                st.turn += 1
                return TurnRecord(turn: 0, text: "next", intent: "x", confidence: 1, entities: [], reply: "")
            } }
            if case .failure(ChatError.storeUnavailable) = next { usleep(250_000) } else { break }
        } while Date() < deadline
        XCTAssertNoThrow(try next!.get(), "the store plays the next turn")
        XCTAssertEqual(try psql(db.url, "SELECT string_agg(text, ',') FROM lepton_chat_turns WHERE session = 'dropped'"), "next")
    }
}
