import Foundation
import LeptonEngine
@testable import LeptonSpeech
import XCTest

/// The hand-written Whisper kernels against plain double-precision loops on small random inputs.
final class WhisperKernelTests: XCTestCase {
    private var rng = SeededGenerator(seed: 7)

    private func randoms(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
    }

    /// Few-row float16 panel products: odd output counts (partial last panel), 1…7 rows
    /// (groups of 5 and a remainder), bias, accumulation, and split panel ranges.
    func testHalfPanelProductMatchesReference() {
        for (outputs, inputs) in [(37, 24), (16, 8), (51, 40)] {
            let w = randoms(outputs * inputs).map { Float16($0) }
            let m = w.withUnsafeBufferPointer { HalfPanelMatrix(rowMajor: $0.baseAddress!, outputs: outputs, inputs: inputs) }
            defer { m.deallocate() }
            XCTAssertEqual(m.panels, (outputs + 15) / 16)
            // Row lookup returns the stored values exactly.
            var row = [Float](repeating: 0, count: inputs)
            for o in [0, outputs / 2, outputs - 1] {
                row.withUnsafeMutableBufferPointer { m.row(o, into: $0.baseAddress!) }
                XCTAssertEqual(row, (0..<inputs).map { Float(w[o * inputs + $0]) })
            }
            let bias = randoms(outputs)
            for rows in 1...7 {
                let x = randoms(rows * inputs)
                let initial = randoms(rows * outputs)
                for (useBias, accumulate) in [(false, false), (true, false), (true, true)] {
                    var y = initial
                    x.withUnsafeBufferPointer { xb in bias.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
                        // Two panel ranges, as two workers would run them.
                        let half = m.panels / 2
                        for range in [0..<half, half..<m.panels] {
                            m.multiply(xb.baseAddress!, rows: rows, ldx: inputs, panelRange: range, into: yb.baseAddress!,
                                       ldy: outputs, bias: useBias ? bb.baseAddress! : nil, accumulate: accumulate)
                        }
                    } } }
                    for r in 0..<rows {
                        for o in 0..<outputs {
                            var s = 0.0
                            for j in 0..<inputs { s += Double(x[r * inputs + j]) * Double(w[o * inputs + j]) }
                            if useBias { s += Double(bias[o]) }
                            if accumulate { s += Double(initial[r * outputs + o]) }
                            XCTAssertEqual(Double(y[r * outputs + o]), s, accuracy: 1e-5, "\(outputs)x\(inputs) rows \(rows) r \(r) o \(o)")
                        }
                    }
                }
            }
        }
    }

    /// Int8 panels: CTranslate2's per-row rule (`q = round(w · 127 / max|row|)`) recomputed here
    /// in Double; the product must equal `Σ x · q · max/127` to float rounding.
    func testInt8PanelProductMatchesPerRowQuantisation() {
        let outputs = 21, inputs = 16, rows = 6
        let w = randoms(outputs * inputs).map { Float16($0) }
        let m = w.withUnsafeBufferPointer { Int8PanelMatrix(rowMajor: $0.baseAddress!, outputs: outputs, inputs: inputs) }
        defer { m.deallocate() }
        var deq = [Double](repeating: 0, count: outputs * inputs)
        for o in 0..<outputs {
            let row = (0..<inputs).map { Double(w[o * inputs + $0]) }
            let peak = row.map(abs).max()!
            for j in 0..<inputs { deq[o * inputs + j] = (row[j] * 127 / peak).rounded() * peak / 127 }
        }
        var looked = [Float](repeating: 0, count: inputs)
        looked.withUnsafeMutableBufferPointer { m.row(outputs - 1, into: $0.baseAddress!) }
        for j in 0..<inputs { XCTAssertEqual(Double(looked[j]), deq[(outputs - 1) * inputs + j], accuracy: 1e-6) }
        let x = randoms(rows * inputs), bias = randoms(outputs)
        var y = [Float](repeating: 0, count: rows * outputs)
        x.withUnsafeBufferPointer { xb in bias.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
            PanelMatrix.int8(m).multiply(xb.baseAddress!, rows: rows, ldx: inputs, panelRange: 0..<m.panels, into: yb.baseAddress!,
                                         ldy: outputs, bias: bb.baseAddress!, accumulate: false)
        } } }
        for r in 0..<rows {
            for o in 0..<outputs {
                var s = Double(bias[o])
                for j in 0..<inputs { s += Double(x[r * inputs + j]) * deq[o * inputs + j] }
                XCTAssertEqual(Double(y[r * outputs + o]), s, accuracy: 1e-5)
            }
        }
    }

    /// Cross-attention scores over key panels `[panel][64][16]`, keys not a multiple of 16;
    /// more than 5 rows (a beam of 6 to 16) go 5 at a time.
    func testPanelScoresMatchReference() {
        let keys = 37, panels = 3, hd = 64, ldq = 100
        let k = randoms(keys * hd)
        var kp = [Float](repeating: 0, count: panels * hd * 16)
        for j in 0..<keys { for c in 0..<hd { kp[(j / 16) * hd * 16 + c * 16 + j % 16] = k[j * hd + c] } }
        for rows in [1, 2, 3, 4, 5, 7, 11, 16] {
            let q = randoms(rows * ldq)
            var s = [Float](repeating: .nan, count: rows * keys)
            q.withUnsafeBufferPointer { qb in kp.withUnsafeBufferPointer { kb in s.withUnsafeMutableBufferPointer { sb in
                WhisperKernels.panelScores(qb.baseAddress!, rows: rows, ldq: ldq, panels: kb.baseAddress!, panelCount: panels,
                                           keys: keys, scale: 0.125, into: sb.baseAddress!)
            } } }
            for r in 0..<rows {
                for j in 0..<keys {
                    var d = 0.0
                    for c in 0..<hd { d += Double(q[r * ldq + c]) * Double(k[j * hd + c]) }
                    XCTAssertEqual(Double(s[r * keys + j]), 0.125 * d, accuracy: 1e-5, "rows \(rows) r \(r) key \(j)")
                }
            }
        }
    }

    /// Layer norm (vectorised two-pass) against the definition, in place and out of place.
    func testLayerNormMatchesDefinition() {
        let rows = 3, width = 40
        let x = randoms(rows * width, scale: 4).enumerated().map { $0.element + Float($0.offset % 7) }
        let gamma = randoms(width), beta = randoms(width)
        var y = [Float](repeating: 0, count: rows * width)
        var inPlace = x
        x.withUnsafeBufferPointer { xb in gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in
            y.withUnsafeMutableBufferPointer {
                WhisperKernels.layerNorm(xb.baseAddress!, $0.baseAddress!, gamma: g.baseAddress!, beta: b.baseAddress!, rows: rows, width: width)
            }
            inPlace.withUnsafeMutableBufferPointer {
                WhisperKernels.layerNorm($0.baseAddress!, $0.baseAddress!, gamma: g.baseAddress!, beta: b.baseAddress!, rows: rows, width: width)
            }
        } } }
        XCTAssertEqual(y, inPlace)
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for j in 0..<width {
                let want = (row[j] - mean) / (variance + 1e-5).squareRoot() * Double(gamma[j]) + Double(beta[j])
                XCTAssertEqual(Double(y[r * width + j]), want, accuracy: 1e-5)
            }
        }
    }

    /// `expShifted` (unnormalised softmax + sum), `softmax` and `logSoftmax` against Double,
    /// with `-inf` entries (masked tokens) and a length that is not a multiple of 8.
    func testSoftmaxFamilyMatchesDouble() {
        let n = 1501
        var x = randoms(n, scale: 20)
        for i in stride(from: 3, to: n, by: 97) { x[i] = -.infinity }
        let m = Double(x.max()!)
        let e = x.map { Foundation.exp(Double($0) - m) }
        let total = e.reduce(0, +)
        var a = x, b = x, c = x
        let sum = a.withUnsafeMutableBufferPointer { WhisperKernels.expShifted($0.baseAddress!, n) }
        b.withUnsafeMutableBufferPointer { WhisperKernels.softmax($0.baseAddress!, n) }
        c.withUnsafeMutableBufferPointer { WhisperGenerator.logSoftmax($0.baseAddress!, n) }
        XCTAssertEqual(Double(sum), total, accuracy: 1e-5 * total)
        for i in 0..<n {
            XCTAssertEqual(Double(a[i]), e[i], accuracy: 1e-6)
            XCTAssertEqual(Double(b[i]), e[i] / total, accuracy: 1e-6)
            if x[i] == -.infinity {
                XCTAssertEqual(b[i], 0)
                XCTAssertEqual(c[i], -.infinity)
            } else {
                XCTAssertEqual(Double(c[i]), Double(x[i]) - m - Foundation.log(total), accuracy: 1e-4)
            }
        }
        XCTAssertEqual(WhisperKernels.maxValue(x, n), x.max()!)
    }
}
