import Foundation
import XCTest
@testable import LeptonEngine

/// LSTM and GRU against an independent NumPy implementation (Fixtures/make_recurrent_fixture.py,
/// itself checked against torch.nn.LSTM/GRU), and the fused backward against finite differences.
final class RecurrentTests: XCTestCase {
    private func assertClose(_ a: Tensor, _ b: [Double], tol: Double = 2e-5, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(what): count", file: file, line: line)
        for (i, (x, y)) in zip(a.scalars, b).enumerated() where !(abs(Double(x) - y) <= tol) {
            XCTFail("\(what)[\(i)]: \(x) vs NumPy \(y)", file: file, line: line); return
        }
    }

    func testForwardMatchesNumPyReference() throws {
        let cases = try XCTUnwrap(EngineFixtures.fixtureJSON("recurrent_numpy.json") as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let kind = c["kind"] as! String
            let config = RecurrentConfiguration(inputSize: c["input_size"] as! Int, hiddenSize: c["hidden_size"] as! Int,
                                                layers: c["layers"] as! Int, bidirectional: c["bidirectional"] as! Bool)
            let (T, B, H) = (c["time"] as! Int, c["batch"] as! Int, config.hiddenSize)
            let states = config.layers * config.directions
            var state: [String: Tensor] = [:]
            for (name, w) in c["weights"] as! [String: [String: Any]] {
                state[name] = Tensor(shape: w["shape"] as! [Int], scalars: (w["data"] as! [Double]).map(Float.init))
            }
            let x = Tensor(shape: [T, B, config.inputSize], scalars: (c["x"] as! [Double]).map(Float.init))
            let h0 = Tensor(shape: [states, B, H], scalars: (c["h0"] as! [Double]).map(Float.init))
            let what = "\(kind) layers=\(config.layers) bidirectional=\(config.bidirectional)"
            var rng = SeededGenerator(seed: 1)
            if kind == "lstm" {
                let lstm = LSTM(config, rng: &rng)
                try lstm.loadStateDict(state)
                let c0 = Tensor(shape: [states, B, H], scalars: (c["c0"] as! [Double]).map(Float.init))
                let (out, h, cn) = lstm(Variable(x), state: (Variable(h0), Variable(c0)))
                XCTAssertEqual(out.shape, [T, B, config.directions * H])
                assertClose(out.value, c["output"] as! [Double], "\(what) output")
                assertClose(h.value, c["h_n"] as! [Double], "\(what) h_n")
                assertClose(cn.value, c["c_n"] as! [Double], "\(what) c_n")
                // Batch-first layout gives the same numbers transposed.
                let bf = LSTM(RecurrentConfiguration(inputSize: config.inputSize, hiddenSize: H, layers: config.layers,
                                                     bidirectional: config.bidirectional, batchFirst: true), rng: &rng)
                try bf.loadStateDict(state)
                let (outBF, _, _) = bf(Variable(x.permuted([1, 0, 2])), state: (Variable(h0), Variable(c0)))
                XCTAssertEqual(outBF.value.permuted([1, 0, 2]).scalars, out.value.scalars)
            } else {
                let gru = GRU(config, rng: &rng)
                try gru.loadStateDict(state)
                let (out, h) = gru(Variable(x), h0: Variable(h0))
                assertClose(out.value, c["output"] as! [Double], "\(what) output")
                assertClose(h.value, c["h_n"] as! [Double], "\(what) h_n")
            }
        }
    }

