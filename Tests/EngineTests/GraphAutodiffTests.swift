import Foundation
import XCTest
@testable import LeptonEngine

/// Differentiable graph ops (Autodiff/Graph+Variable.swift) against central finite differences.
final class GraphAutodiffTests: XCTestCase {
    private func randomGraph(nodes: Int, edges: Int, seed: UInt64) throws -> (CSRGraph, [Int], [Int]) {
        var rng = SeededGenerator(seed: seed)
        let s = (0..<edges).map { _ in Int(rng.next() % UInt64(nodes)) } + [1, 1, 2]
        let t = (0..<edges).map { _ in Int(rng.next() % UInt64(nodes - 1)) + 1 } + [2, 2, 2]
        return (try CSRGraph(sources: s, targets: t, nodes: nodes), s, t)
    }

    /// The shared checker (GradCheck: step 1e-2, 2e-3 + 1e-2·|numeric|).
    private func gradientCheck(_ inputs: [Tensor], _ what: String, _ f: ([Variable]) -> Variable,
                               file: StaticString = #filePath, line: UInt = #line) {
        GradCheck.check(inputs, seed: 77, label: what, file: file, line: line, f)
    }

    func testGraphOpGradientsMatchFiniteDifferences() throws {
        let (g, s, _) = try randomGraph(nodes: 12, edges: 40, seed: 21)
        var rng = SeededGenerator(seed: 4)
        let x = Tensor.randomNormal([12, 5], using: &rng)
        let w = Tensor.randomUniform([s.count], low: 0.2, high: 1.5, using: &rng)
        gradientCheck([x], "spmm") { Variable.spmm(g, $0[0]) }
        gradientCheck([x, w], "weighted spmm") { Variable.spmm(g, $0[0], weights: $0[1]) }
        gradientCheck([x], "gatherSources") { Variable.gatherSources(g, $0[0]) }
        gradientCheck([x], "gatherTargets") { Variable.gatherTargets(g, $0[0]) }
        let seg = g.targetSegments
        let e = Tensor.randomNormal([s.count, 3], using: &rng)
        gradientCheck([e], "segmentSum") { Variable.segmentSum($0[0], seg) }
        gradientCheck([e], "segmentMean") { Variable.segmentMean($0[0], seg) }
        gradientCheck([e], "segmentMax") { Variable.segmentMax($0[0], seg) }
        gradientCheck([e], "edgeSoftmax") { Variable.edgeSoftmax(g, $0[0]) }
        // A GAT-style composition: softmax of per-edge scores weighting the neighbour sum.
        let sc = Tensor.randomNormal([s.count], using: &rng)
        gradientCheck([x, sc], "attention-weighted spmm") { v in Variable.spmm(g, v[0], weights: Variable.edgeSoftmax(g, v[1])) }
    }
}
