import Dispatch

/// How many cores the engine's own kernels may use (the `--threads` option sets it).
public enum EngineThreads {
    nonisolated(unsafe) private static var value = 1
    public static var count: Int { value }
    /// Sets the thread count for Swift kernels and OpenBLAS together.
    public static func set(_ n: Int) { value = max(1, n); BLAS.setThreads(value) }
}

/// Runs `body(chunkStart, chunkEnd)` over `0..<n` split into at most `EngineThreads.count` chunks.
/// Small jobs (below `grain` items) run inline: a thread hop costs more than it saves.
@inlinable
public func parallelChunks(_ n: Int, grain: Int = 1, _ body: @Sendable (Int, Int) -> Void) {
    let workers = min(EngineThreads.count, max(1, n / max(grain, 1)))
    if workers <= 1 { body(0, n); return }
    let step = (n + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = w * step, hi = min(n, lo + step)
        if lo < hi { body(lo, hi) }
    }
}
