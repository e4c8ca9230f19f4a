import Foundation
import XCTest
@testable import LeptonDiagnose
@testable import LeptonEngine
import LeptonTestSupport

/// The fixtures scripts/make-robust-fixtures.py writes (PyTorch's FGSM and PGD, in float64, on the
/// shipped model's weights and its test-time views): ~/.cache/lepton/fixtures/robust, or
/// $LEPTON_ROBUST_FIXTURES.
enum RobustFixtures {
    static let folder: URL = {
        if let d = ProcessInfo.processInfo.environment["LEPTON_ROBUST_FIXTURES"] { return URL(fileURLWithPath: d) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lepton/fixtures/robust")
    }()

    /// The fixture's URL; a missing fixture fails the test with the command that makes it.
    static func url(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let u = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: u.path) else {
            XCTFail("missing fixture \(u.path): run `$(bash scripts/ml-env.sh | tail -n1) scripts/make-robust-fixtures.py` (scripts/test.sh does)",
                    file: file, line: line)
            throw CocoaError(.fileNoSuchFile)
        }
        return u
    }

    static func npy(_ name: String) throws -> NumpyArray {
        let u = try url(name)
        return try NumpyArchive.parseNpy([UInt8](try Data(contentsOf: u)), name: name, source: u.path)
    }

    /// The fixtures' images; fails first when they were made for another shipped model (the
    /// maker's stamp names the SHA-256 of model.safetensors and config.json, which are hashed here
    /// again), so a stale cache reads as one, not as a gradient mismatch.
    static func files(file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let stamp = try String(contentsOf: try url(".complete"), encoding: .utf8).split(separator: " ")
        let model = DiagnoseFixtures.samples.appendingPathComponent("model")
        let hash = try ModelIdentity.of(name: "", version: "", files: [model.appendingPathComponent("model.safetensors"),
                                                                      model.appendingPathComponent("config.json")]).sha256
        if stamp.count != 2 || !stamp[1].hasPrefix(hash) {
            XCTFail("\(folder.path) was made for another model than samples/diagnose/model (\(hash)): run "
                    + "`$(bash scripts/ml-env.sh | tail -n1) scripts/make-robust-fixtures.py` again", file: file, line: line)
            throw CocoaError(.fileReadUnknown)
        }
        return try JSONDecoder().decode([String].self, from: Data(contentsOf: try url("files.json")))
    }
}

/// FGSM and PGD on the scan classifier: the input gradient against finite differences, the
/// attacked images against an independent PyTorch implementation on the same weights, and the
/// ε-ball and pixel range kept.
final class AdversarialAttackTests: XCTestCase {
    func shippedModel() throws -> ScanClassifier {
        try ScanClassifier.load(from: DiagnoseFixtures.samples.appendingPathComponent("model"))
    }

    /// The fixture's images read through Lepton's own loader (so the pixels are checked, not assumed).
    func fixtureImages(_ model: ScanClassifier) throws -> (pixels: [Float], labels: [Int]) {
        var pixels: [Float] = []
        for f in try RobustFixtures.files() {
            pixels += try ScanLoader.load(DiagnoseFixtures.pneumonia.appendingPathComponent(f), size: 28).modelInput
        }
        let reference = try RobustFixtures.npy("pixels.npy").floats
        XCTAssertEqual(pixels.count, reference.count)
        XCTAssertLessThan(zip(pixels, reference).map { abs($0 - $1) }.max() ?? 1, 1e-6, "PNG pixels differ from PIL's")
        return (pixels, try RobustFixtures.npy("labels.npy").integers.map { Int($0) })
    }

    /// Mean cross-entropy in Double from the model's (float32) logits: the finite-difference side.
    func loss(_ model: ScanClassifier, _ pixels: [Float], _ labels: [Int]) -> Double {
        let n = labels.count, z = model.logits(model.normalise(pixels), n: n)
        var s = 0.0
        for b in 0..<n {
            let a = Double(z[2 * b]), c = Double(z[2 * b + 1]), m = max(a, c)
            s += m + Foundation.log(Foundation.exp(a - m) + Foundation.exp(c - m)) - (labels[b] == 0 ? a : c)
        }
        return s / Double(n)
    }

