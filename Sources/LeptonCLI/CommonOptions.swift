import ArgumentParser
import Foundation
import LeptonFiles
import Synchronization

/// The version every Lepton program reports with `--version`.
public let leptonVersion = "0.1.0"

/// Options every Lepton command shares: threads and verbosity.
public struct CommonOptions: ParsableArguments, Sendable {
    // ArgumentParser appends "(default: 2)" itself; the help text must not repeat it.
    @Option(name: .long, help: "Threads for the engine's kernels.")
    public var threads: Int = 2

    @Flag(name: .shortAndLong, help: "Print only errors on stderr.")
    public var quiet = false

    @Flag(name: .shortAndLong, help: "Print more progress detail on stderr.")
    public var verbose = false

    public init() {}

    public func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
        guard !(quiet && verbose) else { throw ValidationError("-q and -v cannot be used together") }
    }

    public var logLevel: Log.Level { quiet ? .error : (verbose ? .debug : .info) }
}

/// `--seed`, only on commands that make random choices (training, sampling, simulation):
/// the same seed and inputs give the same output.
public struct SeedOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Seed for every random choice: the same seed and inputs give the same output.")
    public var seed: UInt64 = 0

    public init() {}
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
    /// What the program prints on stderr; set once from `-q`/`-v` by ``runCommand(_:_:_:)``.
    /// An atomic, so a resident service's threads may read it while it is changed.
    public static var level: Level {
        get { Level(rawValue: storedLevel.load(ordering: .relaxed)) ?? .info }
        set { storedLevel.store(newValue.rawValue, ordering: .relaxed) }
    }
    private static let storedLevel = Atomic<Int>(Level.info.rawValue)

    public static func info(_ message: @autoclosure () -> String) { if level.rawValue >= Level.info.rawValue { emit(message()) } }
    public static func debug(_ message: @autoclosure () -> String) { if level.rawValue >= Level.debug.rawValue { emit(message()) } }
    public static func error(_ message: String) { emit(message) }
    /// True when stderr is a terminal: progress bars only then.
    public static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// One line on stderr, written whole (two threads' lines never interleave), and never swallowed
    /// by a decoder's stderr capture (``StandardError``).
    static func emit(_ s: String) { StandardError.write(s + "\n") }
}

/// Prints `line` on stdout (data only).
public func emitLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
