import Foundation
import XCTest
import LeptonEngine
import LeptonTestSupport

/// The distillation loss (Hinton et al. 2015): its value against the definition computed here in
/// Double, its gradient against the closed form and against central differences.
final class DistillationLossTests: XCTestCase {
    /// `T² · mean_i Σ_k p_t,k (log p_t,k − log p_s,k)` with `p = softmax(z / T)`, in Double.
    func referenceKL(_ s: [Float], _ t: [Float], rows: Int, classes c: Int, temperature: Double) -> Double {
        func logSoftmax(_ z: ArraySlice<Float>) -> [Double] {
            let x = z.map { Double($0) / temperature }, m = x.max()!
            let lse = m + log(x.map { exp($0 - m) }.reduce(0, +))
            return x.map { $0 - lse }
        }
        var total = 0.0
        for i in 0..<rows {
            let ls = logSoftmax(s[(i * c)..<((i + 1) * c)]), lt = logSoftmax(t[(i * c)..<((i + 1) * c)])
            for k in 0..<c { total += exp(lt[k]) * (lt[k] - ls[k]) }
        }
        return temperature * temperature * total / Double(rows)
    }

    func testSoftTargetKLMatchesTheDefinitionAndItsGradient() {
        var rng = SeededGenerator(seed: 17)
        let n = 6, c = 3
        let student = Tensor(shape: [n, c], scalars: (0..<(n * c)).map { _ in rng.nextNormal() * 2 })
        let teacher = Tensor(shape: [n, c], scalars: (0..<(n * c)).map { _ in rng.nextNormal() * 3 })
        for t: Float in [1, 2, 4] {
            let s = Variable(student, requiresGrad: true)
            let loss = softTargetKL(s, teacherLogits: teacher, temperature: t)
            XCTAssertEqual(Double(loss.value.scalars[0]), referenceKL(student.scalars, teacher.scalars, rows: n, classes: c, temperature: Double(t)),
                           accuracy: 1e-5, "T = \(t)")
            loss.backward()
            // Closed form: T (softmax(s/T) − softmax(t/T)) / N.
            let g = s.grad!.scalars
            for i in 0..<n {
                func soft(_ z: Tensor) -> [Double] {
                    let x = (0..<c).map { Double(z.scalars[i * c + $0]) / Double(t) }, m = x.max()!
                    let e = x.map { exp($0 - m) }, sum = e.reduce(0, +)
                    return e.map { $0 / sum }
                }
                let ps = soft(student), pt = soft(teacher)
                for k in 0..<c { XCTAssertEqual(Double(g[i * c + k]), Double(t) * (ps[k] - pt[k]) / Double(n), accuracy: 1e-6) }
            }
            // And central differences through the shared checker.
            let checker = GradientChecker(step: 1e-2, absoluteTolerance: 1e-4, relativeTolerance: 1e-3)
            XCTAssertNil(checker.failure(checker.compareInputs([student]) { softTargetKL($0[0], teacherLogits: teacher, temperature: t) }), "T = \(t)")
        }
        // Equal distributions: zero loss and zero gradient; a certain teacher gives no NaN.
        XCTAssertEqual(softTargetKL(Variable(teacher), teacherLogits: teacher, temperature: 2).value.scalars[0], 0, accuracy: 1e-6)
        let certain = Tensor(shape: [1, 3], scalars: [500, -500, 0])
        XCTAssertTrue(softTargetKL(Variable(Tensor(shape: [1, 3], scalars: [0, 0, 0])), teacherLogits: certain, temperature: 1).value.scalars[0].isFinite)
    }

    func testDistillationLossMixesSoftAndHardTargets() {
        var rng = SeededGenerator(seed: 23)
        let n = 5, c = 2
        let student = Tensor(shape: [n, c], scalars: (0..<(n * c)).map { _ in rng.nextNormal() })
        let teacher = Tensor(shape: [n, c], scalars: (0..<(n * c)).map { _ in rng.nextNormal() * 2 })
        let labels = [0, 1, 1, 0, 1], weights: [Float] = [0.7, 1.6]
        let kl = referenceKL(student.scalars, teacher.scalars, rows: n, classes: c, temperature: 4)
        // Class-weighted cross-entropy from its definition: Σ w_y (−log p_y) / Σ w_y.
        var ce = 0.0, wsum = 0.0
        for i in 0..<n {
            let a = Double(student.scalars[i * c]), b = Double(student.scalars[i * c + 1]), m = max(a, b)
            let lse = m + log(exp(a - m) + exp(b - m))
            ce += Double(weights[labels[i]]) * (lse - Double(student.scalars[i * c + labels[i]])); wsum += Double(weights[labels[i]])
        }
        ce /= wsum
        for alpha: Float in [0, 0.3, 0.9, 1] {
            let loss = distillationLoss(Variable(student), teacherLogits: teacher, targets: labels, temperature: 4, alpha: alpha, classWeights: weights)
            XCTAssertEqual(Double(loss.value.scalars[0]), Double(alpha) * kl + Double(1 - alpha) * ce, accuracy: 1e-5, "alpha \(alpha)")
            let checker = GradientChecker(step: 1e-2, absoluteTolerance: 1e-4, relativeTolerance: 1e-3)
            XCTAssertNil(checker.failure(checker.compareInputs([student]) {
                distillationLoss($0[0], teacherLogits: teacher, targets: labels, temperature: 4, alpha: alpha, classWeights: weights)
            }), "alpha \(alpha)")
        }
    }
}
