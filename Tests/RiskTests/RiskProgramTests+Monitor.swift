import Foundation
import XCTest
@testable import LeptonRisk

/// Issue 23: `monitor` finds a shifted feed, and says nothing of an unchanged one.
extension RiskProgramTests {
    func testPopulationStabilityIndexByHand() {
        // 0.4·ln(0.9/0.5) + 0.4·ln(0.5/0.1), worked out by hand.
        XCTAssertEqual(DriftReport.psi(reference: [0.5, 0.5], current: [0.9, 0.1]), 0.87889, accuracy: 1e-4)
        XCTAssertEqual(DriftReport.psi(reference: [0.25, 0.25, 0.5], current: [0.25, 0.25, 0.5]), 0)
        // Deciles of 1,000 distinct values cut them into ten bins of 10%.
        let v = (0..<1000).map(Float.init)
        let edges = DriftReference.decileEdges(v)
        XCTAssertEqual(edges.count, 9)
        for s in DriftReference.shares(v, edges: edges) { XCTAssertEqual(s, 0.1, accuracy: 0.0011) }
        // A feature that is almost always 0 gets fewer bins, never an empty one from repeated edges.
        let sparse = [Float](repeating: 0, count: 950) + (0..<50).map { Float($0 + 1) }
        XCTAssertEqual(DriftReference.decileEdges(sparse), [0])
    }

    func testMonitorFlagsAShiftedFeedAndWritesItsPlot() throws {
        let m = Self.samples + "/model", h = Self.samples + "/train.csv"
        // The training file against itself: every PSI is 0, exit 0.
        let same = try risk(["monitor", "--model", m, "--reference", h, "--transactions", h, "--json"])
        XCTAssertEqual(same.status, 0, same.stderr)
        let a = try json(same.stdout.split(separator: "\n")[0])
        XCTAssertEqual(a["shifted"] as? [String], [])
        XCTAssertEqual(a["score_psi"] as? Double ?? -1, 0, accuracy: 1e-6)

        // The same transfers with every amount 30 times larger: the amount features shift.
        let lines = try String(contentsOfFile: h, encoding: .utf8).split(separator: "\n")
        var shifted = [String(lines[0])]
        for line in lines.dropFirst() {
            var c = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            c[5] = String(format: "%.2f", (Double(c[5]) ?? 0) * 30); c[7] = String(format: "%.2f", (Double(c[7]) ?? 0) * 30)
            shifted.append(c.joined(separator: ","))
        }
        let file = tmp.appendingPathComponent("shifted.csv"), png = tmp.appendingPathComponent("drift.png")
        try Data((shifted.joined(separator: "\n") + "\n").utf8).write(to: file)
        let r = try risk(["monitor", "--model", m, "--reference", h, "--transactions", file.path, "--plot", png.path, "--json"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("log_amount_usd"), r.stderr)
        let b = try json(r.stdout.split(separator: "\n")[0])
        XCTAssertTrue((b["shifted"] as? [String] ?? []).contains("log_amount_usd"))
        // Counts and ratios of counts do not move with the amounts.
        let psi = Dictionary(uniqueKeysWithValues: (b["features"] as! [[String: Any]]).map { ($0["feature"] as! String, $0["psi"] as! Double) })
        XCTAssertLessThan(psi["src_out_14d"] ?? 1, 0.01)
        // The plot: a PNG of 640×320 (signature and IHDR read from the bytes).
        let bytes = [UInt8](try Data(contentsOf: png))
        XCTAssertEqual(Array(bytes.prefix(8)), [137, 80, 78, 71, 13, 10, 26, 10])
        func be32(_ o: Int) -> Int { bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(be32(16), 640); XCTAssertEqual(be32(20), 320)

        // A model trained now keeps its training deciles: no --reference needed.
        let out = tmp.appendingPathComponent("model-drift")
        XCTAssertEqual(try risk(["train", "--transactions", h, "--out", out.path, "--trees", "10", "--gnn-epochs", "0", "-q"]).status, 0)
        let stored = try risk(["monitor", "--model", out.path, "--transactions", h, "--json"])
        let c = try json(stored.stdout.split(separator: "\n")[0])
        XCTAssertTrue((c["shifted"] as? [String] ?? ["?"]).allSatisfy { $0 == "score" }, "\(c)")
        XCTAssertEqual(try risk(["monitor", "--model", m, "--transactions", h]).status, 64)
    }
}
