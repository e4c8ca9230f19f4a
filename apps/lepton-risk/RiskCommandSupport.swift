import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonRisk

/// Runs a lepton-risk command body with the shared conventions (`runCommand`): an error is one
/// line `lepton-risk: error: …` on stderr with exit 64 (usage), 1 (bad input) or 3 (rows skipped).
func runRisk(_ common: CommonOptions, _ body: () throws -> Void) throws {
    configureThreads(common.threads)
    try runCommand("lepton-risk", common, body)
}

/// A usage error (exit 64) in the one-line format.
func usage(_ message: String) -> CLIFailure { .usage(message) }

/// How many alerts an alert budget (a fraction of what is scored) allows among `count`: the
/// highest ceil(fraction x count), at least one. `score --budget` and `POST /v1/score?budget=` alike.
func budgetCount(_ fraction: Double, of count: Int) -> Int { max(1, Int((fraction * Double(count)).rounded(.up))) }

/// Rows skipped while reading the inputs of one command (examples of each file's skips under -v);
/// once the output is written, `finish()` turns any skip into exit status 3, so rows that
/// were never scored (an unknown currency, an absurd amount) cannot pass as a clean run.
struct SkipLedger {
    private(set) var counts: [String: Int] = [:]
    private(set) var total = 0
    private var perFile: [String] = []

    mutating func add(_ path: String, _ r: SkipReport) {
        guard r.total > 0 else { return }
        // The counts are printed once, by finish(); -v shows the first few rows here.
        for e in r.examples { Log.debug("  \(e)") }
        for (k, v) in r.counts { counts[k, default: 0] += v }
        total += r.total
        perFile.append("\(path): \(r.total) rows skipped (\(r.summary))")
    }

    /// `[{"reason": …, "rows": n}]`, most frequent first, for JSON output.
    var json: [SkipCount] {
        counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { SkipCount(reason: $0.key, rows: $0.value) }
    }

    /// Throws the partial-batch failure (exit 3) when rows were skipped.
    func finish() throws {
        guard total > 0 else { return }
        throw CLIFailure.partial(perFile.joined(separator: "; "))
    }
}

struct SkipCount: Encodable {
    var reason: String
    var rows: Int
}

/// The model that made an output; `log` also prints it on stderr (for output that has no
/// room for it, such as CSV).
func modelIdentity(_ dir: URL, log: Bool = false) throws -> ModelIdentity {
    let id = try ModelIdentity.ofRiskModel(at: dir)
    if log { Log.info("# model \(id)") }
    return id
}

/// Warns about a model folder written before issue 17 (it held raw transactions).
func warnLegacyHistory(_ m: TransactionModel, _ dir: String) {
    if m.hasLegacyHistoryFile {
        Log.info("warning: \(dir)/\(TransactionModel.legacyHistoryFile) holds raw training transactions from an older version; "
                 + "it is not read (pass --history FILE) and should be deleted")
    }
}

func fmt(_ v: Float) -> String { String(format: "%.6g", Double(v)) }

/// Buffered stdout writer (one write per 64 KB, not per line).
struct StdoutBuffer {
    var buffer = ""
    mutating func line(_ s: String) {
        buffer += s; buffer += "\n"
        if buffer.utf8.count > 1 << 16 { flush() }
    }
    mutating func flush() {
        if !buffer.isEmpty { FileHandle.standardOutput.write(Data(buffer.utf8)); buffer = "" }
    }
}

/// Progress of reading large transaction files (8 MB and up), by megabytes read: a 313k-row
/// file takes seconds to load and score, and a run must show it is alive (`-q` silences it).
final class FileReadProgress {
    private var current: (path: String, reporter: ProgressReporter, size: Int)?
    private var small: Set<String> = []
    /// True once a large file was seen: its later stages (features, scores) are then logged
    /// at the default level too, since they take seconds as well.
    private(set) var sawLargeFile = false

    /// Logs a finished stage: always under -v, by default after a large file.
    func stage(_ line: String) { if sawLargeFile { Log.info(line) } else { Log.debug(line) } }

    func update(_ path: String, _ bytes: Int) {
        if current?.path != path {
            finish()
            if small.contains(path) { return }
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
            guard size >= 8 << 20 else { small.insert(path); return }
            sawLargeFile = true
            current = (path, ProgressReporter(label: "reading \(path)", total: size >> 20, unit: "MB"), size)
        }
        current?.reporter.update(done: bytes >> 20)
        if let c = current, bytes >= c.size { finish() }   // the whole file is read: say so now, not after scoring
    }

    func finish() {
        current?.reporter.finish()
        current = nil
    }
}
