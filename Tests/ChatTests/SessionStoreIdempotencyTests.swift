import XCTest
@testable import LeptonText
@testable import LeptonDialog
@testable import LeptonDialogPostgres

/// Keyed turns (`Idempotency-Key`) in both stores. What a store holds is counted with `sqlite3`
/// and `psql` (independent readers), never through the store under test. The PostgreSQL cases
/// skip without scripts/with-postgres.sh, like the rest of ``SessionStorePostgresTests``.
extension SessionStorePostgresTests {
    func key(_ key: String, _ text: String) throws -> TurnIdempotency { try TurnIdempotency(key: key, request: Data(text.utf8)) }

    /// The checks shared by both stores. `count(SQL)` runs a query with the store's own client.
    func checkKeyedTurns(_ store: @autoclosure () throws -> any SessionStore, count: (String) throws -> String,
                         turns: String, keys: String) throws {
        let agent = try agent(try store())
        let first = try agent.respond(text: "I want to transfer money", session: "k1", idempotency: try key("a-1", "transfer"))
        XCTAssertFalse(first.replayed)
        // A retry with the same key and request: the first answer, nothing played.
        let again = try agent.respond(text: "I want to transfer money", session: "k1", idempotency: try key("a-1", "transfer"))
        XCTAssertTrue(again.replayed)
        XCTAssertEqual(try jsonLineOf(again.masked), try jsonLineOf(first.masked))
        // The look a service takes before hearing a call: the same answer without playing; an
        // unknown key is nil; the key with another request is refused.
        let looked = try XCTUnwrap(try agent.replay(session: "k1", idempotency: try key("a-1", "transfer")))
        XCTAssertTrue(looked.replayed)
        XCTAssertEqual(try jsonLineOf(looked.masked), try jsonLineOf(first.masked))
        XCTAssertNil(try agent.replay(session: "k1", idempotency: try key("a-2", "transfer")))
        XCTAssertNil(try agent.replay(session: "k9", idempotency: try key("a-1", "transfer")))
        XCTAssertThrowsError(try agent.replay(session: "k1", idempotency: try key("a-1", "other"))) {
            XCTAssertTrue($0 is IdempotencyKeyReused, "\($0)")
        }
        XCTAssertEqual(try count("SELECT count(*) FROM \(turns) WHERE session = 'k1'"), "1")
        XCTAssertEqual(try count("SELECT count(*) FROM \(keys) WHERE session = 'k1'"), "1")
        // The same key with another request: refused, nothing played.
        XCTAssertThrowsError(try agent.respond(text: "what's my balance", session: "k1", idempotency: try key("a-1", "balance"))) {
            XCTAssertTrue($0 is IdempotencyKeyReused, "\($0)")
        }
        // Keys are per session: the same key in another session plays that session's turn.
        let other = try agent.respond(text: "what's my balance", session: "k2", idempotency: try key("a-1", "balance"))
        XCTAssertFalse(other.replayed)
        XCTAssertEqual(other.session, "k2")
        XCTAssertNotEqual(other.reply, first.reply)
        // Without a key, every request plays a turn, as before.
        _ = try agent.respond(text: "hello", session: "k1")
        _ = try agent.respond(text: "hello", session: "k1")
        XCTAssertEqual(try count("SELECT count(*) FROM \(turns) WHERE session = 'k1'"), "3")
        XCTAssertEqual(try count("SELECT count(*) FROM \(turns)"), "4")
    }