    /// ∂loss/∂pixel against central differences, pixel by pixel on a sample of 120. The shipped
    /// model is too sharp for single-pixel stencils (ε = 2/255 flips its decisions; 8-bit images
    /// tie in max-pool windows), so this check runs on a freshly initialised network and
    /// continuous random images; the shipped model's gradient is checked against PyTorch below
    /// and, along the gradient's sign (every pixel at once), against central differences here.
    func testInputGradientMatchesFiniteDifferences() throws {
        var rng = SeededGenerator(seed: 3)
        let fresh = ScanClassifier(config: ScanClassifierConfig(), seed: 7)
        for label in [0, 1] {
            let pixels = (0..<784).map { _ in 0.1 + 0.8 * rng.nextUniform() }
            let (l, g) = fresh.inputGradient(pixels: pixels, labels: [label], n: 1)
            // A fresh network's pixel gradients are ~1e-3: the tolerance follows their scale. A few
            // stencils straddle a ReLU or max-pool kink: at least 110 of 120 must agree.
            let scale = Double(g.map(abs).max() ?? 0)
            XCTAssertGreaterThan(scale, 1e-5)
            let checker = GradientChecker(step: 1e-3, absoluteTolerance: 0.01 * scale, relativeTolerance: 1e-2)
            XCTAssertEqual(l, loss(fresh, pixels, [label]), accuracy: 1e-5)
            let sample = (0..<120).map { _ in Int(rng.next() % 784) }
            let c = checker.compare([(name: "pixels", value: Tensor(shape: [784], scalars: pixels))],
                                    analytic: [Tensor(shape: [784], scalars: g)], indices: { _ in sample }) { point in
                self.loss(fresh, point[0].scalars, [label])
            }
            XCTAssertGreaterThanOrEqual(c.filter(checker.passes).count, 110, "label \(label): \(checker.failure(c) ?? "")")
        }
        let model = try shippedModel()
        let (all, labels) = try fixtureImages(model)
        for image in 0..<labels.count {
            let pixels = Array(all[(image * 784)..<((image + 1) * 784)]), y = [labels[image]]
            let (l, g) = model.inputGradient(pixels: pixels, labels: y, n: 1)
            XCTAssertEqual(l, loss(model, pixels, y), accuracy: 1e-4)
            let v = g.map { ScanClassifier.sign($0) }, h: Float = 1e-4
            let numeric = (loss(model, zip(pixels, v).map { $0 + h * $1 }, y) - loss(model, zip(pixels, v).map { $0 - h * $1 }, y)) / Double(2 * h)
            let analytic = zip(g, v).reduce(0.0) { $0 + Double($1.0 * $1.1) }
            XCTAssertEqual(analytic, numeric, accuracy: 0.03 * abs(numeric), "image \(image) along sign(∇)")
            XCTAssertGreaterThan(analytic, 0.05, "image \(image): the loss moves along sign(∇)")
        }
    }

    /// Loss and gradient of the batch against PyTorch's (float64, same weights): on the predictor
    /// the model ships (the mean over its test-time views, `"tta": 1`), and on the unshifted view
    /// alone, which must differ from it (else the test could not tell the two apart).
    func testInputGradientMatchesPyTorch() throws {
        let model = try shippedModel()
        XCTAssertEqual(model.config.tta, 1, "the shipped model averages its test-time views")
        let (pixels, labels) = try fixtureImages(model)
        func check(_ m: ScanClassifier, _ loss: String, _ grad: String) throws -> [Float] {
            let (l, g) = m.inputGradient(pixels: pixels, labels: labels, n: labels.count)
            XCTAssertEqual(l, Double(try RobustFixtures.npy(loss).floats[0]), accuracy: 1e-4, loss)
            let ref = try RobustFixtures.npy(grad).floats
            let scale = ref.map(abs).max() ?? 1
            let worst = zip(g, ref).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(worst, 1e-3 * scale, "\(grad): max |Δgrad| \(worst), max |grad| \(scale)")
            return ref
        }
        let mean = try check(model, "loss.npy", "grad.npy")
        model.config.tta = nil
        let single = try check(model, "loss_single.npy", "grad_single.npy")
        XCTAssertGreaterThan(mismatch(mean.map { ScanClassifier.sign($0) }, single.map { ScanClassifier.sign($0) }), 0.05)
    }

