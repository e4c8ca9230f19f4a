import Foundation
import XCTest
@testable import LeptonEngine

/// Every expected value here was computed by scikit-learn on the same arrays
/// (Fixtures/make_metrics_fixture.py → Fixtures/metrics_sklearn.json).
final class MetricsTests: XCTestCase {
    private var fixture: [String: Any] = [:]

    override func setUpWithError() throws {
        fixture = try XCTUnwrap(EngineFixtures.fixtureJSON("metrics_sklearn.json") as? [String: Any])
    }

    private func assertClose(_ a: [Double], _ b: [Double], _ what: String, tol: Double = 1e-12,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(what): length", file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where !(x == y || abs(x - y) <= tol) {
            XCTFail("\(what)[\(i)]: \(x) vs sklearn \(y)", file: file, line: line); return
        }
    }

    func testBinaryCurvesAndAreasMatchScikitLearn() throws {
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let name = c["name"] as! String
            let labels = c["labels"] as! [Int]
            let scores = (c["scores"] as! [Double]).map(Float.init)
            let thr: ([Any]) -> [Double] = { $0.map { ($0 as? Double) ?? .infinity } }

            let roc = try Metrics.rocCurve(labels: labels, scores: scores)
            assertClose(roc.falsePositiveRate, c["roc_fpr"] as! [Double], "\(name) fpr")
            assertClose(roc.truePositiveRate, c["roc_tpr"] as! [Double], "\(name) tpr")
            assertClose(roc.thresholds, thr(c["roc_thresholds"] as! [Any]), "\(name) thresholds")
            let all = try Metrics.rocCurve(labels: labels, scores: scores, dropIntermediate: false)
            assertClose(all.falsePositiveRate, c["roc_all_fpr"] as! [Double], "\(name) fpr (all)")
            assertClose(all.truePositiveRate, c["roc_all_tpr"] as! [Double], "\(name) tpr (all)")
            assertClose(all.thresholds, thr(c["roc_all_thresholds"] as! [Any]), "\(name) thresholds (all)")
            XCTAssertEqual(try Metrics.rocAUC(labels: labels, scores: scores), c["auc"] as! Double, accuracy: 1e-12, name)

            let pr = try Metrics.precisionRecallCurve(labels: labels, scores: scores)
            assertClose(pr.precision, c["pr_precision"] as! [Double], "\(name) precision")
            assertClose(pr.recall, c["pr_recall"] as! [Double], "\(name) recall")
            assertClose(pr.thresholds, c["pr_thresholds"] as! [Double], "\(name) pr thresholds")
            XCTAssertEqual(try Metrics.averagePrecision(labels: labels, scores: scores), c["average_precision"] as! Double,
                           accuracy: 1e-12, name)

            if let e10 = c["ece10"] as? Double, let e15 = c["ece15"] as? Double {
                XCTAssertEqual(try Metrics.expectedCalibrationError(probabilities: scores, labels: labels, bins: 10), e10, accuracy: 1e-9, name)
                XCTAssertEqual(try Metrics.expectedCalibrationError(probabilities: scores, labels: labels, bins: 15), e15, accuracy: 1e-9, name)
            }
        }
    }

    func testMulticlassReportMatchesScikitLearn() throws {
        let m = try XCTUnwrap(fixture["multiclass"] as? [String: Any])
        let k = m["classes"] as! Int, labels = m["labels"] as! [Int], predicted = m["predicted"] as! [Int]
        XCTAssertEqual(try Metrics.accuracy(predicted: predicted, labels: labels), m["accuracy"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(try Metrics.confusionMatrix(predicted: predicted, labels: labels, classes: k), m["confusion"] as! [[Int]])
        let r = try Metrics.classificationReport(predicted: predicted, labels: labels, classes: k)
        assertClose(r.precision, m["precision"] as! [Double], "precision")
        assertClose(r.recall, m["recall"] as! [Double], "recall")
        assertClose(r.f1, m["f1"] as! [Double], "f1")
        XCTAssertEqual(r.support, m["support"] as! [Int])
        XCTAssertEqual(r.macroPrecision, m["macro_precision"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(r.macroRecall, m["macro_recall"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(r.macroF1, m["macro_f1"] as! Double, accuracy: 1e-12)

        let rows = m["probabilities"] as! [[Double]]
        let probs = Tensor(shape: [rows.count, k], scalars: rows.flatMap { $0.map(Float.init) })
        XCTAssertEqual(try Metrics.topLabelCalibrationError(probabilities: probs, labels: labels, bins: 10),
                       m["top_label_ece10"] as! Double, accuracy: 1e-9)

        let a = try XCTUnwrap(fixture["absent_class"] as? [String: Any])
        let r2 = try Metrics.classificationReport(predicted: a["predicted"] as! [Int], labels: a["labels"] as! [Int], classes: a["classes"] as! Int)
        assertClose(r2.precision, a["precision"] as! [Double], "absent precision")
        assertClose(r2.recall, a["recall"] as! [Double], "absent recall")
        assertClose(r2.f1, a["f1"] as! [Double], "absent f1")
        XCTAssertEqual(r2.macroF1, a["macro_f1"] as! Double, accuracy: 1e-12)
    }

    func testHandComputedValuesAndErrors() throws {
        // Perfect ranking: AUC 1, AP 1. Reversed ranking: AUC 0.
        XCTAssertEqual(try Metrics.rocAUC(labels: [0, 0, 1, 1], scores: [0.1, 0.2, 0.8, 0.9]), 1)
        XCTAssertEqual(try Metrics.averagePrecision(labels: [0, 0, 1, 1], scores: [0.1, 0.2, 0.8, 0.9]), 1)
        XCTAssertEqual(try Metrics.rocAUC(labels: [1, 1, 0, 0], scores: [0.1, 0.2, 0.8, 0.9]), 0)
        // One positive tied with one negative, above another negative: pairs (p>n)=1, tie=0.5 -> 0.75.
        XCTAssertEqual(try Metrics.rocAUC(labels: [1, 0, 0], scores: [0.5, 0.5, 0.1]), 0.75)
        // Calibration: all predictions 0.8 and 80% positives -> ECE 0; all 1.0 with half positives -> 0.5.
        XCTAssertEqual(try Metrics.expectedCalibrationError(probabilities: [0.8, 0.8, 0.8, 0.8, 0.8], labels: [1, 1, 1, 1, 0]), 0, accuracy: 1e-7)
        XCTAssertEqual(try Metrics.expectedCalibrationError(probabilities: [1, 1], labels: [1, 0], bins: 10), 0.5)
        // Bin edges are right-closed: 0.5 falls in (0.4, 0.5] with 10 bins.
        let bins = try Metrics.reliabilityDiagram(probabilities: [0.5, 0.0, 0.55], labels: [1, 0, 0], bins: 10)
        XCTAssertEqual(bins.map(\.lower), [0, 0.4, 0.5])
        XCTAssertEqual(bins.map(\.count), [1, 1, 1])

        XCTAssertThrowsError(try Metrics.rocAUC(labels: [1, 1], scores: [0.3, 0.4])) { e in
            guard case .undefined? = e as? MetricsError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try Metrics.accuracy(predicted: [1], labels: [1, 2])) { e in
            XCTAssertEqual(e as? MetricsError, .lengthMismatch(what: "accuracy predictions", expected: 2, found: 1))
        }
        XCTAssertThrowsError(try Metrics.confusionMatrix(predicted: [0, 5], labels: [0, 1], classes: 2)) { e in
            XCTAssertEqual(e as? MetricsError, .invalidLabel(what: "confusion matrix predictions", index: 1, value: 5))
        }
        XCTAssertThrowsError(try Metrics.expectedCalibrationError(probabilities: [1.5], labels: [1]))
        XCTAssertThrowsError(try Metrics.rocCurve(labels: [0, 2], scores: [0.1, 0.2]))
    }
}
