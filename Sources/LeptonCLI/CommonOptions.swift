import ArgumentParser
import Foundation

/// The version every Lepton program reports with `--version`.
public let leptonVersion = "0.1.0"

/// Options every Lepton command shares: threads, seed, verbosity, JSON output.
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Threads for the engine's kernels (default 2).")
    public var threads: Int = 2

    @Option(name: .long, help: "Seed for every random choice (training, sampling).")
    public var seed: UInt64 = 0

    @Flag(name: .shortAndLong, help: "Print only errors on stderr.")
    public var quiet = false

    @Flag(name: .shortAndLong, help: "Print more progress detail on stderr.")
    public var verbose = false

    public init() {}

    public var logLevel: Log.Level { quiet ? .error : (verbose ? .debug : .info) }
}

/// Documented exit codes shared by the three programs.
public enum ExitStatus {
    /// Everything succeeded.
    public static let ok: Int32 = 0
    /// A failure: bad input file, unreadable model, write error.
    public static let failure: Int32 = 1
    /// Wrong command-line usage (argument parser's own code).
    public static let usage: Int32 = 64
    /// A batch finished but some inputs failed (each reported on stderr).
    public static let partial: Int32 = 3
}

/// Progress and log lines go to stderr; stdout carries only data.
public enum Log {
    public enum Level: Int, Sendable { case error = 0, info = 1, debug = 2 }
    nonisolated(unsafe) public static var level: Level = .info

    public static func info(_ message: @autoclosure () -> String) { if level.rawValue >= Level.info.rawValue { emit(message()) } }
    public static func debug(_ message: @autoclosure () -> String) { if level.rawValue >= Level.debug.rawValue { emit(message()) } }
    public static func error(_ message: String) { emit(message) }
    /// True when stderr is a terminal: progress bars only then.
    public static var stderrIsTerminal: Bool { isatty(2) != 0 }

    static func emit(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
}

/// Writes `data` to `url` through a temporary file in the same folder and a rename, so a crash
/// or a full disk never leaves a half-written output in place of a good one.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    try data.write(to: tmp)
    if rename(tmp.path, url.path) != 0 {
        let err = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: tmp)
        throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot write \(url.path): \(err)"])
    }
}

/// Prints `line` on stdout (data only).
public func emitLine(_ line: String) {
    FileHandle.standardOutput.write((line + "\n").data(using: .utf8)!)
}