    /// `threads` requests with one key at once (a client's retries crossing replicas): exactly one
    /// plays (its body runs once: a backend action in it is sent once), the others replay it.
    func checkConcurrentDuplicates(_ stores: [any SessionStore], count: (String) throws -> String, turns: String) throws {
        let threads = 8
        let bodies = LockedBox(0)
        let outcomes = LockedBox<[String]>([])
        let k = try key("dup", "same request")
        DispatchQueue.concurrentPerform(iterations: threads) { i in
            do {
                let o = try stores[i % stores.count].turn(session: "dup", idempotency: k) { state, _ in
                    bodies.set(bodies.value + 1)
                    let n = state.turn
                    state.turn = n + 1
                    return (TurnRecord(turn: n, text: "played by \(i)", intent: "x", confidence: 1, entities: [], reply: "r"), "answer of \(i)")
                }
                switch o {
                case .played: outcomes.set(outcomes.value + ["played"])
                case .replayed(let a): outcomes.set(outcomes.value + ["replayed " + a])
                }
            } catch { outcomes.set(outcomes.value + ["\(error)"]) }
        }
        XCTAssertEqual(bodies.value, 1)
        XCTAssertEqual(outcomes.value.filter { $0 == "played" }.count, 1, "\(outcomes.value)")
        let replayed = outcomes.value.filter { $0.hasPrefix("replayed answer of ") }
        XCTAssertEqual(replayed.count, threads - 1, "\(outcomes.value)")
        XCTAssertEqual(Set(replayed).count, 1, "every replay gives the one stored answer")
        XCTAssertEqual(try count("SELECT count(*) FROM \(turns) WHERE session = 'dup'"), "1")
    }

