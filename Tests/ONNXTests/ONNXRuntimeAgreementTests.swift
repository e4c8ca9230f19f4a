import Foundation
import XCTest
import LeptonEngine
@testable import LeptonONNX

/// Models exported from PyTorch (scripts/make-onnx-fixtures.py) give ONNX Runtime's outputs.
///
/// Tolerance: max |ours − ORT| ≤ 1e-4 · max(1, max |ORT|): absolute 1e-4 for outputs of order one
/// (the scan CNN's logits, MiniLM's hidden states), relative 1e-4 to the largest output beyond.
final class ONNXRuntimeAgreementTests: XCTestCase {
    override func setUp() { EngineThreads.set(2) }

    func testScanCNNMatchesONNXRuntime() throws {
        let model = try ONNXFixtures.model("scan_cnn.onnx")
        XCTAssertEqual(model.inputs.map(\.name), ["image"])
        let out = try model.run(["image": .float(try ONNXFixtures.tensor("scan_cnn_input.npy"))])
        assertClose(try XCTUnwrap(out["logits"]?.floatTensor), try ONNXFixtures.tensor("scan_cnn_logits.npy"), "scan CNN logits")
    }

    func testResNet18MatchesONNXRuntime() throws {
        let model = try ONNXFixtures.model("resnet18.onnx")
        let plan = try model.plan(inputShapes: ["input": [1, 3, 224, 224]])
        // The 16 Identity nodes the exporter leaves (on initializers) are folded at load.
        XCTAssertFalse(plan.steps.contains { $0.op == "Identity" }, "Identity folded away")
        let out = try plan.run(["input": .float(try ONNXFixtures.tensor("resnet18_input.npy"))])
        assertClose(try XCTUnwrap(out["logits"]?.floatTensor), try ONNXFixtures.tensor("resnet18_logits.npy"), "ResNet-18 logits")
    }

    func testMiniLMEncoderMatchesONNXRuntime() throws {
        let model = try ONNXFixtures.model("minilm.onnx")
        let ids = try ONNXFixtures.ints("minilm_input_ids.npy"), mask = try ONNXFixtures.ints("minilm_attention_mask.npy")
        XCTAssertTrue(mask.values.contains(0), "the fixture pads at least one sentence, so the mask matters")
        let out = try model.run(["input_ids": .int64(ids), "attention_mask": .int64(mask)])
        let hidden = try XCTUnwrap(out["last_hidden_state"]?.floatTensor)
        assertClose(hidden, try ONNXFixtures.tensor("minilm_hidden.npy"), "MiniLM last_hidden_state")
        // The plan is static: the shape arithmetic of the export (Shape, Gather, Concat...) is folded.
        let plan = try model.plan(inputShapes: ["input_ids": ids.shape, "attention_mask": mask.shape])
        XCTAssertFalse(plan.steps.contains { $0.op == "Shape" || $0.op == "ConstantOfShape" || $0.op == "Range" })
        // The five-node erf GELU of each layer became one Gelu step.
        XCTAssertEqual(plan.steps.filter { $0.op == "Gelu" }.count, 6)
        XCTAssertFalse(plan.steps.contains { $0.op == "Erf" })
        // MatMul + bias Add: one GEMM each (6 layers × 6 linear layers).
        XCTAssertLessThanOrEqual(plan.steps.filter { $0.op == "Add" }.count, 63 - 36)
    }

    func testMiniLMSentenceAloneMatchesItsPaddedRow() throws {
        // The same sentence without padding gives the unpadded part of its padded row: the
        // attention mask is applied at run time, not folded for one batch.
        let model = try ONNXFixtures.model("minilm.onnx")
        let ids = try ONNXFixtures.ints("minilm_input_ids.npy"), mask = try ONNXFixtures.ints("minilm_attention_mask.npy")
        let width = ids.shape[1]
        let row = (0..<ids.shape[0]).first { r in mask.values[(r * width)..<((r + 1) * width)].contains(0) }!
        let len = Int(mask.values[(row * width)..<((row + 1) * width)].reduce(0, +))
        let alone = Array(ids.values[(row * width)..<(row * width + len)])
        let out = try model.run(["input_ids": .int64(IntTensor(shape: [1, len], values: alone)),
                                 "attention_mask": .int64(IntTensor(shape: [1, len], repeating: 1))])
        let single = try XCTUnwrap(out["last_hidden_state"]?.floatTensor)
        let reference = try ONNXFixtures.tensor("minilm_hidden.npy").slice(axis: 0, start: row, end: row + 1).slice(axis: 1, start: 0, end: len)
        assertClose(single, reference, "unpadded sentence")
    }

    func testConvBatchNormIsFoldedAndMatches() throws {
        let model = try ONNXFixtures.model("conv_bn.onnx")
        let plan = try model.plan(inputShapes: ["x": [1, 3, 9, 9]])
        XCTAssertEqual(plan.steps.map(\.op), ["Conv", "Relu"], "BatchNormalization folded into the Conv")
        let out = try plan.run(["x": .float(try ONNXFixtures.tensor("conv_bn_input.npy"))])
        assertClose(try XCTUnwrap(out["y"]?.floatTensor), try ONNXFixtures.tensor("conv_bn_output.npy"), "Conv+BN+Relu")
    }

    func testOnePlanServesManyThreads() throws {
        let model = try ONNXFixtures.model("scan_cnn.onnx")
        let input = try ONNXFixtures.tensor("scan_cnn_input.npy"), reference = try ONNXFixtures.tensor("scan_cnn_logits.npy")
        let plan = try model.plan(inputShapes: ["image": input.shape])
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let out = try? plan.run(["image": .float(input)])["logits"]?.floatTensor
            results.append(out.map { maxAbsDifference($0, reference) } ?? .infinity)
        }
        XCTAssertEqual(results.values.count, 8)
        XCTAssertTrue(results.values.allSatisfy { $0 <= 1e-4 }, "\(results.values)")
    }
}

final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Float] = []
    func append(_ v: Float) { lock.lock(); stored.append(v); lock.unlock() }
    var values: [Float] { lock.lock(); defer { lock.unlock() }; return stored }
}
