// The real IU chest X-ray reports, read through XPath and checked against fields derived elsewhere.

import Foundation
import XCTest
import LeptonReport

final class IUReportTests: XCTestCase {
    /// Every report: MeSH major terms equal findings.csv's `mesh_major`, `count(parentImage)` equals
    /// `n_images`, `has_text` agrees, and FINDINGS/IMPRESSION equal a regex extraction of the raw file.
    func testAllReportsAgainstFindingsCSV() throws {
        let rows = try ReportFixtures.csv(ReportFixtures.iuXray.appendingPathComponent("findings.csv"))
        let header = rows[0]
        guard let fileColumn = header.firstIndex(of: "file"), let meshColumn = header.firstIndex(of: "mesh_major"),
              let imagesColumn = header.firstIndex(of: "n_images"), let textColumn = header.firstIndex(of: "has_text") else {
            return XCTFail("findings.csv header \(header)")
        }
        XCTAssertEqual(rows.count - 1, 2638)
        var withFindings = 0
        for row in rows.dropFirst() {
            let url = ReportFixtures.iuXray.appendingPathComponent(row[fileColumn])
            let doc = try XMLDocument(contentsOf: url)
            XCTAssertEqual(doc.root?.name, "eCitation")
            let majors = try doc.strings("/eCitation/MeSH/major")
            let expected = row[meshColumn].split(separator: ";").map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
            XCTAssertEqual(majors.map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }, expected, row[fileColumn])
            XCTAssertEqual(try doc.number("count(//parentImage)"), Double(row[imagesColumn]), row[fileColumn])
            let raw = try String(contentsOf: url, encoding: .utf8)
            let findings = try doc.string("//AbstractText[@Label='FINDINGS']")
            let impression = try doc.string("//AbstractText[@Label='IMPRESSION']")
            XCTAssertEqual(findings, ReportFixtures.abstractText(raw, label: "FINDINGS"), row[fileColumn])
            XCTAssertEqual(impression, ReportFixtures.abstractText(raw, label: "IMPRESSION"), row[fileColumn])
            let hasText = !(findings ?? "").isEmpty || !(impression ?? "").isEmpty
            XCTAssertEqual(hasText ? "1" : "0", row[textColumn], row[fileColumn])
            if !(findings ?? "").isEmpty { withFindings += 1 }
        }
        XCTAssertGreaterThan(withFindings, 2000)
    }

    /// One report in detail: navigation, attributes, line numbers, relative XPath.
    func testReport0002Navigation() throws {
        let url = ReportFixtures.iuXray.appendingPathComponent("reports/0002.xml")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("IU X-ray data not found") }
        let doc = try XMLDocument(contentsOf: url)
        XCTAssertEqual(try doc.string("//uId/@id"), "CXR2")
        XCTAssertEqual(try doc.string("//AbstractText[@Label='INDICATION']"), "Preop bariatric surgery.")
        let labels = try doc.nodes("//AbstractText").compactMap { $0.attribute("Label") }
        XCTAssertEqual(labels, ["COMPARISON", "INDICATION", "FINDINGS", "IMPRESSION"])
        let images = try doc.nodes("//parentImage")
        XCTAssertEqual(images.map { $0.attribute("id") }, ["CXR2_IM-0652-1001", "CXR2_IM-0652-2001"])
        XCTAssertEqual(try images[0].string("figureId"), "F1")
        XCTAssertEqual(try images[1].string("panel/url"), "/hadoop/storage/radiology/extract/CXR2_IM-0652-2001.jpg")
        let authors = try doc.nodes("//Author")
        XCTAssertEqual(authors.first?.children.map(\.name), ["LastName", "ForeName", "Initials"])
        XCTAssertEqual(authors.first?.attributes.first?.name, "ValidYN")
        XCTAssertEqual(authors.first?.parent?.name, "AuthorList")
        // Line numbers come from the source: find the FINDINGS line by plain text search.
        let raw = try String(contentsOf: url, encoding: .utf8)
        let lineOfFindings = raw.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("Label=\"FINDINGS\"") }.map { $0 + 1 }
        XCTAssertEqual(try doc.nodes("//AbstractText[@Label='FINDINGS']").first?.line, lineOfFindings)
        // Whitespace-only formatting is normalised away.
        XCTAssertEqual(try doc.string("//PubDate"), "2013 08 01")
        XCTAssertEqual(try doc.nodes("//PubDate").first?.rawText.contains("\n"), true)
    }
}
