import CSQLite3
import Foundation
import LeptonText

/// Conversation state per session id in one SQLite file.
///
/// - The file and its tables are created on first use.
/// - WAL journal and `synchronous=FULL`: readers never block the writer, and every committed
///   turn survives a crash; a turn interrupted before its commit leaves no trace.
/// - A turn takes its session's lease, plays, and writes its state, history and lease release
///   in one `BEGIN IMMEDIATE` transaction. Two processes or threads playing turns of the same
///   session serialise on the lease instead of losing an update; turns of other sessions go on
///   meanwhile. (SQLite has one writer for the whole file: holding its write lock while a turn
///   waits for a backend action, up to the action's timeout, would stall every other session.)
///   A lease whose process has died or that is older than ``leaseSeconds`` is taken over, so a
///   crash mid-turn never blocks its session.
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
    /// How long a turn waits for the file's write lock, or for its session's lease (milliseconds).
    private let busyTimeout: Int32

    /// Opens (creating if needed) the store at `url`.
    /// - Parameters:
    ///   - key: seals what the store writes (nil: clear text, as before).
    ///   - busyTimeout: how long to wait for another writer, in milliseconds.
    /// - Throws: ``ChatError/store(file:reason:)`` (not a database, read-only folder...);
    ///   ``ChatError/storeKey(_:)`` (a sealed store without its key or with another key).
    public init(url: URL, key: SessionStoreKey? = nil, busyTimeout: Int32 = 15_000) throws {
        self.url = url
        self.busyTimeout = busyTimeout
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
            CREATE TABLE IF NOT EXISTS turn_leases(
                session TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL);
            PRAGMA user_version=3;
            COMMIT;
            """)
    }

    deinit { sqlite3_close_v2(db) }

    public func state(of session: String) throws -> DialogState? {
        lock.lock(); defer { lock.unlock() }
        return try loadState(session)
    }

    /// Plays one turn of `session`, keyed or not (see ``SessionStore/turn(session:idempotency:_:)``).
    ///
    /// Three short steps, none holding the file's write lock while `body` runs:
    /// 1. one transaction looks the key up (a replay ends here), takes the session's lease
    ///    (waiting, at most the busy timeout, while another live turn holds it) and reads the state;
    /// 2. `body` plays the turn (a backend action may take seconds);
    /// 3. one transaction checks the lease is still this turn's, writes state, history and key,
    ///    and releases the lease. If `body` throws, the lease is released and nothing written.
    ///
    /// Environment variable `LEPTON_CHAT_CRASH_MID_TURN=1` kills the process after the
    /// writes and before the commit (used by the crash-safety test).
    public func turn(session: String, idempotency: TurnIdempotency?,
                     _ body: (inout DialogState, _ isNew: Bool) throws -> (record: TurnRecord, answer: String)) throws -> KeyedTurnOutcome {
        let row = codec.rowID(session)
        let owner = UUID().uuidString
        let loaded: DialogState?
        switch try takeLease(row: row, session: session, owner: owner, idempotency: idempotency) {
        case .replayed(let answer): return .replayed(answer: answer)
        case .leased(let stored): loaded = stored
        }
        var state = loaded ?? DialogState()
        let played: (record: TurnRecord, answer: String)
        do {
            played = try body(&state, loaded == nil)
        } catch {
            try? transaction(durable: false) { try run("DELETE FROM turn_leases WHERE session = ?1 AND owner = ?2", [.text(row), .text(owner)]) }
            throw error
        }
        let record = played.record.maskedForStorage
        try transaction {
            var holder: String?
            try query("SELECT owner FROM turn_leases WHERE session = ?1", [.text(row)]) { holder = column($0, 0) }
            guard holder == owner else {
                throw ChatError.storeUnavailable("\(url.path): the turn took longer than \(Int(Self.leaseSeconds)) s and its session was taken over; nothing was written")
            }
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
            try run("DELETE FROM turn_leases WHERE session = ?1", [.text(row)])
            if ProcessInfo.processInfo.environment["LEPTON_CHAT_CRASH_MID_TURN"] == "1" { kill(getpid(), SIGKILL) }
        }
        return .played(state)
    }

    /// A turn's lease on its session lasts at most this long (then another turn may take it over).
    /// It bounds a turn's play: a backend action's timeout is at most 10 s.
    public static let leaseSeconds: TimeInterval = 60

    private enum Lease { case replayed(String), leased(DialogState?) }

    /// Step 1 of a turn: the key's replay, or the session's lease and its stored state.
    private func takeLease(row: String, session: String, owner: String, idempotency: TurnIdempotency?) throws -> Lease {
        let deadline = Date().addingTimeInterval(Double(busyTimeout) / 1000)
        var pause: UInt32 = 1_000
        while true {
            let lease: Lease? = try transaction(durable: false) {
                if let idempotency {
                    var digest: String?, answer: String?
                    try query("SELECT digest, answer FROM turn_keys WHERE session = ?1 AND key = ?2",
                              [.text(row), .text(idempotency.key)]) { digest = column($0, 0); answer = column($0, 1) }
                    if let stored = try codec.replay(of: idempotency, storedDigest: digest, storedAnswer: answer, row: row) {
                        return .replayed(stored)
                    }
                }
                var pid: Int32 = 0, expires = 0.0, held = false
                try query("SELECT pid, expires FROM turn_leases WHERE session = ?1", [.text(row)]) {
                    held = true; pid = sqlite3_column_int($0, 0); expires = sqlite3_column_double($0, 1)
                }
                let now = Date().timeIntervalSince1970
                // kill(pid, 0): ESRCH means the holder's process is gone (a crash mid-turn).
                if held, expires > now, kill(pid, 0) == 0 || errno != ESRCH { return nil }
                try run("INSERT INTO turn_leases(session, owner, pid, expires) VALUES(?1, ?2, ?3, ?4) "
                        + "ON CONFLICT(session) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, expires = excluded.expires",
                        [.text(row), .text(owner), .int(Int(getpid())), .real(now + Self.leaseSeconds)])
                return .leased(try loadState(session))
            }
            if let lease { return lease }
            guard Date() < deadline else {
                throw ChatError.storeUnavailable("\(url.path): another turn of this session is still being played")
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction under the connection's lock: committed
    /// when it returns, rolled back when it throws.
    /// - Parameter durable: false for a lease's own transactions: a lease lost in a power cut
    ///   only lets the next turn in sooner, so its commit skips the fsync (`synchronous=NORMAL`
    ///   in WAL mode) that a turn's commit needs.
    private func transaction<T>(durable: Bool = true, _ work: () throws -> T) throws -> T {
        lock.lock(); defer { lock.unlock() }
        if !durable { try exec("PRAGMA synchronous=NORMAL") }
        defer { if !durable { try? exec("PRAGMA synchronous=FULL") } }
        try exec("BEGIN IMMEDIATE")
        do {
            let value = try work()
            try exec("COMMIT")
            return value
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

    public func storedAnswer(session: String, idempotency: TurnIdempotency) throws -> String? {
        lock.lock(); defer { lock.unlock() }
        let row = codec.rowID(session)
        var digest: String?, answer: String?
        try query("SELECT digest, answer FROM turn_keys WHERE session = ?1 AND key = ?2",
                  [.text(row), .text(idempotency.key)]) { digest = column($0, 0); answer = column($0, 1) }
        return try codec.replay(of: idempotency, storedDigest: digest, storedAnswer: answer, row: row)
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
