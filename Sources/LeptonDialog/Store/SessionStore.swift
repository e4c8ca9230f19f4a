import CSQLite3
import Foundation
import LeptonText

/// One turn as recorded in the session history. Card and account numbers are masked before
/// they are written (the history is a log).
public struct TurnRecord: Codable, Equatable, Sendable {
    public var turn: Int
    public var text: String
    public var intent: String
    public var confidence: Double
    public var entities: [Entity]
    public var reply: String
}

/// Conversation state per session id in one SQLite file.
///
/// - The file and its tables are created on first use.
/// - WAL journal and `synchronous=FULL`: readers never block the writer, and every committed
///   turn survives a crash; a turn interrupted before its commit leaves no trace.
/// - Each turn is one `BEGIN IMMEDIATE` transaction (read state, decide, write state and history,
///   commit), so two processes or threads playing turns of the same session serialise instead
///   of losing an update; a busy timeout makes the waiting side wait rather than fail.
///
/// One instance holds one connection and serialises its own callers with a lock; open one
/// instance per thread or process for parallel sessions.
public final class SessionStore: @unchecked Sendable {
    public let url: URL
    private var db: OpaquePointer?
    private let lock = NSLock()

    /// Opens (creating if needed) the store at `url`.
    /// - Parameter busyTimeout: how long to wait for another writer, in milliseconds.
    /// - Throws: ``ChatError/store(file:reason:)`` (not a database, read-only folder...).
    public init(url: URL, busyTimeout: Int32 = 15_000) throws {
        self.url = url
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
            PRAGMA user_version=1;
            COMMIT;
            """)
    }

    deinit { sqlite3_close_v2(db) }

    /// The state of `session`, or nil when the store has never seen it.
    public func state(of session: String) throws -> DialogState? {
        lock.lock(); defer { lock.unlock() }
        return try loadState(session)
    }

    /// Plays one turn of `session` atomically.
    ///
    /// `body` receives the stored state (a fresh one for an unknown session, with `isNew` true),
    /// changes it and returns the record to append to the history. Nothing is written if `body`
    /// throws. Environment variable `LEPTON_CHAT_CRASH_MID_TURN=1` kills the process after the
    /// writes and before the commit (used by the crash-safety test).
    @discardableResult
    public func turn(session: String, _ body: (inout DialogState, _ isNew: Bool) throws -> TurnRecord) throws -> DialogState {
        lock.lock(); defer { lock.unlock() }
        try exec("BEGIN IMMEDIATE")
        do {
            let loaded = try loadState(session)
            var state = loaded ?? DialogState()
            var record = try body(&state, loaded == nil)
            record.text = maskNumbersInText(record.text)
            record.entities = record.entities.map(\.masked)
            let now = Date().timeIntervalSince1970
            let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
            try run("INSERT INTO sessions(id, state, created, updated) VALUES(?1, ?2, ?3, ?3) "
                    + "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                    [.text(session), .text(json), .real(now)])
            let ents = String(decoding: try JSONEncoder().encode(record.entities), as: UTF8.self)
            try run("INSERT INTO turns(session, turn, at, text, intent, confidence, entities, reply) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                    [.text(session), .int(record.turn), .real(now), .text(record.text), .text(record.intent),
                     .real(record.confidence), .text(ents), .text(record.reply)])
            if ProcessInfo.processInfo.environment["LEPTON_CHAT_CRASH_MID_TURN"] == "1" { kill(getpid(), SIGKILL) }
            try exec("COMMIT")
            return state
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    /// The recorded turns of `session`, oldest first.
    public func history(of session: String) throws -> [TurnRecord] {
        lock.lock(); defer { lock.unlock() }
        var out: [TurnRecord] = []
        try query("SELECT turn, text, intent, confidence, entities, reply FROM turns WHERE session = ?1 ORDER BY turn",
                  [.text(session)]) { stmt in
            let ents = (try? JSONDecoder().decode([Entity].self, from: Data(column(stmt, 4).utf8))) ?? []
            out.append(TurnRecord(turn: Int(sqlite3_column_int64(stmt, 0)), text: column(stmt, 1), intent: column(stmt, 2),
                                  confidence: sqlite3_column_double(stmt, 3), entities: ents, reply: column(stmt, 5)))
        }
        return out
    }

    // MARK: SQLite plumbing

    private enum Value { case text(String), int(Int), real(Double) }

    private func loadState(_ session: String) throws -> DialogState? {
        var json: String?
        try query("SELECT state FROM sessions WHERE id = ?1", [.text(session)]) { json = column($0, 0) }
        guard let json else { return nil }
        do { return try JSONDecoder().decode(DialogState.self, from: Data(json.utf8)) } catch {
            throw ChatError.store(file: url.path, reason: "session \(session): unreadable state")
        }
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
