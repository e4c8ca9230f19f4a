import Crypto
import Foundation
import LeptonEngine

/// Keeps patient identifiers out of every output.
///
/// Outputs never copy DICOM header fields or report metadata; the only link to a patient is a
/// subject ID = first 16 hex digits of SHA-256(salt ‖ 0x1E ‖ identifiers joined by 0x1F). The salt
/// is the site's: `$LEPTON_DIAGNOSE_SALT` when set, else a salt file created on first use with mode
/// 0600 (see ``site(saltFile:environment:)``), so IDs from two runs can be joined.
/// Evidence sentences are scrubbed of header identifiers, names, dates and numbers (``TextScrubber``).
public struct Privacy: Sendable {
    public let salt: String

    public init(salt: String) { self.salt = salt }

    /// A random salt for this process only: IDs then group the studies of one run and nothing more.
    public static func ephemeral() -> Privacy {
        var rng = SystemRandomNumberGenerator()
        return Privacy(salt: (0..<4).map { _ in String(rng.next(), radix: 16) }.joined())
    }

    /// The subject ID of a set of identifiers (patient ID, name, study UID …), or of a file name
    /// when there are none.
    public func subjectID(_ identifiers: [String]) -> String {
        let joined = identifiers.filter { !$0.isEmpty }.joined(separator: "\u{1F}")
        return String(hexDigest(SHA256.hash(data: Data((salt + "\u{1E}" + joined).utf8))).prefix(16))
    }

    /// `text` without the study's header identifiers and person names (`headerValues`, DICOM
    /// `^`-separated names split into parts), names found by context, dates, phone numbers and
    /// digit runs of 5 or more: see ``TextScrubber``.
    public func scrub(_ text: String, identifiers headerValues: [String]) -> String {
        TextScrubber(headerValues: headerValues).scrub(text)
    }
}
