import ArgumentParser
import Foundation

/// A failure a command reports with a documented exit code (see README, "Exit codes").
public enum CLIFailure: Error, CustomStringConvertible, Sendable {
    /// Wrong command-line usage: exit 64.
    case usage(String)
    /// A bad input, an unreadable model, a write error: exit 1.
    case input(String)
    /// A batch finished but some inputs failed, each already reported: exit 3.
    case partial(String)

    public var description: String {
        switch self { case .usage(let m), .input(let m), .partial(let m): return m }
    }

    public var exitCode: Int32 {
        switch self {
        case .usage: return ExitStatus.usage
        case .input: return ExitStatus.failure
        case .partial: return ExitStatus.partial
        }
    }
}

/// The one line a program prints for an error: `lepton-risk: error: <message>`.
public func errorLine(_ program: String, _ message: String) -> String {
    // One line, whatever the message holds: a multi-line underlying error is folded.
    let folded = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }.joined(separator: "; ")
    return "\(program): error: \(folded)"
}

/// A readable one-line message for any error: our own types describe themselves; Foundation's
/// errors have a localized description; everything else falls back to `String(describing:)`.
public func describe(_ error: Error) -> String {
    if error is CocoaError || error is POSIXError { return (error as NSError).localizedDescription }
    return String(describing: error)
}

/// Runs a command's body with the shared conventions: `-q`/`-v` set the log level, and a thrown
/// error becomes one line `program: error: message` on stderr and its documented exit code
/// (`CLIFailure` says which; any other error is a failure, exit 1). `ExitCode`, `CleanExit` and
/// ArgumentParser's `ValidationError` (exit 64) pass through unchanged.
public func runCommand(_ program: String, _ common: CommonOptions? = nil, _ body: () throws -> Void) throws {
    if let common { Log.level = common.logLevel }
    do { try body() }
    catch let e as ExitCode { throw e }
    catch let e as CleanExit { throw e }
    catch let e as ValidationError { throw e }
    catch let e as CLIFailure {
        Log.error(errorLine(program, e.description))
        throw ExitCode(e.exitCode)
    }
    catch {
        Log.error(errorLine(program, describe(error)))
        throw ExitCode(ExitStatus.failure)
    }
}
