import Foundation
import XCTest
@testable import LeptonDiagnose
import LeptonEngine
import LeptonTestSupport

/// The ResNet option of the scan classifier (`--arch resnet`) against an independent PyTorch
/// network built from torchvision's BasicBlock (scripts/make-resnet-fixtures.py, float64, in
/// ~/.cache/lepton/fixtures/scan-resnet or $LEPTON_RESNET_FIXTURES): logits and Grad-CAM of eight
/// validation images, strict loading of its torchvision-named weights, test-time augmentation.
final class ScanResNetTests: XCTestCase {
    static let folder: URL = {
        if let d = ProcessInfo.processInfo.environment["LEPTON_RESNET_FIXTURES"] { return URL(fileURLWithPath: d) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lepton/fixtures/scan-resnet")
    }()

    /// The fixture's architecture: widths 8, 16, 32, two blocks per stage, stride 2 into stages 2 and 3.
    static var fixtureConfig: ScanClassifierConfig {
        var c = ScanClassifierConfig()
        c.arch = .resnet; c.channels = [8, 16, 32]; c.residualBlocks = 2; c.pool = [true, true, false]
        return c
    }

    func fixture(_ name: String) throws -> URL {
        let u = Self.folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: u.path) else {
            XCTFail("missing fixture \(u.path): run `$(bash scripts/ml-env.sh | tail -n1) scripts/make-resnet-fixtures.py` (scripts/test.sh does)")
            throw CocoaError(.fileNoSuchFile)
        }
        return u
    }

    func fixtureWeights() throws -> [String: WeightEntry] {
        try NumpyArchive.read(try fixture("weights.npz")).mapValues { WeightEntry($0.tensor) }
    }

    func testForwardAndGradCAMMatchPyTorch() throws {
        let model = try ScanClassifier(config: Self.fixtureConfig, weights: WeightStore(source: "fixture", entries: try fixtureWeights()))
        let ref = try NumpyArchive.read(try fixture("reference.npz"))
        guard let files = ref["files"]?.strings, let logits = ref["logits"]?.floats, let cam7 = ref["gradcam_7x7"]?.floats,
              let cam28 = ref["gradcam_28x28"]?.floats, let inputRef = ref["input_normalized"]?.floats,
              let predicted = ref["predicted_class"]?.integers else { return XCTFail("reference arrays missing") }
        XCTAssertEqual(files.count, 8)
        var input: [Float] = []
        for f in files { input += model.normalise(try ScanLoader.load(DiagnoseFixtures.pneumonia.appendingPathComponent(f), size: 28).modelInput) }
        XCTAssertLessThan(zip(input, inputRef).map { abs($0 - $1) }.max() ?? 1, 1e-6)

        XCTAssertLessThan(zip(model.logits(input, n: 8), logits).map { abs($0 - $1) }.max() ?? 1, 1e-4)
        let (out, maps) = model.gradCAM(input, n: 8)
        XCTAssertLessThan(zip(out, logits).map { abs($0 - $1) }.max() ?? 1, 1e-4, "logits \(out) vs \(logits)")
        for b in 0..<8 {
            XCTAssertEqual(Int64(maps[b].classIndex), predicted[b])
            XCTAssertEqual([maps[b].camH, maps[b].camW], [7, 7])
            let worst7 = (0..<49).map { abs(maps[b].coarse[$0] - cam7[b * 49 + $0]) }.max() ?? 1
            let worst28 = (0..<784).map { abs(maps[b].map[$0] - cam28[b * 784 + $0]) }.max() ?? 1
            XCTAssertLessThan(worst7, 1e-4, "image \(b): Grad-CAM 7x7")
            XCTAssertLessThan(worst28, 1e-4, "image \(b): Grad-CAM 28x28")
            XCTAssertGreaterThan(maps[b].coarse.max() ?? 0, 0, "image \(b): the map is not empty")
        }
    }

