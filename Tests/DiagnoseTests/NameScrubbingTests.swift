import Foundation
import XCTest
@testable import LeptonDiagnose

/// Evidence sentences lose names and identifiers, and keep the clinical words.
final class NameScrubbingTests: XCTestCase {
    let privacy = Privacy(salt: "s")

    func scrub(_ text: String, header: [String] = []) -> String { privacy.scrub(text, identifiers: header) }

    /// Realistic report sentences with a name; the expected text is written out by hand.
    func testNamesAreScrubbedFromReportSentences() {
        let cases: [(String, String)] = [
            ("John Smith (MRN 1234567) has right lower lobe pneumonia.", "[name] (MRN [redacted]) has right lower lobe pneumonia."),
            ("Smith, John, DOB 04/12/1961, small left pleural effusion.", "[name], DOB [redacted], small left pleural effusion."),
            ("Jane Roe, a 67-year-old woman, with patchy opacity at the left base.",
             "[name], a 67-year-old woman, with patchy opacity at the left base."),
            ("Findings discussed with Dr. Alan Jones at 10:30.", "Findings discussed with Dr. [name] at 10:30."),
            ("Mrs O'Brien has cardiomegaly.", "Mrs [name] has cardiomegaly."),
            ("Patient Mary-Ann McDonald: mild pulmonary edema.", "Patient [name]: mild pulmonary edema."),
            ("Compared with the study of John Smith on March 3, 2019, the consolidation is new.",
             "Compared with the study of [name] on [redacted], the consolidation is new."),
            ("Accession #A77 shows a right pneumothorax.", "Accession #[redacted] shows a right pneumothorax."),
            ("MRN: 12 - heart size is normal.", "MRN: [redacted] - heart size is normal."),
            ("Called to 555-123-4567 about the effusion.", "Called to [redacted] about the effusion."),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(scrub(input), expected, input)
        }
    }

    /// The study's own DICOM PatientName (`Family^Given`) is removed as whole words in any order and
    /// case, and never out of other words.
    func testHeaderNamesAreScrubbedAsWholeWords() {
        let header = ["Doe^Archibald", "77654"]
        XCTAssertEqual(scrub("ARCHIBALD DOE has a small effusion; Doe's heart size is normal.", header: header),
                       "[redacted] [redacted] has a small effusion; [redacted]'s heart size is normal.")
        XCTAssertEqual(scrub("Doesn't change: no effusion (ref 77654).", header: header), "Doesn't change: no effusion (ref [redacted]).")
        // A one-letter part ("J" of "Roe^J") is not a name to remove.
        XCTAssertEqual(scrub("Roe: J wave absent, no pneumothorax.", header: ["Roe^J"]), "[redacted]: J wave absent, no pneumothorax.")
    }

    /// Sentences that hold no name come out unchanged: anatomy, eponyms, capitalised report words.
    func testClinicalTextIsKept() {
        let keep = [
            "Right lower lobe consolidation consistent with pneumonia.",
            "Kerley B lines and small bilateral pleural effusions.",
            "Chest X-ray PA and lateral: no acute cardiopulmonary process.",
            "Right Lower Lobe opacity, unchanged since the prior study.",
            "No pneumothorax. Heart size is normal.",
            "Swan-Ganz catheter tip in the right pulmonary artery.",
            "Findings: Hampton hump at the left base, possible infarct.",
            "IMPRESSION: Mild cardiomegaly. 3 mm nodule in the RUL.",
            "Patient is status post CABG with median sternotomy wires.",
            "Comparison 2 views of the chest from the emergency department.",
            "Stable Right hilar fullness.",
        ]
        for s in keep { XCTAssertEqual(scrub(s), s) }
    }

    /// The case end to end: the evidence of an analysed report has no name left.
    func testAnalyzedEvidenceHasNoName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-names-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = dir.appendingPathComponent("r.txt")
        try "John Smith (MRN 1234567) has right lower lobe pneumonia.".write(to: report, atomically: true, encoding: .utf8)
        let s = try DiagnosePipeline(model: nil, privacy: privacy).analyze(scan: nil, report: report, name: "r.txt")
        let evidence = s.findings.first { $0.finding == "pneumonia" }?.evidence
        XCTAssertEqual(evidence, "[name] (MRN [redacted]) has right lower lobe pneumonia.")
        for secret in ["John", "Smith", "1234567"] { XCTAssertFalse(s.jsonLine().contains(secret), secret) }
    }
}
