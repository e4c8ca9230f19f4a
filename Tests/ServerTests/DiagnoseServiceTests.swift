import Foundation
import XCTest

/// `lepton-diagnose serve`: `POST /v1/analyze` against `analyze` (the CLI as the reference) in the
/// three formats, and malformed forms.
final class DiagnoseServiceTests: XCTestCase {
    let studies = ServiceProcess.root.appendingPathComponent("samples/diagnose/studies")
    let salt = ["LEPTON_DIAGNOSE_SALT": "server-tests-salt"]
    private var service: ServiceProcess?

    override func setUpWithError() throws { service = try ServiceProcess.start("lepton-diagnose", [], env: salt) }
    override func tearDown() { service?.stop() }

    func analyze(_ query: String = "", form: [String]) throws -> HTTPAnswer {
        try XCTUnwrap(service).call("POST", "/v1/analyze" + query, form: form)
    }

    func testAnalyzeAnswersAsTheCLI() throws {
        // The CLI runs in the studies folder, so its `file` is the scan's name, as the service's.
        let both = try analyze(form: ["scan=@samples/diagnose/studies/case1.png", "report=@samples/diagnose/studies/case1.txt"])
        XCTAssertEqual(both.status, 200, both.text)
        let cli = try jsonObject(try runCLI("lepton-diagnose", ["analyze", "case1.png", "--report", "case1.txt"], env: salt, cwd: studies))
        XCTAssertTrue(sameJSON(try XCTUnwrap(both.json), cli), "service \(both.text)\nCLI \(cli)")

        let dicom = try analyze(form: ["scan=@samples/diagnose/studies/case4.dcm"])
        XCTAssertEqual(dicom.status, 200, dicom.text)
        let cliDicom = try jsonObject(try runCLI("lepton-diagnose", ["analyze", "case4.dcm"], env: salt, cwd: studies))
        XCTAssertTrue(sameJSON(try XCTUnwrap(dicom.json), cliDicom), "service \(dicom.text)\nCLI \(cliDicom)")
        XCTAssertFalse(dicom.text.lowercased().contains("patient^"), "a DICOM patient name leaks")

        let report = try analyze(form: ["report=@samples/diagnose/studies/case2.xml"])
        let cliReport = try jsonObject(try runCLI("lepton-diagnose", ["analyze", "--report", "case2.xml"], env: salt, cwd: studies))
        XCTAssertTrue(sameJSON(try XCTUnwrap(report.json), cliReport), "service \(report.text)\nCLI \(cliReport)")
    }

    func testFHIRAndHTMLAnswerAsTheCLI() throws {
        let fhir = try analyze("?format=fhir", form: ["scan=@samples/diagnose/studies/case3.png", "report=@samples/diagnose/studies/case3.txt"])
        XCTAssertEqual(fhir.status, 200, fhir.text)
        XCTAssertEqual(fhir.header("Content-Type"), "application/fhir+json")
        let cli = try runCLI("lepton-diagnose", ["analyze", "case3.png", "--report", "case3.txt", "--format", "fhir"], env: salt, cwd: studies)
        XCTAssertTrue(sameJSON(try JSONSerialization.jsonObject(with: fhir.body), try JSONSerialization.jsonObject(with: Data(cli.utf8))))
        let html = try analyze("?format=html", form: ["scan=@samples/diagnose/studies/case3.png"])
        XCTAssertEqual(html.status, 200)
        XCTAssertTrue(html.header("Content-Type")?.hasPrefix("text/html") == true)
        let cliHTML = try runCLI("lepton-diagnose", ["analyze", "case3.png", "--format", "html"], env: salt, cwd: studies)
        XCTAssertEqual(html.text, cliHTML)
    }

