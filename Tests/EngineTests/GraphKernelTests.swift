import Foundation
import XCTest
@testable import LeptonEngine

/// Graph kernels against dense references (adjacency matrix × features, computed in Double by
/// plain loops) and their autodiff against central finite differences.
final class GraphKernelTests: XCTestCase {
    /// A random multigraph with duplicate edges and self-loops.
    private func randomGraph(nodes: Int, edges: Int, seed: UInt64) throws -> (CSRGraph, [Int], [Int]) {
        var rng = SeededGenerator(seed: seed)
        var s = (0..<edges).map { _ in Int(rng.next() % UInt64(nodes)) }
        var t = (0..<edges).map { _ in Int(rng.next() % UInt64(nodes)) }
        // Force a duplicated edge, a self-loop and a node with no incoming edge (node 0 never a target).
        s += [1, 1, 2]; t += [2, 2, 2]
        t = t.map { $0 == 0 ? 1 : $0 }
        return (try CSRGraph(sources: s, targets: t, nodes: nodes), s, t)
    }

    private func assertClose(_ a: Tensor, _ b: [Double], tol: Double = 1e-4, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let av = a.scalars
        for i in 0..<min(av.count, b.count) where !(abs(Double(av[i]) - b[i]) <= tol * max(1, abs(b[i]))) {
            XCTFail("\(what)[\(i)]: \(av[i]) vs reference \(b[i])", file: file, line: line); return
        }
    }

    func testCSRKeepsMultiEdgesAndSelfLoopsAndValidates() throws {
        // Edges (src→dst): 0→1, 2→1, 0→1 (duplicate), 1→1 (self-loop), 1→2.
        let g = try CSRGraph(sources: [0, 2, 0, 1, 1], targets: [1, 1, 1, 1, 2], nodes: 3)
        XCTAssertEqual(g.rowStart, [0, 0, 4, 5])
        XCTAssertEqual(g.source, [0, 2, 0, 1, 1])          // stable within a row
        XCTAssertEqual(g.edgeID, [0, 1, 2, 3, 4])
        XCTAssertEqual(g.inDegree, [0, 4, 1])
        XCTAssertEqual(g.outDegree, [2, 2, 1])
        let e = Tensor(shape: [5, 2], scalars: (0..<10).map(Float.init))
        XCTAssertEqual(try g.toEdgeOrder(try g.toCSROrder(e)).scalars, e.scalars)
        let g2 = try CSRGraph(sources: [0, 1, 2], targets: [2, 0, 0], nodes: 3)
        XCTAssertEqual(g2.edgeID, [1, 2, 0])
        XCTAssertEqual(try g2.toCSROrder(Tensor(shape: [3], scalars: [10, 11, 12])).scalars, [11, 12, 10])
        XCTAssertThrowsError(try CSRGraph(sources: [0, 3], targets: [1, 1], nodes: 3)) { err in
            XCTAssertEqual(err as? GraphError, .nodeOutOfRange(edge: 1, endpoint: "source", node: 3, nodes: 3))
        }
        XCTAssertThrowsError(try CSRGraph(sources: [0], targets: [-1], nodes: 3))
        XCTAssertThrowsError(try CSRGraph(sources: [0], targets: [], nodes: 3))
        XCTAssertThrowsError(try Segments(offsets: [0, 3, 2]))
        XCTAssertThrowsError(try Segments(sortedIDs: [0, 2, 1], groups: 3))
    }

