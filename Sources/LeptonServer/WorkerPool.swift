import Foundation
import Hummingbird
import Metrics
import NIOPosix
import Synchronization

/// Dedicated threads for model work, with a bound on the requests waiting or running and a
/// per-request timeout.
///
/// Model calls are synchronous and CPU-bound: run on Swift concurrency's cooperative threads or on
/// the event loops they would stall every other request (health checks included). Routes hand them
/// here instead (``run(_:)``) and await the result.
///
/// A request that times out is answered 504 at once, but its work runs to the end on its thread
/// (a model call cannot be interrupted) and keeps its place in the queue until then: the bound
/// counts the threads' real load, so a flood of slow requests turns into 503s, not a pile-up.
public final class WorkerPool: Sendable {
    private let threads: NIOThreadPool
    /// Requests waiting or running at most.
    public let capacity: Int
    private let timeout: Duration
    private let pending = Atomic<Int>(0)
    private let depth = Gauge(label: "lepton_queue_depth")

    /// Starts `workers` threads.
    public init(workers: Int, capacity: Int, timeoutSeconds: Double) {
        threads = NIOThreadPool(numberOfThreads: workers)
        threads.start()
        self.capacity = capacity
        timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        depth.record(0)
    }

    /// Requests waiting or running now.
    public var queued: Int { pending.load(ordering: .relaxed) }

    /// Runs `body` on a worker thread and returns its result.
    ///
    /// - Throws: ``ServiceError`` 503 (with `Retry-After`) when `capacity` requests are already
    ///   waiting or running, 504 when the answer takes longer than the timeout; otherwise what
    ///   `body` throws.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try reserve()
        let timeout = self.timeout
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let answer = AnswerOnce(continuation)
            let timer = Task {
                do { try await Task.sleep(for: timeout) } catch { return }
                answer.resume(.failure(ServiceError(.gatewayTimeout, "the request took longer than \(Self.seconds(timeout)) s (--timeout)")))
            }
            threads.submit { state in
                let result: Result<T, Error>
                if case .active = state { result = Result { try body() } } else {
                    result = .failure(ServiceError.unavailable("the service is shutting down"))
                }
                self.release()
                timer.cancel()
                answer.resume(result)
            }
        }
    }

    /// Runs `body` on a worker thread outside the queue bound and without a timeout (loading models
    /// at start).
    public func load<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(body)
    }

    /// Stops the threads once the work submitted has run.
    public func shutdown() async {
        try? await threads.shutdownGracefully()
    }

    private func reserve() throws {
        var current = pending.load(ordering: .relaxed)
        while true {
            guard current < capacity else {
                throw ServiceError.unavailable("busy: \(capacity) requests are already waiting or running (--queue)")
            }
            let (exchanged, original) = pending.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { depth.record(current + 1); return }
            current = original
        }
    }

    private func release() {
        let left = pending.subtract(1, ordering: .acquiringAndReleasing).newValue
        depth.record(left)
    }

    private static func seconds(_ d: Duration) -> String {
        let c = d.components
        let s = Double(c.seconds) + Double(c.attoseconds) / 1e18
        return s == s.rounded() ? String(Int(s)) : String(format: "%.3g", s)
    }
}

/// A continuation resumed by whichever comes first (the answer or the timeout); later calls are ignored.
private final class AnswerOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Error>?>

    init(_ continuation: CheckedContinuation<T, Error>) { self.continuation = Mutex(continuation) }

    func resume(_ result: Result<T, Error>) {
        let c = continuation.withLock { value -> CheckedContinuation<T, Error>? in
            defer { value = nil }
            return value
        }
        c?.resume(with: result)
    }
}
