import XCTest
@testable import LeptonEngine
import LeptonTestSupport

/// Central finite differences against the recorded backward pass, for every differentiable op,
/// through the shared ``GradientChecker`` (step 1e-2; an entry passes within 2e-3 + 1e-2·|numeric|).
enum GradCheck {
    static func check(_ inputs: [Tensor], h: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2, seed: UInt64 = 7,
                      label: String = "", file: StaticString = #filePath, line: UInt = #line, _ f: ([Variable]) -> Variable) {
        let checker = GradientChecker(step: h, absoluteTolerance: atol, relativeTolerance: rtol)
        if let failure = checker.failure(checker.compareInputs(inputs, seed: seed, f)) {
            XCTFail(label.isEmpty ? failure : "\(label): \(failure)", file: file, line: line)
        }
    }

    /// Checks the gradients of a module's own parameters (`f` reads them when evaluated).
    static func checkParameters(_ params: [(String, Variable)], h: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2,
                                file: StaticString = #filePath, line: UInt = #line, _ f: () -> Variable) {
        let checker = GradientChecker(step: h, absoluteTolerance: atol, relativeTolerance: rtol)
        if let failure = checker.failure(checker.compareParameters(params, f)) { XCTFail(failure, file: file, line: line) }
    }

    static func rand(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor.randomNormal(shape, std: scale, using: &g)
    }

    /// Random values at least `gap` away from 0 (keeps ReLU kinks out of the difference stencil).
    static func awayFromZero(_ shape: [Int], seed: UInt64, gap: Float = 0.05) -> Tensor {
        var t = rand(shape, seed: seed)
        for i in 0..<t.count { let v = t[flat: i]; t[flat: i] = v >= 0 ? v + gap : v - gap }
        return t
    }
}

final class GradientCheckTests: XCTestCase {
    let r = GradCheck.rand

    /// The shared checker itself: a backward pass 5% off is reported, naming the input and index;
    /// the right one passes.
    func testCheckerReportsAWrongBackward() {
        let checker = GradientChecker()
        let x = r([3, 2], 5, 1)
        let wrong = checker.compareInputs([x]) { v in
            Variable.result(v[0].value * 2, [v[0]]) { g in v[0].accumulate(g * 2.1) }   // d(2x)/dx is 2
        }
        let message = checker.failure(wrong)
        XCTAssertTrue(message?.hasPrefix("input 0[") == true && message?.contains("entries fail") == true, message ?? "no failure reported")
        XCTAssertNil(checker.failure(checker.compareInputs([x]) { v in v[0] * 2 }))
    }

    func testArithmeticWithBroadcasting() {
        GradCheck.check([r([3, 4], 1, 1), r([4], 2, 1)]) { $0[0] + $0[1] }
        GradCheck.check([r([3, 4], 1, 1), r([3, 1], 2, 1)]) { $0[0] - $0[1] }
        GradCheck.check([r([2, 3, 4], 3, 1), r([3, 1], 4, 1)]) { $0[0] * $0[1] }
        GradCheck.check([r([3, 4], 5, 1), r([4], 6, 1) + 3]) { $0[0] / $0[1] }
        GradCheck.check([r([3, 4], 7, 1)]) { ($0[0] * 2.5 + 1) / 4 - 0.5 }
        GradCheck.check([r([3, 4], 8, 1)]) { -$0[0] }
    }

