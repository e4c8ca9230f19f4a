import XCTest
@testable import LeptonRisk

/// `evaluate` on a handful of positives must say how uncertain its figures are (issue 17).
final class EvaluationIntervalTests: XCTestCase {
    func testWilsonIntervalsMatchNewcombesPublishedValues() throws {
        // Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (score interval
        // without continuity correction), 95%, to four decimals.
        let published: [(Int, Int, Float, Float)] = [
            (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0000, 0.1611),
            (1, 29, 0.0061, 0.1718), (29, 29, 0.8830, 1.0000),
        ]
        for (k, n, lo, hi) in published {
            let ci = try XCTUnwrap(RiskMetrics.wilsonInterval(successes: k, trials: n))
            XCTAssertEqual(ci[0], lo, accuracy: 6e-5, "\(k)/\(n)")
            XCTAssertEqual(ci[1], hi, accuracy: 6e-5, "\(k)/\(n)")
        }
        XCTAssertNil(RiskMetrics.wilsonInterval(successes: 0, trials: 0))
    }

    func testFivePositivesGetIntervalsAndAWarning() throws {
        // 100 rows, 5 positives; 4 flagged rows of which 3 positive: precision 3/4, recall 3/5.
        var scores = [Float](repeating: 0.1, count: 100), labels = [Float](repeating: 0, count: 100)
        for i in 0..<5 { labels[i] = 1 }
        for i in [0, 1, 2, 50] { scores[i] = 0.9 }
        let ev = try RiskEvaluation(scores: scores, labels: labels, threshold: 0.5, budget: 0.04)
        XCTAssertEqual(ev.precision, 0.75); XCTAssertEqual(ev.recall, 0.6)
        // Wilson 95% (the textbook formula, computed separately in Python): 3/4 → [0.3006, 0.9544]; 3/5 → [0.2307, 0.8824].
        XCTAssertEqual(ev.precisionCI![0], 0.3006, accuracy: 1e-4); XCTAssertEqual(ev.precisionCI![1], 0.9544, accuracy: 1e-4)
        XCTAssertEqual(ev.recallCI![0], 0.2307, accuracy: 1e-4); XCTAssertEqual(ev.recallCI![1], 0.8824, accuracy: 1e-4)
        XCTAssertEqual(ev.warnings.count, 1)
        XCTAssertTrue(ev.warnings[0].hasPrefix("only 5 positives"), ev.warnings[0])   // evaluate prints it on stderr
        XCTAssertTrue(ev.text.contains("recall 0.6000 [0.2307, 0.8824]"), ev.text)
        // Enough positives: intervals, no warning.
        let many = try RiskEvaluation(scores: scores + scores.map { _ in 0.9 }, labels: labels + labels.map { _ in 1 },
                                  threshold: 0.5, budget: 0.04)
        XCTAssertTrue(many.warnings.isEmpty)
        XCTAssertNotNil(many.recallCI)
    }
}
