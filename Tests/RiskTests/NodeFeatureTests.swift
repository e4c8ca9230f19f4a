import Foundation
import XCTest
@testable import LeptonRisk

/// The columns of labelled edges and nodes, counted by hand on graphs small enough to check on
/// paper: an edge's standing among its endpoints' edges, and the labels known of its neighbours
/// (never its own).
final class NodeFeatureTests: XCTestCase {
    let scratch = ScratchFolder("risk-node-features")
    var dir: URL { scratch.url }
    func write(_ text: String, _ name: String) -> String { scratch.write(text, name) }

    /// Five reviews (users u1–u3, products p1–p2), one column.
    func reviews(labels: String? = nil) throws -> NodeGraph {
        let e = write("""
        id,user,product,x
        r0,u1,p1,0.2
        r1,u1,p2,0.8
        r2,u2,p1,0.5
        r3,u3,p1,0.5
        r4,u3,p2,0.1

        """, "reviews.csv")
        return try NodeGraph.load(nodes: nil, edges: e, labels: write(labels ?? "id,label\nr0,1\n", "labels.csv"))
    }

    func testAnEdgeStandingAmongItsEndpointsEdgesCountedByHand() throws {
        let g = try reviews()
        XCTAssertTrue(g.labelsOnEdges)
        let W = NodeFeatures.width(inputs: 1, relations: 1, edgeMode: true, knownLabels: false)
        XCTAssertEqual(W, 25)
        XCTAssertEqual(NodeFeatures.width(inputs: 1, relations: 1, edgeMode: true, version: 1), 7, "version 1 is unchanged")
        let x = NodeFeatures.compute(g, relations: 1)
        func row(_ e: Int) -> [Float] { Array(x[(e * W)..<((e + 1) * W)]) }
        let l2 = logf(2), l3 = logf(3)
        // r0 (u1: 0.2, 0.8; p1: 0.2, 0.5, 0.5). Columns: x, means, deviations, log degrees, then
        // per user: (rank, min, max, sd) of x and of the product's log degree; per product the
        // same of x and of the user's log degree; then the two mean log degrees of the other side.
        let r0: [Float] = [0.2, 0.5, 0.4, -0.3, -0.2, l2, l3,
                           0, 0.2, 0.8, 0.3, 1, l2, l3, (l3 - l2) / 2,
                           0, 0.2, 0.5, Float(0.02).squareRoot(), 0.75, 0, l2, l2 * Float(2.0 / 9).squareRoot(),
                           (l3 + l2) / 2, 2 * l2 / 3]
        for (a, b) in zip(row(0), r0) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        // r2: alone among u2's reviews (rank 0.5, spread 0); tied with r3 in p1 (mid rank 0.75).
        let r2 = row(2)
        XCTAssertEqual(Array(r2[7..<11]), [0.5, 0.5, 0.5, 0])
        XCTAssertEqual(r2[15], 0.75, accuracy: 1e-6)
        XCTAssertEqual(row(3)[15], 0.75, accuracy: 1e-6)
        // r1 is the highest of u1's and of p2's reviews.
        XCTAssertEqual(row(1)[7], 1); XCTAssertEqual(row(1)[15], 1)
    }

    func testKnownLabelsOfOtherEdgesCountedAndTheOwnLabelNever() throws {
        let g = try reviews()
        let known: [Int8] = [1, 0, -1, 1, -1]
        let k = NodeFeatures.knownLabelColumns(g, relations: 1, known: known)
        XCTAssertEqual(NodeFeatures.knownLabelWidth(relations: 1, edgeMode: true), 4)
        func row(_ e: Int) -> [Float] { Array(k[(e * 4)..<((e + 1) * 4)]) }
        let l2 = logf(2), l3 = logf(3)
        XCTAssertEqual(row(0), [l2, 0, l2, 1])     // u1: r1 (0); p1: r3 (1), r2 unknown
        XCTAssertEqual(row(2), [0, -1, l3, 1])     // u2: nobody else; p1: r0, r3
        XCTAssertEqual(row(4), [l2, 1, l2, 0])     // u3: r3; p2: r1
        for e in 0..<5 {
            for flipped: Int8 in [-1, 0, 1] {
                var other = known; other[e] = flipped
                let k2 = NodeFeatures.knownLabelColumns(g, relations: 1, known: other)
                XCTAssertEqual(Array(k2[(e * 4)..<((e + 1) * 4)]), row(e), "edge \(e)'s own label reached its columns")
            }
        }
    }