    /// `?images=1` adds the scan as decoded and its Grad-CAM layer at the scan's own size (the PNG
    /// header of the sample, read here byte by byte); the rest of the answer stays `analyze`'s.
    func testImagesComeAtTheScansSizeBesideTheCLIsAnswer() throws {
        func pngSize(_ d: Data) -> (Int, Int)? {
            let b = [UInt8](d.prefix(24))
            guard b.count == 24, b[0] == 0x89, b[1] == 0x50, String(decoding: b[12..<16], as: UTF8.self) == "IHDR" else { return nil }
            func be(_ i: Int) -> Int { b[i...(i + 3)].reduce(0) { $0 << 8 | Int($1) } }
            return (be(16), be(20))
        }
        func dataURL(_ v: Any?) throws -> Data {
            let text = try XCTUnwrap(v as? String)
            XCTAssertTrue(text.hasPrefix("data:image/png;base64,"), String(text.prefix(40)))
            return try XCTUnwrap(Data(base64Encoded: String(text.dropFirst("data:image/png;base64,".count))))
        }
        let file = try Data(contentsOf: studies.appendingPathComponent("case3.png"))
        let (w, h) = try XCTUnwrap(pngSize(file))
        let a = try analyze("?images=1", form: ["scan=@samples/diagnose/studies/case3.png", "report=@samples/diagnose/studies/case3.txt"])
        XCTAssertEqual(a.status, 200, a.text)
        var answer = try XCTUnwrap(a.json)
        let images = try XCTUnwrap(answer.removeValue(forKey: "images") as? [String: Any])
        XCTAssertEqual(images["width"] as? Int, w)
        XCTAssertEqual(images["height"] as? Int, h)
        XCTAssertEqual(images["heatmap_opacity"] as? Double, 0.45)
        for key in ["scan", "heatmap"] {
            let size = try XCTUnwrap(pngSize(try dataURL(images[key])), key)
            XCTAssertTrue(size == (w, h), "\(key) is \(size), the scan \(w)x\(h)")
        }
        // The whole report for the viewer: every sentence of the file, in its order.
        let reportText = try XCTUnwrap(answer.removeValue(forKey: "report_text") as? String)
        let file3 = try String(contentsOf: studies.appendingPathComponent("case3.txt"), encoding: .utf8)
        var from = reportText.startIndex
        for sentence in ["Mild enlargement of the cardiac silhouette.", "No consolidation.", "A small left effusion cannot be excluded."] {
            XCTAssertTrue(file3.contains(sentence), sentence)
            let at = try XCTUnwrap(reportText.range(of: sentence, range: from..<reportText.endIndex), "\(sentence) in \(reportText)")
            from = at.upperBound
        }
        let cli = try jsonObject(try runCLI("lepton-diagnose", ["analyze", "case3.png", "--report", "case3.txt"], env: salt, cwd: studies))
        XCTAssertTrue(sameJSON(answer, cli), "service \(answer)\nCLI \(cli)")

        // A DICOM scan with a patient name: pictures of the rendered pixels, nothing of the header.
        let dicom = try analyze("?images=1", form: ["scan=@samples/diagnose/studies/case4.dcm", "report=@samples/diagnose/studies/case4.txt"])
        XCTAssertEqual(dicom.status, 200, dicom.text)
        let dicomImages = try XCTUnwrap(dicom.json?["images"] as? [String: Any])
        let scan = try dataURL(dicomImages["scan"])
        XCTAssertTrue(try XCTUnwrap(pngSize(scan)) == (try XCTUnwrap(dicomImages["width"] as? Int), try XCTUnwrap(dicomImages["height"] as? Int)))
        // The sample is a cervical-spine radiograph: refused by the gate, so no Grad-CAM layer.
        XCTAssertEqual((dicom.json?["image"] as? [String: Any])?["applicable"] as? Bool, false)
        XCTAssertNil(dicomImages["heatmap"])
        for d in [dicom.body, scan] {
            XCTAssertNil(d.range(of: Data("Archibald".utf8)), "the DICOM patient name leaks")
            XCTAssertNil(d.range(of: Data("77654033".utf8)), "the DICOM patient id leaks")
        }
        // A report naming the DICOM's patient: the text comes back without the name or the id.
        let named = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-named-\(UUID().uuidString).txt")
        try Data("FINDINGS: Archibald Doe (MRN 77654033) has a calcified granuloma. No pneumothorax.\n".utf8).write(to: named)
        defer { try? FileManager.default.removeItem(at: named) }
        let withName = try analyze("?images=1", form: ["scan=@samples/diagnose/studies/case4.dcm", "report=@\(named.path)"])
        XCTAssertEqual(withName.status, 200, withName.text)
        let namedText = try XCTUnwrap(withName.json?["report_text"] as? String)
        XCTAssertTrue(namedText.contains("No pneumothorax."), namedText)
        for secret in ["Archibald", "77654033"] { XCTAssertFalse(withName.text.contains(secret), "\(secret) leaks: \(namedText)") }
        // A report alone has no pictures; images go with JSON only.
        let report = try analyze("?images=1", form: ["report=@samples/diagnose/studies/case2.xml"])
        XCTAssertEqual(report.status, 200, report.text)
        XCTAssertNil(report.json?["images"])
        let fhir = try analyze("?images=1&format=fhir", form: ["scan=@samples/diagnose/studies/case3.png"])
        XCTAssertEqual(fhir.status, 400, fhir.text)
        XCTAssertTrue((fhir.json?["error"] as? String)?.contains("images") == true, fhir.text)
    }

    func testMalformedFormsAre400() throws {
        let s = try XCTUnwrap(service)
        let cases: [(HTTPAnswer, String)] = [
            (try s.call("POST", "/v1/analyze", headers: ["Content-Type": "application/json"], body: Data("{}".utf8)), "multipart/form-data"),
            (try s.call("POST", "/v1/analyze", headers: ["Content-Type": "multipart/form-data"], body: Data("x".utf8)), "boundary"),
            (try s.call("POST", "/v1/analyze", headers: ["Content-Type": "multipart/form-data; boundary=zz"], body: Data("--zz\r\ngarbage".utf8)), "multipart"),
            (try s.call("POST", "/v1/analyze", headers: ["Content-Type": "multipart/form-data; boundary=zz"],
                        body: Data("--zz\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nabc\r\n--zz--\r\n".utf8)), "photo"),
            (try analyze(form: ["scan=@samples/diagnose/studies/case1.txt;filename=case1.png"]), "case1.png"),
            (try analyze(form: ["scan=@samples/diagnose/studies/case6.dcm"]), "case6.dcm"),
            (try analyze("?format=pdf", form: ["scan=@samples/diagnose/studies/case1.png"]), "format"),
        ]
        for (a, word) in cases {
            XCTAssertEqual(a.status, 400, a.text)
            let message = a.json?["error"] as? String ?? ""
            XCTAssertTrue(message.contains(word), "\(a.text) should name \(word)")
            XCTAssertFalse(message.contains("/tmp"), "a temporary path leaks: \(message)")
        }
        XCTAssertEqual(try s.call("GET", "/healthz").status, 200)
    }
}
