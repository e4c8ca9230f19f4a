import Foundation
@testable import LeptonEngine
import XCTest

/// The engine's one op set (``VectorMath``, ``parallelChunks``) against independent references:
/// Foundation's Double `exp`/`erf`, Double implementations of softmax and layer norm, and an
/// index count for the parallel-for. The bounds asserted are the ones stated in the DocC comments.
final class VectorMathTests: XCTestCase {
    private var rng = SeededGenerator(seed: 29)

    private func randoms(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
    }

    /// Applies an 8-lane function to every value (8 different values per call, so lanes are exercised).
    private func map8(_ xs: [Float], _ f: (SIMD8<Float>) -> SIMD8<Float>) -> [Float] {
        var out = [Float](repeating: 0, count: xs.count)
        var i = 0
        while i < xs.count {
            var v = SIMD8<Float>(repeating: 0)
            for k in 0..<8 where i + k < xs.count { v[k] = xs[i + k] }
            let r = f(v)
            for k in 0..<8 where i + k < xs.count { out[i + k] = r[k] }
            i += 8
        }
        return out
    }

    /// A dense sweep of `lo...hi` (about `count` points) plus the given values.
    private func sweep(_ lo: Float, _ hi: Float, count: Int, plus extra: [Float] = []) -> [Float] {
        (0...count).map { lo + (hi - lo) * Float($0) / Float(count) } + extra
    }