    func testSpMMMatchesDenseAdjacencyProduct() throws {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        EngineThreads.set(2)
        for (nodes, edges) in [(40, 300), (3000, 20000)] {
            let (g, s, t) = try randomGraph(nodes: nodes, edges: edges, seed: UInt64(nodes))
            var rng = SeededGenerator(seed: 11)
            let wEdge = (0..<s.count).map { _ in rng.nextUniform() + 0.5 }   // edge-list order
            let wCSR = try g.toCSROrder(Tensor(shape: [s.count], scalars: wEdge))
            for f in nodes > 100 ? [64] : [1, 7, 16, 64, 70, 130] {
                let x = Tensor.randomNormal([nodes, f], using: &rng)
                let xs = x.scalars
                // Dense reference: A[t][s] accumulates one entry per edge occurrence.
                var plain = [Double](repeating: 0, count: nodes * f), weighted = plain
                for e in s.indices {
                    for c in 0..<f {
                        plain[t[e] * f + c] += Double(xs[s[e] * f + c])
                        weighted[t[e] * f + c] += Double(wEdge[e]) * Double(xs[s[e] * f + c])
                    }
                }
                assertClose(GraphKernels.spmm(g, x), plain, "spmm f=\(f)")
                assertClose(GraphKernels.spmm(g, x, weights: wCSR), weighted, "weighted spmm f=\(f)")
                // Transpose: out[s] += w · y[t].
                var tr = [Double](repeating: 0, count: nodes * f)
                for e in s.indices { for c in 0..<f { tr[s[e] * f + c] += Double(wEdge[e]) * Double(xs[t[e] * f + c]) } }
                assertClose(GraphKernels.spmmTransposed(g, x, weights: wCSR), tr, "spmmᵀ f=\(f)")
                // Edge dot in edge-list order after conversion.
                let dots = try g.toEdgeOrder(GraphKernels.edgeDot(g, targetRows: x, sourceRows: x))
                let ref = s.indices.map { e in (0..<f).reduce(0.0) { $0 + Double(xs[t[e] * f + $1]) * Double(xs[s[e] * f + $1]) } }
                assertClose(dots, ref, "edgeDot f=\(f)")
            }
        }
    }

    func testSegmentReductionsAndEdgeSoftmaxMatchNaiveLoops() throws {
        let seg = try Segments(counts: [3, 0, 1, 4])
        var rng = SeededGenerator(seed: 5)
        let x = Tensor.randomNormal([8, 3], using: &rng)
        let xs = x.scalars
        var sum = [Double](repeating: 0, count: 12), mean = sum, mx = sum
        for (s, (lo, hi)) in [(0, 3), (3, 3), (3, 4), (4, 8)].enumerated() where hi > lo {
            for c in 0..<3 {
                let col = (lo..<hi).map { Double(xs[$0 * 3 + c]) }
                sum[s * 3 + c] = col.reduce(0, +)
                mean[s * 3 + c] = col.reduce(0, +) / Double(col.count)
                mx[s * 3 + c] = col.max()!
            }
        }
        assertClose(GraphKernels.segmentSum(x, seg), sum, "segmentSum")
        assertClose(GraphKernels.segmentMean(x, seg), mean, "segmentMean")
        assertClose(GraphKernels.segmentMax(x, seg).values, mx, "segmentMax")
        XCTAssertEqual(GraphKernels.segmentSum(x, seg).shape, [4, 3])

        // Edge softmax: for each target node and head, exp(score) normalised over incoming edges.
        let (g, s, t) = try randomGraph(nodes: 30, edges: 120, seed: 9)
        let heads = 2
        let scoresEdge = Tensor.randomNormal([s.count, heads], using: &rng)
        let y = try g.toEdgeOrder(GraphKernels.edgeSoftmax(g, try g.toCSROrder(scoresEdge)))
        let sc = scoresEdge.scalars
        var ref = [Double](repeating: 0, count: s.count * heads)
        for h in 0..<heads {
            var z = [Double](repeating: 0, count: 30)
            for e in s.indices { z[t[e]] += exp(Double(sc[e * heads + h])) }
            for e in s.indices { ref[e * heads + h] = exp(Double(sc[e * heads + h])) / z[t[e]] }
        }
        assertClose(y, ref, "edgeSoftmax")
        // Large scores stay finite (max subtraction).
        let big = GraphKernels.edgeSoftmax(g, Tensor(shape: [s.count], repeating: 1000))
        XCTAssertTrue(big.scalars.allSatisfy { $0.isFinite && $0 > 0 })
    }
}
