import Foundation
import XCTest

/// Every route of each service answers as its document in openapi/ says (status codes, media types,
/// response schemas), checked by an independent client (Fixtures/check_openapi.py: http.client and
/// jsonschema), and `GET /openapi.json` serves that same document.
final class OpenAPIConformanceTests: XCTestCase {
    /// Runs the checker against `s`; its exit status and stderr.
    func runChecker(_ program: String, _ s: ServiceProcess, doc: String? = nil) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", ServiceProcess.root.appendingPathComponent("Tests/ServerTests/Fixtures/check_openapi.py").path, program, s.base]
            + (doc.map { ["--doc", $0] } ?? [])
        let err = Pipe()
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    func check(_ program: String, _ args: [String] = []) throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString).sqlite").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + s) } }
        let s = try ServiceProcess.start(program, program == "lepton-chat" ? ["--store", store] : args,
                                         env: ["LEPTON_DIAGNOSE_SALT": "server-tests-salt"])
        defer { s.stop() }
        let served = try s.call("GET", "/openapi.json")
        let file = try Data(contentsOf: ServiceProcess.root.appendingPathComponent("openapi/\(program).json"))
        XCTAssertTrue(sameJSON(try JSONSerialization.jsonObject(with: served.body), try JSONSerialization.jsonObject(with: file)),
                      "/openapi.json is not openapi/\(program).json")
        let (status, text) = try runChecker(program, s)
        XCTAssertEqual(status, 0, text)
    }

    /// The checker is not blind: a document that leaves out the 400 of /v1/score and says rows are
    /// strings makes it fail, naming both.
    func testTheCheckerCatchesAnswersTheDocumentDoesNotDescribe() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let edit = Process()
        edit.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        edit.arguments = ["python3", "-c", """
            import json, sys
            d = json.load(open(sys.argv[1]))
            del d["paths"]["/v1/score"]["post"]["responses"]["400"]
            d["components"]["schemas"]["TransactionScore"] = {"type": "object", "properties": {"row": {"type": "string"}}}
            json.dump(d, open(sys.argv[2], "w"))
            """, ServiceProcess.root.appendingPathComponent("openapi/lepton-risk.json").path, file]
        try edit.run()
        edit.waitUntilExit()
        XCTAssertEqual(edit.terminationStatus, 0)
        let s = try ServiceProcess.start("lepton-risk", ["--model", "samples/risk/model"])
        defer { s.stop() }
        let (status, text) = try runChecker("lepton-risk", s, doc: file)
        XCTAssertEqual(status, 1, text)
        XCTAssertTrue(text.contains("POST /v1/score -> 400: status not documented"), text)
        XCTAssertTrue(text.contains("body does not match the schema"), text)
    }

    func testRiskAnswersAsItsDocument() throws { try check("lepton-risk", ["--model", "samples/risk/model"]) }
    func testChatAnswersAsItsDocument() throws { try check("lepton-chat") }
    func testDiagnoseAnswersAsItsDocument() throws { try check("lepton-diagnose") }
}
