import Foundation
import Testing
@testable import LeptonEngine

/// Analytic identities of softmax that hold for any input: rows sum to one, adding a constant to
/// a row changes nothing, and logSoftmax is the log of softmax. Checked over several shapes,
/// including rows whose values would overflow a naive exp.
@Suite("Softmax identities")
struct SoftmaxIdentityTests {
    @Test("rows sum to one; shift invariance; logSoftmax = log softmax",
          arguments: [(1, 1), (3, 7), (16, 33), (5, 1000)])
    func identities(rows: Int, cols: Int) {
        var rng = SeededGenerator(seed: UInt64(rows * 7919 + cols))
        let x = Tensor.randomNormal([rows, cols], std: 30, using: &rng)
        let p = x.softmax()
        let shifted = (x + Tensor(shape: [rows, cols], repeating: 50)).softmax()
        let logp = x.logSoftmax()
        for r in 0..<rows {
            var sum: Double = 0
            for c in 0..<cols {
                let v = p[r, c]
                sum += Double(v)
                #expect(abs(v - shifted[r, c]) <= 1e-5)
                if v > 1e-30 { #expect(abs(logf(v) - logp[r, c]) <= 1e-3) }
            }
            #expect(abs(sum - 1) <= 1e-5)
        }
    }
}