    func jsonLineOf(_ r: AgentReply) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(r), as: UTF8.self)
    }

    /// A database made by the program before keyed turns (schema version 1) is migrated when a
    /// store opens it: its conversation goes on, and keyed turns work.
    func testVersion1DatabaseIsMigrated() throws {
        let db = try freshDatabase()
        _ = try psql(db.url, """
            CREATE TABLE lepton_chat_meta(key text PRIMARY KEY, value text NOT NULL);
            INSERT INTO lepton_chat_meta VALUES('schema_version', '1');
            CREATE TABLE lepton_chat_sessions(id text PRIMARY KEY, state text, created double precision NOT NULL, updated double precision NOT NULL);
            CREATE TABLE lepton_chat_turns(session text NOT NULL REFERENCES lepton_chat_sessions(id), turn integer NOT NULL,
                at double precision NOT NULL, text text NOT NULL, intent text NOT NULL, confidence double precision NOT NULL,
                entities text NOT NULL, reply text NOT NULL, PRIMARY KEY(session, turn));
            INSERT INTO lepton_chat_sessions VALUES('old', '{"turn":1,"slots":{},"fallbacks":0,"awaitingConfirmation":false,"handedOff":false}', 0, 0);
            INSERT INTO lepton_chat_turns VALUES('old', 0, 0, 'hello', 'greet', 1, '[]', 'Hi');
            """)
        let agent = try agent(try PostgresSessionStore(address: db.address))
        XCTAssertEqual(try psql(db.url, "SELECT value FROM lepton_chat_meta WHERE key = 'schema_version'"), "2")
        let r = try agent.respond(text: "what's my balance", session: "old", idempotency: try key("m", "balance"))
        XCTAssertEqual(r.state.turn, 2)
        XCTAssertTrue(try agent.respond(text: "what's my balance", session: "old", idempotency: try key("m", "balance")).replayed)
        XCTAssertEqual(try psql(db.url, "SELECT count(*) FROM lepton_chat_turns WHERE session = 'old'"), "2")
    }

    func testKeyedTurnsReplayOnceOnSQLite() throws {
        let file = dir.appendingPathComponent("keys.sqlite")
        try checkKeyedTurns(try SQLiteSessionStore(url: file), count: { try self.sqlite3(file, $0) }, turns: "turns", keys: "turn_keys")
    }

    func testKeyedTurnsReplayOnceOnPostgreSQL() throws {
        let db = try freshDatabase()
        try checkKeyedTurns(try PostgresSessionStore(address: db.address), count: { try self.psql(db.url, $0) },
                            turns: "lepton_chat_turns", keys: "lepton_chat_turn_keys")
    }

    func testConcurrentDuplicatesPlayOnceOnSQLite() throws {
        let file = dir.appendingPathComponent("dup.sqlite")
        // One store (one connection) per thread, as separate processes would have.
        let stores: [any SessionStore] = try (0..<4).map { _ in try SQLiteSessionStore(url: file) }
        try checkConcurrentDuplicates(stores, count: { try self.sqlite3(file, $0) }, turns: "turns")
    }

    func testConcurrentDuplicatesPlayOnceOnPostgreSQL() throws {
        let db = try freshDatabase()
        let stores: [any SessionStore] = [try PostgresSessionStore(address: db.address, maximumConnections: 4),
                                          try PostgresSessionStore(address: db.address, maximumConnections: 4)]
        try checkConcurrentDuplicates(stores, count: { try self.psql(db.url, $0) }, turns: "lepton_chat_turns")
    }

    /// With --store-key-file the stored answer is sealed too (it quotes the caller), and it still replays.
    func testStoredAnswerIsSealed() throws {
        let sealing = try SessionStoreKey(bytes: Array(repeating: 7, count: 32))
        let file = dir.appendingPathComponent("sealed.sqlite")
        let agent = try agent(try SQLiteSessionStore(url: file, key: sealing))
        let first = try agent.respond(text: "send 75 dollars to my landlord", session: "s", idempotency: try key("k", "landlord"))
        XCTAssertTrue(first.transcript.contains("landlord"))
        let answers = try sqlite3(file, "SELECT answer || digest FROM turn_keys")
        XCTAssertTrue(answers.hasPrefix("sealed:v1:"), answers)
        XCTAssertFalse(answers.contains("landlord"), answers)
        XCTAssertFalse(answers.contains(try key("k", "landlord").digest), "the digest is keyed")
        let again = try agent.respond(text: "send 75 dollars to my landlord", session: "s", idempotency: try key("k", "landlord"))
        XCTAssertTrue(again.replayed)
        XCTAssertEqual(again.reply, first.reply)
        if let db = try? freshDatabase() {
            let pg = try self.agent(try PostgresSessionStore(address: db.address, key: sealing))
            _ = try pg.respond(text: "send 75 dollars to my landlord", session: "s", idempotency: try key("k", "landlord"))
            let dump = try psql(db.url, "SELECT answer FROM lepton_chat_turn_keys")
            XCTAssertTrue(dump.hasPrefix("sealed:v1:") && !dump.contains("landlord"), dump)
            XCTAssertTrue(try pg.respond(text: "send 75 dollars to my landlord", session: "s", idempotency: try key("k", "landlord")).replayed)
        }
    }

    /// Keys expire by count: a session keeps the keys of its last 100 turns; an older key plays anew.
    func testKeysOfOldTurnsExpire() throws {
        let file = dir.appendingPathComponent("expire.sqlite")
        let store = try SQLiteSessionStore(url: file)
        func play(_ k: String) throws -> KeyedTurnOutcome {
            try store.turn(session: "long", idempotency: try key(k, "x")) { state, _ in
                let n = state.turn
                state.turn = n + 1
                return (TurnRecord(turn: n, text: k, intent: "x", confidence: 1, entities: [], reply: ""), k)
            }
        }
        let kept = TurnIdempotency.keptPerSession
        for i in 0..<(kept + 5) { _ = try play("key-\(i)") }
        XCTAssertEqual(try sqlite3(file, "SELECT count(*), min(turn), max(turn) FROM turn_keys"), "\(kept)|5|\(kept + 4)")
        XCTAssertEqual(try play("key-\(kept + 4)"), .replayed(answer: "key-\(kept + 4)"))
        XCTAssertEqual(try play("key-5"), .replayed(answer: "key-5"))
        guard case .played = try play("key-4") else { return XCTFail("an expired key plays a new turn") }
    }

    func testMalformedKeysAreRefused() {
        for bad in ["", String(repeating: "k", count: 129), "caf\u{e9}", "tab\there", "new\nline"] {
            XCTAssertThrowsError(try TurnIdempotency(key: bad, request: Data())) { XCTAssertTrue("\($0)".contains("Idempotency-Key"), "\($0)") }
        }
        XCTAssertNoThrow(try TurnIdempotency(key: String(repeating: "~", count: 128), request: Data()))
        XCTAssertNoThrow(try TurnIdempotency(key: "550e8400-e29b-41d4-a716-446655440000", request: Data()))
    }
}
