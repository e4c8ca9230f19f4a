import Foundation
@testable import LeptonEngine
import XCTest

/// Few-row panel products (``PanelMatrix``) for each element type against plain double-precision loops.
final class PanelMatrixTests: XCTestCase {
    private var rng = SeededGenerator(seed: 7)

    private func randoms(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
    }

    /// Few-row float16 panel products: odd output counts (partial last panel), 1…7 rows
    /// (groups of 5 and a remainder), bias, accumulation, and split panel ranges.
    func testHalfPanelProductMatchesReference() {
        for (outputs, inputs) in [(37, 24), (16, 8), (51, 40)] {
            let w = randoms(outputs * inputs).map { Float16($0) }
            let m = w.withUnsafeBufferPointer { PanelMatrix<Float16>(rowMajor: $0.baseAddress!, outputs: outputs, inputs: inputs) }
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
        let m = w.withUnsafeBufferPointer { PanelMatrix<Int8>(rowMajor: $0.baseAddress!, outputs: outputs, inputs: inputs) }
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
            m.multiply(xb.baseAddress!, rows: rows, ldx: inputs, panelRange: 0..<m.panels, into: yb.baseAddress!,
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

    /// Float32 panels of rows `rowStride` apart (Whisper's cross-attention keys: one head's columns
    /// of a wider matrix), keys not a multiple of 16, and more than 5 rows (taken 5 at a time).
    func testFloatPanelsOfStridedRowsMatchReference() {
        let keys = 37, hd = 64, ldk = 150, ldq = 100
        let k = randoms(keys * ldk)
        let m = k.withUnsafeBufferPointer { PanelMatrix<Float>(rowMajor: $0.baseAddress! + 20, outputs: keys, inputs: hd, rowStride: ldk) }
        XCTAssertEqual(m.panels, 3)
        for rows in [1, 2, 3, 4, 5, 7, 11, 16] {
            let q = randoms(rows * ldq)
            var s = [Float](repeating: .nan, count: rows * keys)
            q.withUnsafeBufferPointer { qb in s.withUnsafeMutableBufferPointer { sb in
                m.multiply(qb.baseAddress!, rows: rows, ldx: ldq, panelRange: 0..<m.panels, into: sb.baseAddress!, ldy: keys,
                           bias: nil, accumulate: false)
            } }
            for r in 0..<rows {
                for j in 0..<keys {
                    var d = 0.0
                    for c in 0..<hd { d += Double(q[r * ldq + c]) * Double(k[j * ldk + 20 + c]) }
                    XCTAssertEqual(Double(s[r * keys + j]), d, accuracy: 1e-5, "rows \(rows) r \(r) key \(j)")
                }
            }
        }
    }

    /// A copy shares the storage, which lives as long as any copy (class storage, no double free).
    func testCopiesShareStorageThatOutlivesTheOriginal() {
        let w = randoms(20 * 8).map { Float16($0) }
        var copy: PanelMatrix<Float16>?
        do {
            let m = w.withUnsafeBufferPointer { PanelMatrix<Float16>(rowMajor: $0.baseAddress!, outputs: 20, inputs: 8) }
            copy = m
        }
        var row = [Float](repeating: 0, count: 8)
        row.withUnsafeMutableBufferPointer { copy!.row(19, into: $0.baseAddress!) }
        XCTAssertEqual(row, (0..<8).map { Float(w[19 * 8 + $0]) })
    }

    /// `repack` writes new values in place, but never into storage a copy still uses (copy on write).
    func testRepackIsCopyOnWrite() {
        let a = randoms(20 * 8), b = randoms(20 * 8)
        var m = a.withUnsafeBufferPointer { PanelMatrix<Float>(rowMajor: $0.baseAddress!, outputs: 20, inputs: 8) }
        let copy = m
        b.withUnsafeBufferPointer { m.repack(rowMajor: $0.baseAddress!) }
        var row = [Float](repeating: 0, count: 8)
        row.withUnsafeMutableBufferPointer { copy.row(17, into: $0.baseAddress!) }
        XCTAssertEqual(row, Array(a[(17 * 8)..<(18 * 8)]))
        row.withUnsafeMutableBufferPointer { m.row(17, into: $0.baseAddress!) }
        XCTAssertEqual(row, Array(b[(17 * 8)..<(18 * 8)]))
        // Unshared now: repacked in place, same storage.
        let before = ObjectIdentifier(m.storage)
        a.withUnsafeBufferPointer { m.repack(rowMajor: $0.baseAddress!) }
        XCTAssertEqual(ObjectIdentifier(m.storage), before)
        row.withUnsafeMutableBufferPointer { m.row(3, into: $0.baseAddress!) }
        XCTAssertEqual(row, Array(a[(3 * 8)..<(4 * 8)]))
    }
}
