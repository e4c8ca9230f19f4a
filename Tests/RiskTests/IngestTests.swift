import XCTest
@testable import LeptonRisk

final class IngestTests: XCTestCase {
    static let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/risk")

    func write(_ text: String, _ name: String = "t.csv") -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("risk-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = dir.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"

    func testTimestamps() {
        func ts(_ s: String) -> Int? { var s = s; return s.withUTF8 { parseTimestamp($0.baseAddress!, $0.count) } }
        XCTAssertEqual(ts("1970/01/01 00:00"), 0)
        XCTAssertEqual(ts("2022/09/01 00:00"), 27_699_840)        // python datetime
        XCTAssertEqual(ts("2024-02-29 13:45:10"), 28_486_905)
        XCTAssertNil(ts("2023/02/29 10:00"))
        XCTAssertNil(ts("2022/13/01 10:00"))
        XCTAssertNil(ts("yesterday"))
        XCTAssertEqual(formatTimestamp(28_486_905), "2024/02/29 13:45")
    }

    func testDecimalParsing() {
        func d(_ s: String) -> Double? { var s = s; return s.withUTF8 { parseDecimal($0.baseAddress!, $0.count) } }
        XCTAssertEqual(d("3.2119e-05")!, 3.2119e-05, accuracy: 1e-12)
        XCTAssertEqual(d("-12.50"), -12.5)
        XCTAssertEqual(d("331812.49")!, 331812.49, accuracy: 1e-6)
        XCTAssertNil(d("12a")); XCTAssertNil(d("")); XCTAssertNil(d("."))
    }

    func testQuotedFieldsCRLFAndChunkBoundaries() throws {
        var text = "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n"
        for i in 0..<500 { text += "row\(i),\(i)\n" }
        let p = write(text, "q.csv")
        var rows: [[String]] = []
        try CSVStream(path: p, chunkSize: 1024).forEachRow { r in rows.append((0..<r.count).map { r.string($0) }) }
        XCTAssertEqual(rows.count, 502)
        XCTAssertEqual(rows[1], ["x, y", "say \"hi\""])
        XCTAssertEqual(rows[501], ["row499", "499"])
    }

    func testMalformedRowsAreCountedAndMultigraphKept() throws {
        let text = header + """
        2022/09/01 00:00,070,AAA,070,AAA,10.00,US Dollar,10.00,US Dollar,Reinvestment,0
        2022/09/01 00:05,070,AAA,070,BBB,5.00,US Dollar,5.00,US Dollar,ACH,1
        2022/09/01 00:06,070,AAA,070,BBB,6.00,US Dollar,6.00,US Dollar,ACH,
        2022/13/01 00:06,070,AAA,070,BBB,6.00,US Dollar,6.00,US Dollar,ACH,0
        2022/09/01 00:07,070,AAA,070,BBB,-6.00,US Dollar,-6.00,US Dollar,ACH,0
        2022/09/01 00:08,070,AAA,070,BBB,six,US Dollar,6.00,US Dollar,ACH,0
        2022/09/01 00:09,070,AAA,070,BBB,6.00,Dinar,6.00,Dinar,ACH,0
        2022/09/01 00:10,070,AAA,070,BBB,6.00,US Dollar
        2022/09/01 00:11,071,AAA,070,BBB,7.00,Euro,7.00,Euro,Wire,0

        """
        var t = TransactionTable()
        let r = try t.append(csv: write(text))
        XCTAssertEqual(t.count, 4)
        XCTAssertEqual(r.total, 5)
        XCTAssertEqual(r.counts["bad timestamp"], 1)
        XCTAssertEqual(r.counts["negative amount"], 1)
        XCTAssertEqual(r.counts["non-numeric amount"], 1)
        XCTAssertEqual(r.counts["unknown currency"], 1)
        XCTAssertEqual(r.counts["wrong number of columns"], 1)
        XCTAssertEqual(t.row, [0, 1, 2, 8])               // 0-based data rows of the file
        XCTAssertEqual(t.label, [0, 1, -1, 0])           // blank = unlabelled
        XCTAssertEqual(t.src[0], t.dst[0])               // self-transfer kept
        XCTAssertEqual(t.src[1], t.src[2]); XCTAssertEqual(t.dst[1], t.dst[2]) // repeated pair kept
        XCTAssertEqual(t.accountCount, 3)                // 071:AAA differs from 070:AAA
    }

    func testEmptyAndHeaderOnlyFilesAreErrors() {
        var t = TransactionTable()
        XCTAssertThrowsError(try t.append(csv: write("", "e.csv"))) { XCTAssertEqual($0 as? RiskError, .empty(path: self.write("", "e.csv"))) }
        XCTAssertThrowsError(try t.append(csv: write(header, "h.csv")))
        XCTAssertThrowsError(try t.append(csv: write("x,y\n1,2\n", "b.csv"))) { e in
            guard case .badHeader = e as? RiskError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try t.append(csv: "/nonexistent/file.csv")) { e in
            guard case .unreadable = e as? RiskError else { return XCTFail("\(e)") }
        }
        let allBad = header + "2022/09/01 00:00,070,A,070,B,1,Dinar,1,Dinar,ACH,0\n"
        XCTAssertThrowsError(try t.append(csv: write(allBad, "bad.csv"))) { e in
            guard case .noUsableRows = e as? RiskError else { return XCTFail("\(e)") }
        }
    }

    func testAMLSampleLoadsWithDocumentedCounts() throws {
        let p = Self.shared.appendingPathComponent("aml-sample/sample-aml.csv").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: p), "../shared not present")
        var t = TransactionTable()
        let r = try t.append(csv: p)
        // SOURCES.md: 50,386 transactions, 100 laundering rows, 5,000 accounts.
        XCTAssertEqual(t.count, 50_386)
        XCTAssertEqual(r.total, 0)
        XCTAssertEqual(t.positives, 100)
        XCTAssertLessThanOrEqual(t.accountCount, 5000)
        let patterns = try readPatternFile(Self.shared.appendingPathComponent("aml-sample/sample-aml-patterns.csv").path)
        XCTAssertEqual(patterns.count, 100)
        for row in patterns.keys { XCTAssertEqual(t.label[row], 1) }
    }

    func testFDCompCNAndYelpLoadAsTheyAre() throws {
        let d = Self.shared.appendingPathComponent("fdcompcn")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: d.path), "../shared not present")
        let g = try NodeGraph.load(nodes: d.appendingPathComponent("features.csv").path, edges: d.appendingPathComponent("edges.csv").path,
                                   labels: d.appendingPathComponent("labels.csv").path)
        // SOURCES.md: 5,317 companies, 57 features, 2,775 + 380 + 521 edges, 2,126 train + 1,053 valid labels.
        XCTAssertEqual(g.nodeCount, 5317); XCTAssertEqual(g.featureCount, 57)
        XCTAssertEqual(g.edgeCount, 3676); XCTAssertEqual(Set(g.relationNames), ["invest", "provide", "sale"])
        XCTAssertEqual(g.labelled.filter { $0.split == "train" }.count, 2126)
        XCTAssertEqual(g.labelled.filter { $0.split == "valid" }.count, 1053)
        let y = Self.shared.appendingPathComponent("yelpchi-reviews")
        let h = try NodeGraph.load(nodes: nil, edges: y.appendingPathComponent("reviews.csv").path, labels: y.appendingPathComponent("labels.csv").path)
        XCTAssertTrue(h.labelsOnEdges)
        XCTAssertEqual(h.edgeCount, 67_395); XCTAssertEqual(h.nodeCount, 38_063 + 201)
        XCTAssertEqual(h.edgeFeatureCount, 3)
    }

    func testGenericGraphBadInput() {
        let nodes = write("id,f0\na,1\nb,x\nc,3\n", "n.csv")
        let edges = write("src,dst\na,c\na,zz\n", "ed.csv")
        let labels = write("id,label\na,0\nc,0\n", "l.csv")
        XCTAssertNoThrow(try {
            let g = try NodeGraph.load(nodes: nodes, edges: edges, labels: labels)
            XCTAssertEqual(g.nodeCount, 2); XCTAssertEqual(g.edgeCount, 1)
            XCTAssertEqual(g.skips.counts["non-numeric feature"], 1)
            XCTAssertEqual(g.skips.counts["edge to unknown node"], 1)
            XCTAssertThrowsError(try NodeModel.train(g, source: labels, options: .init())) { e in
                XCTAssertEqual(e as? RiskError, .noPositiveLabels(path: labels))
            }
        }())
    }
}
