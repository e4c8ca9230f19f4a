import Foundation
import LeptonFiles

/// Progress of long work on stderr. On a terminal one line rewrites itself (`\r`) at most ten
/// times a second; otherwise (a log file, CI) a plain line is printed at most every 5 seconds or
/// every 10% of the total, so a 300k-row run shows it is alive without flooding the log.
/// Silent under `-q` (`Log.level == .error`). Not thread-safe: advance it from one thread.
public struct ProgressReporter {
    public let label: String
    /// The amount of work, when known (rows, files, epochs); 0 when unknown.
    public let total: Int
    public private(set) var done = 0
    let unit: String
    let start = Date()
    var lastPrint = Date.distantPast
    var lastFraction = 0.0
    let terminal: Bool
    var printedOnTerminal = false
    /// Where lines go (stderr; a test passes its own).
    let write: (String) -> Void

    /// - Parameters:
    ///   - terminal: whether to rewrite one line (default: stderr is a terminal).
    ///   - write: receives each piece of output, newline included (default: stderr).
    public init(label: String, total: Int = 0, unit: String = "", terminal: Bool = Log.stderrIsTerminal,
                write: @escaping (String) -> Void = { StandardError.write($0) }) {
        self.label = label; self.total = max(0, total); self.unit = unit
        self.terminal = terminal; self.write = write
    }

    /// Adds `n` to the work done and maybe prints.
    public mutating func advance(by n: Int = 1) { update(done: done + n) }

    /// Sets the work done to `done` and maybe prints.
    public mutating func update(done: Int) {
        self.done = done
        guard Log.level.rawValue >= Log.Level.info.rawValue else { return }
        let now = Date()
        let fraction = total > 0 ? Double(done) / Double(total) : 0
        if terminal {
            guard now.timeIntervalSince(lastPrint) >= 0.1 else { return }
            write("\r" + line(now) + "\u{1B}[K")
            printedOnTerminal = true
        } else {
            let due = now.timeIntervalSince(lastPrint) >= 5 || (total > 0 && fraction - lastFraction >= 0.1)
            guard due, done < total || total == 0 else { return }
            write(line(now) + "\n")
            lastFraction = fraction
        }
        lastPrint = now
    }

    /// Prints the final line (work done and time taken).
    public mutating func finish(_ note: String = "") {
        guard Log.level.rawValue >= Log.Level.info.rawValue else { return }
        let final = line(Date()) + (note.isEmpty ? "" : ", \(note)")
        if terminal && printedOnTerminal {
            write("\r" + final + "\u{1B}[K\n")
        } else {
            write(final + "\n")
        }
    }

    func line(_ now: Date) -> String {
        let seconds = now.timeIntervalSince(start)
        let counted = unit.isEmpty ? "\(done)" : "\(done) \(unit)"
        if total > 0 {
            let pct = Int((Double(done) / Double(total) * 100).rounded(.down))
            return "\(label): \(counted) of \(total) (\(pct)%), \(String(format: "%.1f", seconds)) s"
        }
        return "\(label): \(counted), \(String(format: "%.1f", seconds)) s"
    }
}