    /// Share of pixels where two images differ by more than round-off.
    func mismatch(_ a: [Float], _ b: [Float]) -> Double {
        Double(zip(a, b).filter { abs($0 - $1) > 1e-5 }.count) / Double(a.count)
    }

    func assertInBall(_ adv: [Float], _ x: [Float], _ eps: Float, line: UInt = #line) {
        XCTAssertEqual(adv.count, x.count, line: line)
        let largest = zip(adv, x).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(largest, eps + 1e-6, "outside the ε-ball", line: line)
        XCTAssertTrue(adv.allSatisfy { $0 >= 0 && $0 <= 1 }, "outside the pixel range", line: line)
    }

    func testFGSMMatchesPyTorch() throws {
        let model = try shippedModel()
        let (pixels, labels) = try fixtureImages(model)
        for k in [1, 2, 4] {
            let eps = Float(k) / 255
            let adv = model.adversarialPixels(pixels, labels: labels, n: labels.count, attack: ScanAttack(kind: .fgsm, epsilon: eps))
            let ref = try RobustFixtures.npy("fgsm_\(k).npy").floats
            // A sign may differ only where the gradient is round-off small.
            XCTAssertLessThanOrEqual(mismatch(adv, ref), 0.002, "ε \(k)/255")
            assertInBall(adv, pixels, eps)
            // The attack moves pixels by ε wherever it can (not a no-op) and raises the loss.
            XCTAssertGreaterThan(Double(zip(adv, pixels).filter { abs($0 - $1) > eps * 0.99 }.count) / Double(adv.count), 0.5)
            XCTAssertGreaterThan(loss(model, adv, labels), loss(model, pixels, labels))
            let refLogits = try RobustFixtures.npy("fgsm_\(k)_logits.npy").floats
            let ours = model.logits(model.normalise(adv), n: labels.count)
            XCTAssertLessThan(zip(ours, refLogits).map { abs($0 - $1) }.max() ?? 1, 0.05, "ε \(k)/255 logits")
        }
    }

    func testPGDMatchesPyTorchFromTheSameStart() throws {
        let model = try shippedModel()
        let (pixels, labels) = try fixtureImages(model)
        for k in [2, 4] {
            let eps = Float(k) / 255
            let start = try RobustFixtures.npy("pgd_start_\(k).npy").floats
            let adv = model.adversarialPixels(pixels, labels: labels, n: labels.count,
                                              attack: ScanAttack(kind: .pgd, epsilon: eps, steps: 10), start: start)
            let ref = try RobustFixtures.npy("pgd_\(k).npy").floats
            XCTAssertLessThanOrEqual(mismatch(adv, ref), 0.01, "ε \(k)/255")
            assertInBall(adv, pixels, eps)
            let refLogits = try RobustFixtures.npy("pgd_\(k)_logits.npy").floats
            let ours = model.logits(model.normalise(adv), n: labels.count)
            XCTAssertLessThan(zip(ours, refLogits).map { abs($0 - $1) }.max() ?? 1, 0.1, "ε \(k)/255 logits")
        }
    }

