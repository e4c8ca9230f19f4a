import Foundation
import PostgresNIO
import Synchronization

/// Why ``PostgresConnection/answeredQuery(_:logger:deadline:)`` gave up on a query.
public enum UnansweredQuery: Error, CustomStringConvertible, Equatable {
    /// The connection closed before the server answered (the server shut down or dropped us).
    case connectionClosed
    /// No answer within the deadline while the connection looked open (a silent network, a
    /// server that stopped answering).
    case deadline(Duration)

    public var description: String {
        switch self {
        case .connectionClosed: return "the connection closed before the server answered"
        case .deadline(let d): return "no answer from the server within \(d)"
        }
    }
}

extension PostgresConnection {
    /// ``query(_:logger:file:line:)``, but one that cannot wait forever.
    ///
    /// postgres-nio 1.33 hands a query to its channel without a write promise, so a query written
    /// to a connection that has just closed is never answered nor failed: the caller waits
    /// forever. It happens when the server shuts down between two statements of a transaction
    /// (CI saw a chat service's workers all stuck so during a database restart; upstream's fix,
    /// vapor/postgres-nio#487, was reverted in #501). Here the query races a watcher that fails it
    /// as soon as the connection is closed, or once `deadline` has passed (nil: no deadline, for a
    /// user's own query that may rightly run long). A query left behind is abandoned to its task;
    /// past the deadline the connection is closed too, since the late statement is still queued on
    /// it and whatever borrowed it next would run behind it, inside a transaction not its own.
    ///
    /// - Throws: ``UnansweredQuery``, or what the query itself throws.
    public func answeredQuery(_ query: PostgresQuery, logger: Logger, deadline: Duration? = nil) async throws -> PostgresRowSequence {
        if isClosed { throw UnansweredQuery.connectionClosed }
        let connection = self
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresRowSequence, any Error>) in
            let answer = FirstAnswer(continuation)
            let watcher = Task {
                let clock = ContinuousClock()
                let start = clock.now
                while !Task.isCancelled {
                    if connection.isClosed { answer.resume(.failure(UnansweredQuery.connectionClosed)); return }
                    if let deadline, clock.now - start > deadline {
                        answer.resume(.failure(UnansweredQuery.deadline(deadline)))
                        // The late query would still be queued on it: a pool must not lend it again.
                        connection.close().whenComplete { _ in }
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            Task {
                let result: Result<PostgresRowSequence, any Error>
                do { result = .success(try await connection.query(query, logger: logger)) } catch { result = .failure(error) }
                watcher.cancel()
                answer.resume(result)
            }
        }
    }
}

/// A continuation resumed by whichever comes first (the query or its watcher); later calls are ignored.
private final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<PostgresRowSequence, any Error>?>

    init(_ continuation: CheckedContinuation<PostgresRowSequence, any Error>) { self.continuation = Mutex(continuation) }

    func resume(_ result: Result<PostgresRowSequence, any Error>) {
        let c = continuation.withLock { value -> CheckedContinuation<PostgresRowSequence, any Error>? in
            defer { value = nil }
            return value
        }
        c?.resume(with: result)
    }
}
