import Foundation
import XCTest

/// `lepton-diagnose train --arch resnet --val-half even --tta K` in a tiny bounded run, and
/// `evaluate --half odd` on the half that chose nothing.
extension DiagnoseProgramTests {
    func testTrainResNetOnHalfTheValidationRowsAndEvaluateTheOtherHalf() throws {
        let labels = try tinyLabelledSet()
        let out = dir.appendingPathComponent("resnet")
        let r = try run(["train", "--labels", labels.path, "--out", out.path, "--epochs", "1", "--batch", "16", "--seed", "1",
                         "--arch", "resnet", "--channels", "4,8", "--residual-blocks", "1", "--val-half", "even", "--tta", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual(config["arch"] as? String, "resnet")
        XCTAssertEqual(config["tta"] as? Int, 1)
        let notes = try XCTUnwrap(config["notes"] as? [String: String])
        XCTAssertEqual(notes["validated_on"], "even half of the validation rows (12 images)")
        let weights = try String(decoding: Data(contentsOf: out.appendingPathComponent("model.safetensors")).prefix(4096), as: UTF8.self)
        XCTAssertTrue(weights.contains("layer2.0.downsample.0.weight"))

        let e = try run(["evaluate", "--model", out.path, "--labels", labels.path, "--split", "val", "--half", "odd", "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let image = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])?["image"] as? [String: Any])
        XCTAssertEqual(image["count"] as? Int, 12)

        let usage = try run(["train", "--labels", labels.path, "--out", out.path, "--residual-blocks", "2"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.stderr.contains("--residual-blocks needs --arch resnet"), usage.stderr)
        let prune = try run(["prune", "--model", out.path, "--out", dir.appendingPathComponent("pruned").path, "--sparsity", "0.5",
                             "--labels", labels.path])
        XCTAssertNotEqual(prune.status, 0)
        XCTAssertEqual(prune.stderr.split(separator: "\n").filter { $0.contains("ResNet") }.count, 1, prune.stderr)
    }
}
