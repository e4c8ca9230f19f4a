import Foundation
import XCTest
@testable import LeptonEngine

/// Reads Tests/EngineTests/Fixtures/kernels.json (written by make_fixtures.py with NumPy, float64 loops).
enum KernelFixtures {
    nonisolated(unsafe) static let root: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kernels.json")
        guard let data = try? Data(contentsOf: url),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return obj
    }()

    static func group(_ name: String) -> [String: Any] { root[name] as? [String: Any] ?? [:] }

    static func tensor(_ obj: Any?) -> Tensor {
        guard let d = obj as? [String: Any], let shape = d["shape"] as? [Int], let data = d["data"] as? [Double] else {
            XCTFail("fixture entry missing"); return Tensor(shape: [0])
        }
        return Tensor(shape: shape, scalars: data.map(Float.init))
    }

    static func tensor(_ group: String, _ key: String) -> Tensor { tensor(Self.group(group)[key]) }
}

func assertClose(_ a: Tensor, _ b: Tensor, tol: Float = 1e-4, _ what: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "shape \(what)", file: file, line: line)
    guard a.shape == b.shape else { return }
    var worst: Float = 0
    for i in 0..<a.count {
        let d = abs(a[flat: i] - b[flat: i]) / max(1, abs(b[flat: i]))
        if !(d <= worst) { worst = d.isNaN ? .infinity : d }
    }
    XCTAssertLessThanOrEqual(worst, tol, "max relative error \(worst) \(what)", file: file, line: line)
}

final class KernelForwardTests: XCTestCase {
    func t(_ g: String, _ k: String) -> Tensor { KernelFixtures.tensor(g, k) }

