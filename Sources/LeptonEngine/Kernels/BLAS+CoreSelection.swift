import CBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension BLAS {
    /// Makes sure OpenBLAS runs its fastest kernels on this CPU. Runs once, before the first GEMM.
    ///
    /// Why: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise some virtualised Intel
    /// CPUs (model name "Intel(R) Xeon(R) Processor", AVX-512 capable) and falls back to its
    /// SSE3 "Prescott" kernels: sgemm n = 1024 measured 21–25 GFLOP/s there versus 99–120 with
    /// the SkylakeX kernels and 62–67 with Haswell (1 thread, CPU time). When detection fell back
    /// like that and the user has not chosen a core with `OPENBLAS_CORETYPE`, we pick one from the
    /// CPU flags and re-run OpenBLAS's own dynamic initialisation (`gotoblas_dynamic_quit/init`,
    /// looked up with `dlsym`, so a non-dynamic OpenBLAS is simply left alone).
    public static let kernelSetup: String = {
        let current = corename()
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              ["prescott", "core2", "nehalem", "atom", "banias", "katmai", "unknown"].contains(current.lowercased()),
              let flags = cpuFlags() else { return current }
        let wanted: String
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { wanted = "SkylakeX" }
        else if flags.contains("avx2") && flags.contains("fma") { wanted = "Haswell" }
        else if flags.contains("avx") { wanted = "SandyBridge" }
        else { return current }
        guard let quit = dlsym(nil, "gotoblas_dynamic_quit"),
              let initialise = dlsym(nil, "gotoblas_dynamic_init") else { return current }
        typealias VoidFn = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", wanted, 1)
        unsafeBitCast(quit, to: VoidFn.self)()
        unsafeBitCast(initialise, to: VoidFn.self)()
        return corename()
    }()

    /// Runs `body` with OpenBLAS on one thread, for kernels that already spread independent GEMMs
    /// over the cores themselves (two levels of threads oversubscribe, and OpenBLAS workers spin).
    ///
    /// OpenBLAS's thread count is process-wide: sections may nest and run on several threads at
    /// once, so they are counted, and the engine's count is restored when the last one ends.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        // The switch happens under the counter's lock, so an ending section cannot undo a starting one.
        _ = singleThreadedSections.update { n in
            if n == 0 { setThreads(1) }
            return n + 1
        }
        defer {
            _ = singleThreadedSections.update { n in
                if n == 1 { setThreads(EngineThreads.count) }
                return n - 1
            }
        }
        return try body()
    }

    /// How many ``withSingleThreadedBLAS(_:)`` sections are running.
    private static let singleThreadedSections = LockedInt(0)

    /// The OpenBLAS kernel family in use (e.g. "SkylakeX", "Haswell", "Zen").
    public static func corename() -> String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// CPU feature flags from /proc/cpuinfo (Linux), or nil elsewhere.
    static func cpuFlags() -> Set<String>? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
