import Foundation
import XCTest
@testable import LeptonRisk
import LeptonEngine
import LeptonTestSupport

/// The edge GNN's hand-written backward pass (both message directions, edge features, the edge
/// readout and the weighted cross-entropy) against central finite differences of its loss.
final class EdgeGNNGradientTests: XCTestCase {
    func testBackwardMatchesFiniteDifferences() throws {
        let t = try simulatedTable(accounts: 40, days: 4, seed: 3)
        XCTAssertGreaterThan(t.positives, 0)
        let x = TransactionFeatures.compute(t)
        var cfg = EdgeGNNConfig(inputFeatures: TransactionFeatures.count)
        cfg.hidden = 4; cfg.layers = 2
        var model = EdgeGNN(config: cfg, seed: 5)
        let rows = Array(0..<t.count)
        try model.fit(t, features: x, trainRows: rows, validationRows: [], epochs: 0, log: { _ in })  // standardisation only
        let p = model.prepare(t, features: x)
        let y = rows.map { Float(t.label[$0] == 1 ? 1 : 0) }
        let wPos: Float = 3
        _ = model.lossAndGradients(p, t, rows: rows, labels: y, positiveWeight: wPos)
        var named: [(name: String, value: Tensor)] = [], analytic: [Tensor] = []
        model.visitParameters { name, value, grad in named.append((name, value)); analytic.append(grad) }
        XCTAssertEqual(named.count, 2 * 2 * 3 + 4)   // fwd/rev × layers × (lin_l.weight, lin_l.bias, lin_r.weight) + head
        // Step 1e-3, not the default 1e-2: a head bias moves the pre-activation of every
        // transaction at once, and with a few hundred of them some lie within 1e-2 of the ReLU
        // kink (at 1e-2, head.1.bias[3] was 1.8% off). The loss is summed in Double; its Float
        // forward noise (~1e-7) over 2h stays near 1e-4, under the absolute tolerance.
        let checker = GradientChecker(step: 1e-3, absoluteTolerance: 2e-4, relativeTolerance: 1e-2)
        let comparisons = checker.compare(named, analytic: analytic, indices: { count in
            Array(Set([0, count / 3, count / 2, count - 1])).sorted()
        }) { point in
            var m = model, k = 0
            m.visitParameters { _, value, _ in value = point[k]; k += 1 }
            return EdgeGNN.weightedLoss(logits: m.logits(p, t, rows: rows), labels: y, positiveWeight: wPos)
        }
        XCTAssertNil(checker.failure(comparisons))
        // Not vacuous: the gradients are not all near zero.
        XCTAssertGreaterThan(comparisons.map { abs($0.numeric) }.max() ?? 0, 1e-2)
    }
}
