import Foundation

/// How long one call of a workload takes, measured like the peer scripts in ../shared/bench:
/// one warm-up call, a calibration call that picks an inner loop count so one timed repeat lasts
/// at least `minTime`, then `repeats` repeats. Wall and process-CPU time are both reported
/// (CPU time is less disturbed by other jobs on a shared machine).
struct BenchTiming: Codable, Sendable {
    var medianMs: Double
    var bestMs: Double
    var cpuMsPerCall: Double
    var innerLoops: Int
    var repeats: Int

    /// GFLOP/s from the median and the best wall time.
    func gflops(_ flop: Double) -> (median: Double, best: Double) {
        (flop / (medianMs * 1e6), flop / (bestMs * 1e6))
    }

    static func wallSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Times `body` (see the type's summary). A 0.2 s pause first lets other thread pools go idle.
    static func measure(repeats: Int, minTime: Double, settle: Double = 0.2, _ body: () -> Void) -> BenchTiming {
        if settle > 0 { usleep(useconds_t(settle * 1e6)) }
        body()                                            // warm-up
        let t0 = wallSeconds()
        body()                                            // calibration
        let one = max(wallSeconds() - t0, 1e-7)
        let inner = max(1, Int((minTime / one).rounded(.up)))
        var times: [Double] = []
        let c0 = cpuSeconds()
        for _ in 0..<max(1, repeats) {
            let s = wallSeconds()
            for _ in 0..<inner { body() }
            times.append((wallSeconds() - s) / Double(inner))
        }
        let cpu = (cpuSeconds() - c0) / Double(max(1, repeats) * inner)
        times.sort()
        return BenchTiming(medianMs: times[times.count / 2] * 1e3, bestMs: times[0] * 1e3, cpuMsPerCall: cpu * 1e3,
                           innerLoops: inner, repeats: times.count)
    }
}

/// Keeps a computed value alive so the optimiser cannot drop the work that produced it.
@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }
