// XXE, entity expansion, external DTDs, XInclude, depth and size: all refused with a typed error.

import Foundation
import XCTest
import LeptonReport

final class XMLSecurityTests: XCTestCase {
    /// Content of /etc/passwd that must never show up in a result or an error.
    private var passwdMarker: String {
        (try? String(contentsOfFile: "/etc/passwd", encoding: .utf8))?.split(separator: "\n").first.map(String.init) ?? "root:x:0:0"
    }

    private func assertNoPasswd(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(text.contains(passwdMarker), "leaked /etc/passwd", file: file, line: line)
        XCTAssertFalse(text.contains("root:x:0:0"), "leaked /etc/passwd", file: file, line: line)
    }

    private func isEntityDeclaration(_ e: XMLError) -> Bool { if case .entityDeclarationRefused = e { return true } else { return false } }

    func testClassicXXEFileIsRefused() {
        let xml = """
        <?xml version="1.0"?>
        <!DOCTYPE report [
          <!ENTITY xxe SYSTEM "file:///etc/passwd">
        ]>
        <report><findings>&xxe;</findings></report>
        """
        let e = assertXMLError(try XMLDocument(string: xml, name: "xxe.xml"), "XXE file") {
            if case .entityDeclarationRefused(let p, let line, let name) = $0 { return p == "xxe.xml" && line == 3 && name == "xxe" }
            return false
        }
        assertNoPasswd(e?.description ?? "")
    }

    func testXXEOverHTTPAndParameterEntitiesAreRefused() {
        let http = """
        <!DOCTYPE r [<!ENTITY remote SYSTEM "http://127.0.0.1:9/evil.xml">]>
        <r>&remote;</r>
        """
        assertXMLError(try XMLDocument(string: http), "XXE http") { self.isEntityDeclaration($0) }
        let parameter = """
        <!DOCTYPE r [<!ENTITY % dtd SYSTEM "http://127.0.0.1:9/evil.dtd"> %dtd;]>
        <r/>
        """
        assertXMLError(try XMLDocument(string: parameter), "parameter entity") { self.isEntityDeclaration($0) }
        let unparsed = """
        <!DOCTYPE r [<!NOTATION gif SYSTEM "image/gif"><!ENTITY pic SYSTEM "file:///etc/passwd" NDATA gif>]>
        <r/>
        """
        assertXMLError(try XMLDocument(string: unparsed), "unparsed entity") { self.isEntityDeclaration($0) }
    }

    func testExternalDTDIsNeverLoaded() throws {
        // The external subset would define &xxe;; it is not fetched, so the reference is refused.
        let xml = """
        <?xml version="1.0"?>
        <!DOCTYPE r SYSTEM "file:///etc/passwd">
        <r>&xxe;</r>
        """
        let e = assertXMLError(try XMLDocument(string: xml, name: "dtd.xml"), "external DTD + reference") {
            switch $0 {
            case .entityReferenceRefused(_, let line, let name): return line == 3 && name == "xxe"
            case .malformed, .externalResourceRefused: return true
            default: return false
            }
        }
        assertNoPasswd(e?.description ?? "")
        // Without references, a DOCTYPE naming an external DTD (here /etc/passwd, which is not a DTD)
        // parses fine: nothing is loaded, so nothing can fail or leak.
        let plain = try XMLDocument(string: "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r>ok</r>")
        XCTAssertEqual(try plain.string("/r"), "ok")
        let remote = try XMLDocument(string: "<!DOCTYPE r PUBLIC \"-//X//DTD X//EN\" \"http://127.0.0.1:9/x.dtd\"><r>ok</r>")
        XCTAssertEqual(remote.root?.text, "ok")
    }