    func testBroadcastingBinaryOps() {
        let a = t("broadcast", "a"), b = t("broadcast", "b"), c = t("broadcast", "c")
        assertClose(a + b, t("broadcast", "add_ab"))
        assertClose(a - b, t("broadcast", "sub_ab"))
        assertClose(a * c, t("broadcast", "mul_ac"))
        assertClose(a / t("broadcast", "b_shifted"), t("broadcast", "div_ab"))
        assertClose(t("broadcast", "x3") + t("broadcast", "y3"), t("broadcast", "add_x3y3"))
        // Scalars, hand-computed.
        XCTAssertEqual((Tensor(shape: [2], scalars: [1, 2]) * 3 + 1).scalars, [4, 7])
        XCTAssertEqual((10 - Tensor(shape: [2], scalars: [1, 2])).scalars, [9, 8])
        XCTAssertEqual(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]).sumToShape([2]).scalars, [4, 6])
        XCTAssertEqual(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]).sumToShape([2, 1]).scalars, [3, 7])
        XCTAssertNil(broadcastShape([3, 4], [3]))
    }

    func testUnaryOps() {
        let x = t("unary", "x"), ax = t("unary", "absx")
        assertClose(x.relu(), t("unary", "relu"))
        assertClose(x.gelu(), t("unary", "gelu"), tol: 1e-5)
        assertClose(x.sigmoid(), t("unary", "sigmoid"), tol: 1e-5)
        assertClose(x.tanh(), t("unary", "tanh"), tol: 1e-5)
        assertClose(x.exp(), t("unary", "exp"), tol: 1e-5)
        assertClose(ax.log(), t("unary", "log"), tol: 1e-5)
        assertClose(ax.sqrt(), t("unary", "sqrt"), tol: 1e-5)
    }

    func testSoftmaxAndLogSoftmaxAreStable() {
        let x = t("softmax", "x")
        assertClose(x.softmax(), t("softmax", "softmax"), tol: 1e-5)
        assertClose(x.logSoftmax(), t("softmax", "log_softmax"), tol: 1e-5)
        XCTAssertFalse(x.softmax().scalars.contains { $0.isNaN })
        // The engine's exp (VectorMath.exp8, which softmax uses) against libm over a wide range.
        var worst: Float = 0
        for i in -870...880 { let v = Float(i) / 10; worst = max(worst, abs(VectorMath.exp8(SIMD8(repeating: v))[5] - expf(v)) / expf(v)) }
        XCTAssertLessThan(worst, 1e-6)
        // Long rows take the vector path; a fully masked row gives zeros.
        let long = Tensor(shape: [2, 37], scalars: (0..<74).map { Float(($0 * 13) % 17) - 8 })
        for r in 0..<2 {
            let row = (0..<37).map { Double(long[r, $0]) }, m = row.max()!
            let z = row.map { Foundation.exp($0 - m) }.reduce(0, +)
            for j in 0..<37 { XCTAssertEqual(Double(long.softmax()[r, j]), Foundation.exp(row[j] - m) / z, accuracy: 1e-6) }
        }
        XCTAssertEqual(Tensor(shape: [1, 20], repeating: -.infinity).softmax().scalars, [Float](repeating: 0, count: 20))
    }

    func testReductions() {
        let x = t("reduce", "x")
        assertClose(x.sum(axis: 0), t("reduce", "sum0"))
        assertClose(x.sum(axis: 1), t("reduce", "sum1"))
        assertClose(x.sum(axis: -1), t("reduce", "sum2"))
        assertClose(x.mean(axis: 1), t("reduce", "mean1"))
        assertClose(x.max(axis: 2), t("reduce", "max2"))
        XCTAssertEqual(x.argmax(axis: 1), KernelFixtures.group("reduce")["argmax1"] as? [Int])
        XCTAssertEqual(x.sum(axis: 1, keepingAxis: true).shape, [2, 1, 4])
    }

    func testNormalisation() {
        assertClose(t("layer_norm", "x").layerNorm(weight: t("layer_norm", "w"), bias: t("layer_norm", "b")), t("layer_norm", "y"))
        assertClose(t("batch_norm", "x").batchNorm(mean: t("batch_norm", "mean"), variance: t("batch_norm", "var"),
                                                   weight: t("batch_norm", "w"), bias: t("batch_norm", "b")), t("batch_norm", "y"))
    }

    func testShapeOps() {
        let x = t("permute", "x")
        assertClose(x.permuted([1, 2, 0]), t("permute", "p120"))
        assertClose(x.transposed(), t("permute", "p021"))
        // Hand-computed slice/concat/gather.
        let m = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(m.slice(axis: 1, start: 1, end: 3).scalars, [2, 3, 5, 6])
        XCTAssertEqual(m.slice(axis: 0, start: 1, end: 2).scalars, [4, 5, 6])
        XCTAssertEqual(Tensor.concat([m, m.slice(axis: 1, start: 0, end: 1)], axis: 1).scalars, [1, 2, 3, 1, 4, 5, 6, 4])
        XCTAssertEqual(Tensor.concat([m, m], axis: 0).shape, [4, 3])
        XCTAssertEqual(m.gatherRows([1, 0, 1]).scalars, [4, 5, 6, 1, 2, 3, 4, 5, 6])
        XCTAssertEqual(m.embedding([1, 1], idsShape: [1, 2]).shape, [1, 2, 3])
        XCTAssertEqual(Tensor(shape: [1, 2], scalars: [1, 2]).padded([(0, 0), (1, 1)]).scalars, [0, 1, 2, 0])
    }

    func testConv2dAgainstDirectLoops() {
        guard let convs = KernelFixtures.root["conv2d"] as? [[String: Any]] else { return XCTFail("no conv fixtures") }
        // Default budget (batch-chunked), a budget that tiles mid-row, and one that forces one row per tile.
        for budget in [convColumnBudget, 270, 1] {
            for (i, c) in convs.enumerated() {
                let s = c["stride"] as! [Int], p = c["padding"] as! [Int], d = c["dilation"] as! [Int]
                let y = KernelFixtures.tensor(c["x"]).conv2d(weight: KernelFixtures.tensor(c["w"]), bias: KernelFixtures.tensor(c["b"]),
                                                             stride: (s[0], s[1]), padding: (p[0], p[1]), dilation: (d[0], d[1]),
                                                             groups: c["groups"] as! Int, columnBudget: budget)
                assertClose(y, KernelFixtures.tensor(c["y"]), "conv case \(i), budget \(budget)")
            }
        }
        let g = KernelFixtures.group("conv1d")
        let y = t("conv1d", "x").conv1d(weight: t("conv1d", "w"), bias: t("conv1d", "b"), stride: g["stride"] as! Int,
                                        padding: g["padding"] as! Int, groups: g["groups"] as! Int)
        assertClose(y, t("conv1d", "y"))
    }

    func testPooling() {
        let x = t("pool", "x")
        assertClose(x.maxPool2d(kernel: (2, 2)), t("pool", "max22"))
        assertClose(x.maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)), t("pool", "max33s2p1"))
        assertClose(x.avgPool2d(kernel: (2, 2)), t("pool", "avg22"))
        assertClose(x.avgPool2d(kernel: (3, 3), stride: (1, 1), padding: (1, 1)), t("pool", "avg33s1p1"))
        assertClose(x.globalAvgPool2d(), t("pool", "gap"))
    }

    func testAttentionMasks() {
        let q = t("attention", "q"), k = t("attention", "k"), v = t("attention", "v")
        let mask = KernelFixtures.group("attention")["keymask"] as? [Bool]
        assertClose(Tensor.attention(query: q, key: k, value: v, heads: 2), t("attention", "plain"))
        assertClose(Tensor.attention(query: q, key: k, value: v, heads: 2, causal: true, queryOffset: 2), t("attention", "causal_offset2"))
        assertClose(Tensor.attention(query: q, key: k, value: v, heads: 2, keyMask: mask), t("attention", "masked"))
        // Query blocks (forced to 2 rows) give the same result as one block.
        func blocked(causal: Bool, queryOffset: Int, keyMask: [Bool]?) -> Tensor {
            Tensor.batchedAttention(query: q.reshaped([1] + q.shape), key: k.reshaped([1] + k.shape), value: v.reshaped([1] + v.shape),
                                    heads: 2, causal: causal, queryOffset: queryOffset, keyMask: keyMask.map { [$0] },
                                    additiveMask: nil, scale: nil, scoreBudget: 2 * 5).reshaped([q.shape[0], v.shape[1]])
        }
        assertClose(blocked(causal: true, queryOffset: 2, keyMask: nil), t("attention", "causal_offset2"))
        assertClose(blocked(causal: false, queryOffset: 0, keyMask: mask), t("attention", "masked"))
        // Batched form = per-item single form.
        let qb = Tensor.stack([q, q * 0.5]), kb = Tensor.stack([k, k]), vb = Tensor.stack([v, v * 2])
        let yb = Tensor.batchedAttention(query: qb, key: kb, value: vb, heads: 2, keyMask: [mask!, mask!])
        assertClose(yb.slice(axis: 0, start: 0, end: 1).reshaped([3, 8]), t("attention", "masked"))
        assertClose(yb.slice(axis: 0, start: 1, end: 2).reshaped([3, 8]),
                    Tensor.attention(query: q * 0.5, key: k, value: v * 2, heads: 2, keyMask: mask))
    }
}

final class BLASSetupTests: XCTestCase {
    func testOpenBLASUsesVectorKernelsWhenTheCPUHasThem() {
        let core = BLAS.kernelSetup
        if let flags = BLAS.cpuFlags(), flags.contains("avx2"), ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil {
            XCTAssertNotEqual(core.lowercased(), "prescott", "OpenBLAS fell back to SSE3 kernels on an AVX2 CPU")
        }
        // A product large enough to take OpenBLAS's blocked path, against a Double reference.
        var rng = SeededGenerator(seed: 3)
        let a = Tensor.randomNormal([67, 300], using: &rng), b = Tensor.randomNormal([300, 45], using: &rng)
        let c = a.matmul(b)
        for (i, j) in [(0, 0), (66, 44), (31, 7)] {
            var s = 0.0
            for k in 0..<300 { s += Double(a[i, k]) * Double(b[k, j]) }
            XCTAssertEqual(Double(c[i, j]), s, accuracy: 1e-3)
        }
    }
}
