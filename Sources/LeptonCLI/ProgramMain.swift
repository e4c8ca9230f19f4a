import ArgumentParser
import Foundation

extension ParsableCommand {
    /// The programs' `main`: parses the command line and runs the command, printing a usage
    /// error as the same one line as every other error (`lepton-risk: error: … (see --help)`,
    /// exit 64) instead of ArgumentParser's several lines. Help and `--version` print as usual.
    public static func mainWithOneLineErrors(program: String, arguments: [String]? = nil) {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            // Help, --version and exit codes a command chose (its message already printed) pass through.
            if error is CleanExit || error is ExitCode || code == .success { exit(withError: error) }
            let reason = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            let hint = code.rawValue == ExitStatus.usage ? " (see '\(program) --help')" : ""
            Log.error(errorLine(program, reason.replacingOccurrences(of: "Error: ", with: "") + hint))
            Foundation.exit(code.rawValue)
        }
    }
}