    func testBillionLaughsIsRefusedQuickly() {
        var xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        for i in 1...9 {
            let previous = i == 1 ? "lol" : "lol\(i - 1)"
            xml += " <!ENTITY lol\(i) \"" + String(repeating: "&\(previous);", count: 10) + "\">\n"
        }
        xml += "]>\n<lolz>&lol9;</lolz>\n"
        // Bounded by position, not by a clock: the parser stops at the first declaration (line 3),
        // before reading the nine that would expand to 10^9 copies.
        assertXMLError(try XMLDocument(string: xml, name: "lol.xml"), "billion laughs") {
            if case .entityDeclarationRefused(let p, let line, let name) = $0 { return p == "lol.xml" && line == 3 && name == "lol" }
            return false
        }
        // Quadratic blow-up: one big entity referenced many times.
        let big = String(repeating: "x", count: 50_000)
        let quadratic = "<!DOCTYPE q [<!ENTITY a \"\(big)\">]><q>" + String(repeating: "&a;", count: 50_000) + "</q>"
        assertXMLError(try XMLDocument(string: quadratic), "quadratic blowup") { self.isEntityDeclaration($0) }
    }

    func testUndeclaredEntityAndPredefinedOnes() throws {
        assertXMLError(try XMLDocument(string: "<r>\n<a>&nbsp;</a></r>", name: "u.xml"), "undeclared entity") {
            if case .malformed(let p, let line, _, let message) = $0 { return p == "u.xml" && line == 2 && message.contains("nbsp") }
            return false
        }
        let ok = try XMLDocument(string: "<r a='&quot;x&quot;'>&lt;b&gt; &amp; &#65;&#x42; &apos;</r>")
        XCTAssertEqual(ok.root?.text, "<b> & AB '")
        XCTAssertEqual(ok.root?.attribute("a"), "\"x\"")
    }

    func testXIncludeIsNotProcessed() throws {
        let xml = """
        <r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/></r>
        """
        let doc = try XMLDocument(string: xml)
        assertNoPasswd(doc.root?.rawText ?? "")
        XCTAssertEqual(try doc.nodes("//xi:include", namespaces: ["xi": "http://www.w3.org/2001/XInclude"]).count, 1)
    }

    func testMalformedDeepAndLargeDocuments() throws {
        assertXMLError(try XMLDocument(string: "<a>\n  <b></a>", name: "m.xml"), "mismatched tags") {
            if case .malformed(let p, let line, _, let message) = $0 { return p == "m.xml" && line == 2 && message.lowercased().contains("mismatch") }
            return false
        }
        assertXMLError(try XMLDocument(string: "not xml at all"), "text") { if case .malformed = $0 { return true } else { return false } }
        assertXMLError(try XMLDocument(data: Data([0xFF, 0xFE, 0x00, 0x3C, 0x00])), "garbage bytes") {
            if case .malformed = $0 { return true } else { return false }
        }
        let deep = String(repeating: "<d>", count: 100_000) + String(repeating: "</d>", count: 100_000)
        assertXMLError(try XMLDocument(string: deep), "100000 levels") { if case .malformed = $0 { return true } else { return false } }
        assertXMLError(try XMLDocument(string: "<r>" + String(repeating: "x", count: 2000) + "</r>", limits: XMLLimits(maxBytes: 1000)), "size limit") {
            if case .tooLarge(_, let bytes, let limit) = $0 { return bytes == 2007 && limit == 1000 } else { return false }
        }
        assertXMLError(try XMLDocument(string: ""), "empty") { $0 == .emptyDocument(path: "<memory>") }
        let missing = URL(fileURLWithPath: "/nonexistent/report.xml")
        assertXMLError(try XMLDocument(contentsOf: missing), "missing") { $0 == .fileNotFound(path: missing.path) }
        // Random bytes never crash.
        var state: UInt64 = 42
        for _ in 0..<300 {
            let n = Int(state % 200) + 1
            let bytes = (0..<n).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 40)
            }
            XCTAssertThrowsError(try XMLDocument(data: Data([0x3C, 0x72, 0x3E] + bytes)))  // "<r>" + noise: never closed
        }
    }
}
