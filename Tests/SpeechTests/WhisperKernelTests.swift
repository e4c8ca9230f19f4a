import Foundation
import LeptonEngine
@testable import LeptonSpeech
import XCTest

/// Whisper-specific kernels against plain double-precision loops on small random inputs.
final class WhisperKernelTests: XCTestCase {
    private var rng = SeededGenerator(seed: 7)

    private func randoms(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
    }

    /// The generator's log-softmax against Double, with `-inf` entries (masked tokens) and a
    /// length that is not a multiple of 8. (Softmax, exp and layer norm are the engine's: VectorMathTests.)
    func testLogSoftmaxMatchesDouble() {
        let n = 1501
        var x = randoms(n, scale: 20)
        for i in stride(from: 3, to: n, by: 97) { x[i] = -.infinity }
        let m = Double(x.max()!)
        let total = x.map { Foundation.exp(Double($0) - m) }.reduce(0, +)
        var c = x
        c.withUnsafeMutableBufferPointer { WhisperGenerator.logSoftmax($0.baseAddress!, n) }
        for i in 0..<n {
            if x[i] == -.infinity {
                XCTAssertEqual(c[i], -.infinity)
            } else {
                XCTAssertEqual(Double(c[i]), Double(x[i]) - m - Foundation.log(total), accuracy: 1e-4)
            }
        }
    }
}
