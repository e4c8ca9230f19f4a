import ArgumentParser
import Foundation
import LeptonDialog
import LeptonText
import LeptonCLI
import LeptonEngine

/// `lepton-bench embed`: Lepton's MiniLM sentence encoder beside `../shared/bench/embed_peer.py` (ONNX Runtime).
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Sentence-embedding throughput of all-MiniLM-L6-v2 (tokenizer + model + pooling) and a checksum.",
        discussion: """
        Same protocol as ../shared/bench/embed_peer.py: the first --limit rows of a CSV `text` column \
        (or lines of a text file), one untimed warm-up pass, then --repeats timed passes over all \
        sentences (tokenisation + encoder + mean pooling + normalisation), median reported. Lepton \
        sorts by token count and runs packed batches of --batch sentences (no padding); with \
        --threads 2 each thread takes whole batches (single-threaded OpenBLAS), as \
        SentenceEncoder does for any multi-batch call.
        checksum: mean and mean |x| over all embedding elements (float64), first 8 components of the \
        mean embedding — equal to the peer's to ~1e-6 when both computed the same vectors.

        Run it beside the peer, alternating, same sentences and threads:
          lepton-bench embed --threads 2
          python3 ../shared/bench/embed_peer.py --engine ort --sort-by-length \\
              --model-dir ~/.cache/lepton/models/all-MiniLM-L6-v2 --onnx-cache /tmp/minilm-opset17.onnx
        OpenBLAS mis-detects some virtual CPUs as "Prescott" (SSE3 kernels, ~2x slower GEMM); the \
        JSON reports the core OpenBLAS chose; set OPENBLAS_CORETYPE=Haswell on such machines.
        """)

    @Option(name: .long, help: "CSV with a `text` column or one sentence per line (default: ../shared/data/banking77/train.csv).")
    var input: String?

    @Option(name: .long, help: "First N sentences (0 = all).")
    var limit: Int = 2000

    @Option(name: .long, help: "Sentences per packed batch.")
    var batch: Int = 32

    @Option(name: .long, help: "Timed passes.")
    var repeats: Int = 3

    @Option(name: .long, help: "MiniLM folder (default: the bootstrapped all-MiniLM-L6-v2).")
    var model: String?

    @OptionGroup var compute: ComputeTypeOptions
    @OptionGroup var common: CommonOptions

    struct Result: Encodable {
        var benchmark = "embed", engine = "lepton", openblasCore: String, computeType: String
        var sentences: Int, batch: Int, threads: Int, repeats: Int
        var tokens: Int
        var wallSeconds: Double, bestSeconds: Double, cpuSeconds: Double, tokenizeSeconds: Double
        var sentencesPerSecond: Double
        var peakRSSMegabytes: Double
        var checksum: Checksum
        struct Checksum: Encodable { var mean: Double, meanAbs: Double, first8: [Double] }
    }

    static func clock(_ id: clockid_t) -> Double {
        var t = timespec()
        clock_gettime(id, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Peak resident set size of this process so far (as the peer's `peak_rss_mb`; Linux reports KiB).
    static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return (Double(usage.ru_maxrss) / 1024 * 10).rounded() / 10
    }

    /// The kernel family OpenBLAS picked at load time (looked up dynamically: the bench does not link CBLAS itself).
    static func openBLASCore() -> String {
        // The process's global scope (RTLD_DEFAULT is a null handle on Linux, (void *)-2 on macOS:
        // passing the macOS value on Linux crashed inside the dynamic loader).
        guard let process = dlopen(nil, RTLD_NOW), let sym = dlsym(process, "openblas_get_corename") else { return "unknown" }
        typealias Fn = @convention(c) () -> UnsafePointer<CChar>?
        guard let p = unsafeBitCast(sym, to: Fn.self)() else { return "unknown" }
        return String(cString: p)
    }

    func run() throws {
        Log.level = common.logLevel
        EngineThreads.set(common.threads)
        do {
            let path = input ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/banking77/train.csv").path
            var sentences: [String]
            if path.lowercased().hasSuffix(".csv") {
                sentences = try NLUData.load(URL(fileURLWithPath: path)).labeledTexts.map(\.text)
            } else {
                guard let s = try? String(contentsOfFile: path, encoding: .utf8) else { throw ChatError.badInput("cannot read \(path)") }
                sentences = s.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\r")) }
                if sentences.last == "" { sentences.removeLast() }
            }
            if limit > 0 { sentences = Array(sentences.prefix(limit)) }
            let encoder = try SentenceEncoder(folder: model.map { URL(fileURLWithPath: $0) } ?? ModelCache.miniLM)
                .converted(to: compute.computeType)
            Log.info("\(sentences.count) sentences from \((path as NSString).lastPathComponent)")

            var emb = encoder.embed(sentences, batchSize: batch)                   // warm-up
            var walls: [Double] = [], cpus: [Double] = [], toks: [Double] = []
            var tokenCount = 0
            for r in 0..<max(1, repeats) {
                let c0 = Self.clock(CLOCK_PROCESS_CPUTIME_ID), t0 = Self.clock(CLOCK_MONOTONIC)
                let ids = sentences.map { encoder.tokenizer.encode($0) }
                toks.append(Self.clock(CLOCK_MONOTONIC) - t0)
                emb = encoder.embed(ids: ids, batchSize: batch)
                walls.append(Self.clock(CLOCK_MONOTONIC) - t0)
                cpus.append(Self.clock(CLOCK_PROCESS_CPUTIME_ID) - c0)
                tokenCount = ids.reduce(0) { $0 + $1.count }
                Log.info(String(format: "pass %d/%d: %.2f s (%.1f sentences/s)", r + 1, repeats, walls.last!, Double(sentences.count) / walls.last!))
            }
            let v = emb.scalars, h = encoder.dimension, n = sentences.count
            var sum = 0.0, sumAbs = 0.0
            var first8 = [Double](repeating: 0, count: 8)
            for i in 0..<n { for j in 0..<h {
                let x = Double(v[i * h + j]); sum += x; sumAbs += abs(x)
                if j < 8 { first8[j] += x }
            } }
            let total = Double(max(1, n * h))
            let median = walls.sorted()[walls.count / 2]
            let result = Result(openblasCore: Self.openBLASCore(), computeType: compute.computeType.rawValue, sentences: n, batch: batch, threads: common.threads, repeats: walls.count,
                                tokens: tokenCount, wallSeconds: median, bestSeconds: walls.min()!, cpuSeconds: cpus.sorted()[cpus.count / 2],
                                tokenizeSeconds: toks.sorted()[toks.count / 2], sentencesPerSecond: Double(n) / median,
                                peakRSSMegabytes: Self.peakRSSMegabytes(),
                                checksum: .init(mean: sum / total, meanAbs: sumAbs / total, first8: first8.map { $0 / Double(max(1, n)) }))
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            emitLine(String(decoding: try enc.encode(result), as: UTF8.self))
        } catch {
            Log.error("lepton-bench embed: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
