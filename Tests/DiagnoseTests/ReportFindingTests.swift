import Foundation
import XCTest
import LeptonDiagnose

final class ReportFindingTests: XCTestCase {
    let extractor = FindingExtractor()

    func status(_ text: String, _ finding: String) -> FindingStatus { extractor.analyze(text).status(finding) }

    func testNegationScopes() {
        // Hand-written sentences (not from the IU set).
        XCTAssertEqual(status("No pleural effusion.", "effusion"), .absent)
        XCTAssertEqual(status("There is no focal consolidation, pneumothorax or large pleural effusion.", "pneumothorax"), .absent)
        XCTAssertEqual(status("There is no focal consolidation, pneumothorax or large pleural effusion.", "effusion"), .absent)
        XCTAssertEqual(status("Pneumothorax is not seen.", "pneumothorax"), .absent)
        XCTAssertEqual(status("The heart is not enlarged.", "cardiomegaly"), .absent)
        XCTAssertEqual(status("Moderate cardiomegaly.", "cardiomegaly"), .present)
        XCTAssertEqual(status("Small right pleural effusion.", "effusion"), .present)
        // A terminator ends the negation scope.
        XCTAssertEqual(status("No pneumothorax, but there is a small left effusion.", "effusion"), .present)
        // Pseudo-trigger: "no change" does not negate.
        XCTAssertEqual(status("No change in the right basilar atelectasis.", "atelectasis"), .present)
        // Uncertainty before and after.
        XCTAssertEqual(status("Possible early pneumonia in the left base.", "pneumonia"), .uncertain)
        XCTAssertEqual(status("A small nodule cannot be excluded.", "nodule"), .uncertain)
        XCTAssertEqual(status("Scarring versus atelectasis at the right base.", "atelectasis"), .uncertain)
        XCTAssertEqual(status("Question of a small right effusion.", "effusion"), .uncertain)
        // Lexicon choices.
        XCTAssertEqual(status("Small pericardial effusion.", "effusion"), .absent)
        XCTAssertEqual(status("Patchy airspace disease in the right lower lobe.", "opacity"), .present)
        XCTAssertEqual(status("Borderline heart size.", "cardiomegaly"), .present)
        XCTAssertEqual(status("Partial collapse of the right middle lobe.", "atelectasis"), .present)
        XCTAssertEqual(status("The collapsed left upper lobe is unchanged.", "atelectasis"), .present)
        XCTAssertEqual(status("Right lower lobe collapse has resolved.", "atelectasis"), .absent)
        XCTAssertEqual(status("Mild compression collapse of a thoracic vertebral body.", "atelectasis"), .absent)
        XCTAssertEqual(status("Fibronodular scarring at the right apex.", "nodule"), .present)
    }

    func testEvidenceAndAbnormal() {
        let a = extractor.analyze("FINDINGS: Heart size is normal. Calcified granuloma in the left upper lobe.\nIMPRESSION: No acute disease.")
        XCTAssertTrue(a.abnormal)
        let g = a.findings.first { $0.finding == "granuloma" }
        XCTAssertEqual(g?.status, .present)
        XCTAssertEqual(g?.evidence, "Calcified granuloma in the left upper lobe.")
        let normal = extractor.analyze("The heart is normal in size. The lungs are clear. No pneumothorax or pleural effusion.")
        XCTAssertFalse(normal.abnormal)
        XCTAssertEqual(normal.findings.count, FindingLexicon.allFindings.count)
        XCTAssertEqual(normal.findings.first { $0.finding == "effusion" }?.mentioned, true)
        XCTAssertEqual(normal.findings.first { $0.finding == "nodule" }?.mentioned, false)
    }

