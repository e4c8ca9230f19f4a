// DecoderMessages.swift: keeps the messages C decoders print on stderr off the user's terminal.

import Foundation
import LeptonFiles

/// Captures what a C decoder writes to stderr while it runs, so it can be judged instead of shown.
///
/// libsndfile's MP3 decoder (mpg123) prints one line per damaged frame straight to file
/// descriptor 2 (1,684 lines for a few seconds of random frames) and still returns samples, so
/// the program said "that" and exit 0 under a screen of noise. There is no API to silence it or
/// to ask how many frames were bad, so while a libsndfile call runs, descriptor 2 points at a
/// temporary file (``StandardError/capturing(into:_:)``); the lines are then read back, counted
/// and kept for the error message.
///
/// Descriptor 2 is process-wide: captures take turns, and Lepton's own stderr lines
/// (``StandardError/write(_:)``, which the programs' log uses) go to the terminal meanwhile, so
/// another thread's log line is never swallowed. One instance belongs to one reader (one thread).
final class DecoderMessages {
    /// Lines captured so far (the first `keep`), and how many there were in all.
    private(set) var lines: [String] = []
    private(set) var count = 0
    private let keep = 8

    /// Runs `body` with stderr sent to a temporary file, and keeps what it printed.
    func capture<T>(_ body: () throws -> T) rethrows -> T {
        guard let file = tmpfile() else { return try body() }
        defer { fclose(file) }
        defer { collect(file) }
        return try StandardError.capturing(into: fileno(file), body)
    }

    /// Reads back what was written (at most 64 KB is kept in memory; the rest is only counted).
    private func collect(_ file: UnsafeMutablePointer<FILE>) {
        rewind(file)
        var buffer = [CChar](repeating: 0, count: 4096)
        var kept = 0
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            count += 1
            if lines.count < keep, kept < 65_536 { lines.append(line); kept += line.utf8.count }
            if DecoderMessages.reportsDamage(line) {
                damaged += 1
                if firstDamage == nil { firstDamage = line }
            }
        }
    }

    /// Lines that report damage, and the first of them.
    private(set) var damaged = 0
    private(set) var firstDamage: String?

    /// An mpg123 error (a frame it could not decode), or its warning that the stream is shorter
    /// than its Xing header says (a cut-off file). Other notes (a resync after an ID3 tag) are not damage.
    static func reportsDamage(_ line: String) -> Bool {
        line.lowercased().contains("error") || line.contains("Xing stream size off")
    }
}
