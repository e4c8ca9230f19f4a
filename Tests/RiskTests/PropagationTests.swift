import XCTest
@testable import LeptonRisk

/// Neighbour-score propagation and the fold ensemble, checked against values worked out by hand.
final class PropagationTests: XCTestCase {
    /// Five transfers among A, B, C, D (minutes): 0 A→B @0, 1 B→C @60, 2 C→D @120,
    /// 3 A→C @10 days (outside the ±3-day window of the others), 4 D→A @180.
    func smallTable() throws -> TransactionTable {
        let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
        let rows = [
            "2022/09/01 00:00,1,A,1,B,10.00,US Dollar,10.00,US Dollar,ACH,0",
            "2022/09/01 01:00,1,B,1,C,10.00,US Dollar,10.00,US Dollar,ACH,0",
            "2022/09/01 02:00,1,C,1,D,10.00,US Dollar,10.00,US Dollar,ACH,0",
            "2022/09/11 00:00,1,A,1,C,10.00,US Dollar,10.00,US Dollar,ACH,0",
            "2022/09/01 03:00,1,D,1,A,10.00,US Dollar,10.00,US Dollar,ACH,0",
        ]
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("prop-\(getpid()).csv").path
        _ = FileManager.default.createFile(atPath: p, contents: Data((header + rows.joined(separator: "\n") + "\n").utf8))
        var t = TransactionTable()
        try t.append(csv: p)
        return t
    }

    func testOneAndTwoHopAggregatesMatchHandValues() throws {
        let t = try smallTable()
        XCTAssertEqual(t.count, 5)
        let s: [Float] = [0.9, 0.2, 0.5, 0.7, 0.3]
        let p = ScorePropagation.compute(t, index: AccountIndex(t), scores: s, windowDays: 3)
        let P = ScorePropagation.count
        func row(_ i: Int) -> [Float] { Array(p[(i * P)..<((i + 1) * P)]) }
        func check(_ got: [Float], _ want: [Float], line: UInt = #line) {
            XCTAssertEqual(got.count, want.count, line: line)
            for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-6, "\(got)", line: line) }
        }
        // names: stage1, src_out, src_in, dst_out, dst_in, max, second, mass, two_hop
        // Row 1 B→C: B receives row 0 (0.9); C sends row 2 (0.5); C's other receipt (row 3) is 10 days away.
        // Two hops: row 0's other end A receives row 4 (0.3); row 2's other end D sends row 4 (0.3).
        check(row(1), [0.2, 0, 0.9, 0.5, 0, 0.9, 0.5, 1.4, 0.3])
        // Row 0 A→B: A's other transfer out (row 3) is outside the window; A receives row 4 (0.3);
        // B sends row 1 (0.2). Two hops: row 4's other end D sends row 2 (0.5) → 0.5; row 1's
        // other end C: row 2 (0.5) out, row 3 in is out of window → 0.5.
        check(row(0), [0.9, 0, 0.3, 0.2, 0, 0.3, 0.2, 0.5, 0.5])
        // Row 3 A→C at day 10 has no neighbour within 3 days.
        check(row(3), [0.7, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    func testCombineIsANoisyOrThatKeepsIsolatedScores() {
        let P = ScorePropagation.count
        var prop = [Float](repeating: 0, count: 2 * P)
        prop[0 * P + 7] = 3      // mass 3 → β·a = 0.3
        prop[1 * P + 7] = 0      // isolated
        let out = ScorePropagation.combine(scores: [0.5, 0.4], propagated: prop, column: 7, weight: 0.1)
        XCTAssertEqual(out[0], 1 - 0.5 * 0.7, accuracy: 1e-6)
        XCTAssertEqual(out[1], 0.4, accuracy: 1e-6)
        // β·a is capped at 1.
        XCTAssertEqual(ScorePropagation.combine(scores: [0.2], propagated: [Float](repeating: 50, count: P), column: 7, weight: 1)[0], 1)
    }

    func testAveragedTreesGiveTheMeanMargin() throws {
        // Two models on one feature, trained on different labels; the merged model's margin must
        // be the mean of the two margins at every input.
        var xs: [Float] = [], ya: [Float] = [], yb: [Float] = []
        for i in 0..<400 { let v = Float(i) / 400; xs.append(v); ya.append(v > 0.5 ? 1 : 0); yb.append(v > 0.2 && v < 0.7 ? 1 : 0) }
        var o = GradientBoostedTrees.Options(); o.rounds = 15; o.depth = 3; o.rowSample = 1; o.columnSample = 1
        let a = try GradientBoostedTrees.train(x: xs, y: ya, features: 1, options: o)
        let b = try GradientBoostedTrees.train(x: xs, y: yb, features: 1, options: o)
        let m = GradientBoostedTrees.averaged([a, b])
        XCTAssertEqual(m.roots.count, 30)
        for v: Float in [0, 0.1, 0.3, 0.55, 0.69, 0.9] {
            var x = v
            let want = (a.margin(&x) + b.margin(&x)) / 2
            XCTAssertEqual(m.margin(&x), want, accuracy: 1e-5)
        }
    }

    func testPortNumbersMatchHandValues() throws {
        let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
        let rows = [
            "2022/09/01 00:00,1,A,1,B,10.00,US Dollar,10.00,US Dollar,ACH,0",   // A's out-port 0 (B), B's in-port 0 (A)
            "2022/09/01 01:00,1,A,1,C,10.00,US Dollar,10.00,US Dollar,ACH,0",   // A's out-port 1 (C), C's in-port 0
            "2022/09/01 03:00,1,A,1,B,10.00,US Dollar,10.00,US Dollar,ACH,0",   // port 0 again after 3 h
            "2022/09/01 04:00,1,C,1,B,10.00,US Dollar,10.00,US Dollar,ACH,0",   // C's out-port 0, B's in-port 1
            "2022/09/03 03:00,1,A,1,B,10.00,US Dollar,10.00,US Dollar,ACH,0",   // port 0 after exactly 2 days
        ]
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("ports-\(getpid()).csv").path
        _ = FileManager.default.createFile(atPath: p, contents: Data((header + rows.joined(separator: "\n") + "\n").utf8))
        var t = TransactionTable()
        try t.append(csv: p)
        let f = TransactionFeatures.ports(t, index: AccountIndex(t))
        let P = TransactionFeatures.portNames.count
        let l2 = logf(2)
        // src_out_port, dst_in_port, port_first_use, port_idle_days
        let want: [[Float]] = [[0, 0, 1, 30], [l2, 0, 1, 30], [0, 0, 0, 0.125], [0, l2, 1, 30], [0, 0, 0, 2]]
        for (i, w) in want.enumerated() {
            for c in 0..<P { XCTAssertEqual(f[i * P + c], w[c], accuracy: 1e-6, "row \(i) \(TransactionFeatures.portNames[c])") }
        }
        // The GNN's edge inputs are the features followed by the ports.
        let x = TransactionFeatures.compute(t)
        let z = TransactionFeatures.gnnInputs(t, features: x)
        let F = TransactionFeatures.count
        XCTAssertEqual(z.count, t.count * (F + P))
        XCTAssertEqual(Array(z[(4 * (F + P))..<(4 * (F + P) + F)]), Array(x[(4 * F)..<(5 * F)]))
        XCTAssertEqual(Array(z[(4 * (F + P) + F)..<(5 * (F + P))]), Array(f[(4 * P)..<(5 * P)]))
    }
}
