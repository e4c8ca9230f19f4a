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

    /// Checks `∂(Σ f(inputs) ⊙ r)/∂input` from `backward(r)` against central differences.
    private func gradientCheck(_ inputs: [Tensor], eps: Float = 1e-2, tol: Double = 2e-3, _ what: String,
                               _ f: ([Variable]) -> Variable, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededGenerator(seed: 77)
        let vars = inputs.map { Variable($0, requiresGrad: true) }
        let out = f(vars)
        let r = Tensor.randomNormal(out.shape, using: &rng)
        out.backward(r)
        func loss(_ ins: [Tensor]) -> Double {
            let o = withoutGradients { f(ins.map { Variable($0) }) }.value.scalars
            return zip(o, r.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        for (i, v) in vars.enumerated() {
            guard let grad = v.grad?.scalars else { XCTFail("\(what): no gradient for input \(i)", file: file, line: line); continue }
            for j in 0..<inputs[i].count {
                var plus = inputs, minus = inputs
                plus[i][flat: j] += eps; minus[i][flat: j] -= eps
                let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
                if abs(Double(grad[j]) - numeric) > tol * max(1, abs(numeric)) * 10 {
                    XCTFail("\(what): input \(i)[\(j)] analytic \(grad[j]) vs numeric \(numeric)", file: file, line: line); return
                }
            }
        }
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
