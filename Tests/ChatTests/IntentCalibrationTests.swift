import XCTest
@testable import LeptonText

/// Temperature scaling and ECE against hand-computed cases (scripts/eval-agent-intents.py
/// --check-swift compares them with NumPy on the bank agent's validation split).
final class IntentCalibrationTests: XCTestCase {
    /// Four rows, two classes: confidences 0.9 (right), 0.6 (wrong), 0.8 (right), 0.7 (right),
    /// one per bin: ECE = (0.1 + 0.6 + 0.2 + 0.3) / 4 = 0.3.
    func testECEAndNLLByHand() {
        let p = [0.9, 0.1, 0.6, 0.4, 0.8, 0.2, 0.3, 0.7]
        let r = IntentCalibration.reliability(p, classes: 2, labels: [0, 1, 0, 1])
        XCTAssertEqual(r.ece, 0.3, accuracy: 1e-12)
        XCTAssertEqual(r.nll, -(log(0.9) + log(0.4) + log(0.8) + log(0.7)) / 4, accuracy: 1e-12)
        XCTAssertEqual(r.bins.count, 10)
        XCTAssertEqual(r.bins[6], IntentCalibration.Bin(lower: 0.6, upper: 0.7, count: 1, confidence: 0.6, accuracy: 0))
        XCTAssertEqual(r.bins.map(\.count).reduce(0, +), 4)
        // A confidence of exactly 1 counts in the last bin.
        XCTAssertEqual(IntentCalibration.reliability([1, 0], classes: 2, labels: [0]).bins[9].count, 1)
    }

    /// softmax(log p / T): at T = 2 the row (0.9, 0.1) becomes (3/4, 1/4) (square roots 3:1);
    /// zeros stay zero; T = 1 changes nothing.
    func testScaling() {
        let s = IntentCalibration.scaled([0.9, 0.1, 0.5, 0.5], classes: 2, temperature: 2)
        XCTAssertEqual(s[0], 0.75, accuracy: 1e-12)
        XCTAssertEqual(s[1], 0.25, accuracy: 1e-12)
        XCTAssertEqual(s[2], 0.5, accuracy: 1e-12)
        XCTAssertEqual(IntentCalibration.scaled([0.7, 0.3, 0], classes: 3, temperature: 0.5), [0.49 / 0.58, 0.09 / 0.58, 0], accuracy: 1e-12)
        XCTAssertEqual(IntentCalibration.scaled([0.7, 0.2, 0.1], classes: 3, temperature: 1), [0.7, 0.2, 0.1], accuracy: 1e-12)
        // A non-finite row stays non-finite (the model then refuses it by name; it must not turn into zeros).
        XCTAssertTrue(IntentCalibration.scaled([.nan, 0.5, 0.2, 0.8], classes: 2, temperature: 0.5)[0..<2].allSatisfy(\.isNaN))
        XCTAssertEqual(IntentCalibration.scaled([.nan, 0.5, 0.2, 0.8], classes: 2, temperature: 1)[2], 0.2, accuracy: 1e-12)
    }

    /// Rows (0.9, 0.1) right 3 times in 4: the NLL-optimal scaled confidence is 3/4, reached at T = 2
    /// (9^(1/T) = 3); right 9 times in 10 it is the model as it is (T = 1).
    func testFittedTemperatureByHand() {
        let rows = Array([[Double]](repeating: [0.9, 0.1], count: 4).joined())
        XCTAssertEqual(IntentCalibration.fitTemperature(rows, classes: 2, labels: [0, 0, 0, 1]), 2, accuracy: 1e-3)
        let ten = Array([[Double]](repeating: [0.9, 0.1], count: 10).joined())
        XCTAssertEqual(IntentCalibration.fitTemperature(ten, classes: 2, labels: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 1, accuracy: 1e-3)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
