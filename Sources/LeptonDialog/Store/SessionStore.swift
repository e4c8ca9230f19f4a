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
    @discardableResult
    func turn(session: String, _ body: (inout DialogState, _ isNew: Bool) throws -> TurnRecord) throws -> DialogState

    /// The recorded turns of `session`, oldest first.
    func history(of session: String) throws -> [TurnRecord]

    /// The sessions played most recently, newest first (by their last turn), at most `limit`.
    func recentSessions(limit: Int) throws -> [SessionSummary]
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
