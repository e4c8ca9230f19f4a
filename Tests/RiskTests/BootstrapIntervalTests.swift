import LeptonEngine
import XCTest
@testable import LeptonRisk

/// `evaluate`'s bootstrap intervals of PR-AUC and recall at the budget (issue 23): the weighted
/// kernel equals the engine's metrics on the explicitly repeated rows, the intervals are seeded,
/// hold the point estimate and narrow as the test set grows.
final class BootstrapIntervalTests: XCTestCase {
    /// `n` rows with distinct scores, about `rate` of them positive, positives scoring higher on average.
    func data(_ n: Int, rate: Float, seed: UInt64) -> ([Float], [Float]) {
        var g = SeededGenerator(seed: seed)
        var scores: [Float] = [], labels: [Float] = []
        for i in 0..<n {
            let y: Float = g.nextUniform() < rate ? 1 : 0
            scores.append(min(0.999, g.nextUniform() * 0.7 + y * 0.25) + Float(i) * 1e-7)   // no ties
            labels.append(y)
        }
        return (scores, labels)
    }

    func testWeightedKernelEqualsTheMetricsOnRepeatedRows() throws {
        let (scores, labels) = data(300, rate: 0.1, seed: 4)
        var g = SeededGenerator(seed: 9)
        let weights = scores.indices.map { _ in Int32(g.next() % 4) }   // 0 to 3 copies of each row
        var repeatedScores: [Float] = [], repeatedLabels: [Float] = []
        for i in scores.indices { for _ in 0..<weights[i] { repeatedScores.append(scores[i]); repeatedLabels.append(labels[i]) } }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var groupEnd = [Int](repeating: 0, count: scores.count)
        for q in order.indices { groupEnd[q] = q + 1 }
        let budget = 0.05
        let r = try XCTUnwrap(RiskMetrics.weightedRanking(order: order, groupEnd: groupEnd, positive: labels.map { $0 > 0.5 },
                                                          weights: weights, budget: budget))
        // The engine's average precision (scikit-learn's definition) on the repeated rows.
        let ap = try Metrics.averagePrecision(labels: repeatedLabels.map { $0 > 0.5 ? 1 : 0 }, scores: repeatedScores)
        XCTAssertEqual(r.ap, ap, accuracy: 1e-9)
        // Recall in the top 5% of the repeated rows, counted here directly.
        let k = Int((Double(repeatedScores.count) * budget).rounded())
        let top = repeatedScores.indices.sorted { repeatedScores[$0] > repeatedScores[$1] }.prefix(k)
        let caught = top.filter { repeatedLabels[$0] > 0.5 }.count
        XCTAssertEqual(r.recallAtBudget, Double(caught) / Double(repeatedLabels.filter { $0 > 0.5 }.count), accuracy: 1e-12)
        XCTAssertGreaterThan(caught, 0)
    }

    func testIntervalsAreSeededHoldTheEstimateAndNarrowWithMoreRows() throws {
        let (scores, labels) = data(2000, rate: 0.05, seed: 1)
        let a = try XCTUnwrap(RiskMetrics.bootstrap(scores: scores, labels: labels, budget: 0.05, resamples: 400, seed: 7))
        let b = try XCTUnwrap(RiskMetrics.bootstrap(scores: scores, labels: labels, budget: 0.05, resamples: 400, seed: 7))
        let c = try XCTUnwrap(RiskMetrics.bootstrap(scores: scores, labels: labels, budget: 0.05, resamples: 400, seed: 8))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.prAUC, c.prAUC)
        let ap = try RiskMetrics.averagePrecision(scores: scores, labels: labels)
        let rb = try RiskMetrics.recallAtBudget(scores: scores, labels: labels, budget: 0.05)
        XCTAssertTrue(a.prAUC[0] < ap && ap < a.prAUC[1], "\(a.prAUC) vs \(ap)")
        XCTAssertTrue(a.recallAtBudget[0] <= rb && rb <= a.recallAtBudget[1], "\(a.recallAtBudget) vs \(rb)")
        // Sixteen times the rows: the interval is about a quarter as wide (1/sqrt(n)).
        let (bigS, bigL) = data(32_000, rate: 0.05, seed: 2)
        let big = try XCTUnwrap(RiskMetrics.bootstrap(scores: bigS, labels: bigL, budget: 0.05, resamples: 400, seed: 7))
        let ratio = (big.prAUC[1] - big.prAUC[0]) / (a.prAUC[1] - a.prAUC[0])
        XCTAssertTrue(ratio > 0.15 && ratio < 0.4, "width ratio \(ratio)")
    }

    func testEvaluationCarriesTheIntervalsAndWarnsOnFewPositives() throws {
        let (scores, labels) = data(400, rate: 0.03, seed: 3)
        let ev = try RiskEvaluation(scores: scores, labels: labels, threshold: 0.5, budget: 0.05, resamples: 200, seed: 1)
        let b = try XCTUnwrap(ev.bootstrap)
        XCTAssertEqual(b.resamples, 200)
        XCTAssertTrue(ev.text.contains("bootstrap 95% intervals (200 resamples, seed 1): PR-AUC ["), ev.text)
        XCTAssertLessThan(ev.positives, RiskEvaluation.minimumPositives)
        XCTAssertEqual(ev.warnings.count, 1)
        XCTAssertNil(try RiskEvaluation(scores: scores, labels: labels, threshold: 0.5, budget: 0.05).bootstrap)
    }
}
