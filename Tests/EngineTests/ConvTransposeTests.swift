import Foundation
import XCTest
@testable import LeptonEngine
import LeptonTestSupport

/// Transposed convolution against PyTorch's `conv_transpose2d` (Fixtures/make_conv_transpose_fixture.py:
/// outputs and the gradients of Σ output ⊙ R) and against central differences.
final class ConvTransposeTests: XCTestCase {
    func tensor(_ j: Any?) -> Tensor {
        let d = j as! [String: Any]
        return Tensor(shape: d["shape"] as! [Int], scalars: (d["data"] as! [Double]).map(Float.init))
    }

    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    func testMatchesPyTorchForwardAndGradients() throws {
        let cases = try XCTUnwrap(EngineFixtures.fixtureJSON("conv_transpose_torch.json") as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for (k, c) in cases.enumerated() {
            let s = c["stride"] as! Int, p = c["padding"] as! Int, op = c["output_padding"] as! Int, d = c["dilation"] as! Int
            let x = Variable(tensor(c["x"]), requiresGrad: true), w = Variable(tensor(c["weight"]), requiresGrad: true)
            let b = Variable(tensor(c["bias"]), requiresGrad: true)
            let y = x.convTranspose2d(weight: w, bias: b, stride: (s, s), padding: (p, p), outputPadding: (op, op), dilation: (d, d))
            XCTAssertLessThan(maxDiff(y.value, tensor(c["y"])), 1e-4, "case \(k) output")
            y.backward(tensor(c["r"]))
            XCTAssertLessThan(maxDiff(x.grad!, tensor(c["dx"])), 1e-4, "case \(k) input gradient")
            XCTAssertLessThan(maxDiff(w.grad!, tensor(c["dweight"])), 1e-3, "case \(k) weight gradient")
            XCTAssertLessThan(maxDiff(b.grad!, tensor(c["dbias"])), 1e-3, "case \(k) bias gradient")
        }
    }

    func testGradientsMatchFiniteDifferences() {
        var rng = SeededGenerator(seed: 5)
        let x = Tensor.randomNormal([2, 3, 4, 4], using: &rng), w = Tensor.randomNormal([3, 2, 4, 4], std: 0.3, using: &rng)
        let b = Tensor.randomNormal([2], using: &rng)
        let checker = GradientChecker()
        let c = checker.compareInputs([x, w, b]) { v in
            v[0].convTranspose2d(weight: v[1], bias: v[2], stride: (2, 2), padding: (1, 1))
        }
        XCTAssertNil(checker.failure(c))
    }

    /// The layer's shapes and PyTorch's initialisation bound; DCGAN's 7 → 14 → 28.
    func testLayerShapes() {
        var rng = SeededGenerator(seed: 1)
        let up = ConvTranspose2d(8, 4, kernel: 4, stride: 2, padding: 1, rng: &rng)
        XCTAssertEqual(up.weight.shape, [8, 4, 4, 4])
        XCTAssertLessThanOrEqual(up.weight.value.scalars.map(abs).max()!, 1 / Float(4 * 16).squareRoot())
        let y = up(Variable(Tensor.zeros([3, 8, 7, 7])))
        XCTAssertEqual(y.shape, [3, 4, 14, 14])
        XCTAssertEqual(Set(up.stateDict().keys), ["weight", "bias"])
    }
}