    func testMatmulAllLayouts() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = ta ? r([4, 3], 10, 1) : r([3, 4], 10, 1), b = tb ? r([5, 4], 11, 1) : r([4, 5], 11, 1)
            GradCheck.check([a, b]) { $0[0].matmul($0[1], transposeSelf: ta, transposeOther: tb) }
        }
        // Batched, and a shared 2-D right operand broadcast over the batch.
        GradCheck.check([r([2, 3, 4], 12, 1), r([2, 4, 2], 13, 1)]) { $0[0].matmul($0[1]) }
        GradCheck.check([r([2, 3, 4], 14, 1), r([5, 4], 15, 1)]) { $0[0].matmul($0[1], transposeOther: true) }
        GradCheck.check([r([2, 3, 4], 16, 1), r([5, 4], 17, 1), r([5], 18, 1)]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    }

    func testActivations() {
        GradCheck.check([GradCheck.awayFromZero([3, 5], seed: 20)]) { $0[0].relu() }
        GradCheck.check([GradCheck.awayFromZero([3, 5], seed: 21)]) { $0[0].leakyRelu(0.1) }
        GradCheck.check([r([3, 5], 22, 1.5)]) { $0[0].gelu() }
        GradCheck.check([r([3, 5], 23, 1.5)]) { $0[0].sigmoid() }
        GradCheck.check([r([3, 5], 24, 1)]) { $0[0].tanh() }
        GradCheck.check([r([3, 5], 25, 1)]) { $0[0].exp() }
        GradCheck.check([r([3, 5], 26, 1).abs() + 0.5]) { $0[0].log() }
        GradCheck.check([r([3, 5], 27, 1).abs() + 0.5]) { $0[0].sqrt() }
        GradCheck.check([r([3, 5], 28, 1)]) { $0[0].squared() }
        GradCheck.check([r([3, 5], 29, 2)]) { $0[0].softmax() }
        GradCheck.check([r([3, 5], 30, 2)]) { $0[0].logSoftmax() }
    }

    func testReductionsAndShapes() {
        GradCheck.check([r([3, 4], 40, 1)]) { $0[0].sum() }
        GradCheck.check([r([3, 4], 41, 1)]) { $0[0].mean() }
        GradCheck.check([r([2, 3, 4], 42, 1)]) { $0[0].sum(axis: 1) }
        GradCheck.check([r([2, 3, 4], 43, 1)]) { $0[0].mean(axis: -1, keepingAxis: true) }
        GradCheck.check([r([2, 3, 4], 44, 1)]) { $0[0].reshaped([6, 4]).permuted([1, 0]) }
        GradCheck.check([r([2, 3, 4], 45, 1)]) { $0[0].permuted([2, 0, 1]).transposed(0, 1) }
        GradCheck.check([r([2, 5, 3], 46, 1)]) { $0[0].slice(axis: 1, start: 1, end: 4) }
        GradCheck.check([r([2, 3], 47, 1), r([2, 2], 48, 1)]) { Variable.concat([$0[0], $0[1], $0[0]], axis: 1) }
        GradCheck.check([r([5, 3], 49, 1)]) { $0[0].gatherRows([4, 0, 4, 2]) }
    }

    func testConvolution() {
        GradCheck.check([r([2, 3, 5, 6], 50, 1), r([4, 3, 3, 3], 51, 0.5), r([4], 52, 1)]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], padding: (1, 1))
        }
        GradCheck.check([r([1, 4, 7, 6], 53, 1), r([6, 2, 3, 2], 54, 0.5)]) {
            $0[0].conv2d(weight: $0[1], stride: (2, 1), padding: (1, 0), dilation: (1, 2), groups: 2)
        }
        GradCheck.check([r([3, 2, 4, 4], 55, 1), r([3, 2, 1, 1], 56, 0.5)]) { $0[0].conv2d(weight: $0[1]) }
        GradCheck.check([r([2, 4, 9], 57, 1), r([6, 2, 3], 58, 0.5), r([6], 59, 1)]) {
            $0[0].conv1d(weight: $0[1], bias: $0[2], stride: 2, padding: 1, groups: 2)
        }
    }

    func testPooling() {
        // Distinct, well-separated values so a 1e-3 step never changes a window's maximum.
        var x = Tensor(shape: [2, 2, 5, 6], scalars: (0..<120).map { Float(($0 * 37) % 120) * 0.05 })
        x = x - 3
        GradCheck.check([x], h: 1e-3) { $0[0].maxPool2d(kernel: (2, 2)) }
        GradCheck.check([x], h: 1e-3) { $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }
        GradCheck.check([r([2, 2, 5, 6], 60, 1)]) { $0[0].avgPool2d(kernel: (3, 3), stride: (1, 1), padding: (1, 1)) }
        GradCheck.check([r([2, 2, 4, 4], 61, 1)]) { $0[0].avgPool2d(kernel: (2, 2)) }
        GradCheck.check([r([2, 3, 3, 4], 62, 1)]) { $0[0].globalAvgPool2d() }
    }

    func testNormalisation() {
        GradCheck.check([r([4, 6], 70, 1), r([6], 71, 1), r([6], 72, 1)]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        GradCheck.check([r([2, 3, 5], 73, 1)]) { $0[0].layerNorm(weight: nil, bias: nil) }
        for training in [true, false] {
            GradCheck.check([r([3, 2, 2, 3], 74, 1), r([2], 75, 1), r([2], 76, 1)]) { v in
                var rm = Tensor(shape: [2], scalars: [0.1, -0.2]), rv = Tensor(shape: [2], scalars: [1.5, 0.7])
                return v[0].batchNorm(runningMean: &rm, runningVar: &rv, weight: v[1], bias: v[2], training: training)
            }
        }
        GradCheck.check([r([5, 3], 77, 1)]) { v in   // [N, C] (BatchNorm1d on features)
            var rm = Tensor.zeros([3]), rv = Tensor.ones([3])
            return v[0].batchNorm(runningMean: &rm, runningVar: &rv, weight: nil, bias: nil, training: true)
        }
    }

    func testDropoutWithFixedMask() {
        GradCheck.check([r([4, 5], 80, 1)]) { v in
            var g = SeededGenerator(seed: 3)   // same mask on every evaluation
            return v[0].dropout(0.4, training: true, rng: &g)
        }
    }

    func testLosses() {
        let targets = [2, 0, 1, 2]
        GradCheck.check([r([4, 3], 90, 2)]) { crossEntropy($0[0], targets: targets) }
        GradCheck.check([r([4, 3], 91, 2)]) {
            crossEntropy($0[0], targets: targets, classWeights: [0.5, 2, 1], labelSmoothing: 0.1)
        }
        let y = Tensor(shape: [2, 3], scalars: [1, 0, 1, 0, 0, 1])
        GradCheck.check([r([2, 3], 92, 2)]) { binaryCrossEntropyWithLogits($0[0], targets: y, positiveWeight: 3) }
        GradCheck.check([r([2, 3], 93, 2)]) { sigmoidFocalLoss($0[0], targets: y, alpha: 0.25, gamma: 2) }
        GradCheck.check([r([4, 3], 94, 2)]) { focalLoss($0[0], targets: targets, gamma: 2, classWeights: [1, 2, 0.5]) }
        GradCheck.check([r([2, 3], 95, 1)]) { mseLoss($0[0], y) }
    }

    func testMultiHeadAttentionLayer() {
        var rng = SeededGenerator(seed: 5)
        let mha = MultiHeadAttention(dim: 8, heads: 2, rng: &rng)
        let mask = [[true, true, true, false], [true, true, true, true]]
        GradCheck.check([r([2, 3, 8], 100, 1), r([2, 4, 8], 101, 1)]) {
            mha(query: $0[0], key: $0[1], value: $0[1], keyMask: mask)
        }
        GradCheck.check([r([1, 4, 8], 102, 1)]) { mha(query: $0[0], key: $0[0], value: $0[0], causal: true) }
        // The recorded path and the fused inference kernel agree.
        let x = Variable(r([2, 4, 8], 103, 1))
        let recorded = mha(query: x, key: x, value: x, keyMask: [[true, true, false, true], [true, true, true, true]], causal: true)
        let fused = withoutGradients { mha(query: x, key: x, value: x, keyMask: [[true, true, false, true], [true, true, true, true]], causal: true) }
        assertClose(recorded.value, fused.value, tol: 1e-5)
        // Parameter gradients of every projection, by finite differences.
        GradCheck.checkParameters(mha.namedParameters()) { mha(query: x, key: x, value: x, keyMask: mask.map { Array($0) }, causal: true) }
    }
}