    func testKnownLabelsOfNeighboursPerRelation() throws {
        let n = write("id,f\nn1,0\nn2,0\nn3,0\nn4,0\n", "nodes.csv")
        let e = write("src,dst,relation\nn1,n2,a\nn1,n3,a\nn3,n4,b\nn2,n1,b\n", "edges.csv")
        let g = try NodeGraph.load(nodes: n, edges: e, labels: write("id,label\nn1,1\nn2,1\nn3,0\n", "nl.csv"))
        let a = try XCTUnwrap(g.relationNames.firstIndex(of: "a")), b = try XCTUnwrap(g.relationNames.firstIndex(of: "b"))
        let R = g.relationNames.count
        let item = { (id: String) in Int(g.nodeIDs.lookup(id)!) }
        let known = g.allKnownLabels()
        let k = NodeFeatures.knownLabelColumns(g, relations: R, known: known)
        func col(_ id: String, _ r: Int) -> [Float] { Array(k[(item(id) * 2 * R + 2 * r)..<(item(id) * 2 * R + 2 * r + 2)]) }
        XCTAssertEqual(col("n1", a), [logf(3), 0.5])   // n2 (1), n3 (0)
        XCTAssertEqual(col("n1", b), [logf(2), 1])     // n2, by the reversed edge
        XCTAssertEqual(col("n4", a), [0, -1])
        XCTAssertEqual(col("n4", b), [logf(2), 0])     // n3
        XCTAssertEqual(col("n3", a), [logf(2), 1])     // n1; its own 0 does not count
    }

    func testNeighboursFirstStageScoresCountedByHand() throws {
        let g = try reviews()
        // r0..r4 scored 0.1, 0.9, 0.3, 0.3, 0.5 by a first stage.
        let p = NodeFeatures.propagationColumns(g, relations: 1, scores: [0.1, 0.9, 0.3, 0.3, 0.5])
        func row(_ e: Int) -> [Float] { Array(p[(e * 4)..<((e + 1) * 4)]) }
        // Per user then per product: mean and highest of the *other* edges' scores (−1 when none).
        func close(_ a: [Float], _ b: [Float], line: UInt = #line) {
            XCTAssertEqual(a.count, b.count, line: line)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6, line: line) }
        }
        close(row(0), [0.9, 0.9, 0.3, 0.3])      // u1: r1; p1: r2, r3
        close(row(1), [0.1, 0.1, 0.5, 0.5])      // u1: r0; p2: r4
        close(row(2), [-1, -1, 0.2, 0.3])        // u2: alone; p1: r0, r3
        XCTAssertEqual(row(3)[2], 0.2, accuracy: 1e-6)    // p1: r0, r2 (a tie with r2 leaves 0.3 as the others' top)
        XCTAssertEqual(row(3)[3], 0.3)
        close(row(4), [0.3, 0.3, 0.9, 0.9])      // u3: r3; p2: r1

        let n = write("id,f\nn1,0\nn2,0\nn3,0\n", "pnodes.csv")
        let e = write("src,dst,relation\nn1,n2,a\nn1,n3,a\nn3,n2,b\n", "pedges.csv")
        let h = try NodeGraph.load(nodes: n, edges: e, labels: write("id,label\nn1,1\n", "pl.csv"))
        let a = try XCTUnwrap(h.relationNames.firstIndex(of: "a")), b = try XCTUnwrap(h.relationNames.firstIndex(of: "b"))
        let item = { (id: String) in Int(h.nodeIDs.lookup(id)!) }
        var s = [Float](repeating: 0, count: h.nodeCount)
        s[item("n1")] = 0.2; s[item("n2")] = 0.6; s[item("n3")] = 0.4
        let q = NodeFeatures.propagationColumns(h, relations: 2, scores: s)
        func col(_ id: String, _ r: Int) -> [Float] { Array(q[(item(id) * 4 + 2 * r)..<(item(id) * 4 + 2 * r + 2)]) }
        XCTAssertEqual(col("n1", a)[0], 0.5, accuracy: 1e-6); XCTAssertEqual(col("n1", a)[1], 0.6)
        XCTAssertEqual(col("n1", b), [-1, -1])
        XCTAssertEqual(col("n2", b), [0.4, 0.4])
        XCTAssertEqual(col("n3", a), [0.2, 0.2])
    }

    func testEvaluationKnowsOnlyTheTrainingRows() throws {
        let g = try reviews(labels: "id,label,split\nr0,1,train\nr1,0,train\nr2,1,valid\nr3,0,test\nr1,0,valid\n")
        // r1 is listed as train and as valid: evaluated rows are never known.
        XCTAssertEqual(g.knownLabelsForEvaluation(split: nil), [1, -1, -1, -1, -1])
        XCTAssertEqual(g.knownLabelsForEvaluation(split: "valid"), [1, -1, -1, -1, -1])
        XCTAssertEqual(g.knownLabelsForEvaluation(split: "train"), [-1, -1, -1, -1, -1], "training rows evaluated: none known")
        let plain = try reviews(labels: "id,label\nr0,1\nr1,0\n")
        XCTAssertEqual(plain.knownLabelsForEvaluation(split: nil), [-1, -1, -1, -1, -1], "no split column: every row is evaluated")
        XCTAssertEqual(plain.allKnownLabels(), [1, 0, -1, -1, -1])
    }
}
