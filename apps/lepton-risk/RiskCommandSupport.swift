import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

/// Runs a command body: input errors become one line on stderr and exit code 1 (ExitStatus.failure).
func runReportingErrors(_ common: CommonOptions, _ body: () throws -> Void) throws {
    Log.level = common.logLevel
    configureThreads(common.threads)
    do { try body() }
    catch let e as RiskError { Log.error("lepton-risk: \(e)"); throw ExitCode(ExitStatus.failure) }
    catch let e as ExitCode { throw e }
    catch let e as CleanExit { throw e }
    catch { Log.error("lepton-risk: \(error)"); throw ExitCode(ExitStatus.failure) }
}

func reportSkips(_ path: String, _ r: SkipReport) {
    guard r.total > 0 else { return }
    Log.info("\(path): skipped \(r.total) malformed rows (\(r.summary))")
    for e in r.examples { Log.debug("  \(e)") }
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
        if !buffer.isEmpty { FileHandle.standardOutput.write(buffer.data(using: .utf8)!); buffer = "" }
    }
}