    func testExp8IsWithinItsBoundOfDoubleExp() {
        let xs = sweep(-87.3, 88.72, count: 200_000, plus: [0, -0, 1e-30, -1e-30, 88.3762626647949, 88.38, 88.5, 88.7, 88.72])
        let got = map8(xs) { VectorMath.exp8($0) }
        var worst = 0.0
        for (x, y) in zip(xs, got) {
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(y) - want) / want)
        }
        XCTAssertLessThanOrEqual(worst, 2.5e-7, "worst relative error \(worst)")
        // Edges: below -87.3 (and -inf) flush to 0, above 88.72 (and +inf) overflow, NaN propagates, e^±0 = 1.
        let edges: [Float] = [-87.31, -88, -100, -1e30, -.infinity, 88.73, 89, 1e30, .infinity, .nan, 0, -0]
        let e = map8(edges) { VectorMath.exp8($0) }
        XCTAssertEqual(Array(e[0..<5]), [0, 0, 0, 0, 0])
        XCTAssertEqual(Array(e[5..<9]), [.infinity, .infinity, .infinity, .infinity])
        XCTAssertTrue(e[9].isNaN)
        XCTAssertEqual(e[10], 1)
        XCTAssertEqual(e[11], 1)
    }

    func testErf8AndGelu8AreWithinTheirBoundsOfDoubleErf() {
        let xs = sweep(-12, 12, count: 100_000, plus: [0, -0, 1e-20, -1e-20, 30, -30, 1e4, -1e4, 1e30, -1e30, .greatestFiniteMagnitude])
        let erfs = map8(xs) { VectorMath.erf8($0) }
        let gelus = map8(xs) { VectorMath.gelu8($0) }
        var worstErf = 0.0, worstGelu = 0.0
        for (i, x) in xs.enumerated() {
            let v = Double(x)
            worstErf = max(worstErf, abs(Double(erfs[i]) - Foundation.erf(v)))
            let want = v.magnitude > 1e300 ? (v > 0 ? v : 0) : 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
            worstGelu = max(worstGelu, abs(Double(gelus[i]) - want) / max(1, abs(v)))
        }
        XCTAssertLessThanOrEqual(worstErf, 2e-6, "worst absolute erf error \(worstErf)")
        XCTAssertLessThanOrEqual(worstGelu, 4e-7, "worst gelu error / max(1, |x|): \(worstGelu)")
        let edges = map8([.infinity, -.infinity, .nan]) { VectorMath.erf8($0) }
        XCTAssertEqual(edges[0], 1)
        XCTAssertEqual(edges[1], -1)
        XCTAssertTrue(edges[2].isNaN)
        // The array form (any count, tail through a padded vector) equals the 8-lane form.
        let row = Array(xs[0..<1003])
        var out = [Float](repeating: .nan, count: row.count)
        out.withUnsafeMutableBufferPointer { VectorMath.gelu(row, into: $0.baseAddress!, count: row.count) }
        XCTAssertEqual(out, Array(gelus[0..<1003]))
    }

    /// Softmax (and its unnormalised form) against Double, with -inf entries (masked), a length
    /// that is not a multiple of 8, short rows, and a fully masked row.
    func testSoftmaxMatchesDouble() {
        for n in [1, 5, 8, 13, 1501] {
            var x = randoms(n, scale: 20)
            if n > 3 { for i in stride(from: 3, to: n, by: 97) { x[i] = -.infinity } }
            let m = Double(x.max()!)
            let e = x.map { Foundation.exp(Double($0) - m) }
            let total = e.reduce(0, +)
            var shifted = [Float](repeating: .nan, count: n), p = x
            let sum = shifted.withUnsafeMutableBufferPointer { VectorMath.expShifted(x, into: $0.baseAddress!, n) }
            p.withUnsafeMutableBufferPointer { VectorMath.softmax($0.baseAddress!, into: $0.baseAddress!, n) }
            XCTAssertEqual(Double(sum), total, accuracy: (2.5e-7 + Double(n) * 6e-8) * total)
            XCTAssertEqual(VectorMath.maxValue(x, n), x.max()!)
            for i in 0..<n {
                // The argument x − max is rounded to float: 6e-8·|x − max| relative, as the bound states.
                let argument = 6e-8 * abs(Double(x[i]) - m)
                XCTAssertEqual(Double(shifted[i]), e[i], accuracy: (2.5e-7 + argument) * e[i] + 1e-45)
                XCTAssertEqual(Double(p[i]), e[i] / total, accuracy: (4e-7 + argument + Double(n) * 6e-8) * e[i] / total + 1e-45,
                               "n \(n) i \(i)")
                if x[i] == -.infinity { XCTAssertEqual(p[i], 0) }
            }
        }
        var masked = [Float](repeating: -.infinity, count: 11)
        masked.withUnsafeMutableBufferPointer { VectorMath.softmax($0.baseAddress!, into: $0.baseAddress!, 11) }
        XCTAssertEqual(masked, [Float](repeating: 0, count: 11))
    }

    /// Layer norm (with and without residual and bias, in and out of place, widths with and
    /// without a tail) against the formula in Double.
    func testLayerNormMatchesDoubleFormula() {
        for width in [40, 13, 384] {
            let rows = 3, eps: Float = 1e-5
            // An offset of 30 checks the two-pass variance (one pass would lose digits to cancellation).
            let x0 = randoms(rows * width, scale: 2).map { $0 + 30 }, res = randoms(rows * width), bias = randoms(width)
            let gamma = randoms(width), beta = randoms(width)
            for (useResidual, useBias, inPlace) in [(false, false, false), (false, false, true), (true, true, true), (false, true, false)] {
                var x = x0, y = [Float](repeating: .nan, count: rows * width)
                x.withUnsafeMutableBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
                    VectorMath.layerNorm(xb.baseAddress!, adding: useResidual ? res : nil, bias: useBias ? bias : nil, rows: rows,
                                         width: width, gamma: gamma, beta: beta, eps: eps,
                                         into: inPlace ? xb.baseAddress! : yb.baseAddress!)
                } }
                let out = inPlace ? x : y
                for r in 0..<rows {
                    let v = (0..<width).map { i -> Double in
                        Double(x0[r * width + i]) + (useResidual ? Double(res[r * width + i]) : 0) + (useBias ? Double(bias[i]) : 0)
                    }
                    let mean = v.reduce(0, +) / Double(width)
                    let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
                    for i in 0..<width {
                        let want = (v[i] - mean) / (variance + Double(eps)).squareRoot() * Double(gamma[i]) + Double(beta[i])
                        XCTAssertEqual(Double(out[r * width + i]), want, accuracy: 2e-5, "width \(width) row \(r) i \(i)")
                    }
                }
            }
        }
    }

    /// The parallel-for covers every index exactly once, for odd sizes and 1, 2 and 8 threads, in
    /// both its even-split and its dynamic-chunk form.
    func testParallelChunksCoverEveryIndexOnce() {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        for threads in [1, 2, 8] {
            EngineThreads.set(threads)
            for n in [0, 1, 7, 101, 1001] {
                for (grain, chunk) in [(1, nil), (10, nil), (1000, nil), (1, 1), (1, 3), (1, 64)] as [(Int, Int?)] {
                    let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(n, 1))
                    counts.initialize(repeating: 0, count: max(n, 1))
                    defer { counts.deallocate() }
                    let lock = NSLock()
                    nonisolated(unsafe) let c = counts
                    parallelChunks(n, grain: grain, chunk: chunk) { lo, hi in
                        lock.lock(); defer { lock.unlock() }
                        for i in lo..<hi { c[i] += 1 }
                    }
                    for i in 0..<n where counts[i] != 1 {
                        XCTFail("threads \(threads) n \(n) grain \(grain) chunk \(String(describing: chunk)): index \(i) ran \(counts[i]) times")
                        break
                    }
                }
            }
        }
    }
}
