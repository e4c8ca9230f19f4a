import Foundation
import LeptonEngine
@testable import LeptonText
import XCTest

/// The hand-written MiniLM kernels against plain double-precision loops on small random inputs,
/// and the batch-per-thread path of ``SentenceEncoder`` against the serial one.
final class EncoderKernelTests: XCTestCase {
    private var rng = SeededGenerator(seed: 11)

    private func randoms(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
    }

    /// `GELU(x + b)` against the exact erf form, error ≤ 1e-6·max(1, |x|) (the engine's erf is good to
    /// 1.5e-7), over |x| ≤ 7 plus large values where erf saturates.
    func testBiasGELUMatchesErfReference() {
        let rows = 5, width = 48
        var x0 = randoms(rows * width, scale: 6)
        let b = randoms(width, scale: 1)
        // Large inputs: erf is ±1 exactly; GELU must give x and -0.
        for (i, v) in [-1000, -60, -40, -12, 12, 40, 60, 1000].enumerated() { x0[i] = Float(v) }
        for parallel in [false, true] {
            var x = x0
            x.withUnsafeMutableBufferPointer { xb in b.withUnsafeBufferPointer { bb in
                EncoderKernels.biasGELURows(xb.baseAddress!, bias: bb.baseAddress!, rows: rows, width: width, parallel: parallel)
            } }
            for r in 0..<rows {
                for i in 0..<width {
                    let v = Double(x0[r * width + i]) + Double(b[i])
                    let want = 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
                    XCTAssertEqual(Double(x[r * width + i]), want, accuracy: 1e-6 * max(1, abs(v)), "r \(r) i \(i) x \(v)")
                }
            }
        }
    }

    /// `LayerNorm(x + residual + bias)` (biased variance), with and without the residual and bias.
    func testLayerNormWithResidualAndBiasMatchesReference() {
        let rows = 7, width = 40, eps: Float = 1e-12
        // An offset of 30 checks the two-pass variance (one pass would lose digits to cancellation).
        let x0 = randoms(rows * width, scale: 2).map { $0 + 30 }, res = randoms(rows * width), bias = randoms(width)
        let gamma = randoms(width), beta = randoms(width)
        for (useResidual, useBias) in [(false, false), (false, true), (true, false), (true, true)] {
            var x = x0, r = res
            x.withUnsafeMutableBufferPointer { xb in r.withUnsafeMutableBufferPointer { rb in
            bias.withUnsafeBufferPointer { bb in gamma.withUnsafeBufferPointer { gb in beta.withUnsafeBufferPointer { eb in
                EncoderKernels.layerNormRows(xb.baseAddress!, residual: useResidual ? rb.baseAddress! : nil,
                                             bias: useBias ? bb.baseAddress! : nil, rows: rows, width: width,
                                             gamma: gb.baseAddress!, beta: eb.baseAddress!, eps: eps, parallel: true)
            } } } } }
            for row in 0..<rows {
                let v = (0..<width).map { i -> Double in
                    var s = Double(x0[row * width + i])
                    if useResidual { s += Double(res[row * width + i]) }
                    if useBias { s += Double(bias[i]) }
                    return s
                }
                let mean = v.reduce(0, +) / Double(width)
                let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
                for i in 0..<width {
                    let want = (v[i] - mean) / (variance + Double(eps)).squareRoot() * Double(gamma[i]) + Double(beta[i])
                    XCTAssertEqual(Double(x[row * width + i]), want, accuracy: 5e-5, "residual \(useResidual) bias \(useBias) row \(row) i \(i)")
                }
            }
        }
    }

