import Foundation
import LeptonFiles

/// Writes `data` to `url` with ``AtomicFile`` (a unique temporary file in the same folder, flushed,
/// then renamed), so a crash or a full disk never leaves a half-written output in place of a good
/// one and concurrent writers never share a temporary file. Failures are input failures (exit 1)
/// naming the file.
public func writeAtomically(_ data: Data, to url: URL) throws {
    do { try AtomicFile.write(data, to: url) } catch { throw CLIFailure.input("\(error)") }
}