    func testReaderSections() throws {
        let xml = """
        <?xml version="1.0"?><root><Abstract><AbstractText Label="FINDINGS">Mild cardiomegaly.</AbstractText>
        <AbstractText Label="IMPRESSION">No effusion.</AbstractText><AbstractText Label="INDICATION">Cough.</AbstractText></Abstract></root>
        """
        let r = try ReportReader().read(data: Data(xml.utf8), name: "x.xml")
        XCTAssertEqual(r.sections.map(\.name), ["FINDINGS", "IMPRESSION"])
        XCTAssertEqual(r.sections[0].text, "Mild cardiomegaly.")
        let custom = ReportReader(selectors: try ReportReader.parseSelectors(["BODY=//text[@kind='body']"]))
        let r2 = try custom.read(data: Data("<doc><text kind='body'>Right effusion.</text><text kind='x'>Nodule.</text></doc>".utf8), name: "y.xml")
        XCTAssertEqual(r2.text, "Right effusion.")
        // Entity declarations are refused (no XXE, no entity expansion bombs).
        let evil = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]><r>&b;</r>"
        XCTAssertThrowsError(try ReportReader().read(data: Data(evil.utf8), name: "evil.xml"))
        XCTAssertThrowsError(try ReportReader().read(data: Data("<a><b></a>".utf8), name: "bad.xml"))
        let plain = try ReportReader().read(data: Data("PATIENT: Someone Important\nFINDINGS: Small left effusion.\nIMPRESSION: Effusion.".utf8), name: "p.txt")
        XCTAssertEqual(plain.sections.map(\.name), ["FINDINGS", "IMPRESSION"])
        XCTAssertFalse(plain.text.contains("Someone"))
    }

    /// Selectors are real XPath 1.0 (LeptonReport/libxml2): positions, paths, functions, unions.
    func testSelectorsAreXPath() throws {
        let xml = "<rep><sec><p>Heart normal.</p></sec><sec><p>Small right effusion.</p><p>No nodule.</p></sec></rep>"
        let reader = ReportReader(selectors: try ReportReader.parseSelectors([
            "SECOND=/rep/sec[2]/p[1]", "COUNT=string(count(//p))", "BOTH=//sec[1]/p | //sec[2]/p[2]",
        ]))
        let r = try reader.read(data: Data(xml.utf8), name: "x.xml")
        XCTAssertEqual(r.sections.map(\.text), ["Small right effusion.", "3", "Heart normal.\nNo nodule."])
        XCTAssertThrowsError(try ReportReader.parseSelectors(["BAD=//sec[@"])) { e in
            XCTAssertTrue("\(e)".contains("//sec[@"), "\(e)")
        }
        let numeric = ReportReader(selectors: try ReportReader.parseSelectors(["N=count(//p)"]))
        XCTAssertThrowsError(try numeric.read(data: Data(xml.utf8), name: "x.xml"))
    }

    /// An XXE report (external entity pointing at a local file) is refused, through the reader and
    /// through `analyze`, with one error naming the file and the refused entity; nothing is read.
    func testXXEReportIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-xxe-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let secret = dir.appendingPathComponent("secret.txt")
        try "TOP-SECRET-CONTENT".write(to: secret, atomically: true, encoding: .utf8)
        let xxe = dir.appendingPathComponent("xxe.xml")
        try """
        <?xml version="1.0"?>
        <!DOCTYPE r [<!ENTITY leak SYSTEM "file://\(secret.path)">]>
        <r><AbstractText Label="FINDINGS">&leak; Small effusion.</AbstractText></r>
        """.write(to: xxe, atomically: true, encoding: .utf8)
        func check(_ e: Error) {
            let text = "\(e)"
            guard case DiagnoseError.badReport = e else { return XCTFail("not a badReport error: \(text)") }
            XCTAssertTrue(text.contains("xxe.xml"), text)
            XCTAssertTrue(text.contains("refused") && text.contains("leak"), text)
            XCTAssertFalse(text.contains("TOP-SECRET"), text)
            XCTAssertFalse(text.contains("\n"), "one line: \(text)")
        }
        XCTAssertThrowsError(try ReportReader().read(xxe), "reader", check)
        XCTAssertThrowsError(try DiagnosePipeline(model: nil).analyze(scan: nil, report: xxe, name: "xxe.xml"), "analyze", check)
        // An external DTD (no entity declared) is not fetched either.
        let dtd = dir.appendingPathComponent("dtd.xml")
        try "<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM \"http://127.0.0.1:9/evil.dtd\"><r>x</r>".write(to: dtd, atomically: true, encoding: .utf8)
        let r = try? ReportReader().read(dtd)
        XCTAssertFalse(r?.text.contains("evil") ?? false)
    }

    /// Against the curators' MeSH labels of ../shared/data/medical/iu-xray (unindexed excluded):
    /// the rules were tuned on the even half (dev); the odd half (test) is reported too.
    func testIUReportsMeetTheGoalOnBothHalves() throws {
        let csv = DiagnoseFixtures.iu.appendingPathComponent("findings.csv")
        for subset in [ReportEvaluation.Subset.dev, .test] {
            let ev = try ReportEvaluation.run(findingsCSV: csv, subset: subset)
            XCTAssertGreaterThan(ev.reports, 1200)
            XCTAssertGreaterThanOrEqual(ev.macroF1Main, 0.92, "\(subset) macro-F1 \(ev.macroF1Main)")
            XCTAssertGreaterThanOrEqual(ev.abnormal.f1, 0.96, "\(subset) abnormal F1 \(ev.abnormal.f1)")
            print("IU \(subset): n=\(ev.reports) macro-F1(5) \(ev.macroF1Main) abnormal F1 \(ev.abnormal.f1)")
        }
    }
}
