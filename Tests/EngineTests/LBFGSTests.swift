import XCTest
@testable import LeptonEngine

/// The L-BFGS minimiser against known optima: Rosenbrock's valley (minimum at (1, 1)) and
/// scikit-learn's L2-regularised multinomial logistic regression on a small problem.
final class LBFGSTests: XCTestCase {
    func testRosenbrockReachesItsMinimum() {
        let x = Variable(Tensor(shape: [1], scalars: [-1.2]), requiresGrad: true)
        let y = Variable(Tensor(shape: [1], scalars: [1]), requiresGrad: true)
        var solver = LBFGS()
        solver.maxIterations = 500; solver.gradientTolerance = 1e-4
        let result = solver.minimize([x, y]) {
            // (1 − x)² + 100·(y − x²)²
            ((x - 1).squared() + 100 * (y - x.squared()).squared()).sum()
        }
        XCTAssertEqual(x.value[flat: 0], 1, accuracy: 1e-3)
        XCTAssertEqual(y.value[flat: 0], 1, accuracy: 2e-3)
        XCTAssertLessThan(result.value, 1e-6)
        XCTAssertLessThan(result.iterations, 200, "L-BFGS takes tens of iterations here, not hundreds")
    }

    func testSoftmaxRegressionMatchesScikitLearn() throws {
        let ref = try XCTUnwrap(EngineFixtures.fixtureJSON("logreg_sklearn.json") as? [String: Any])
        let rows = try XCTUnwrap(ref["x"] as? [[Double]]), labels = try XCTUnwrap(ref["y"] as? [Int])
        let coef = try XCTUnwrap(ref["coef"] as? [[Double]]), intercept = try XCTUnwrap(ref["intercept"] as? [Double])
        let probabilities = try XCTUnwrap(ref["probabilities"] as? [[Double]])
        let c = try XCTUnwrap(ref["C"] as? Double)
        let n = rows.count, f = rows[0].count, k = coef.count
        let x = Tensor(shape: [n, f], scalars: rows.flatMap { $0.map(Float.init) })
        let w = Variable(Tensor(shape: [f, k]), requiresGrad: true), b = Variable(Tensor(shape: [k]), requiresGrad: true)
        let penalty = Float(1 / (2 * c * Double(n)))
        var solver = LBFGS()
        solver.gradientTolerance = 1e-6
        let result = solver.minimize([w, b]) {
            crossEntropy(Variable(x).matmul(w) + b, targets: labels) + penalty * w.squared().sum()
        }
        XCTAssertTrue(result.converged, "\(result)")
        // Softmax weights are defined up to a constant per feature; sklearn's optimum has
        // Σ_classes W = 0 for the penalised weights, and so does ours (the penalty picks it).
        for j in 0..<f {
            for cls in 0..<k { XCTAssertEqual(Double(w.value[j, cls]), coef[cls][j], accuracy: 1e-4, "W[\(j), \(cls)]") }
        }
        // The unpenalised bias is defined up to a constant: compare centred values.
        let mean = (0..<k).map { Double(b.value[flat: $0]) }.reduce(0, +) / Double(k)
        let refMean = intercept.reduce(0, +) / Double(k)
        for cls in 0..<k { XCTAssertEqual(Double(b.value[flat: cls]) - mean, intercept[cls] - refMean, accuracy: 1e-4) }
        let p = (Variable(x).matmul(w) + b).value.softmax()
        for i in 0..<n { for cls in 0..<k { XCTAssertEqual(Double(p[i, cls]), probabilities[i][cls], accuracy: 1e-5) } }
    }
}
