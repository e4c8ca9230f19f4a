import Foundation
import XCTest
@testable import LeptonDiagnose
import LeptonEngine
import LeptonTestSupport
import LeptonImage

/// The CNN against the steering baseline's PyTorch reference (../shared/data/medical/models):
/// logits and Grad-CAM maps of the first 16 validation images.
final class ScanClassifierTests: XCTestCase {
    func loadReference() throws -> (ScanClassifier, [String: NumpyArray]) {
        let model = try ScanClassifier.load(npz: DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn.npz"))
        let ref = try NumpyArchive.read(DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn_reference.npz"))
        return (model, ref)
    }

    func testNpzReaderReadsEveryEntry() throws {
        let arrays = try NumpyArchive.read(DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn.npz"))
        XCTAssertEqual(arrays.count, 20)
        XCTAssertEqual(arrays["c2.weight"]?.shape, [32, 16, 3, 3])
        XCTAssertEqual(arrays["fc.weight"]?.shape, [2, 64])
        let ref = try NumpyArchive.read(DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn_reference.npz"))
        XCTAssertEqual(ref["files"]?.strings.first, "val/val_00000.png")
        XCTAssertEqual(ref["predicted_class"]?.integers.count, 16)
        XCTAssertThrowsError(try NumpyArchive.read(DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn.json")))
    }

    func testStrictLoadingNamesTheBadWeight() throws {
        var entries: [String: WeightEntry] = [:]
        for (k, a) in try NumpyArchive.read(DiagnoseFixtures.models.appendingPathComponent("pneumonia_smallcnn.npz")) where k != "b2.running_var" {
            entries[k] = WeightEntry(a.tensor)
        }
        XCTAssertThrowsError(try ScanClassifier(config: ScanClassifierConfig(), weights: WeightStore(source: "x", entries: entries))) {
            XCTAssertTrue("\($0)".contains("b2.running_var"), "\($0)")
        }
    }

    func testReferenceLogitsAndGradCAM() throws {
        let (model, ref) = try loadReference()
        guard let files = ref["files"]?.strings, let logits = ref["logits"]?.floats, let cam7 = ref["gradcam_7x7"]?.floats,
              let cam28 = ref["gradcam_28x28"]?.floats, let inputRef = ref["input_normalized"]?.floats,
              let predicted = ref["predicted_class"]?.integers else { return XCTFail("reference arrays missing") }
        XCTAssertEqual(files.count, 16)
        // Input pipeline: PNG → (x/255 − 0.5)/0.5, checked against the reference input.
        var input: [Float] = []
        for f in files {
            let scan = try ScanLoader.load(DiagnoseFixtures.pneumonia.appendingPathComponent(f), size: 28)
            input += model.normalise(scan.modelInput)
        }
        var worstIn: Float = 0
        for i in 0..<input.count { worstIn = max(worstIn, abs(input[i] - inputRef[i])) }
        XCTAssertLessThan(worstIn, 1e-6)

        let (out, maps) = model.gradCAM(input, n: 16)
        var worst: Float = 0
        for i in 0..<32 { worst = max(worst, abs(out[i] - logits[i])) }
        XCTAssertLessThan(worst, 1e-4, "max |logit diff| \(worst)")
        var worst7: Float = 0, worst28: Float = 0
        for b in 0..<16 {
            XCTAssertEqual(Int64(maps[b].classIndex), predicted[b])
            for j in 0..<49 { worst7 = max(worst7, abs(maps[b].coarse[j] - cam7[b * 49 + j])) }
            for j in 0..<784 { worst28 = max(worst28, abs(maps[b].map[j] - cam28[b * 784 + j])) }
        }
        XCTAssertLessThan(worst7, 1e-4, "Grad-CAM 7x7 max diff \(worst7)")
        XCTAssertLessThan(worst28, 1e-4, "Grad-CAM 28x28 max diff \(worst28)")
    }

    /// Deleting the pixels Grad-CAM marks as most important must lower the predicted-class
    /// probability more than deleting the least important ones (mean over the 16 reference images).
    func testDeletionTest() throws {
        let (model, ref) = try loadReference()
        guard let input = ref["input_normalized"]?.floats else { return XCTFail("missing input") }
        let (_, maps) = model.gradCAM(input, n: 16)
        var most: Float = 0, least: Float = 0
        for b in 0..<16 {
            let img = Array(input[(b * 784)..<((b + 1) * 784)])
            most += model.deletionCurveArea(image: img, map: maps[b], mostImportantFirst: true)
            least += model.deletionCurveArea(image: img, map: maps[b], mostImportantFirst: false)
        }
        XCTAssertLessThan(most, least, "most-first area \(most / 16) vs least-first \(least / 16)")
    }

    /// The engine autodiff through the whole CNN (conv, batch norm, ReLU, max pool, GAP, linear)
    /// against central finite differences (the shared checker) of the class-weighted
    /// cross-entropy (training-mode batch norm) on a random batch of 4.
    ///
    /// Judged by statistics of the relative error `|a − n| / max(|a| + |n|, 1e-3)` over six
    /// entries of every tensor, not entry by entry: the step is 1e-3 in Float (the loss moves by
    /// ~1e-6 per step, a few per cent of Float noise), and some stencils cross a ReLU or max-pool
    /// kink, where the difference quotient is not the derivative. A wrong backward gives errors near 1.
    func testGradientsMatchFiniteDifferences() throws {
        for (size, channels, pool) in [(6, [4], [false]), (8, [3, 4], [true, false]), (8, [2, 3, 4], [true, false, false])] {
            var cfg = ScanClassifierConfig()
            cfg.inputSize = size; cfg.channels = channels; cfg.pool = pool
            let model = ScanClassifier(config: cfg, seed: 3)
            var rng = SeededGenerator(seed: 3 &+ 11)
            let n = 4, plane = size * size, k = cfg.classes.count
            let x = (0..<(n * plane)).map { _ in rng.nextNormal() }
            let labels = (0..<n).map { $0 % k }
            let weights: [Float] = (0..<k).map { Float($0 + 1) }
            model.setTraining(true)
            defer { model.setTraining(false) }
            func loss() -> Variable {
                crossEntropy(model.head(model.features(model.inputVariable(x, n: n))), targets: labels, classWeights: weights)
            }
            model.zeroGrad()
            loss().backward()
            // A conv bias followed by training-mode batch norm has an exactly zero gradient: skipped.
            let params = model.namedParameters().filter { !($0.0.hasPrefix("c") && $0.0.hasSuffix(".bias")) }
            let checker = GradientChecker(step: 1e-3)
            let comparisons = checker.compare(params.map { (name: $0.0, value: $0.1.value) },
                                              analytic: params.map { $0.1.grad ?? Tensor.zeros($0.1.shape) },
                                              indices: { count in (0..<min(6, count)).map { ($0 * 7919) % count } }) { point in
                let saved = params.map { $0.1.value }
                for (q, (_, p)) in params.enumerated() { p.value = point[q] }
                defer { for (q, (_, p)) in params.enumerated() { p.value = saved[q] } }
                return Double(withoutGradients { loss() }.value.scalars[0])
            }
            let errors = comparisons.map { $0.relativeError() }.sorted()
            let median = errors[errors.count / 2], p90 = errors[min(errors.count - 1, errors.count * 9 / 10)]
            print("gradient check \(channels) pool \(pool): median rel err \(median), p90 \(p90), n \(errors.count)")
            XCTAssertGreaterThanOrEqual(errors.count, 20)
            XCTAssertLessThan(median, 0.02, "median relative gradient error \(median) for \(channels)")
            XCTAssertLessThan(p90, 0.15, "90th percentile relative gradient error \(p90) for \(channels)")
        }
    }

    func testTrainingLearnsAndRoundTrips() throws {
        // A short run on a small subset: the model must beat chance clearly on validation.
        let (train, val) = try LabeledImages.read(labels: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), size: 28)
        let small = train.prefix(600), smallVal = val.prefix(200)
        var opts = TrainingOptions()
        opts.epochs = 3; opts.seed = 7
        let (model, summary) = try ScanClassifier.train(train: small, val: smallVal, config: ScanClassifierConfig(), options: opts)
        XCTAssertGreaterThan(summary.valAUC, 0.85)
        XCTAssertGreaterThan(summary.temperature, 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-diag-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let back = try ScanClassifier.load(from: dir)
        let x = model.normalise(Array(smallVal.pixels[0..<(4 * 784)]))
        XCTAssertEqual(model.logits(x, n: 4), back.logits(x, n: 4))
        XCTAssertEqual(back.config.temperature, model.config.temperature)
    }
}
