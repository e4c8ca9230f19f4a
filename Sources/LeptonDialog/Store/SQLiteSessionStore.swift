import CSQLite3
import Foundation
import LeptonText

/// Conversation state per session id in one SQLite file.
///
/// - The file and its tables are created on first use.
/// - WAL journal and `synchronous=FULL`: readers never block the writer, and every committed
///   turn survives a crash; a turn interrupted before its commit leaves no trace.
/// - Each turn is one `BEGIN IMMEDIATE` transaction (read state, decide, write state and history,
///   commit), so two processes or threads playing turns of the same session serialise instead
///   of losing an update; a busy timeout makes the waiting side wait rather than fail.
///
/// - With a key, values are sealed as ``StoredValueCodec`` describes; a `meta` table holds the
///   key-check value, so opening without the key or with another one fails before any turn.
///
/// One instance holds one connection and serialises its own callers with a lock; open one
/// instance per thread or process for parallel sessions.
public final class SQLiteSessionStore: SessionStore, @unchecked Sendable {
    public let url: URL
    private var db: OpaquePointer?
    private let lock = NSLock()
    private let codec: StoredValueCodec

    /// Opens (creating if needed) the store at `url`.
    /// - Parameters:
    ///   - key: seals what the store writes (nil: clear text, as before).
    ///   - busyTimeout: how long to wait for another writer, in milliseconds.
    /// - Throws: ``ChatError/store(file:reason:)`` (not a database, read-only folder...);
    ///   ``ChatError/storeKey(_:)`` (a sealed store without its key or with another key).
    public init(url: URL, key: SessionStoreKey? = nil, busyTimeout: Int32 = 15_000) throws {
        self.url = url
        codec = StoredValueCodec(key: key, location: url.path)
        let dir = url.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: dir.path) {
            do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
                throw ChatError.store(file: url.path, reason: "cannot create folder \(dir.path)")
            }
        }
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(url.path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        db = handle
        guard rc == SQLITE_OK else {
            let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "open failed"
            sqlite3_close_v2(handle); db = nil
            throw ChatError.store(file: url.path, reason: msg)
        }
        sqlite3_busy_timeout(handle, busyTimeout)
        // Several processes may create the file at once. Switching a new file to WAL can report
        // "database is locked" without waiting for the busy timeout, so the setup is retried.
        let deadline = Date().addingTimeInterval(Double(busyTimeout) / 1000)
        while true {
            do {
                try setUp()
                break
            } catch {
                let code = sqlite3_errcode(handle) & 0xff
                guard code == SQLITE_BUSY || code == SQLITE_LOCKED, Date() < deadline else { throw error }
                try? exec("ROLLBACK")
                usleep(20_000)
            }
        }
        try checkKey()
    }

    /// Compares the key with the store's key-check value; a new store adopts the key (see
    /// ``StoredValueCodec/checkKey(stored:storeHasSessions:)``).
    private func checkKey() throws {
        try exec("BEGIN IMMEDIATE")
        do {
            var stored: String?
            try query("SELECT value FROM meta WHERE key = 'key_check'", []) { stored = column($0, 0) }
            var sessions = 0
            try query("SELECT COUNT(*) FROM sessions", []) { sessions = Int(sqlite3_column_int64($0, 0)) }
            if let adopt = try codec.checkKey(stored: stored, storeHasSessions: sessions > 0) {
                try run("INSERT INTO meta(key, value) VALUES('key_check', ?1)", [.text(adopt)])
            }
            try exec("COMMIT")
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    /// Journal mode, durability and the tables (idempotent).
    private func setUp() throws {
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=FULL")
        try exec("""
            BEGIN IMMEDIATE;
            CREATE TABLE IF NOT EXISTS sessions(
                id TEXT PRIMARY KEY, state TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS turns(
                session TEXT NOT NULL, turn INTEGER NOT NULL, at REAL NOT NULL, text TEXT NOT NULL,
                intent TEXT NOT NULL, confidence REAL NOT NULL, entities TEXT NOT NULL, reply TEXT NOT NULL,
                PRIMARY KEY(session, turn));
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS turn_keys(
                session TEXT NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL, turn INTEGER NOT NULL,
                at REAL NOT NULL, answer TEXT NOT NULL, PRIMARY KEY(session, key));
            PRAGMA user_version=2;
            COMMIT;
            """)
    }

    deinit { sqlite3_close_v2(db) }

    public func state(of session: String) throws -> DialogState? {
        lock.lock(); defer { lock.unlock() }
        return try loadState(session)
    }

    /// Plays one turn of `session`, keyed or not, in one `BEGIN IMMEDIATE` transaction: the key's
    /// lookup, the turn and the key's record share it (see ``SessionStore/turn(session:idempotency:_:)``).
    ///
    /// Environment variable `LEPTON_CHAT_CRASH_MID_TURN=1` kills the process after the
    /// writes and before the commit (used by the crash-safety test).
    public func turn(session: String, idempotency: TurnIdempotency?,
                     _ body: (inout DialogState, _ isNew: Bool) throws -> (record: TurnRecord, answer: String)) throws -> KeyedTurnOutcome {
        lock.lock(); defer { lock.unlock() }
        try exec("BEGIN IMMEDIATE")
        do {
            let row = codec.rowID(session)
            if let idempotency {
                var digest: String?, answer: String?
                try query("SELECT digest, answer FROM turn_keys WHERE session = ?1 AND key = ?2",
                          [.text(row), .text(idempotency.key)]) { digest = column($0, 0); answer = column($0, 1) }
                if let stored = try codec.replay(of: idempotency, storedDigest: digest, storedAnswer: answer, row: row) {
                    try exec("ROLLBACK")
                    return .replayed(answer: stored)
                }
            }
            let loaded = try loadState(session)
            var state = loaded ?? DialogState()
            let played = try body(&state, loaded == nil)
            let record = played.record.maskedForStorage
            let now = Date().timeIntervalSince1970
            try run("INSERT INTO sessions(id, state, created, updated) VALUES(?1, ?2, ?3, ?3) "
                    + "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                    [.text(row), .text(try codec.encodeState(state, row: row)), .real(now)])
            let stored = try codec.encodeTurn(record, row: row)
            try run("INSERT INTO turns(session, turn, at, text, intent, confidence, entities, reply) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                    [.text(row), .int(record.turn), .real(now), .text(stored.text), .text(record.intent),
                     .real(record.confidence), .text(stored.entities), .text(stored.reply)])
            if let idempotency {
                try run("INSERT INTO turn_keys(session, key, digest, turn, at, answer) VALUES(?1,?2,?3,?4,?5,?6)",
                        [.text(row), .text(idempotency.key), .text(codec.storedDigest(idempotency)), .int(record.turn), .real(now),
                         .text(try codec.encodeAnswer(played.answer, row: row, key: idempotency.key))])
                try run("DELETE FROM turn_keys WHERE session = ?1 AND turn <= ?2",
                        [.text(row), .int(record.turn - TurnIdempotency.keptPerSession)])
            }
            if ProcessInfo.processInfo.environment["LEPTON_CHAT_CRASH_MID_TURN"] == "1" { kill(getpid(), SIGKILL) }
            try exec("COMMIT")
            return .played(state)
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    public func history(of session: String) throws -> [TurnRecord] {
        lock.lock(); defer { lock.unlock() }
        var out: [TurnRecord] = []
        let row = codec.rowID(session)
        try query("SELECT turn, text, intent, confidence, entities, reply FROM turns WHERE session = ?1 ORDER BY turn",
                  [.text(row)]) { stmt in
            out.append(try codec.decodeTurn(turn: Int(sqlite3_column_int64(stmt, 0)), text: column(stmt, 1), intent: column(stmt, 2),
                                            confidence: sqlite3_column_double(stmt, 3), entities: column(stmt, 4),
                                            reply: column(stmt, 5), row: row))
        }
        return out
    }

    public func recentSessions(limit: Int) throws -> [SessionSummary] {
        lock.lock(); defer { lock.unlock() }
        var out: [SessionSummary] = []
        try query("""
            SELECT s.id, (SELECT COUNT(*) FROM turns t WHERE t.session = s.id), s.created, s.updated
            FROM sessions s ORDER BY s.updated DESC, s.id LIMIT ?1
            """, [.int(max(0, limit))]) { stmt in
            out.append(SessionSummary(id: codec.key == nil ? column(stmt, 0) : nil, turns: Int(sqlite3_column_int64(stmt, 1)),
                                      created: sqlite3_column_double(stmt, 2), updated: sqlite3_column_double(stmt, 3)))
        }
        return out
    }

    // MARK: SQLite plumbing

    private enum Value { case text(String), int(Int), real(Double) }

    private func loadState(_ session: String) throws -> DialogState? {
        let row = codec.rowID(session)
        var stored: String?
        try query("SELECT state FROM sessions WHERE id = ?1", [.text(row)]) { stored = column($0, 0) }
        guard let stored else { return nil }
        return try codec.decodeState(stored, row: row, session: session)
    }

    private func fail(_ what: String) -> ChatError {
        .store(file: url.path, reason: "\(what): \(String(cString: sqlite3_errmsg(db)))")
    }

    private func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw fail(String(sql.prefix(40))) }
    }

    private func prepare(_ sql: String, _ values: [Value]) throws -> OpaquePointer? {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else { throw fail("prepare") }
        // SQLITE_TRANSIENT: SQLite copies the text before the Swift string goes away.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            switch v {
            case .text(let s): sqlite3_bind_text(stmt, idx, s, -1, transient)
            case .int(let n): sqlite3_bind_int64(stmt, idx, Int64(n))
            case .real(let x): sqlite3_bind_double(stmt, idx, x)
            }
        }
        return stmt
    }

    private func run(_ sql: String, _ values: [Value]) throws {
        let stmt = try prepare(sql, values)
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_DONE else { throw fail("write") }
    }

    private func query(_ sql: String, _ values: [Value], _ row: (OpaquePointer?) throws -> Void) throws {
        let stmt = try prepare(sql, values)
        defer { sqlite3_finalize(stmt) }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW { try row(stmt); continue }
            if rc == SQLITE_DONE { return }
            throw fail("read")
        }
    }
}

private func column(_ stmt: OpaquePointer?, _ i: Int32) -> String {
    guard let p = sqlite3_column_text(stmt, i) else { return "" }
    return String(cString: p)
}
