import Foundation
import XCTest

/// The web console's files (LeptonServer's `ConsolePage`), through `lepton-chat serve` with an API
/// key: served without the key, with their Content-Types, `Cache-Control: no-cache` and the strict
/// content security policy; the page a full HTML document that links the four files and has no
/// inline script or style (which the policy would block). The page's behaviour is tested in a
/// browser (Tests/Pages, scripts/page-test.sh).
final class ConsoleRoutesTests: XCTestCase {
    func testConsoleFilesNeedNoKeyAndCarryTheirPolicy() throws {
        let keyFile = try temporaryFile("console-k3y\n")
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString).sqlite").path
        defer {
            try? FileManager.default.removeItem(atPath: keyFile)
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) }
        }
        let s = try ServiceProcess.start("lepton-chat", ["--store", store, "--api-key-file", keyFile])
        defer { s.stop() }
        let files = ["/": "text/html", "/console/lepton.css": "text/css", "/console/lepton.js": "text/javascript",
                     "/console/page.css": "text/css", "/console/page.js": "text/javascript"]
        for (path, type) in files.sorted(by: { $0.key < $1.key }) {
            let a = try s.call("GET", path)
            XCTAssertEqual(a.status, 200, "\(path): \(a.text)")
            XCTAssertEqual(a.header("Content-Type"), "\(type); charset=utf-8", path)
            XCTAssertEqual(a.header("Cache-Control"), "no-cache", path)
            XCTAssertEqual(a.header("X-Content-Type-Options"), "nosniff", path)
            let policy = try XCTUnwrap(a.header("Content-Security-Policy"), path)
            XCTAssertTrue(policy.hasPrefix("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:"), policy)
            XCTAssertFalse(policy.contains("unsafe-inline"), policy)
            XCTAssertFalse(a.body.isEmpty, path)
        }
        let page = try s.call("GET", "/").text
        for part in ["<!doctype html>", "<html lang=\"en\">", "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                     "<title>Lepton call console</title>", "href=\"/console/lepton.css\"", "href=\"/console/page.css\"",
                     "src=\"/console/lepton.js\"", "src=\"/console/page.js\"", "role=\"alert\" data-testid=\"error\"",
                     "data-testid=\"audio-input\"", "data-testid=\"text-input\"", "data-testid=\"send\""] {
            XCTAssertTrue(page.contains(part), "the page lacks \(part)")
        }
        // The policy allows neither inline scripts nor handlers nor style attributes.
        XCTAssertNil(page.range(of: #"<script(?![^>]*\bsrc=)[^>]*>"#, options: .regularExpression), "an inline script")
        XCTAssertNil(page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression), "an inline event handler")
        XCTAssertNil(page.range(of: #"\sstyle\s*="#, options: .regularExpression), "a style attribute")
        // The key still guards the data routes and an unknown file is a JSON 404.
        XCTAssertEqual(try s.call("GET", "/v1/sessions").status, 401)
        XCTAssertEqual(try s.call("GET", "/console/other.js").status, 401)
        let missing = try s.call("GET", "/console/other.js", headers: ["Authorization": "Bearer console-k3y"])
        XCTAssertEqual(missing.status, 404)
        XCTAssertNotNil(missing.json?["error"])
    }
}
