import Foundation
import XCTest
import LeptonDiagnose
import LeptonEngine
import LeptonImage
@testable import LeptonONNX

/// `lepton-diagnose analyze --model MODEL.onnx`: the ONNX scan CNN through the diagnose pipeline,
/// its Grad-CAM against one computed in torch on the same model and image (scan_gradcam.json).
final class ONNXScanClassifierTests: XCTestCase {
    func pixels() throws -> [Float] {
        let image = try PNGDecoder.decodeGray(data: Data(contentsOf: try ONNXFixtures.url("scan.png")), name: "scan.png", maxSide: 64).image
        XCTAssertEqual([image.width, image.height], [28, 28])
        return image.pixels
    }

    func testGradCAMMatchesTorch() throws {
        let reference = try ONNXFixtures.json("scan_gradcam.json")
        let classifier = try ONNXScanClassifier(contentsOf: try ONNXFixtures.url("scan_cnn.onnx"))
        let (logits, map) = try classifier.gradCAM(try pixels())
        let torchLogits = (reference["torch_logits"] as! [Double]).map(Float.init)
        for (a, b) in zip(logits, torchLogits) { XCTAssertEqual(a, b, accuracy: 1e-4, "logits \(logits) vs torch \(torchLogits)") }
        XCTAssertEqual(map.classIndex, reference["class_index"] as? Int)
        XCTAssertEqual([map.camH, map.camW], reference["cam_shape"] as? [Int])
        // Tolerance relative to the map's peak: 1e-3 (the gradient goes through a different
        // summation order than torch's, and the map sums 64 channels of products).
        let coarse = (reference["coarse"] as! [Double]).map(Float.init), up = (reference["map"] as! [Double]).map(Float.init)
        let peak = max(coarse.max() ?? 0, 1e-6)
        XCTAssertGreaterThan(peak, 1e-3, "the reference map is not flat")
        XCTAssertLessThanOrEqual(zip(map.coarse, coarse).map { abs($0 - $1) }.max() ?? 1, 1e-3 * peak, "coarse map \(map.coarse) vs torch \(coarse)")
        XCTAssertEqual(map.map.count, up.count)
        XCTAssertLessThanOrEqual(zip(map.map, up).map { abs($0 - $1) }.max() ?? 1, 1e-3 * peak, "upsampled map")
    }

    func testGradCAMAlsoRunsThroughResNetsResidualTail() throws {
        // ResNet-18's last Conv is followed by Add (the shortcut), Relu, GlobalAveragePool,
        // Flatten and Gemm: every one of them has a gradient path.
        let model = try ONNXFixtures.model("resnet18.onnx")
        let plan = try model.plan(inputShapes: ["input": [1, 3, 224, 224]])
        let input = try ONNXFixtures.tensor("resnet18_input.npy")
        let r = try plan.lastConvGradient(["input": .float(input)], output: "logits") { y in
            var seed = [Float](repeating: 0, count: y.count); seed[7] = 1
            return Tensor(shape: y.shape, scalars: seed)
        }
        XCTAssertEqual(r.activation.shape, [1, 512, 7, 7])
        XCTAssertGreaterThan(r.gradient.abs().max(), 0)
        // The logit is linear in the activation after the last ReLU's mask: check one entry by
        // finite differences is beyond a unit test; instead, the forward outputs equal a plain run
        // of the same one-by-one steps exactly, and the oneDNN segment's run within rounding.
        let gradcam = r.outputs["logits"]!.floatTensor!
        let steps = try ONNXPlan(model: model, inputShapes: ["input": [1, 3, 224, 224]], fastConvolutions: false)
        XCTAssertEqual(maxAbsDifference(try steps.run(["input": .float(input)])["logits"]!.floatTensor!, gradcam), 0)
        let fast = try plan.run(["input": .float(input)])["logits"]!.floatTensor!
        XCTAssertLessThanOrEqual(maxAbsDifference(fast, gradcam), 1e-4 * max(1, gradcam.abs().max()))
    }

    func testPipelineReportsTheLabelsAndAHeatmap() throws {
        let classifier = try ONNXScanClassifier(contentsOf: try ONNXFixtures.url("scan_cnn.onnx"))
        let s = try DiagnosePipeline(model: classifier).analyze(scan: try ONNXFixtures.url("scan.png"), report: nil, name: "scan.png")
        let reference = try ONNXFixtures.json("scan_gradcam.json")
        let probs = (reference["probabilities"] as! [Double]).map(Float.init)
        XCTAssertEqual(s.probabilities.map(\.0), ["normal", "pneumonia"])
        for (a, b) in zip(s.probabilities.map(\.1), probs) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(s.heatmapSize, 28)
        XCTAssertEqual(s.model?.name, "scan_cnn")
    }

    func testMissingOrBadSidecarIsABadModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-sidecar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("m.onnx")
        try FileManager.default.copyItem(at: try ONNXFixtures.url("scan_cnn.onnx"), to: model)
        XCTAssertThrowsError(try ONNXScanClassifier(contentsOf: model)) { XCTAssertTrue("\($0)".contains("m.onnx.json"), "\($0)") }
        for (json, expected) in [(#"{"labels": ["a", "b", "c"], "input_size": [28, 28]}"#, "3 labels"),
                                 (#"{"labels": ["a", "b"], "input_size": [32, 32]}"#, "input 'image'"),
                                 (#"{"labels": ["a", "b"], "input_size": [28, 28], "std": 0}"#, "std"),
                                 (#"{"labels": ["a", "b"]}"#, "input_size")] {
            try Data(json.utf8).write(to: URL(fileURLWithPath: model.path + ".json"))
            XCTAssertThrowsError(try ONNXScanClassifier(contentsOf: model)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(json): \(error)")
                XCTAssertTrue(error is DiagnoseError)
            }
        }
    }

    /// The built program: `analyze --model scan_cnn.onnx --json` gives torch's probabilities.
    func testAnalyzeCommandWithAnONNXModel() throws {
        var products = Bundle.main.bundleURL
        for b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") { products = b.bundleURL.deletingLastPathComponent() }
        let exe = products.appendingPathComponent("lepton-diagnose")
        guard FileManager.default.isExecutableFile(atPath: exe.path) else { return XCTFail("lepton-diagnose is not built at \(exe.path)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-analyze-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let heat = dir.appendingPathComponent("cam.png")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["analyze", try ONNXFixtures.url("scan.png").path, "--model", try ONNXFixtures.url("scan_cnn.onnx").path, "--json", "--heatmap", heat.path]
        p.environment = ProcessInfo.processInfo.environment.merging(["LEPTON_DIAGNOSE_SALT": "test-salt"]) { $1 }
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let line = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let probs = (try ONNXFixtures.json("scan_gradcam.json")["probabilities"] as! [Double])
        let shown = try XCTUnwrap((line["image"] as? [String: Any])?["probabilities"] as? [String: Double], "\(line)")
        XCTAssertEqual(shown["normal"]!, probs[0], accuracy: 1e-4)
        XCTAssertEqual(shown["pneumonia"]!, probs[1], accuracy: 1e-4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: heat.path))
    }
}
