import Foundation
import XCTest
@testable import LeptonDiagnose
import LeptonEngine
import LeptonImage

/// Issue 22: `evaluate --attack`, `train --adversarial` and `train-gan` as a user runs them.
extension DiagnoseProgramTests {
    /// A labels CSV in `dir` over copies of `files` (paths as in PneumoniaMNIST's labels.csv).
    func copiedLabels(_ rows: [(String, Int)], name: String = "labels.csv") throws -> URL {
        for (file, _) in rows {
            let target = dir.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: target.path) {
                try FileManager.default.copyItem(at: DiagnoseFixtures.pneumonia.appendingPathComponent(file), to: target)
            }
        }
        let url = dir.appendingPathComponent(name)
        try (["file,label"] + rows.map { "\($0.0),\($0.1)" }).joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func pneumoniaRows(_ prefix: String, _ count: Int, label: Int? = nil) throws -> [(String, Int)] {
        let rows = try String(contentsOf: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).dropFirst().map { $0.split(separator: ",") }
            .map { (String($0[0]), Int($0[1])!) }
        return Array(rows.filter { $0.0.hasPrefix(prefix) && (label == nil || $0.1 == label) }.prefix(count))
    }

    func testAttackOptionsAreCheckedAsUsage() throws {
        let labels = try copiedLabels(try pneumoniaRows("val/", 4))
        assertOneLineError(try run(["evaluate", "--labels", labels.path, "--epsilon", "2"]), status: 64, contains: "--epsilon needs --attack")
        assertOneLineError(try run(["evaluate", "--labels", labels.path, "--attack", "fgsm", "--epsilon", "1,0"]), status: 64, contains: "--epsilon")
        assertOneLineError(try run(["evaluate", "--labels", labels.path, "--attack", "pgd", "--pgd-steps", "0"]), status: 64, contains: "--pgd-steps")
        assertOneLineError(try run(["evaluate", "--labels", labels.path, "--attack", "cw"]), status: 64, contains: "attack")
        let out = dir.appendingPathComponent("m").path
        assertOneLineError(try run(["train", "--labels", labels.path, "--out", out, "--adversarial", "pgd"]), status: 64, contains: "--epsilon")
        assertOneLineError(try run(["train", "--labels", labels.path, "--out", out, "--adversarial", "fgsm", "--epsilon", "1,2"]),
                           status: 64, contains: "one --epsilon")
        assertOneLineError(try run(["train", "--labels", labels.path, "--out", out, "--start-from", "samples/diagnose/model", "--channels", "4"]),
                           status: 64, contains: "--start-from")
        assertOneLineError(try run(["train-gan", "--labels", labels.path, "--out", out, "--class", "fracture"]), status: 64, contains: "--class")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// The clean figures equal plain `evaluate --json` on the same rows; the attacked accuracy per ε
    /// is what PyTorch's logits on its own FGSM images give (scripts/make-robust-fixtures.py).
    func testEvaluateAttackAgainstPyTorch() throws {
        let files = try RobustFixtures.files()
        let labelsRef = try RobustFixtures.npy("labels.npy").integers.map { Int($0) }
        let labels = try copiedLabels(Array(zip(files, labelsRef)))
        let plain = try run(["evaluate", "--labels", labels.path, "--json"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let r = try run(["evaluate", "--labels", labels.path, "--attack", "fgsm", "--epsilon", "1,2,4", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let image = try XCTUnwrap(reference["image"] as? [String: Any])
        let robust = try XCTUnwrap(j["robustness"] as? [String: Any])
        XCTAssertEqual(robust["attack"] as? String, "fgsm")
        let clean = try XCTUnwrap(robust["clean"] as? [String: Any])
        XCTAssertEqual(clean["accuracy"] as? Double, image["accuracy"] as? Double)
        XCTAssertEqual(clean["auc"] as? Double, image["auc"] as? Double)
        let attacked = try XCTUnwrap(robust["attacked"] as? [[String: Any]])
        XCTAssertEqual(attacked.compactMap { $0["epsilon"] as? Double }, [1, 2, 4])
        for (row, k) in zip(attacked, [1, 2, 4]) {
            let z = try RobustFixtures.npy("fgsm_\(k)_logits.npy").floats
            let expected = Double((0..<8).filter { (z[2 * $0 + 1] > z[2 * $0] ? 1 : 0) == labelsRef[$0] }.count) / 8
            XCTAssertEqual(row["accuracy"] as? Double ?? -1, expected, accuracy: 1e-12, "ε \(k)/255")
            XCTAssertLessThanOrEqual(row["largest_change"] as? Double ?? 99, Double(k) + 1e-4)
            XCTAssertEqual(row["within_pixel_range"] as? Bool, true)
        }
        // PGD reports its settings; the text form names the attack.
        let pgd = try run(["evaluate", "--labels", labels.path, "--attack", "pgd", "--epsilon", "2", "--pgd-steps", "3", "--seed", "4"])
        XCTAssertEqual(pgd.status, 0, pgd.stderr)
        XCTAssertTrue(pgd.stdout.contains("attack: pgd, 3 steps, seed 4"), pgd.stdout)
    }

    /// `train-gan`: the model folder loads back strictly, the grid is the documented 8×8 of
    /// 28-pixel tiles, the curves have the documented columns, generated images come with a labels.csv.
    func testTrainGANWritesModelGridCurvesAndImages() throws {
        let labels = try copiedLabels(try pneumoniaRows("train/", 40, label: 0) + pneumoniaRows("val/", 12, label: 0)
                                      + pneumoniaRows("train/", 8, label: 1))
        let out = dir.appendingPathComponent("gan"), logdir = dir.appendingPathComponent("run")
        let r = try run(["train-gan", "--labels", labels.path, "--out", out.path, "--class", "normal", "--epochs", "2", "--batch", "16",
                         "--width", "4", "--latent", "8", "--seed", "3", "--logdir", logdir.path, "--write-images", "5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(j["training_images"] as? Int, 40)
        XCTAssertEqual(j["val_images"] as? Int, 12)
        XCTAssertEqual(j["trained_on_class"] as? String, "normal")
        XCTAssertEqual((j["frechet_per_epoch"] as? [Double])?.count, 2)
        XCTAssertGreaterThan(j["frechet_generated_to_val"] as? Double ?? -1, 0)
        let gan = try ScanGAN.load(from: out)
        XCTAssertEqual(gan.config.width, 4)
        XCTAssertEqual(gan.config.trainedOnClass, 0)
        let grid = try PNGDecoder.decode(contentsOf: out.appendingPathComponent("samples.png"))
        XCTAssertEqual([grid.width, grid.height], [242, 242])
        let csv = try String(contentsOf: logdir.appendingPathComponent("curves.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "epoch,d_fake,d_loss,d_real,frechet,g_loss,seconds")
        XCTAssertEqual(csv.count, 3)
        let generated = try String(contentsOf: out.appendingPathComponent("generated/labels.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst()
        XCTAssertEqual(generated.count, 5)
        XCTAssertTrue(generated.allSatisfy { $0.hasSuffix(",0") })
        let first = try PNGDecoder.decode(contentsOf: out.appendingPathComponent("generated/gen_00000.png"))
        XCTAssertEqual([first.width, first.height], [28, 28])
    }
}
