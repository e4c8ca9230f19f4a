import ArgumentParser
import CBLAS
import Foundation
import LeptonCLI
import LeptonEngine

/// `lepton-bench kernels`: GFLOP/s of the engine's hot kernels on the shapes of ../shared/bench/kernels_peer.py.
struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GFLOP/s of GEMM, conv2d, attention and SpMM (release build), beside cblas_sgemm called directly.",
        discussion: """
        Workloads (the shapes of ../shared/bench/kernels_peer.py, plus SpMM):
          sgemm      n × n × n, n = 128 … 2048: the engine's Tensor.matmul (allocates its output) and
                     cblas_sgemm called directly on preallocated buffers (the OpenBLAS baseline).
          conv2d     64→64 3×3 56² b1, 3→64 7×7/2 224² b1, 1→32 3×3 28² b64, 32→64 3×3 14² b64 (no bias).
          attention  one sequence, 6 heads, 1500 × 64 (Whisper tiny encoder), FLOP = 4·h·L²·d.
          spmm       CSR (100 000 nodes, 1 000 000 random edges, seed 0) × dense [100 000, 64], FLOP = 2·nnz·64.
        Timing as the peer scripts: warm-up, an inner loop of at least --min-time seconds, --repeats
        repeats; median and best wall time and process CPU time per call. Compare with the peer in the
        same session, same thread count, alternating (A B A B):

          swift build -c release --product lepton-bench
          .build/release/lepton-bench kernels --threads 2 --json > swift.json
          python3 ../shared/bench/kernels_peer.py --threads 2 > peer.json

        Examples:
          lepton-bench kernels
          lepton-bench kernels --threads 1 --only sgemm,spmm --sizes 256,1024
        """
    )

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    @Flag(name: .long, help: "Print one JSON object on stdout instead of the text table.")
    var json = false

    @Option(name: .long, help: "Comma list of sgemm,conv,attention,spmm.")
    var only = "sgemm,conv,attention,spmm"

    @Option(name: .long, help: "GEMM sizes n (comma list).")
    var sizes = "128,256,512,1024,2048"

    @Option(name: .long, help: "Timed repeats per workload.")
    var repeats = 5

    @Option(name: .long, help: "Minimum seconds per timed repeat (inner loop).")
    var minTime = 0.2

    func validate() throws {
        guard common.threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard repeats >= 1, minTime > 0 else { throw ValidationError("--repeats must be ≥ 1 and --min-time > 0") }
        let known: Set<String> = ["sgemm", "conv", "attention", "spmm"]
        for w in only.split(separator: ",") where !known.contains(String(w)) {
            throw ValidationError("unknown workload '\(w)' in --only (known: sgemm, conv, attention, spmm)")
        }
        guard parsedSizes != nil else { throw ValidationError("--sizes must be a comma list of positive integers") }
    }

    var parsedSizes: [Int]? {
        let s = sizes.split(separator: ",").map { Int($0) }
        return s.allSatisfy({ ($0 ?? 0) > 0 }) && !s.isEmpty ? s.map { $0! } : nil
    }

    func run() throws {
        Log.level = common.logLevel
        EngineThreads.set(common.threads)
        let which = Set(only.split(separator: ",").map(String.init))
        var report = KernelsReport(threads: common.threads, loadavgBefore: loadAverage())
        report.openblasCore = BLAS.kernelSetup     // the engine's kernel choice (see BLAS+CoreSelection.swift)
        var rng = SeededGenerator(seed: seeding.seed)
        let time = { (body: () -> Void) in BenchTiming.measure(repeats: repeats, minTime: minTime, body) }

        if which.contains("sgemm") {
            for n in parsedSizes ?? [] {
                let a = Tensor.randomNormal([n, n], using: &rng), b = Tensor.randomNormal([n, n], using: &rng)
                let flop = 2 * Double(n * n * n)
                let engine = time { blackHole(a.matmul(b)) }
                var c = Tensor.zeros([n, n])
                let direct = a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        time {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                                        ap.baseAddress, Int32(n), bp.baseAddress, Int32(n), 0, cp.baseAddress, Int32(n))
                        }
                    }
                }}
                let row = KernelsReport.Row(name: "sgemm n=\(n)", flop: flop, engine: engine, baseline: direct)
                report.sgemm.append(row)
                Log.info(row.text)
            }
        }
        if which.contains("conv") {
            // name, batch, cin, hw, cout, k, stride, pad
            let convs: [(String, Int, Int, Int, Int, Int, Int, Int)] = [
                ("64->64 3x3 56x56 b1", 1, 64, 56, 64, 3, 1, 1), ("3->64 7x7 s2 224x224 b1", 1, 3, 224, 64, 7, 2, 3),
                ("1->32 3x3 28x28 b64", 64, 1, 28, 32, 3, 1, 1), ("32->64 3x3 14x14 b64", 64, 32, 14, 64, 3, 1, 1),
            ]
            for (name, nb, cin, hw, cout, k, stride, pad) in convs {
                let x = Tensor.randomNormal([nb, cin, hw, hw], using: &rng), w = Tensor.randomNormal([cout, cin, k, k], using: &rng)
                let ho = (hw + 2 * pad - k) / stride + 1
                let flop = 2 * Double(nb * cout * ho * ho * cin * k * k)
                let t = time { blackHole(x.conv2d(weight: w, stride: (stride, stride), padding: (pad, pad))) }
                let row = KernelsReport.Row(name: "conv2d \(name)", flop: flop, engine: t, baseline: nil)
                report.conv2d.append(row)
                Log.info(row.text)
            }
        }
        if which.contains("attention") {
            let (h, L, d) = (6, 1500, 64)
            let q = Tensor.randomNormal([L, h * d], using: &rng), k = Tensor.randomNormal([L, h * d], using: &rng)
            let v = Tensor.randomNormal([L, h * d], using: &rng)
            let t = time { blackHole(Tensor.attention(query: q, key: k, value: v, heads: h)) }
            let row = KernelsReport.Row(name: "attention 6x1500x64", flop: 4 * Double(h * L * L * d), engine: t, baseline: nil)
            report.attention = row
            Log.info(row.text)
        }
        if which.contains("spmm") {
            let (nodes, edges, f) = (100_000, 1_000_000, 64)
            var g = SeededGenerator(seed: seeding.seed)
            let src = (0..<edges).map { _ in Int(g.next() % UInt64(nodes)) }
            let dst = (0..<edges).map { _ in Int(g.next() % UInt64(nodes)) }
            let graph = try CSRGraph(sources: src, targets: dst, nodes: nodes)
            let x = Tensor.randomNormal([nodes, f], using: &rng)
            let t = time { blackHole(GraphKernels.spmm(graph, x)) }
            let row = KernelsReport.Row(name: "spmm 100k x 64, 1M nnz", flop: 2 * Double(edges * f), engine: t, baseline: nil)
            report.spmm = row
            Log.info(row.text)
        }
        report.loadavgAfter = loadAverage()
        if json { emitLine(try jsonLine(report)) } else { for line in report.textLines { emitLine(line) } }
    }

    func loadAverage() -> Double {
        var l = [Double](repeating: 0, count: 3)
        return getloadavg(&l, 3) > 0 ? l[0] : -1
    }
}

