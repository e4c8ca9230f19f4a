// Bounded mutation fuzzing of the XML loader: byte flips and spliced-in hostile markup.

import Foundation
import XCTest
import LeptonReport

final class XMLFuzzTests: XCTestCase {
    func testMutatedReportsNeverCrashOrLeak() throws {
        let url = ReportFixtures.iuXray.appendingPathComponent("reports/0002.xml")
        guard let seed = try? [UInt8](Data(contentsOf: url)) else { throw XCTSkip("IU X-ray data not found") }
        let snippets = ["<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>", "&x;", "&#0;", "&#x110000;", "<![CDATA[", "]]>",
                        "<!--", "-->", "<?xml version=\"1.0\"?>", "</eCitation>", "<a b=\"", "\u{0}", "\u{FEFF}", "&amp", "<!ENTITY",
                        "<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" href=\"/etc/passwd\"/>", String(repeating: "<d>", count: 300)]
        var state: UInt64 = 0x5EED
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: state >> 33) }
        var parsed = 0, refused = 0
        for i in 0..<600 {
            var bytes = seed
            switch next() % 3 {
            case 0:
                for _ in 0..<(1 + next() % 8) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
            case 1:
                bytes.insert(contentsOf: Array(snippets[next() % snippets.count].utf8), at: next() % bytes.count)
            default:
                bytes = Array(bytes.prefix(next() % bytes.count))
            }
            do {
                let doc = try XMLDocument(data: Data(bytes), name: "fuzz\(i)")
                let text = doc.root?.rawText ?? ""
                XCTAssertFalse(text.contains("root:x:0:0"), "fuzz \(i) leaked /etc/passwd")
                _ = try doc.strings("//AbstractText")
                parsed += 1
            } catch is XMLError {
                refused += 1
            } catch {
                XCTFail("fuzz \(i): non-XMLError \(error)")
            }
        }
        XCTAssertEqual(parsed + refused, 600)
        print("xml fuzz: 600 mutated reports, \(parsed) parsed, \(refused) typed errors")
    }
}