    func testParameterNamesAndShapesFollowPyTorch() {
        var rng = SeededGenerator(seed: 2)
        let lstm = LSTM(inputSize: 10, hiddenSize: 8, layers: 2, bidirectional: true, rng: &rng)
        let shapes = Dictionary(uniqueKeysWithValues: lstm.namedParameters().map { ($0.0, $0.1.shape) })
        XCTAssertEqual(shapes["weight_ih_l0"], [32, 10])
        XCTAssertEqual(shapes["weight_hh_l0_reverse"], [32, 8])
        XCTAssertEqual(shapes["weight_ih_l1"], [32, 16])
        XCTAssertEqual(shapes["bias_hh_l1_reverse"], [32])
        XCTAssertEqual(shapes.count, 16)
        let gru = GRU(inputSize: 10, hiddenSize: 8, rng: &rng)
        XCTAssertEqual(Set(gru.namedParameters().map(\.0)), ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
        XCTAssertEqual(gru.namedParameters().first { $0.0 == "weight_ih_l0" }?.1.shape, [24, 10])
        // Strict loading names the offending weight.
        var state = lstm.stateDict()
        state["weight_hh_l1"] = Tensor.zeros([32, 9])
        XCTAssertThrowsError(try lstm.loadStateDict(state)) { e in
            XCTAssertEqual(e as? ModuleError, .shapeMismatch(name: "weight_hh_l1", expected: [32, 8], found: [32, 9]))
        }
    }

    // MARK: Gradients

    /// The shared checker (GradCheck), with the relative tolerance these smooth gates meet: 2e-3.
    private func gradientCheck(_ inputs: [Tensor], _ what: String, _ f: ([Variable]) -> Variable,
                               file: StaticString = #filePath, line: UInt = #line) {
        GradCheck.check(inputs, atol: 2e-3, rtol: 2e-3, seed: 99, label: what, file: file, line: line, f)
    }

    func testFusedSequenceGradientsMatchFiniteDifferences() {
        var rng = SeededGenerator(seed: 3)
        let (T, B, I, H) = (4, 2, 3, 3)
        let x = Tensor.randomNormal([T, B, I], using: &rng)
        let h0 = Tensor.randomNormal([B, H], std: 0.5, using: &rng), c0 = Tensor.randomNormal([B, H], std: 0.5, using: &rng)
        for reverse in [false, true] {
            let w4 = [Tensor.randomNormal([4 * H, I], std: 0.5, using: &rng), Tensor.randomNormal([4 * H, H], std: 0.5, using: &rng),
                      Tensor.randomNormal([4 * H], std: 0.5, using: &rng), Tensor.randomNormal([4 * H], std: 0.5, using: &rng)]
            gradientCheck([x, h0, c0] + w4, "lstm reverse=\(reverse)") { v in
                Variable.lstmSequence(v[0], h0: v[1], c0: v[2], weightIH: v[3], weightHH: v[4], biasIH: v[5], biasHH: v[6], reverse: reverse)
            }
            let w3 = [Tensor.randomNormal([3 * H, I], std: 0.5, using: &rng), Tensor.randomNormal([3 * H, H], std: 0.5, using: &rng),
                      Tensor.randomNormal([3 * H], std: 0.5, using: &rng), Tensor.randomNormal([3 * H], std: 0.5, using: &rng)]
            gradientCheck([x, h0] + w3, "gru reverse=\(reverse)") { v in
                Variable.gruSequence(v[0], h0: v[1], weightIH: v[2], weightHH: v[3], biasIH: v[4], biasHH: v[5], reverse: reverse)
            }
        }
        // Without biases.
        let wi = Tensor.randomNormal([3 * H, I], std: 0.5, using: &rng), wh = Tensor.randomNormal([3 * H, H], std: 0.5, using: &rng)
        gradientCheck([x, h0, wi, wh], "gru no bias") { v in
            Variable.gruSequence(v[0], h0: v[1], weightIH: v[2], weightHH: v[3], biasIH: nil, biasHH: nil)
        }
    }

    func testStackedBidirectionalLayerGradientsFlowToEveryParameter() {
        var rng = SeededGenerator(seed: 4)
        let lstm = LSTM(inputSize: 3, hiddenSize: 2, layers: 2, bidirectional: true, rng: &rng)
        let x = Variable(Tensor.randomNormal([3, 2, 3], using: &rng), requiresGrad: true)
        let (out, h, c) = lstm(x)
        (out.sum() + h.sum() + c.sum()).backward()
        for (name, p) in lstm.namedParameters() {
            XCTAssertNotNil(p.grad, name)
            XCTAssertTrue(p.grad!.scalars.contains { $0 != 0 }, name)
        }
        XCTAssertEqual(x.grad?.shape, [3, 2, 3])
    }
}