    /// Packed multi-sentence attention with Q/K/V biases: lengths 1, 3, 8, 9, 17 (single key, partial and
    /// full key blocks, query groups of 8 with a remainder), head sizes 32 (the register path) and 16.
    func testAttentionMatchesMaskedSoftmaxReference() {
        let lengths = [1, 3, 8, 9, 17]
        var offsets = [0]
        for l in lengths { offsets.append(offsets.last! + l) }
        let tokens = offsets.last!
        for (heads, d) in [(3, 32), (2, 16)] {
            let hidden = heads * d
            let qkv = randoms(tokens * 3 * hidden, scale: 2), bias = randoms(3 * hidden)
            for parallel in [false, true] {
                var ctx = [Float](repeating: .nan, count: tokens * hidden)
                qkv.withUnsafeBufferPointer { qb in bias.withUnsafeBufferPointer { bb in ctx.withUnsafeMutableBufferPointer { cb in
                    EncoderKernels.attention(qkv: qb.baseAddress!, bias: bb.baseAddress!, offsets: offsets, heads: heads, headDim: d,
                                             longest: lengths.max()!, into: cb.baseAddress!, parallel: parallel)
                } } }
                func at(_ row: Int, _ part: Int, _ h: Int, _ c: Int) -> Double {
                    Double(qkv[row * 3 * hidden + part * hidden + h * d + c]) + Double(bias[part * hidden + h * d + c])
                }
                for (s, t) in lengths.enumerated() {
                    let base = offsets[s]
                    for h in 0..<heads {
                        for i in 0..<t {
                            // softmax over this sentence's keys only, K bias included (it must cancel).
                            let scores = (0..<t).map { j in (0..<d).reduce(0.0) { $0 + at(base + i, 0, h, $1) * at(base + j, 1, h, $1) } / Double(d).squareRoot() }
                            let m = scores.max()!
                            let e = scores.map { Foundation.exp($0 - m) }
                            let sum = e.reduce(0, +)
                            for c in 0..<d {
                                let want = (0..<t).reduce(0.0) { $0 + e[$1] / sum * at(base + $1, 2, h, c) }
                                XCTAssertEqual(Double(ctx[(base + i) * hidden + h * d + c]), want, accuracy: 2e-5,
                                               "d \(d) sentence \(s) head \(h) query \(i) c \(c)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Mean pooling then L2 normalisation.
    func testMeanPoolNormalizeMatchesReference() {
        let rows = 5, width = 24
        let x = randoms(rows * width)
        var out = [Float](repeating: 0, count: width)
        x.withUnsafeBufferPointer { xb in out.withUnsafeMutableBufferPointer { ob in
            EncoderKernels.meanPoolNormalize(xb.baseAddress!, rows: rows, width: width, into: ob.baseAddress!)
        } }
        let mean = (0..<width).map { i in (0..<rows).reduce(0.0) { $0 + Double(x[$1 * width + i]) } / Double(rows) }
        let norm = mean.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        for i in 0..<width { XCTAssertEqual(Double(out[i]), mean[i] / norm, accuracy: 1e-6) }
    }

    /// With 2 engine threads and several batches, each thread runs whole batches with single-threaded
    /// OpenBLAS; the result must equal the 1-thread run (same kernels, same order of operations per
    /// batch), and sentence-transformers' reference embeddings.
    func testBatchPerThreadEqualsSerialAndReference() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: ModelCache.miniLM.appendingPathComponent("model.safetensors").path),
                          "run scripts/bootstrap.sh first")
        let enc = try SentenceEncoder()
        let refs = try MiniLMReference.load()
        let before = EngineThreads.count
        defer { EngineThreads.set(before) }
        EngineThreads.set(1)
        let serial = enc.embed(refs.map(\.text), batchSize: 3)
        EngineThreads.set(2)
        let threaded = enc.embed(refs.map(\.text), batchSize: 3)
        let single = enc.embed([refs[0].text], batchSize: 3)          // one batch: steps split over threads
        XCTAssertEqual(threaded.shape, serial.shape)
        let a = threaded.scalars, b = serial.scalars
        var worst: Float = 0
        for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-6, "threaded vs serial")
        for (i, r) in refs.enumerated() {
            MiniLMTests.check(Array(a[(i * 384)..<((i + 1) * 384)]), r.embedding, "threaded \(r.id)")
        }
        MiniLMTests.check(single.scalars, refs[0].embedding, "single batch, 2 threads")
    }
}
