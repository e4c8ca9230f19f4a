import Foundation
import LeptonDialog
import LeptonPostgres
import LeptonText
import PostgresNIO

/// Conversation state in a PostgreSQL database that several replicas of a service share.
///
/// - Schema: tables `lepton_chat_meta` (schema version, key check), `lepton_chat_sessions`,
///   `lepton_chat_turns` and `lepton_chat_turn_keys` (keyed turns' answers), created or migrated
///   when the store opens, under a transaction-scoped advisory lock so that replicas starting
///   together do not race.
/// - Each turn is one transaction: the session row is inserted if new, then locked with
///   `SELECT … FOR UPDATE`, so two replicas playing turns of one conversation serialise and each
///   sees the state the other committed.
/// - Connections come from postgres-nio's pool (``PostgresClient``), at most
///   `maximumConnections` (size it for the threads that call the store). Server-side
///   `lock_timeout` and `statement_timeout` bound each statement (`timeout`); waiting for a
///   connection is bounded by 2 s (``connectionWait``), and once the database was found
///   unreachable, calls fail at once for half a second, so that a service's workers answer 503
///   quickly during an outage instead of each waiting out the deadline. Every statement is
///   also bounded on this side (``statementBound``): a connection the server closed, or a
///   silent network, fails the call instead of holding a worker for good.
/// - When the database cannot be reached, calls throw ``ChatError/storeUnavailable(_:)`` (a
///   service answers 503) and the pool keeps reconnecting in the background with a backoff, so
///   the store works again after an outage without being reopened.
///
/// The API is blocking (see ``SessionStore``): each call runs its queries in a task and waits
/// for it on the calling thread, which must not be one of Swift concurrency's cooperative threads.
public final class PostgresSessionStore: SessionStore {
    /// Where the database is (from `postgresql://USER[:PASS]@HOST[:PORT]/DB[?sslmode=…]`).
    public typealias Address = PostgresAddress

    /// The schema, one list of statements per version; a store at version n runs the lists after it.
    static let migrations: [[PostgresQuery]] = [
        [
            """
            CREATE TABLE lepton_chat_sessions(
                id text PRIMARY KEY, state text, created double precision NOT NULL, updated double precision NOT NULL)
            """,
            """
            CREATE TABLE lepton_chat_turns(
                session text NOT NULL REFERENCES lepton_chat_sessions(id), turn integer NOT NULL,
                at double precision NOT NULL, text text NOT NULL, intent text NOT NULL,
                confidence double precision NOT NULL, entities text NOT NULL, reply text NOT NULL,
                PRIMARY KEY(session, turn))
            """,
        ],
        [
            // Idempotency-Key of keyed turns (see TurnIdempotency), written with the turn.
            """
            CREATE TABLE lepton_chat_turn_keys(
                session text NOT NULL REFERENCES lepton_chat_sessions(id), key text NOT NULL, digest text NOT NULL,
                turn integer NOT NULL, at double precision NOT NULL, answer text NOT NULL, PRIMARY KEY(session, key))
            """,
        ],
    ]
    /// Any constant will do, as long as every replica uses the same one.
    private static let migrationLock: Int64 = 0x4c65_7074_6f6e_4348  // "LeptonCH"

    public let address: Address
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let codec: StoredValueCodec
    private let timeout: Duration
    /// Set when a call found the database unreachable: calls until then fail at once.
    private let downUntil = LockedBox<Date?>(nil)
    private let logger: Logger

