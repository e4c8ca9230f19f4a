// Bounded mutation fuzzing of the XML loader: byte flips, spliced-in hostile markup and cuts,
// each judged against an independent parser (Python's expat through xml.etree).

import Foundation
import XCTest
import LeptonReport

final class XMLFuzzTests: XCTestCase {
    /// For each file in `folder` (0.xml, 1.xml, …): nil when expat finds it not well-formed,
    /// else the root's text (every character-data descendant, as libxml2's node content).
    static func expatTexts(_ folder: URL, count: Int) throws -> [String?] {
        let script = """
        import json, sys, xml.etree.ElementTree as ET
        out = []
        for i in range(int(sys.argv[2])):
            try:
                root = ET.parse(f"{sys.argv[1]}/{i}.xml").getroot()
                out.append("".join(root.itertext()))
            except ET.ParseError:
                out.append(None)
        json.dump(out, sys.stdout)
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, folder.path, String(count)]
        let pipe = Pipe()
        p.standardOutput = pipe
        do { try p.run() } catch { throw XCTSkip("python3 is not installed") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("python3 could not run the expat reference") }
        return try JSONDecoder().decode([String?].self, from: data)
    }

    static func contains(_ bytes: [UInt8], _ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { i in needle.indices.allSatisfy { bytes[i + $0] == needle[$0] } }
    }

    /// 600 mutations of a real report. The oracle is expat (a different parser):
    /// - what expat refuses as not well-formed, we refuse, with a typed one-line `XMLError`
    ///   naming the document (never a crash, never a partial document);
    /// - what expat accepts and has no DTD (our loader refuses entity declarations by policy),
    ///   we parse, and the root's text is expat's, character for character;
    /// - no parsed text ever holds /etc/passwd (external entities and XInclude stay off);
    /// - every cut before the root's end tag is refused (known bad by construction).
    func testMutatedReportsAreJudgedLikeExpatJudgesThem() throws {
        let url = ReportFixtures.iuXray.appendingPathComponent("reports/0002.xml")
        guard let seed = try? [UInt8](Data(contentsOf: url)) else { throw XCTSkip("IU X-ray data not found") }
        // Byte offset just past the root's end tag: a cut before it leaves the root unclosed.
        let endTag = Array("</eCitation>".utf8)
        let rootEnd = try XCTUnwrap((0...(seed.count - endTag.count)).last { Array(seed[$0..<($0 + endTag.count)]) == endTag }) + endTag.count
        let snippets = ["<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>", "&x;", "&#0;", "&#x110000;", "<![CDATA[", "]]>",
                        "<!--", "-->", "<?xml version=\"1.0\"?>", "</eCitation>", "<a b=\"", "\u{0}", "\u{FEFF}", "&amp", "<!ENTITY",
                        "<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" href=\"/etc/passwd\"/>", String(repeating: "<d>", count: 300)]
        var state: UInt64 = 0x5EED
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: state >> 33) }
        let count = 600
        var mutations: [(bytes: [UInt8], cutBeforeRootEnd: Bool)] = []
        for _ in 0..<count {
            var bytes = seed
            var cut = false
            switch next() % 3 {
            case 0:
                for _ in 0..<(1 + next() % 8) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
            case 1:
                bytes.insert(contentsOf: Array(snippets[next() % snippets.count].utf8), at: next() % bytes.count)
            default:
                let keep = next() % bytes.count
                bytes = Array(bytes.prefix(keep))
                cut = keep < rootEnd
            }
            mutations.append((bytes, cut))
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-xmlfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (i, m) in mutations.enumerated() { try Data(m.bytes).write(to: folder.appendingPathComponent("\(i).xml")) }
        let reference = try Self.expatTexts(folder, count: count)
        XCTAssertEqual(reference.count, count)

        var parsed = 0, refused = 0, cutsRefused = 0, compared = 0
        for (i, m) in mutations.enumerated() {
            let name = "fuzz\(i)"
            let hasDTD = Self.contains(m.bytes, "<!DOCTYPE")
            do {
                let doc = try XMLDocument(data: Data(m.bytes), name: name)
                parsed += 1
                let text = doc.root?.rawText ?? ""
                XCTAssertFalse(text.contains("root:x:0:0"), "\(name) leaked /etc/passwd")
                _ = try doc.strings("//AbstractText")
                XCTAssertFalse(m.cutBeforeRootEnd, "\(name): cut before the root's end tag, yet parsed")
                guard let expected = reference[i] else { XCTFail("\(name): expat refuses it as not well-formed, we parsed it"); continue }
                if !hasDTD { XCTAssertEqual(text, expected, "\(name): root text differs from expat's"); compared += 1 }
            } catch let error as XMLError {
                refused += 1
                if m.cutBeforeRootEnd { cutsRefused += 1 }
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(name + ":") && !message.contains("\n"), "\(name): not a one-line error naming it: \(message)")
                if reference[i] != nil && !hasDTD { XCTFail("\(name): expat parses it, we refused: \(message)") }
            } catch {
                XCTFail("\(name): non-XMLError \(error)")
            }
        }
        // The mix must exercise both sides, or the checks above prove little.
        XCTAssertGreaterThanOrEqual(compared, 25, "too few parsed mutations to compare")
        XCTAssertGreaterThanOrEqual(cutsRefused, 100, "too few cuts")
        print("xml fuzz: \(count) mutated reports, \(parsed) parsed (\(compared) compared with expat), \(refused) typed errors (\(cutsRefused) cuts)")
    }
}
