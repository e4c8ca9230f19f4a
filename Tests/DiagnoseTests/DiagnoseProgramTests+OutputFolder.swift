import Foundation
import XCTest

/// Issue 22: `analyze FOLDER -o DIR` writes a page per result, the overlays at the scans' own size
/// and an index, instead of HTML documents concatenated on stdout.
extension DiagnoseProgramTests {
    func testOutputFolderHasAPagePerStudyOverlaysAndAnIndex() throws {
        let out = dir.appendingPathComponent("pages")
        let r = try run(["analyze", "samples/diagnose", "-o", out.path, "--format", "html"])
        XCTAssertEqual(r.status, 3, r.stderr)   // case6 has no pixels
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .newlines), out.appendingPathComponent("index.html").path)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        let pages = files.filter { $0.hasSuffix(".html") && $0 != "index.html" }
        let overlays = files.filter { $0.hasSuffix("-heatmap.png") }
        XCTAssertEqual(pages.count, 5, "\(files)")
        XCTAssertEqual(overlays.count, 3, "\(files)")   // the three chest X-rays; the two refused scans have none
        // File names carry a position and the subject hash, never a study's file name.
        XCTAssertFalse(files.contains { $0.contains("case") }, "\(files)")
        let index = try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8)
        for page in pages { XCTAssertTrue(index.contains("href=\"\(page)\""), page) }
        XCTAssertTrue(index.contains("case6.dcm") && index.contains("failed"))
        // Each page is one study's document, not several.
        for page in pages {
            let text = try String(contentsOf: out.appendingPathComponent(page), encoding: .utf8)
            XCTAssertEqual(text.components(separatedBy: "<!DOCTYPE html>").count, 2, page)
        }
        // An overlay is as large as its scan (both PNG headers read here).
        func pngSize(_ url: URL) throws -> [Int] {
            let b = [UInt8](try Data(contentsOf: url).prefix(24))
            return [16, 20].map { o in b[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        }
        let scans = ["case1.png", "case2.png", "case3.png"].map { try? pngSize(URL(fileURLWithPath: "samples/diagnose/studies/" + $0)) }
        for o in overlays { XCTAssertTrue(scans.contains(try pngSize(out.appendingPathComponent(o))), o) }
        // Nothing of the DICOM's patient anywhere in the folder.
        for f in files {
            let data = try Data(contentsOf: out.appendingPathComponent(f))
            XCTAssertNil(data.range(of: Data("Archibald".utf8)), f)
        }
    }
}
