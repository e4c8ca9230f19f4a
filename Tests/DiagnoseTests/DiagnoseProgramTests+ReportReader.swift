import Foundation
import XCTest

/// `--report-reader` as a user runs it: the output names the reader and the head's weights
/// (checked against `sha256sum` of the files, an independent hash), and a bad reader name or a
/// missing model is a one-line error with the documented exit code.
extension DiagnoseProgramTests {
    func testReportReaderIsNamedWithItsWeights() throws {
        let report = "samples/diagnose/studies/case2.xml"
        let rules = try run(["analyze", "--report", report, "--report-reader", "rules", "--json"])
        XCTAssertEqual(rules.status, 0, rules.stderr)
        let r = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(rules.stdout.utf8)) as? [String: Any])
        let rulesReport = try XCTUnwrap(r["report"] as? [String: Any])
        XCTAssertEqual(rulesReport["reader"] as? String, "rules")
        XCTAssertNil(rulesReport["model"])

        let folder = try ReportReaderFixture.trained()
        let hash = Process()
        hash.executableURL = URL(fileURLWithPath: "/bin/sh")
        hash.arguments = ["-c", "cat report-reader.json report-reader.safetensors | sha256sum"]
        hash.currentDirectoryURL = folder
        let pipe = Pipe()
        hash.standardOutput = pipe
        try hash.run()
        let digest = String(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(12))
        hash.waitUntilExit()
        for kind in ["transformer", "combined"] {
            let t = try run(["analyze", "--report", report, "--report-reader", kind, "--report-model", folder.path, "--json"])
            XCTAssertEqual(t.status, 0, t.stderr)
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(t.stdout.utf8)) as? [String: Any])
            let rep = try XCTUnwrap(o["report"] as? [String: Any])
            XCTAssertEqual(rep["reader"] as? String, kind)
            let model = try XCTUnwrap(rep["model"] as? [String: Any])
            XCTAssertEqual(model["name"] as? String, "lepton-report-transformer")
            XCTAssertEqual(model["sha256"] as? String, digest)
            let fhir = try run(["analyze", "--report", report, "--report-reader", kind, "--report-model", folder.path, "--format", "fhir"])
            XCTAssertEqual(fhir.status, 0, fhir.stderr)
            XCTAssertTrue(fhir.stdout.contains("urn:lepton:report-reader") && fhir.stdout.contains(digest), fhir.stdout)
            let html = try run(["analyze", "--report", report, "--report-reader", kind, "--report-model", folder.path, "--format", "html"])
            XCTAssertTrue(html.stdout.contains("Report reader: \(kind)") && html.stdout.contains(digest))
        }
        assertOneLineError(try run(["analyze", "--report", report, "--report-reader", "neural"]), status: 64, contains: "--report-reader")
        assertOneLineError(try run(["analyze", "--report", report, "--report-reader", "transformer", "--report-model", dir.path]),
                           status: 1, contains: "report-reader.json")
        let findings = DiagnoseFixtures.iu.appendingPathComponent("findings.csv").path
        assertOneLineError(try run(["evaluate", "--reports", findings, "--report-split", "samples/diagnose/report-split.csv", "--part", "tset"]),
                           status: 1, contains: "no report in part 'tset'")
    }
}