/// What `lepton-bench kernels --json` prints.
struct KernelsReport: Codable {
    struct Row: Codable {
        var name: String
        var flop: Double
        var engine: BenchTiming
        var engineGflopsMedian: Double
        var engineGflopsBest: Double
        /// cblas_sgemm called directly (sgemm rows only).
        var baseline: BenchTiming?
        var baselineGflopsMedian: Double?
        /// Engine GFLOP/s ÷ baseline GFLOP/s (medians).
        var engineOverBaseline: Double?

        init(name: String, flop: Double, engine: BenchTiming, baseline: BenchTiming?) {
            self.name = name; self.flop = flop; self.engine = engine; self.baseline = baseline
            (engineGflopsMedian, engineGflopsBest) = engine.gflops(flop)
            baselineGflopsMedian = baseline.map { $0.gflops(flop).median }
            engineOverBaseline = baselineGflopsMedian.map { engineGflopsMedian / $0 }
        }

        var text: String {
            var s = name.padding(toLength: max(name.count, 32), withPad: " ", startingAt: 0)
            s += String(format: " %9.2f ms %7.1f GFLOP/s (best %.1f, CPU %.2f ms)",
                           engine.medianMs, engineGflopsMedian, engineGflopsBest, engine.cpuMsPerCall)
            if let b = baselineGflopsMedian, let r = engineOverBaseline {
                s += String(format: "   cblas_sgemm %.1f GFLOP/s, ratio %.2f", b, r)
            }
            return s
        }
    }

    var benchmark = "lepton-bench kernels"
    var threads: Int
    var loadavgBefore: Double
    var loadavgAfter: Double = -1
    /// OpenBLAS kernel family in use (e.g. "SkylakeX").
    var openblasCore = ""
    var sgemm: [Row] = []
    var conv2d: [Row] = []
    var attention: Row?
    var spmm: Row?

    init(threads: Int, loadavgBefore: Double) { self.threads = threads; self.loadavgBefore = loadavgBefore }

    var textLines: [String] {
        var lines = ["lepton-bench kernels, \(threads) thread(s), OpenBLAS \(openblasCore) kernels, load \(String(format: "%.2f", loadavgBefore)) → \(String(format: "%.2f", loadavgAfter))"]
        lines += (sgemm + conv2d + [attention, spmm].compactMap { $0 }).map(\.text)
        return lines
    }
}
