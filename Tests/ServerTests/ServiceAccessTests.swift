import Foundation
import XCTest

/// What every service shares (LeptonServer), through `lepton-risk serve`, the quickest to start:
/// the bearer key, and the key file's checks at start.
final class ServiceAccessTests: XCTestCase {
    let model = "samples/risk/model"

    func testBearerKeyGuardsEveryRouteButHealthz() throws {
        let keyFile = try temporaryFile("s3cret-key\n")
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        let s = try ServiceProcess.start("lepton-risk", ["--model", model, "--api-key-file", keyFile])
        defer { s.stop() }
        for (path, method) in [("/v1/score", "POST"), ("/metrics", "GET"), ("/openapi.json", "GET")] {
            let none = try s.call(method, path, bodyFile: method == "POST" ? "samples/risk/test.csv" : nil)
            XCTAssertEqual(none.status, 401, "\(path) without a key: \(none.text)")
            XCTAssertNotNil(none.json?["error"] as? String)
            XCTAssertEqual(none.header("WWW-Authenticate"), "Bearer")
            let wrong = try s.call(method, path, headers: ["Authorization": "Bearer s3cret-kez"])
            XCTAssertEqual(wrong.status, 401, "\(path) with a wrong key")
            let prefix = try s.call(method, path, headers: ["Authorization": "Bearer s3cret"])
            XCTAssertEqual(prefix.status, 401, "\(path) with a prefix of the key")
        }
        let right = try s.call("POST", "/v1/score?top=1", headers: ["Authorization": "Bearer s3cret-key"], bodyFile: "samples/risk/test.csv")
        XCTAssertEqual(right.status, 200, right.text)
        XCTAssertEqual(try s.call("GET", "/metrics", headers: ["Authorization": "Bearer s3cret-key"]).status, 200)
        XCTAssertEqual(try s.call("GET", "/healthz").status, 200)
    }

    func testAnEmptyOrMissingKeyFileStopsTheStart() throws {
        let empty = try temporaryFile("\n")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        for (file, word) in [(empty, "empty"), ("/nonexistent/key", "/nonexistent/key")] {
            let s = try ServiceProcess("lepton-risk", ["--model", model, "--api-key-file", file])
            s.process.waitUntilExit()
            Thread.sleep(forTimeInterval: 0.1)
            XCTAssertEqual(s.process.terminationStatus, 1)
            let errors = s.log.filter { $0.hasPrefix("lepton-risk: error:") }
            XCTAssertEqual(errors.count, 1, s.log.joined(separator: "\n"))
            XCTAssertTrue(errors.first?.contains(word) == true, s.log.joined(separator: "\n"))
        }
    }

    func testABadModelStopsTheStartWithOneLine() throws {
        let s = try ServiceProcess("lepton-risk", ["--model", "/nonexistent/model"])
        s.process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(s.process.terminationStatus, 1, s.log.joined(separator: "\n"))
        XCTAssertEqual(s.log.filter { $0.hasPrefix("lepton-risk: error:") }.count, 1, s.log.joined(separator: "\n"))
    }
}