    /// Connects, creates or migrates the schema and checks the key.
    /// - Parameters:
    ///   - key: seals what the store writes (nil: clear text).
    ///   - maximumConnections: the pool's size (callers beyond it wait for a connection).
    ///   - timeout: the longest a call waits for a connection, and each statement may run.
    /// - Throws: ``ChatError/storeUnavailable(_:)`` when the database cannot be reached;
    ///   ``ChatError/store(file:reason:)`` when it refuses us (authentication, no such database,
    ///   a schema newer than this program); ``ChatError/storeKey(_:)`` for a key mismatch.
    public init(address: Address, key: SessionStoreKey? = nil, maximumConnections: Int = 8,
                timeout: Duration = .seconds(10)) throws {
        self.address = address
        self.timeout = timeout
        codec = StoredValueCodec(key: key, location: address.redacted)
        var logger = Logger(label: "lepton.chat.store")
        logger.logLevel = .error
        self.logger = logger

        let millis = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        // Server-side bounds: a statement waiting for a lock or running longer fails instead of hanging.
        let bounds = [("lock_timeout", "\(millis)"), ("statement_timeout", "\(millis)"), ("application_name", "lepton-chat")]
        var pool: PostgresClient.Configuration
        var direct: PostgresConnection.Configuration
        do {
            pool = try address.clientConfiguration()
            direct = try address.connectionConfiguration()
        } catch {
            throw ChatError.store(file: address.redacted, reason: "\(error)")
        }
        pool.options.connectTimeout = .milliseconds(Int64(min(millis, 5000)))
        pool.options.maximumConnections = max(1, maximumConnections)
        pool.options.additionalStartupParameters = bounds
        let client = PostgresClient(configuration: pool)
        self.client = client
        runner = Task.detached { await client.run() }

        // The schema is set up on a connection of its own, outside the pool: the pool retries a
        // failing connection quietly, while this reports why (refused, bad password, no database).
        direct.options.connectTimeout = .milliseconds(Int64(min(millis, 5000)))
        direct.options.additionalStartupParameters = bounds
        let setUpConfiguration = direct
        do {
            let bound = statementBound
            try blocking { [codec, logger] call in
                let connection = try await PostgresConnection.connect(configuration: setUpConfiguration, id: 0, logger: logger)
                do {
                    guard call.begin() else { throw CancellationError() }
                    try await Self.setUp(connection, codec: codec, logger: logger, bound: bound)
                    try? await connection.close()
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
        } catch {
            runner.cancel()
            throw error
        }
    }

    deinit { runner.cancel() }

    /// Creates or migrates the schema and checks the key, in one transaction under the advisory lock.
    private static func setUp(_ db: PostgresConnection, codec: StoredValueCodec, logger: Logger, bound: Duration) async throws {
        try await db.answeredQuery("BEGIN", logger: logger, deadline: bound)
        do {
            try await db.answeredQuery("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger, deadline: bound)
            try await db.answeredQuery("CREATE TABLE IF NOT EXISTS lepton_chat_meta(key text PRIMARY KEY, value text NOT NULL)", logger: logger, deadline: bound)
            var version = 0
            for try await v in try await db.answeredQuery("SELECT value FROM lepton_chat_meta WHERE key = 'schema_version'", logger: logger, deadline: bound)
                .decode(String.self) { version = Int(v) ?? 0 }
            guard version <= migrations.count else {
                throw ChatError.store(file: codec.location, reason: "schema version \(version) is newer than this program's (\(migrations.count))")
            }
            for steps in migrations[version...] {
                for statement in steps { try await db.answeredQuery(statement, logger: logger, deadline: bound) }
            }
            if version < migrations.count {
                try await db.answeredQuery("""
                    INSERT INTO lepton_chat_meta(key, value) VALUES('schema_version', \(String(migrations.count)))
                    ON CONFLICT(key) DO UPDATE SET value = excluded.value
                    """, logger: logger, deadline: bound)
            }
            var check: String?
            for try await v in try await db.answeredQuery("SELECT value FROM lepton_chat_meta WHERE key = 'key_check'", logger: logger, deadline: bound)
                .decode(String.self) { check = v }
            var hasSessions = false
            for try await v in try await db.answeredQuery("SELECT EXISTS(SELECT 1 FROM lepton_chat_sessions)", logger: logger, deadline: bound)
                .decode(Bool.self) { hasSessions = v }
            if let adopt = try codec.checkKey(stored: check, storeHasSessions: hasSessions) {
                try await db.answeredQuery("INSERT INTO lepton_chat_meta(key, value) VALUES('key_check', \(adopt))", logger: logger, deadline: bound)
            }
            try await db.answeredQuery("COMMIT", logger: logger, deadline: bound)
        } catch {
            _ = try? await db.answeredQuery("ROLLBACK", logger: logger, deadline: bound)
            throw error
        }
    }

    // MARK: SessionStore

    public func state(of session: String) throws -> DialogState? {
        let row = codec.rowID(session)
        let stored: String?? = try read { db, logger, bound in
            var found: String?? = nil
            for try await s in try await db.answeredQuery("SELECT state FROM lepton_chat_sessions WHERE id = \(row)", logger: logger, deadline: bound)
                .decode(String?.self) { found = .some(s) }
            return found
        }
        guard let stored = stored ?? nil else { return nil }
        return try codec.decodeState(stored, row: row, session: session)
    }

    /// Plays one turn, keyed or not, in one transaction: the key is looked up under the session's
    /// row lock, so duplicates sent to two replicas at once serialise and the second sees the
    /// first's key (see ``SessionStore/turn(session:idempotency:_:)``).
    public func turn(session: String, idempotency: TurnIdempotency?,
                     _ body: (inout DialogState, _ isNew: Bool) throws -> (record: TurnRecord, answer: String)) throws -> KeyedTurnOutcome {
        let row = codec.rowID(session)
        let crashMidTurn = ProcessInfo.processInfo.environment["LEPTON_CHAT_CRASH_MID_TURN"] == "1"
        return try withoutActuallyEscaping(body) { body in
            // The body runs inside the task while this thread waits for it (`blocking`), so it never
            // runs concurrently with its owner: handing it over through a box is safe. The box lets
            // go of it before this block ends, as `withoutActuallyEscaping` requires (the task
            // itself may be released a moment after it signals).
            let step = LockedBox<Optional<(inout DialogState, Bool) throws -> (record: TurnRecord, answer: String)>>(body)
            defer { step.set(nil) }
            let bodyError = LockedBox<(any Error)?>(nil)
            do {
                return try blocking { [client, codec, logger, bound = statementBound] call in
                        try await client.withConnection { db in
                            // Past this point the caller waits for the outcome; before it, a caller
                            // that gave up (no connection in time) has already answered "unavailable".
                            guard call.begin() else { throw CancellationError() }
                            try await db.answeredQuery("BEGIN", logger: logger, deadline: bound)
                            do {
                                let now = Date().timeIntervalSince1970
                                try await db.answeredQuery("""
                                    INSERT INTO lepton_chat_sessions(id, state, created, updated) VALUES(\(row), NULL, \(now), \(now))
                                    ON CONFLICT(id) DO NOTHING
                                    """, logger: logger, deadline: bound)
                                var stored: String?
                                for try await s in try await db.answeredQuery(
                                    "SELECT state FROM lepton_chat_sessions WHERE id = \(row) FOR UPDATE", logger: logger, deadline: bound).decode(String?.self) {
                                    stored = s
                                }
                                if let idempotency {
                                    var found: (String, String)?
                                    for try await k in try await db.answeredQuery(
                                        "SELECT digest, answer FROM lepton_chat_turn_keys WHERE session = \(row) AND key = \(idempotency.key)",
                                        logger: logger, deadline: bound).decode((String, String).self) { found = k }
                                    if let answer = try codec.replay(of: idempotency, storedDigest: found?.0, storedAnswer: found?.1, row: row) {
                                        try await db.answeredQuery("ROLLBACK", logger: logger, deadline: bound)
                                        return KeyedTurnOutcome.replayed(answer: answer)
                                    }
                                }
                                var state = try stored.map { try codec.decodeState($0, row: row, session: session) } ?? DialogState()
                                let record: TurnRecord, answer: String
                                do {
                                    guard let play = step.value else { throw CancellationError() }
                                    let played = try play(&state, stored == nil)
                                    (record, answer) = (played.record.maskedForStorage, played.answer)
                                } catch {
                                    bodyError.set(error)
                                    throw error
                                }
                                let cells = try codec.encodeTurn(record, row: row)
                                try await db.answeredQuery("""
                                    UPDATE lepton_chat_sessions SET state = \(try codec.encodeState(state, row: row)), updated = \(now)
                                    WHERE id = \(row)
                                    """, logger: logger, deadline: bound)
                                try await db.answeredQuery("""
                                    INSERT INTO lepton_chat_turns(session, turn, at, text, intent, confidence, entities, reply)
                                    VALUES(\(row), \(record.turn), \(now), \(cells.text), \(record.intent), \(record.confidence),
                                           \(cells.entities), \(cells.reply))
                                    """, logger: logger, deadline: bound)
                                if let idempotency {
                                    try await db.answeredQuery("""
                                        INSERT INTO lepton_chat_turn_keys(session, key, digest, turn, at, answer)
                                        VALUES(\(row), \(idempotency.key), \(codec.storedDigest(idempotency)), \(record.turn), \(now),
                                               \(try codec.encodeAnswer(answer, row: row, key: idempotency.key)))
                                        """, logger: logger, deadline: bound)
                                    try await db.answeredQuery("""
                                        DELETE FROM lepton_chat_turn_keys
                                        WHERE session = \(row) AND turn <= \(record.turn - TurnIdempotency.keptPerSession)
                                        """, logger: logger, deadline: bound)
                                }
                                if crashMidTurn { kill(getpid(), SIGKILL) }
                                try await db.answeredQuery("COMMIT", logger: logger, deadline: bound)
                                return KeyedTurnOutcome.played(state)
                            } catch {
                                _ = try? await db.answeredQuery("ROLLBACK", logger: logger, deadline: bound)
                                throw error
                            }
                        }
                }
            } catch {
                // The dialog's own error goes back as it was thrown, not as a store failure.
                if let e = bodyError.value { throw e }
                throw error
            }
        }
    }

    public func history(of session: String) throws -> [TurnRecord] {
        let row = codec.rowID(session)
        typealias Cells = (Int, String, String, Double, String, String)
        let rows: [StoredTurn] = try read { db, logger, bound in
            var out: [StoredTurn] = []
            for try await c in try await db.answeredQuery("""
                SELECT turn, text, intent, confidence, entities, reply FROM lepton_chat_turns WHERE session = \(row) ORDER BY turn
                """, logger: logger, deadline: bound).decode(Cells.self) {
                out.append(StoredTurn(turn: c.0, text: c.1, intent: c.2, confidence: c.3, entities: c.4, reply: c.5))
            }
            return out
        }
        return try rows.map {
            try codec.decodeTurn(turn: $0.turn, text: $0.text, intent: $0.intent, confidence: $0.confidence,
                                 entities: $0.entities, reply: $0.reply, row: row)
        }
    }

    public func storedAnswer(session: String, idempotency: TurnIdempotency) throws -> String? {
        let row = codec.rowID(session)
        let found: (String, String)? = try read { db, logger, bound in
            var found: (String, String)?
            for try await k in try await db.answeredQuery(
                "SELECT digest, answer FROM lepton_chat_turn_keys WHERE session = \(row) AND key = \(idempotency.key)",
                logger: logger, deadline: bound).decode((String, String).self) { found = k }
            return found
        }
        return try codec.replay(of: idempotency, storedDigest: found?.0, storedAnswer: found?.1, row: row)
    }

    public func recentSessions(limit: Int) throws -> [SessionSummary] {
        let sealed = codec.key != nil
        let count = max(0, limit)
        return try read { db, logger, bound in
            var out: [SessionSummary] = []
            for try await (id, turns, created, updated) in try await db.answeredQuery("""
                SELECT s.id, (SELECT count(*) FROM lepton_chat_turns t WHERE t.session = s.id), s.created, s.updated
                FROM lepton_chat_sessions s ORDER BY s.updated DESC, s.id LIMIT \(count)
                """, logger: logger, deadline: bound).decode((String, Int, Double, Double).self) {
                out.append(SessionSummary(id: sealed ? nil : id, turns: turns, created: created, updated: updated))
            }
            return out
        }
    }

    // MARK: Blocking calls, deadlines and errors

    /// A read on a pooled connection: `body` gets the connection, the logger and ``statementBound``.
    private func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger, Duration) async throws -> T) throws -> T {
        try blocking { [client, logger, bound = statementBound] _ in
            try await client.withConnection { db in try await body(db, logger, bound) }
        }
    }

    /// The longest one statement is waited for: the server's own `statement_timeout` and
    /// `lock_timeout` (`timeout`) and 2 s for the network. Past it the connection is dropped
    /// (see ``PostgresConnection/answeredQuery(_:logger:deadline:)``).
    var statementBound: Duration { timeout + .seconds(2) }

    /// Runs `work` in a task and waits for it on this thread; its errors come back as ``ChatError``.
    private func blocking<T: Sendable>(_ work: @escaping @Sendable (PendingCall) async throws -> T) throws -> T {
        // While the database is known to be down, calls fail at once instead of each holding a
        // service worker for the connection wait: the queue behind them would wait too.
        if let until = downUntil.value, Date() < until {
            throw ChatError.storeUnavailable("\(address.redacted): unreachable a moment ago")
        }
        do {
            return try Self.blocking(location: address.redacted, timeout: min(timeout, Self.connectionWait),
                                     finish: statementBound * Self.statementsPerCall, work)
        } catch let e as ChatError {
            if case .storeUnavailable = e { downUntil.set(Date().addingTimeInterval(Self.downPause)) }
            throw e
        }
    }

    /// The most statements one call runs (a keyed turn: nine and a rollback), for its overall bound.
    static let statementsPerCall = 10
    /// The longest a call waits for a connection before it reports the store unavailable.
    static let connectionWait: Duration = .seconds(2)
    /// How long calls fail at once after the store was found unavailable (then one tries again).
    static let downPause: TimeInterval = 0.5

    /// Runs `work` in a task while this thread waits, at most `timeout` for work that has not
    /// begun its transaction (typically: no connection, the database is down). Then the call is
    /// abandoned, the caller gets ``ChatError/storeUnavailable(_:)`` at once (a service answers 503)
    /// and the task, whenever it gets a connection, sees the call abandoned and writes nothing.
    /// Work that has begun (``PendingCall/begin()``) is waited for: its outcome, committed or
    /// not, is what the caller must report. Each statement is bounded (``statementBound``), so
    /// this ends; `finish` is the last guard, after which the outcome is reported as unknown
    /// rather than hold the caller's thread for good.
    private static func blocking<T: Sendable>(location: String, timeout: Duration, finish: Duration,
                                              _ work: @escaping @Sendable (PendingCall) async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedBox<Result<T, any Error>?>(nil)
        let call = PendingCall()
        let task = Task.detached {
            do { outcome.set(.success(try await work(call))) } catch { outcome.set(.failure(error)) }
            done.signal()
        }
        if done.wait(timeout: .now() + timeout.timeInterval) == .timedOut {
            if call.abandon() {
                task.cancel()
                throw ChatError.storeUnavailable("no connection to \(location) within \(timeout)")
            }
            if done.wait(timeout: .now() + finish.timeInterval) == .timedOut {
                task.cancel()
                throw ChatError.storeUnavailable("\(location) did not finish a transaction within \(finish); whether it committed is unknown")
            }
        }
        switch outcome.value! {
        case .success(let value): return value
        case .failure(let error): throw storeError(error, location: location)
        }
    }

    /// What a failure means to the caller: the server's own refusal (bad SQL state, permission,
    /// authentication) is a store error; anything about reaching it is "unavailable", worth a retry.
    static func storeError(_ error: any Error, location: String) -> any Error {
        if error is ChatError || error is IdempotencyKeyReused { return error }
        if let e = error as? PSQLError {
            if let state = e.serverInfo?[.sqlState], let message = e.serverInfo?[.message] {
                // 08: connection exception, 57: shutdown or cannot connect now, 53: out of resources.
                if state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53") {
                    return ChatError.storeUnavailable("\(location): \(message)")
                }
                return ChatError.store(file: location, reason: "\(message) (SQLSTATE \(state))")
            }
            switch e.code {
            case .connectionError:
                if let why = PostgresAddress.tlsFailure(e) { return ChatError.storeUnavailable("cannot connect to \(location): \(why)") }
                return ChatError.storeUnavailable("cannot connect to \(location) (is the server running?)")
            case .serverClosedConnection, .uncleanShutdown: return ChatError.storeUnavailable("\(location) closed the connection")
            default: return ChatError.storeUnavailable("\(location): \(e.code)")
            }
        }
        if let e = error as? UnansweredQuery { return ChatError.storeUnavailable("\(location): \(e)") }
        if error is CancellationError { return ChatError.storeUnavailable("\(location): cancelled") }
        return ChatError.storeUnavailable("\(location): \(error)")
    }
}

extension Duration {
    /// In seconds, for DispatchSemaphore's deadlines.
    fileprivate var timeInterval: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A turn's cells as read, before opening.
private struct StoredTurn: Sendable {
    var turn: Int, text: String, intent: String, confidence: Double, entities: String, reply: String
}

/// Whether a blocking call's work may still start its transaction: the waiting thread abandons
/// it (deadline passed) or the work begins it, whichever comes first.
final class PendingCall: @unchecked Sendable {
    private let lock = NSLock()
    private var state = 0  // 0 waiting, 1 begun, 2 abandoned
    /// The work is about to begin its transaction; false when the caller has already given up.
    func begin() -> Bool { lock.lock(); defer { lock.unlock() }; if state == 0 { state = 1 }; return state == 1 }
    /// The caller gives up; false when the transaction has already begun (then its outcome counts).
    func abandon() -> Bool { lock.lock(); defer { lock.unlock() }; if state == 0 { state = 2 }; return state == 2 }
}

/// One value shared between a task and the thread waiting for it.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ value: Value) { lock.lock(); stored = value; lock.unlock() }
}
