import Foundation
import XCTest
@testable import LeptonDiagnose
@testable import LeptonEngine

/// The DCGAN's shapes, seeded generation, strict keyed loading and one training run.
final class ScanGANTests: XCTestCase {
    func tinyConfig() -> ScanGANConfig {
        var c = ScanGANConfig()
        c.latent = 8; c.width = 4
        return c
    }

    func testNamesShapesAndGeneration() {
        let gan = ScanGAN(config: tinyConfig(), seed: 1)
        let names = Set(gan.stateDict().keys)
        XCTAssertTrue(names.isSuperset(of: ["g.fc.weight", "g.up1.weight", "g.up2.bias", "g.bn0.running_var", "d.c1.weight", "d.b2.running_mean", "d.fc.bias"]))
        XCTAssertEqual(gan.stateDict()["g.up1.weight"]?.shape, [8, 4, 4, 4])   // PyTorch's ConvTranspose2d layout [in, out, k, k]
        let images = gan.generate(count: 3, seed: 5)
        XCTAssertEqual(images.count, 3 * 784)
        XCTAssertTrue(images.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertEqual(images, gan.generate(count: 3, seed: 5))
        XCTAssertNotEqual(images, gan.generate(count: 3, seed: 6))
        // The discriminator reads 28×28 and gives one logit per image.
        XCTAssertEqual(gan.discriminator(Variable(Tensor.zeros([2, 1, 28, 28]))).shape, [2, 1])
    }

    func testStrictLoadingNamesTheBadWeight() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-gan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let gan = ScanGAN(config: tinyConfig(), seed: 2)
        try gan.save(to: dir)
        let back = try ScanGAN.load(from: dir)
        XCTAssertEqual(back.generate(count: 2, seed: 9), gan.generate(count: 2, seed: 9))
        var state = gan.stateDict()
        state["g.up1.weight"] = nil
        XCTAssertThrowsError(try ScanGAN(config: tinyConfig(), weights: WeightStore(source: "x", entries: state.mapValues { WeightEntry($0) }))) {
            XCTAssertTrue("\($0)".contains("g.up1.weight"), "\($0)")
        }
        state = gan.stateDict()
        state["d.extra"] = Tensor.zeros([1])
        XCTAssertThrowsError(try ScanGAN(config: tinyConfig(), weights: WeightStore(source: "x", entries: state.mapValues { WeightEntry($0) }))) {
            XCTAssertTrue("\($0)".contains("d.extra"), "\($0)")
        }
        var wide = tinyConfig()
        wide.width = 8
        XCTAssertThrowsError(try ScanGAN(config: wide, weights: WeightStore(source: "x", entries: gan.stateDict().mapValues { WeightEntry($0) })))
    }

    /// A short run on real X-rays moves the generator away from its initial output and reports
    /// the per-epoch figures; the Fréchet distance of a set to itself is 0.
    func testTrainingRunsAndFrechetOfASetToItselfIsZero() throws {
        let (train, _) = try LabeledImages.read(labels: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), size: 28)
        let small = train.prefix(64)
        var options = GANTrainingOptions()
        options.epochs = 2; options.batchSize = 16; options.seed = 1
        let before = ScanGAN(config: tinyConfig(), seed: 1).generate(count: 4, seed: 3)
        let scan = try ScanClassifier.load(from: DiagnoseFixtures.samples.appendingPathComponent("model"))
        let (gan, summary) = try ScanGAN.train(images: small, config: tinyConfig(), options: options, fidModel: scan, fidReference: small)
        XCTAssertEqual(summary.epochsRun, 2)
        XCTAssertEqual(summary.frechet.count, 2)
        XCTAssertTrue(summary.discriminatorLoss.isFinite && summary.generatorLoss.isFinite)
        XCTAssertNotEqual(gan.generate(count: 4, seed: 3), before)
        XCTAssertEqual(try ScanGAN.frechetDistance(small.pixels, small.pixels, model: scan), 0, accuracy: 1e-6)
    }
}
