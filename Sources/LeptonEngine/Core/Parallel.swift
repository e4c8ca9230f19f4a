import Dispatch
import Foundation

/// How many cores the engine's own kernels may use (the `--threads` option sets it).
///
/// A process-wide setting (like OpenBLAS's own thread count), read under a lock so that a
/// thread changing it never races with kernels reading it.
public enum EngineThreads {
    private static let value = LockedInt(1)
    public static var count: Int { value.get() }
    /// Sets the thread count for Swift kernels and OpenBLAS together.
    public static func set(_ n: Int) {
        let n = max(1, n)
        value.set(n)
        BLAS.setThreads(n)
    }
}

/// An integer behind a lock (the engine's few process-wide settings; not on any per-element path).
final class LockedInt: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    init(_ value: Int) { self.value = value }
    func get() -> Int { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: Int) { lock.lock(); value = v; lock.unlock() }
    /// Applies `change` atomically and returns the new value.
    func update(_ change: (Int) -> Int) -> Int { lock.lock(); defer { lock.unlock() }; value = change(value); return value }
}

/// Runs `body(lo, hi)` over `0..<n`: the engine's one parallel-for.
///
/// - Without `chunk`, the range is split into at most `EngineThreads.count` equal chunks of at
///   least `grain` items (small jobs, below `grain`, run inline: a thread hop costs more than it saves).
/// - With `chunk`, the range is cut into pieces of `chunk` items that the worker threads take
///   dynamically (GCD `concurrentPerform`): more pieces than cores keeps both cores busy on a
///   loaded machine, where one descheduled thread would stall a fixed split.
///
/// Every index is covered exactly once; with one thread (or one piece) `body` runs inline.
@inlinable
public func parallelChunks(_ n: Int, grain: Int = 1, chunk: Int? = nil, _ body: @Sendable (Int, Int) -> Void) {
    let threads = EngineThreads.count
    if let chunk {
        let size = max(1, chunk), pieces = (n + size - 1) / size
        if threads <= 1 || pieces <= 1 { body(0, n); return }
        DispatchQueue.concurrentPerform(iterations: pieces) { p in
            let lo = p * size
            body(lo, min(n, lo + size))
        }
        return
    }
    let workers = min(threads, max(1, n / max(grain, 1)))
    if workers <= 1 { body(0, n); return }
    let step = (n + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = w * step, hi = min(n, lo + step)
        if lo < hi { body(lo, hi) }
    }
}
