import Foundation
import XCTest
import LeptonDiagnose

final class PrivacyAndOutputTests: XCTestCase {
    func pipeline() throws -> DiagnosePipeline {
        let model = try ScanClassifier.load(npz: DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn.npz"))
        return DiagnosePipeline(model: model, privacy: Privacy(salt: "test-salt"))
    }

    /// No identifier from a DICOM header (patient name parts, ID) reaches any output format,
    /// even when the report text repeats them.
    func testNoPatientIdentifierInOutputs() throws {
        let scan = DiagnoseFixtures.dicom.appendingPathComponent("dicomdirtests_77654033_CR1_6154.dcm")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-priv-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = dir.appendingPathComponent("r.txt")
        try "PATIENT: Doe^Archibald\nFINDINGS: Archibald Doe (77654033) has a small left pleural effusion, seen 03/04/2019.".write(to: report, atomically: true, encoding: .utf8)
        let s = try pipeline().analyze(scan: scan, report: report, name: "study1")
        XCTAssertEqual(s.findings.first { $0.finding == "effusion" }?.status, .present)
        for out in [s.jsonLine(), s.fhirJSON(), s.html()] {
            for secret in ["Doe", "Archibald", "77654033", "03/04/2019"] {
                XCTAssertFalse(out.contains(secret), "output leaks \(secret)")
            }
        }
        XCTAssertEqual(s.subjectID.count, 16)
        // Same identifiers + same salt → same ID; another salt → another ID.
        let again = try pipeline().analyze(scan: scan, report: nil, name: "other-name")
        XCTAssertEqual(again.subjectID, s.subjectID)
        XCTAssertNotEqual(Privacy(salt: "x").subjectID(["77654033"]), Privacy(salt: "y").subjectID(["77654033"]))
    }

    func testJSONAndFHIRShapes() throws {
        let scan = DiagnoseFixtures.pneumonia.appendingPathComponent("val/val_00000.png")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-out-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = dir.appendingPathComponent("r.txt")
        try "FINDINGS: Right lower lobe consolidation. No effusion.\nIMPRESSION: Pneumonia.".write(to: report, atomically: true, encoding: .utf8)
        let s = try pipeline().analyze(scan: scan, report: report, name: "val_00000.png")
        let json = try JSONSerialization.jsonObject(with: Data(s.jsonLine().utf8)) as? [String: Any]
        let image = json?["image"] as? [String: Any]
        let probs = image?["probabilities"] as? [String: Double]
        XCTAssertEqual(probs?.keys.sorted(), ["normal", "pneumonia"])
        XCTAssertEqual((probs?.values.reduce(0, +)) ?? 0, 1, accuracy: 1e-5)
        let rep = json?["report"] as? [String: Any]
        XCTAssertEqual(rep?["abnormal"] as? Bool, true)
        let findings = rep?["findings"] as? [[String: Any]]
        XCTAssertEqual(findings?.first { $0["finding"] as? String == "opacity" }?["status"] as? String, "present")
        XCTAssertEqual(findings?.first { $0["finding"] as? String == "effusion" }?["status"] as? String, "absent")
        XCTAssertTrue((json?["disclaimer"] as? String)?.contains("not a diagnosis") == true)
        let sug = json?["suggestion"] as? [String: Any]
        XCTAssertEqual((sug?["agreements"] as? [String])?.isEmpty, false, "pneumonia image + pneumonia report agree")

        let fhir = try JSONSerialization.jsonObject(with: Data(s.fhirJSON().utf8)) as? [String: Any]
        let entries = (fhir?["entry"] as? [[String: Any]])?.compactMap { $0["resource"] as? [String: Any] } ?? []
        XCTAssertEqual(entries.first?["resourceType"] as? String, "DiagnosticReport")
        let observations = entries.filter { $0["resourceType"] as? String == "Observation" }
        // One per finding the report mentions (the others are not asserted absent), and the image model's.
        XCTAssertEqual(observations.count, s.findings.filter(\.mentioned).count + 1)
        XCTAssertLessThan(observations.count, FindingLexicon.allFindings.count + 1)
        XCTAssertEqual((entries.first?["result"] as? [Any])?.count, observations.count)

        let html = s.html()
        XCTAssertTrue(html.contains("data:image/png;base64,"))
        XCTAssertTrue(html.contains("Grad-CAM"))
        let heat = dir.appendingPathComponent("cam.png")
        try DiagnosePipeline.writeHeatmap(s, to: heat)
        XCTAssertGreaterThan((try Data(contentsOf: heat)).count, 100)
    }

    func testBadScanIsATypedError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-bad-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.dcm")
        try Data(repeating: 7, count: 300).write(to: bad)
        XCTAssertThrowsError(try pipeline().analyze(scan: bad, report: nil, name: "bad.dcm")) { e in
            XCTAssertTrue("\(e)".contains("bad.dcm"))
        }
        // JPEG baseline decodes now; the same file relabelled with a transfer syntax nobody
        // defined (same length, so the header stays sound) is a typed error naming the syntax.
        let jpeg = DiagnoseFixtures.dicom.appendingPathComponent("SC_rgb_jpeg_dcmtk.dcm")
        XCTAssertNoThrow(try pipeline().analyze(scan: jpeg, report: nil, name: "j"))
        var bytes = try Data(contentsOf: jpeg)
        let uid = Data("1.2.840.10008.1.2.4.50".utf8), unknown = Data("1.2.840.10008.1.2.4.99".utf8)
        let at = try XCTUnwrap(bytes.range(of: uid))
        bytes.replaceSubrange(at, with: unknown)
        let relabelled = dir.appendingPathComponent("unknown-syntax.dcm")
        try bytes.write(to: relabelled)
        XCTAssertThrowsError(try pipeline().analyze(scan: relabelled, report: nil, name: "u")) { e in
            XCTAssertTrue("\(e)".contains("1.2.840.10008.1.2.4.99"), "\(e)")
        }
    }
}
