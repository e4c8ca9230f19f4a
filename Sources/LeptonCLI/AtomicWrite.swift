import Foundation
import LeptonEngine

/// Writes `data` to `url` through a temporary file in the same folder and a rename (the engine's
/// `writeFileAtomically`), so a crash or a full disk never leaves a half-written output in place
/// of a good one; concurrent writers never share a temporary file. Failures are input failures
/// (exit 1) naming the file.
public func writeAtomically(_ data: Data, to url: URL) throws {
    do { try writeFileAtomically(data, to: url) }
    catch { throw CLIFailure.input("\(error)") }
}
