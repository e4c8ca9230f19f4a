import Foundation
import XCTest

/// Issue 22: every FHIR bundle `analyze --format fhir` writes validates against the FHIR models of
/// the `fhir.resources` package (PyPI; R4B, the R4 line's current release there), read by Python,
/// not by Lepton. Covers a scan with a report, a report alone, a scan the gate refuses, and a
/// batch with a failed study (an OperationOutcome).
final class FHIRValidationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func lepton(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = DiagnoseFixtures.program
        p.arguments = args
        p.currentDirectoryURL = Self.root
        p.environment = ["LEPTON_DIAGNOSE_SALT": "fhir-test"]
        let out = Pipe()
        p.standardOutput = out; p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Validates each JSON document of `texts` with fhir.resources; returns Python's verdicts.
    func validate(_ texts: [String]) throws -> [String] {
        let script = """
        import json, sys
        from fhir.resources.R4B.bundle import Bundle
        from fhir.resources.R4B.operationoutcome import OperationOutcome
        for line in sys.stdin:
            doc = json.loads(line)
            kind = {"Bundle": Bundle, "OperationOutcome": OperationOutcome}[doc["resourceType"]]
            try:
                kind.model_validate(doc); print("valid", doc["resourceType"])
            except Exception as e:
                print("invalid", doc["resourceType"], str(e).replace("\\n", " ")[:300])
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe; p.standardOutput = outPipe; p.standardError = errPipe
        try p.run()
        inPipe.fileHandleForWriting.write(Data((texts.joined(separator: "\n") + "\n").utf8))
        try inPipe.fileHandleForWriting.close()
        let out = String(decoding: outPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "fhir.resources missing? run scripts/bootstrap.sh: \(err)")
        return out.split(separator: "\n").map(String.init)
    }

    func compact(_ pretty: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(pretty.utf8))), as: UTF8.self)
    }

    func testEveryBundleValidatesAndSaysOnlyWhatTheStudySays() throws {
        let studies = "samples/diagnose/studies/"
        let (s1, both) = try lepton(["analyze", studies + "case1.png", "--report", studies + "case1.txt", "--format", "fhir"])
        let (s2, reportOnly) = try lepton(["analyze", "--report", studies + "case2.xml", "--format", "fhir"])
        let (s3, refused) = try lepton(["analyze", studies + "case4.dcm", "--report", studies + "case4.txt", "--format", "fhir"])
        XCTAssertEqual([s1, s2, s3], [0, 0, 0])
        let (s4, batch) = try lepton(["analyze", "samples/diagnose", "--format", "fhir"])
        XCTAssertEqual(s4, 3)   // case6 is not an image
        let batchLines = batch.split(separator: "\n").map(String.init)
        XCTAssertTrue(batchLines.contains { $0.contains("\"OperationOutcome\"") && $0.contains("case6") }, batch)
        let verdicts = try validate([try compact(both), try compact(reportOnly), try compact(refused)] + batchLines)
        XCTAssertEqual(verdicts.count, 3 + batchLines.count)
        for v in verdicts { XCTAssertTrue(v.hasPrefix("valid"), v) }

        func bundle(_ text: String) throws -> [[String: Any]] {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            return try XCTUnwrap(o["entry"] as? [[String: Any]])
        }
        func loinc(_ entries: [[String: Any]]) -> String? {
            (((entries.first?["resource"] as? [String: Any])?["code"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String
        }
        let e1 = try bundle(both), e2 = try bundle(reportOnly), e3 = try bundle(refused)
        // The code follows the study: a chest X-ray the model read, a report alone, a refused spine radiograph.
        XCTAssertEqual(loinc(e1), "36554-4"); XCTAssertEqual(loinc(e2), "18748-4"); XCTAssertEqual(loinc(e3), "18748-4")
        // urn:uuid full URLs, every result reference one of them, none twice.
        for entries in [e1, e2, e3] {
            let urls = entries.compactMap { $0["fullUrl"] as? String }
            XCTAssertEqual(urls.count, entries.count)
            XCTAssertEqual(Set(urls).count, urls.count)
            for u in urls { XCTAssertNotNil(u.range(of: "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", options: .regularExpression), u) }
            let refs = ((entries.first?["resource"] as? [String: Any])?["result"] as? [[String: Any]])?.compactMap { $0["reference"] as? String } ?? []
            XCTAssertEqual(Set(refs), Set(urls.dropFirst()))
        }
        // No finding the report never mentions is asserted: case2.xml's text, read here, names each one.
        let report = try String(contentsOf: Self.root.appendingPathComponent(studies + "case2.xml"), encoding: .utf8).lowercased()
        for e in e2.dropFirst() {
            let name = try XCTUnwrap(((e["resource"] as? [String: Any])?["code"] as? [String: Any])?["text"] as? String)
            XCTAssertTrue(report.contains(name.lowercased()) || name == "pneumonia" && report.contains("pneumon"), "\(name) is not in the report")
        }
        // A refused scan carries no image-model observation.
        XCTAssertFalse(refused.contains("Image model probability"))
    }
}
