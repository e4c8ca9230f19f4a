import Crypto
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

/// Where conversations live between turns: the state of each session and its history.
///
/// Two implementations: ``SQLiteSessionStore`` (one embedded file, the default) and
/// ``PostgresSessionStore`` (a database that several replicas of a service share). Open one with
/// ``SessionStoreLocation/open(key:)``.
///
/// The API is synchronous on purpose: the callers (a CLI turn, a service's worker threads) block
/// until the turn is durable, and an implementation may wait for a lock held by another process.
/// Never call it from Swift concurrency's cooperative threads (a blocked one cannot run the work
/// it is waiting for).
///
/// With a ``SessionStoreKey``, texts, entity values, replies and the state are sealed at rest;
/// card numbers are masked before storage in any case.
public protocol SessionStore: AnyObject, Sendable {
    /// The state of `session`, or nil when the store has never seen it.
    func state(of session: String) throws -> DialogState?

    /// Plays one turn of `session` in one transaction.
    ///
    /// `body` receives the stored state (a fresh one for an unknown session, with `isNew` true),
    /// changes it and returns the record to append to the history. Two callers playing turns of
    /// the same session (threads, processes or replicas) serialise: each sees the other's state.
    /// Nothing is written if `body` throws (its error is rethrown as is).
    /// - Returns: the state as committed.
    /// (Implemented once, for every store, over ``turn(session:idempotency:_:)`` without a key.)
    @discardableResult
    func turn(session: String, _ body: (inout DialogState, _ isNew: Bool) throws -> TurnRecord) throws -> DialogState

    /// The recorded turns of `session`, oldest first.
    func history(of session: String) throws -> [TurnRecord]

    /// Plays one turn of `session` guarded by a client's key (nil: no key, as ``turn(session:_:)``), in one transaction.
    ///
    /// Under the session's lock (as ``turn(session:_:)``), the store first looks the key up in
    /// this session: found with the same digest, it returns the stored answer and plays nothing
    /// (`body` is not called); found with another digest, it throws ``IdempotencyKeyReused``.
    /// Otherwise `body` plays the turn and returns its record and the answer to store; state,
    /// record, key, digest and answer (sealed with the store's key) commit together, and the
    /// session's keys of turns older than the last ``TurnIdempotency/keptPerSession`` are dropped.
    func turn(session: String, idempotency: TurnIdempotency?,
              _ body: (inout DialogState, _ isNew: Bool) throws -> (record: TurnRecord, answer: String)) throws -> KeyedTurnOutcome

    /// The sessions played most recently, newest first (by their last turn), at most `limit`.
    func recentSessions(limit: Int) throws -> [SessionSummary]

    /// The stored answer of a turn this session played with this key and the same request, or
    /// nil when the key is new: a cheap look before slow work (hearing a call), so that a retry
    /// is answered at once. (``turn(session:idempotency:_:)`` looks again under the session's lock.)
    /// - Throws: ``IdempotencyKeyReused`` when the key came with another request.
    func storedAnswer(session: String, idempotency: TurnIdempotency) throws -> String?
}

extension SessionStore {
    @discardableResult
    public func turn(session: String, _ body: (inout DialogState, _ isNew: Bool) throws -> TurnRecord) throws -> DialogState {
        let outcome = try turn(session: session, idempotency: nil) { state, isNew in (try body(&state, isNew), "") }
        guard case .played(let state) = outcome else { preconditionFailure("a turn without a key is never replayed") }
        return state
    }
}

/// A session as listed by ``SessionStore/recentSessions(limit:)``.
public struct SessionSummary: Codable, Equatable, Sendable {
    /// The session id; nil in a sealed store, which keeps only a keyed hash of it (the list still
    /// says how many sessions there are and when they were played).
    public var id: String?
    /// Turns recorded.
    public var turns: Int
    /// When the first and the last turn were played, in seconds since 1970 (UTC).
    public var created: Double
    public var updated: Double

    public init(id: String?, turns: Int, created: Double, updated: Double) {
        self.id = id; self.turns = turns; self.created = created; self.updated = updated
    }
}