    /// Pixels at the ends of the range stay in it, large steps are projected back into the ball,
    /// and the seed fixes PGD's random start.
    func testBallClippingAndSeed() throws {
        let model = try shippedModel()
        var (pixels, labels) = try fixtureImages(model)
        for i in 0..<200 { pixels[i] = 0 }
        for i in 200..<400 { pixels[i] = 1 }
        let eps: Float = 8 / 255
        for attack in [ScanAttack(kind: .fgsm, epsilon: eps), ScanAttack(kind: .pgd, epsilon: eps, steps: 3, stepSize: 0.2, seed: 9)] {
            let adv = model.adversarialPixels(pixels, labels: labels, n: labels.count, attack: attack)
            assertInBall(adv, pixels, eps)
        }
        let a = ScanAttack(kind: .pgd, epsilon: eps, steps: 2, seed: 1)
        var b = a
        b.seed = 2
        let first = model.adversarialPixels(pixels, labels: labels, n: labels.count, attack: a)
        XCTAssertEqual(first, model.adversarialPixels(pixels, labels: labels, n: labels.count, attack: a))
        XCTAssertNotEqual(first, model.adversarialPixels(pixels, labels: labels, n: labels.count, attack: b))
        XCTAssertNotNil(ScanAttack(kind: .pgd, epsilon: 2, steps: 10).problem)
        XCTAssertNotNil(ScanAttack(kind: .pgd, epsilon: 0.01, steps: 0).problem)
    }

    /// The data-set evaluation: ε = 0 is the clean figure, and at each ε the accuracy is the one
    /// PyTorch's logits on its own FGSM images give.
    func testRobustEvaluationAgainstPyTorchDecisions() throws {
        let model = try shippedModel()
        let (pixels, labels) = try fixtureImages(model)
        var data = LabeledImages(size: 28)
        data.pixels = pixels; data.labels = labels; data.files = try RobustFixtures.files()
        let results = try model.robustEvaluation(data, kind: .fgsm, epsilons: [1, 2, 4].map { Float($0) / 255 })
        XCTAssertEqual(results.count, 4)
        XCTAssertEqual(results[0].attacked.accuracy, try model.evaluate(data).accuracy, accuracy: 1e-12)
        for (r, k) in zip(results.dropFirst(), [1, 2, 4]) {
            let z = try RobustFixtures.npy("fgsm_\(k)_logits.npy").floats
            let expected = Double((0..<labels.count).filter { (z[2 * $0 + 1] > z[2 * $0] ? 1 : 0) == labels[$0] }.count) / Double(labels.count)
            XCTAssertEqual(r.attacked.accuracy, expected, accuracy: 1e-12, "ε \(k)/255")
            XCTAssertLessThanOrEqual(r.largestChange, Float(k) / 255 + 1e-6)
            XCTAssertTrue(r.withinPixelRange)
        }
    }

    /// Adversarial training runs the attack on every batch and trains on both halves: on a tiny
    /// set it still learns, and it differs from clean training with the same seed.
    func testAdversarialTrainingTrainsOnAttackedBatches() throws {
        var data = LabeledImages(size: 28)
        let model = try shippedModel()
        let (pixels, labels) = try fixtureImages(model)
        data.pixels = pixels; data.labels = labels; data.files = try RobustFixtures.files()
        var config = ScanClassifierConfig()
        config.channels = [4, 8]; config.pool = [true, false]
        var options = TrainingOptions()
        options.epochs = 2; options.batchSize = 8; options.seed = 4; options.augment = false
        let (clean, _) = try ScanClassifier.train(train: data, val: data, config: config, options: options)
        options.adversarial = ScanAttack(kind: .fgsm, epsilon: 4 / 255)
        let (robust, summary) = try ScanClassifier.train(train: data, val: data, config: config, options: options)
        XCTAssertEqual(summary.epochsRun, 2)
        XCTAssertNotEqual(clean.stateDict()["c1.weight"]?.scalars, robust.stateDict()["c1.weight"]?.scalars)
        options.adversarial = ScanAttack(kind: .pgd, epsilon: 4 / 255, steps: 0)
        XCTAssertThrowsError(try ScanClassifier.train(train: data, val: data, config: config, options: options)) {
            XCTAssertTrue("\($0)".contains("steps"), "\($0)")
        }
    }
}