    func testStrictLoadingNamesTheMissingUnusedOrMisshapedWeight() throws {
        let weights = try fixtureWeights()
        func loadError(_ entries: [String: WeightEntry]) -> String {
            do { _ = try ScanClassifier(config: Self.fixtureConfig, weights: WeightStore(source: "fixture", entries: entries)); return "" } catch {
                return "\(error)"
            }
        }
        var missing = weights
        missing["layer2.0.downsample.1.running_var"] = nil
        XCTAssertTrue(loadError(missing).contains("layer2.0.downsample.1.running_var"), loadError(missing))
        var misshaped = weights
        misshaped["layer3.1.conv2.weight"] = WeightEntry(Tensor.zeros([32, 32, 1, 1]))
        XCTAssertTrue(loadError(misshaped).contains("layer3.1.conv2.weight"), loadError(misshaped))
        var unused = weights
        unused["layer4.0.conv1.weight"] = WeightEntry(Tensor.zeros([8, 8, 3, 3]))
        XCTAssertTrue(loadError(unused).contains("layer4.0.conv1.weight"), loadError(unused))
        // The plain CNN's configuration does not take these weights either.
        var cnn = Self.fixtureConfig
        cnn.arch = nil
        XCTAssertThrowsError(try ScanClassifier(config: cnn, weights: WeightStore(source: "fixture", entries: weights)))
    }

    func testTestTimeAugmentationAveragesTheShiftedViews() throws {
        let model = ScanClassifier(config: Self.fixtureConfig, seed: 3)
        let (_, val) = try LabeledImages.read(labels: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), size: 28)
        let x = model.normalise(Array(val.pixels[0..<(2 * 784)]))
        let plain = model.logits(x, n: 2)
        // The four views by hand: one pixel left, right, up, down, edges repeated.
        func shifted(_ dx: Int, _ dy: Int) -> [Float] {
            (0..<(2 * 784)).map { i in
                let b = i / 784, y = i % 784 / 28, xx = i % 28
                return x[b * 784 + min(max(y - dy, 0), 27) * 28 + min(max(xx - dx, 0), 27)]
            }
        }
        var expected = plain
        for v in [shifted(-1, 0), shifted(1, 0), shifted(0, -1), shifted(0, 1)] {
            for (j, l) in model.logits(v, n: 2).enumerated() { expected[j] += l }
        }
        model.config.tta = 1
        let tta = model.logits(x, n: 2)
        XCTAssertLessThan(zip(tta, expected.map { $0 / 5 }).map { abs($0 - $1) }.max() ?? 1, 1e-5)
        XCTAssertNotEqual(tta, plain)
        // A constant image is its own shift: the mean over views is the plain output.
        let flat = [Float](repeating: 0.2, count: 784)
        let withTTA = model.logits(flat, n: 1)
        model.config.tta = nil
        XCTAssertLessThan(zip(withTTA, model.logits(flat, n: 1)).map { abs($0 - $1) }.max() ?? 1, 1e-5)
    }

    func testTrainingLearnsSavesAndReloads() throws {
        let (train, val) = try LabeledImages.read(labels: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), size: 28)
        var config = ScanClassifierConfig()
        config.arch = .resnet; config.channels = [8, 16]; config.pool = [true, false]
        var opts = TrainingOptions()
        opts.epochs = 4; opts.seed = 7
        let (model, summary) = try ScanClassifier.train(train: train.prefix(600), val: val.prefix(200), config: config, options: opts)
        XCTAssertGreaterThan(summary.valAUC, 0.85)
        XCTAssertTrue(model.stateDict().keys.contains("layer2.0.downsample.0.weight"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-resnet-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let back = try ScanClassifier.load(from: dir)
        XCTAssertEqual(back.config.arch, .resnet)
        let x = model.normalise(Array(val.pixels[0..<(4 * 784)]))
        XCTAssertEqual(model.logits(x, n: 4), back.logits(x, n: 4))
        XCTAssertThrowsError(try model.channelPruned(sparsity: 0.5)) { XCTAssertTrue("\($0)".contains("ResNet"), "\($0)") }
    }
}
