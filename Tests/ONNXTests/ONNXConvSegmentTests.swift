import Foundation
import XCTest
import LeptonEngine
@testable import LeptonONNX

/// The oneDNN convolution segments (ONNXPlan+ConvSegment.swift) against ONNX Runtime's outputs
/// (scripts/make-onnx-fixtures.py), on odd shapes and both ways of cutting the work into pieces.
final class ONNXConvSegmentTests: XCTestCase {
    override func tearDown() { EngineThreads.set(2) }

    /// Stride 2 with padding, channels 5/12/7, a residual whose partner is computed after the Conv,
    /// padded max pool, dilated depthwise Conv, an Add after a Relu, a residual on the graph
    /// input, an intermediate graph output; batch 1 (row bands) and 3 (groups of images), on 1,
    /// 2 and 3 threads (3 pieces do not divide the rows evenly), every layer cut into pieces.
    func testOddShapesMatchONNXRuntime() throws {
        let model = try ONNXFixtures.model("conv_segment.onnx")
        for batch in [1, 3] {
            let x = try ONNXFixtures.tensor("conv_segment_input_b\(batch).npy")
            for threads in [1, 2, 3] {
                EngineThreads.set(threads)
                let plan = try ONNXPlan(model: model, inputShapes: ["x": x.shape], splitWork: 0)
                XCTAssertGreaterThanOrEqual(plan.convolutionSegments, 1, "batch \(batch), \(threads) threads: segmented")
                XCTAssertFalse(plan.fastSteps.contains { $0.op == "Conv" }, "every Conv runs in a segment: \(plan.fastSteps.map(\.op))")
                let out = try plan.run(["x": .float(x)])
                for name in ["y", "mid", "res"] {
                    assertClose(try XCTUnwrap(out[name]?.floatTensor), try ONNXFixtures.tensor("conv_segment_\(name)_b\(batch).npy"),
                                "\(name), batch \(batch), \(threads) threads")
                }
            }
        }
    }

    /// ReLU and the residual sums are fused into the convolutions: one segment op per Conv, plus
    /// the pool, the Add that follows a Relu, and the global average.
    func testFusionsInTheSegment() throws {
        let model = try ONNXFixtures.model("conv_segment.onnx")
        let plan = try ONNXPlan(model: model, inputShapes: ["x": [1, 5, 13, 11]])
        let segments = plan.fastSteps.compactMap(\.kernel.segment)
        XCTAssertEqual(segments.count, plan.convolutionSegments)
        let ops = segments.flatMap(\.ops).map(\.nodes)
        XCTAssertTrue(ops.contains(["c1", "r1"]), "Conv+Relu: \(ops)")
        XCTAssertTrue(ops.contains(["c3", "a1", "r2"]), "the residual Add joins the Conv computed last: \(ops)")
        XCTAssertTrue(ops.contains(["c5", "a3", "r5"]), "a residual on the graph input: \(ops)")
        XCTAssertTrue(ops.contains(["a2"]), "an Add after a Relu stays an Add: \(ops)")
    }

    func testResNet18RunsAsOneSegment() throws {
        let model = try ONNXFixtures.model("resnet18.onnx")
        let plan = try model.plan(inputShapes: ["input": [1, 3, 224, 224]])
        XCTAssertEqual(plan.convolutionSegments, 1)
        XCTAssertEqual(plan.fastSteps.map(\.op), ["ConvSegment", "Flatten", "Gemm"])
        // Grad-CAM still has the one-by-one steps.
        XCTAssertEqual(plan.steps.filter { $0.op == "Conv" }.count, 20)
    }

    /// With the fast path off, the one-by-one steps (Grad-CAM's path) still give ORT's outputs.
    func testWithoutSegmentsTheStepsStillMatch() throws {
        EngineThreads.set(2)
        let model = try ONNXFixtures.model("conv_segment.onnx")
        let x = try ONNXFixtures.tensor("conv_segment_input_b3.npy")
        let plan = try ONNXPlan(model: model, inputShapes: ["x": x.shape], fastConvolutions: false)
        XCTAssertEqual(plan.convolutionSegments, 0)
        let out = try plan.run(["x": .float(x)])
        assertClose(try XCTUnwrap(out["y"]?.floatTensor), try ONNXFixtures.tensor("conv_segment_y_b3.npy"), "y without segments")
    }

    /// One plan, many threads at once: each call has its own buffers and oneDNN scratch memory.
    func testOneSegmentServesManyThreads() throws {
        EngineThreads.set(2)
        let model = try ONNXFixtures.model("conv_segment.onnx")
        let x = try ONNXFixtures.tensor("conv_segment_input_b1.npy"), reference = try ONNXFixtures.tensor("conv_segment_res_b1.npy")
        let plan = try ONNXPlan(model: model, inputShapes: ["x": x.shape], splitWork: 0)
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let out = try? plan.run(["x": .float(x)])["res"]?.floatTensor
            results.append(out.map { maxAbsDifference($0, reference) } ?? .infinity)
        }
        XCTAssertEqual(results.values.count, 8)
        XCTAssertTrue(results.values.allSatisfy { $0 <= 1e-4 }, "\(results.values)")
    }
}
