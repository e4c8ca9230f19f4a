import XCTest
@testable import LeptonEngine

/// int8 linear layers (``Int8Matrix``, ``Int8GEMM``) and the float16/float32 ``LinearWeights``
/// against products computed here in Double with plain loops (independent of OpenBLAS and oneDNN).
final class Int8MatmulTests: XCTestCase {
    /// A deterministic generator (SplitMix64), so a failure can be replayed.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
        mutating func int8() -> Int8 { Int8(Int(next() % 255) - 127) }
    }

    /// The int32 GEMM is exact: compared with an integer loop, tails (k, n not multiples of 8 or 16) included.
    func testInt8GEMMIsExactIntegerArithmetic() {
        var rng = Rng(state: 1)
        for (m, n, k) in [(1, 1, 1), (3, 13, 37), (17, 64, 384), (64, 48, 1536)] {
            let a = (0..<(m * k)).map { _ in rng.int8() }, b = (0..<(n * k)).map { _ in rng.int8() }
            var c = [Int32](repeating: 0, count: m * n)
            Int8GEMM.multiply(m: m, n: n, k: k, a: a, b: b, into: &c)
            for r in 0..<m {
                for o in 0..<n {
                    var s = 0
                    for j in 0..<k { s += Int(a[r * k + j]) * Int(b[o * k + j]) }
                    XCTAssertEqual(Int(c[r * n + o]), s, "\(m)×\(n)×\(k) at [\(r), \(o)]")
                }
            }
        }
    }

    /// Row quantisation: values within half a scale of the originals, the peak at ±127, zero rows exact.
    func testQuantizeRowRoundsToNearestWithinHalfAScale() {
        var rng = Rng(state: 2)
        for count in [1, 7, 8, 9, 384] {
            let v = (0..<count).map { _ in rng.uniform() * 3 }
            var q = [Int8](repeating: 0, count: count)
            let scale = Int8Quantizer.quantizeRow(v, count: count, into: &q)
            let peak = v.map(abs).max()!
            XCTAssertEqual(scale, peak / 127, accuracy: peak * 1e-6)
            XCTAssertEqual(q.map { abs(Int($0)) }.max(), 127)
            for j in 0..<count { XCTAssertLessThanOrEqual(abs(Float(q[j]) * scale - v[j]), scale / 2 * 1.0001 + 1e-7, "count \(count) j \(j)") }
        }
        var q = [Int8](repeating: 5, count: 9)
        XCTAssertEqual(Int8Quantizer.quantizeRow([Float](repeating: 0, count: 9), count: 9, into: &q), 0)
        XCTAssertEqual(q, [Int8](repeating: 0, count: 9))
        // A NaN must not vanish into a plausible output.
        XCTAssertFalse(Int8Quantizer.quantizeRow([1, .nan, 2], count: 3, into: &q).isFinite)
    }

    /// `y = x·Wᵀ (+ y)` in int8 against Double, within the bound the two scales give:
    /// |error| ≤ sw/2·Σ|x| + sx/2·Σ|W| + k·sx·sw/4 (+ float32 slack). The error is also not zero
    /// (so the test sees the quantised path, not a float one).
    func testInt8LinearWithinTheBoundItsScalesGive() {
        var rng = Rng(state: 3)
        for (rows, outputs, inputs) in [(1, 5, 3), (5, 1536, 384), (37, 384, 1536), (300, 100, 72)] {
            let w = (0..<(outputs * inputs)).map { _ in rng.uniform() * 0.2 }
            // Rows with very different magnitudes: per-row scales must keep the small ones precise.
            let x = (0..<(rows * inputs)).map { i in rng.uniform() * ((i / inputs) % 3 == 0 ? 40 : 0.01) }
            let prior = (0..<(rows * outputs)).map { _ in rng.uniform() }
            let weights = LinearWeights(rowMajor: w, outputs: outputs, inputs: inputs, computeType: .int8)
            XCTAssertEqual(weights.byteCount, outputs * inputs + 4 * outputs)
            for beta: Float in [0, 1] {
                var y = prior
                weights.multiply(x, rows: rows, ldx: inputs, into: &y, ldy: outputs, beta: beta)
                var worst: Double = 0
                for o in 0..<outputs {
                    let wRow = w[(o * inputs)..<((o + 1) * inputs)]
                    let sw = Double(wRow.map(abs).max()!) / 127, sumW = wRow.reduce(0.0) { $0 + Double(abs($1)) }
                    for r in 0..<rows {
                        let xRow = x[(r * inputs)..<((r + 1) * inputs)]
                        let sx = Double(xRow.map(abs).max()!) / 127, sumX = xRow.reduce(0.0) { $0 + Double(abs($1)) }
                        var exact = Double(beta) * Double(prior[r * outputs + o])
                        for j in 0..<inputs { exact += Double(x[r * inputs + j]) * Double(w[o * inputs + j]) }
                        let bound = sw / 2 * sumX + sx / 2 * sumW + Double(inputs) * sx * sw / 4
                        let error = abs(Double(y[r * outputs + o]) - exact)
                        XCTAssertLessThanOrEqual(error, bound * 1.001 + 1e-5 * (abs(exact) + 1),
                                                 "\(rows)×\(outputs)×\(inputs) beta \(beta) at [\(r), \(o)]")
                        worst = max(worst, error)
                    }
                }
                XCTAssertGreaterThan(worst, 0, "int8 product identical to the exact one: not quantised?")
            }
        }
    }

    /// float16 storage multiplies the rounded weights in float32: bit-identical to float32 weights
    /// that are already float16 values (as a float16 checkpoint's are), half the bytes.
    func testFloat16WeightsMatchFloat32OnHalfRepresentableWeights() {
        var rng = Rng(state: 4)
        let (rows, outputs, inputs) = (9, 40, 24)
        let w = (0..<(outputs * inputs)).map { _ in Float(Float16(rng.uniform())) }
        let x = (0..<(rows * inputs)).map { _ in rng.uniform() }
        let full = LinearWeights(rowMajor: w, outputs: outputs, inputs: inputs, computeType: .float32)
        let half = LinearWeights(rowMajor: w, outputs: outputs, inputs: inputs, computeType: .float16)
        XCTAssertEqual(half.byteCount * 2, full.byteCount)
        var a = [Float](repeating: 0, count: rows * outputs), b = a
        full.multiply(x, rows: rows, ldx: inputs, into: &a, ldy: outputs, beta: 0)
        half.multiply(x, rows: rows, ldx: inputs, into: &b, ldy: outputs, beta: 0)
        XCTAssertEqual(a, b)
        for r in 0..<rows {
            for o in 0..<outputs {
                var exact = 0.0
                for j in 0..<inputs { exact += Double(x[r * inputs + j]) * Double(w[o * inputs + j]) }
                XCTAssertEqual(Double(a[r * outputs + o]), exact, accuracy: 1e-5)
            }
        }
    }

    /// The row-split product gives the single call's result (rows are independent).
    func testParallelSplitMatchesOneCall() {
        var rng = Rng(state: 5)
        let (rows, outputs, inputs) = (700, 48, 64)
        let w = (0..<(outputs * inputs)).map { _ in rng.uniform() }
        let x = (0..<(rows * inputs)).map { _ in rng.uniform() }
        for type in ComputeType.allCases {
            let weights = LinearWeights(rowMajor: w, outputs: outputs, inputs: inputs, computeType: type)
            var a = [Float](repeating: 0, count: rows * outputs), b = a
            weights.multiply(x, rows: rows, ldx: inputs, into: &a, ldy: outputs, beta: 0)
            weights.multiplyParallel(x, rows: rows, ldx: inputs, into: &b, ldy: outputs, beta: 0, blockRows: 128)
            // int8: exact int32 sums, so bit-identical; float: OpenBLAS may pick other edge kernels per block.
            if type == .int8 { XCTAssertEqual(a, b) }
            for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-5 * (abs(a[i]) + 1), "\(type) at \(i)") }
        }
    }
}
