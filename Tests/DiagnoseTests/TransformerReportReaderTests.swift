import Foundation
import XCTest
import LeptonEngine
import LeptonTestSupport
import LeptonText
@testable import LeptonDiagnose

/// The Transformer report reader (issue 22): its training objective against finite differences,
/// its answers against the IU curators' labels (findings.csv, never our own output), strict
/// loading of its head, and the program naming the reader and its weights.
final class TransformerReportReaderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-report-reader-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A head trained by `train-reports` (``ReportReaderFixture``) and the MiniLM encoder; a missing
    /// encoder fails naming the script that fetches it.
    func trainedModel() throws -> TransformerFindingModel {
        guard FileManager.default.fileExists(atPath: ModelCache.miniLM.appendingPathComponent("model.safetensors").path) else {
            XCTFail("MiniLM weights missing at \(ModelCache.miniLM.path): run scripts/bootstrap.sh")
            throw XCTSkip("no encoder")
        }
        return try TransformerFindingModel(folder: try ReportReaderFixture.trained())
    }

    /// The objective (mean BCE on logits + ‖W‖²/(2Cn)) and its gradient through the engine's
    /// autodiff agree with central differences, for the weight and the bias.
    func testObjectiveGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 3)
        let head = Linear(7, 1, rng: &rng)
        let x = Variable(Tensor.randomNormal([12, 7], using: &rng))
        let y = Tensor(shape: [12, 1], scalars: (0..<12).map { Float($0 % 3 == 0 ? 1 : 0) })
        let checker = GradientChecker(step: 1e-2, absoluteTolerance: 1e-4, relativeTolerance: 1e-2)
        let comparisons = checker.compareParameters(head.namedParameters()) {
            TransformerFindingTrainer.objective(head, features: x, labels: y, inverseRegularization: 0.5)
        }
        XCTAssertEqual(comparisons.count, 8)
        if let message = checker.failure(comparisons) { XCTFail(message) }
        // The penalty is there: with a large C the gradient of the weight changes.
        head.zeroGrad()
        TransformerFindingTrainer.objective(head, features: x, labels: y, inverseRegularization: 1e6).backward()
        let unpenalised = head.weight.grad!.scalars
        head.zeroGrad()
        TransformerFindingTrainer.objective(head, features: x, labels: y, inverseRegularization: 0.5).backward()
        let penalised = head.weight.grad!.scalars
        let w = head.weight.value.scalars
        for i in 0..<7 { XCTAssertEqual(penalised[i] - unpenalised[i], w[i] / (0.5 * 12), accuracy: 1e-4) }
    }

    /// L-BFGS reaches the optimum: the gradient of the objective is ~0 at the fitted point.
    func testFitReachesStationaryPoint() {
        var rng = SeededGenerator(seed: 5)
        let head = Linear(5, 1, rng: &rng)
        let features = Tensor.randomNormal([40, 5], using: &rng)
        let labels = (0..<40).map { i -> Float in features[flat: i * 5] + 0.5 * features[flat: i * 5 + 1] > 0 ? 1 : 0 }
        let result = TransformerFindingTrainer.fit(head, features: features, labels: labels, inverseRegularization: 1)
        XCTAssertTrue(result.converged, "\(result)")
        head.zeroGrad()
        TransformerFindingTrainer.objective(head, features: Variable(features), labels: Tensor(shape: [40, 1], scalars: labels),
                                            inverseRegularization: 1).backward()
        let g = head.weight.grad!.scalars + head.bias!.grad!.scalars
        XCTAssertLessThan(g.map(abs).max()!, 1e-3, "\(g)")
    }

    /// On the test part of the split (odd IU reports nothing was chosen on), the readers are
    /// scored against the curators' labels in findings.csv.
    func testReadersOnHeldOutReportsAgainstCuratedLabels() throws {
        let model = try trainedModel()
        let split = try ReportSplit(contentsOf: DiagnoseFixtures.samples.appendingPathComponent("report-split.csv"))
        let csv = DiagnoseFixtures.iu.appendingPathComponent("findings.csv")
        let (rows, _) = try ReportEvaluation.labeledReports(findingsCSV: csv, files: try split.files("test", source: "split"))
        XCTAssertGreaterThan(rows.count, 600)
        var scores: [ReportReaderKind: ReportEvaluation] = [:]
        for kind in ReportReaderKind.allCases {
            let reader = kind == .rules ? FindingReader.rules : FindingReader(model: model, kind: kind)
            scores[kind] = ReportEvaluation.score(rows, analyses: reader.analyze(rows.map(\.text)))
        }
        for (kind, ev) in scores {
            print("test part, \(kind.rawValue): macro-F1 \(ev.macroF1Main), abnormal F1 \(ev.abnormal.f1)")
        }
        let t = scores[.transformer]!, c = scores[.combined]!
        XCTAssertGreaterThan(t.macroF1Main, 0.88)
        XCTAssertGreaterThan(t.abnormal.f1, 0.95)
        XCTAssertGreaterThan(c.macroF1Main, 0.9)
        XCTAssertGreaterThan(c.abnormal.f1, 0.95)
    }

    /// A few reports read one by one against their findings.csv rows: the first ten of the test
    /// part in file order (a fixed rule, not a pick): at least eight must match the curators on
    /// abnormality and on all five main findings (at the measured F1 of ~0.9 per finding, ten
    /// fully right reports are not to be expected; two misses are allowed).
    func testFewReportsAgainstTheirLabels() throws {
        let reader = FindingReader(model: try trainedModel(), kind: .transformer)
        let csv = DiagnoseFixtures.iu.appendingPathComponent("findings.csv")
        let split = try ReportSplit(contentsOf: DiagnoseFixtures.samples.appendingPathComponent("report-split.csv"))
        let first = Set(try split.files("test", source: "split").sorted().prefix(10))
        let (rows, _) = try ReportEvaluation.labeledReports(findingsCSV: csv, files: first)
        XCTAssertGreaterThanOrEqual(rows.count, 9)   // a report without text is skipped
        var right = 0, wrong: [String] = []
        // One by one, as analyze reads a report (the held-out test above reads them in one batch).
        for r in rows {
            let a = reader.analyze(r.text)
            let ok = a.abnormal == r.abnormal
                && r.findings.filter { FindingLexicon.mainFindings.contains($0.0) }.allSatisfy { (a.status($0.0) == .present) == $0.1 }
            if ok { right += 1 } else { wrong.append("\(r.file): \(r.text)") }
        }
        XCTAssertGreaterThanOrEqual(right, rows.count - 2, wrong.joined(separator: "\n"))
    }

    /// Strict loading: a missing, mis-shaped, non-finite or unexpected head weight is an error naming it.
    func testBadHeadWeightsAreNamed() throws {
        let model = try trainedModel()
        let source = try ReportReaderFixture.trained()
        let config = try Data(contentsOf: source.appendingPathComponent(TransformerFindingConfig.fileName))
        let good = try Safetensors.read(source.appendingPathComponent(TransformerFindingConfig.weightsFileName))
        let w = try good.take("classifier.weight"), b = try good.take("classifier.bias")
        let width = model.config.featureCount(hidden: model.encoder.dimension)
        XCTAssertEqual(w.shape, [1, width])
        func expectError(_ tensors: [String: Tensor], naming name: String, line: UInt = #line) throws {
            let folder = dir.appendingPathComponent(UUID().uuidString)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try config.write(to: folder.appendingPathComponent(TransformerFindingConfig.fileName))
            try Safetensors.write(tensors: tensors, to: folder.appendingPathComponent(TransformerFindingConfig.weightsFileName))
            XCTAssertThrowsError(try TransformerFindingModel(folder: folder), line: line) { e in
                XCTAssertTrue("\(e)".contains(name), "\(e)", line: line)
            }
        }
        try expectError(["classifier.weight": w], naming: "classifier.bias")
        try expectError(["classifier.weight": Tensor(shape: [1, width - 1]), "classifier.bias": b], naming: "classifier.weight")
        try expectError(["classifier.weight": w, "classifier.bias": b, "extra.weight": b], naming: "extra.weight")
        var nan = b
        nan[flat: 0] = .nan
        try expectError(["classifier.weight": w, "classifier.bias": nan], naming: "classifier.bias")
        // No config at all names the file and the command that makes one.
        XCTAssertThrowsError(try TransformerFindingModel(folder: dir)) { e in
            XCTAssertTrue("\(e)".contains(TransformerFindingConfig.fileName) && "\(e)".contains("train-reports"), "\(e)")
        }
    }
}