extension TurnRecord {
    /// The record as it may be stored: card and account numbers masked in the text and entities.
    public var maskedForStorage: TurnRecord {
        var r = self
        r.text = maskNumbersInText(r.text)
        r.entities = r.entities.map(\.masked)
        return r
    }
}

// MARK: Idempotent turns

/// A client's `Idempotency-Key` for one turn and a digest of the request it came with.
///
/// A service takes it from the `Idempotency-Key` header of `POST /v1/sessions/{id}/turns`. The
/// store records the key, the digest and the turn's answer in the transaction that plays the
/// turn, so a retry of a committed turn (after a lost answer, on any replica, even after the
/// first replica died right after its commit) gets the stored answer and plays nothing again —
/// including the turn's backend action, which runs under the session's lock.
///
/// Keys are per session: the same key in another session is another key. Keys expire by count,
/// not time: a store keeps the keys of each session's last ``keptPerSession`` turns; an older key
/// is forgotten and would play a new turn (a client retries within seconds, a call has a few
/// dozen turns, and a count bounds the table whatever the traffic).
public struct TurnIdempotency: Sendable, Equatable {
    /// The client's key: 1 to 128 printable ASCII characters (space to `~`).
    public let key: String
    /// Hex SHA-256 of the request (its kind and its body bytes): the same key with another request is refused.
    public let digest: String

    /// How many of a session's latest turns keep their keys.
    public static let keptPerSession = 100

    /// - Parameters:
    ///   - key: the header's value.
    ///   - request: what identifies the request (for a service: the body's kind and bytes).
    /// - Throws: ``ChatError/badInput(_:)`` when the key is empty, longer than 128 characters or
    ///   holds anything but printable ASCII.
    public init(key: String, request: Data) throws {
        guard (1...128).contains(key.utf8.count), key.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else {
            throw ChatError.badInput("Idempotency-Key must be 1 to 128 printable ASCII characters")
        }
        self.key = key
        digest = SHA256.hash(data: request).map { String(format: "%02x", $0) }.joined()
    }
}

/// What a keyed turn did: played now, or answered from the store for a key seen before.
public enum KeyedTurnOutcome: Sendable, Equatable {
    /// The turn was played and committed with its key; the state as committed.
    case played(DialogState)
    /// The key was already used for the same request: its stored answer, nothing played.
    case replayed(answer: String)
}

/// The same `Idempotency-Key` came with a different request in the same session (a service
/// answers 422): the key names a turn already played with other content.
public struct IdempotencyKeyReused: Error, CustomStringConvertible, Sendable {
    public let key: String
    public var description: String {
        "Idempotency-Key \"\(key)\" was already used for a different request in this session"
    }
}

/// Where both stores keep keyed turns: the row of a key and the place its sealed answer is bound to.
extension StoredValueCodec {
    /// The stored digest: with a key, a keyed hash (a short request's plain digest could be
    /// guessed back from a dictionary of likely texts); without one, the digest itself.
    public func storedDigest(_ idempotency: TurnIdempotency) -> String { rowID(idempotency.digest) }

    /// Seals a turn's answer, bound to its session row and key.
    public func encodeAnswer(_ answer: String, row: String, key: String) throws -> String {
        try seal(answer, "\(row)/idempotency/\(key)")
    }

    public func decodeAnswer(_ stored: String, row: String, key: String) throws -> String {
        try open(stored, "\(row)/idempotency/\(key)")
    }

    /// What a recorded key means for a new request: nil when the key is new, the answer to
    /// replay when the request is the same, ``IdempotencyKeyReused`` when it differs.
    public func replay(of idempotency: TurnIdempotency, storedDigest: String?, storedAnswer: String?, row: String) throws -> String? {
        guard let storedDigest, let storedAnswer else { return nil }
        guard storedDigest == self.storedDigest(idempotency) else { throw IdempotencyKeyReused(key: idempotency.key) }
        return try decodeAnswer(storedAnswer, row: row, key: idempotency.key)
    }
}
