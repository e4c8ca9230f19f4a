import XCTest
@testable import LeptonRisk
import LeptonEngine

final class ModelTests: XCTestCase {
    func testMetricsOnHandExample() throws {
        let s: [Float] = [0.9, 0.8, 0.7, 0.6], y: [Float] = [1, 0, 1, 0]
        XCTAssertEqual(try RiskMetrics.averagePrecision(scores: s, labels: y), (1 + 2.0 / 3) / 2, accuracy: 1e-6)
        XCTAssertEqual(try RiskMetrics.rocAUC(scores: s, labels: y), 0.75, accuracy: 1e-6)
        let (p, r, f) = try RiskMetrics.precisionRecallF1(scores: s, labels: y, threshold: 0.75)
        XCTAssertEqual(p, 0.5); XCTAssertEqual(r, 0.5); XCTAssertEqual(f, 0.5)
        XCTAssertEqual(try RiskMetrics.recallAtBudget(scores: s, labels: y, budget: 0.25), 0.5)
        XCTAssertEqual(try RiskMetrics.rocAUC(scores: [0.5, 0.5], labels: [1, 0]), 0.5)
    }

    /// A NaN score is an error, not a ranking metric of 0 (or ½): before, `try?` turned the
    /// engine's error into AP 0, and a model that scored NaN looked merely bad.
    func testNaNScoreIsAnError() {
        let s: [Float] = [0.9, .nan, 0.4, 0.1], y: [Float] = [1, 0, 1, 0]
        for (what, call) in [("AP", { _ = try RiskMetrics.averagePrecision(scores: s, labels: y) }),
                             ("ROC-AUC", { _ = try RiskMetrics.rocAUC(scores: s, labels: y) }),
                             ("best F1", { _ = try RiskMetrics.bestF1Threshold(scores: s, labels: y) }),
                             ("recall at budget", { _ = try RiskMetrics.recallAtBudget(scores: s, labels: y, budget: 0.5) }),
                             ("evaluation", { _ = try RiskEvaluation(scores: s, labels: y, threshold: 0.5, budget: 0.5) })] as [(String, () throws -> Void)] {
            XCTAssertThrowsError(try call(), what) { e in
                guard case .invalidArgument = e as? MetricsError else { return XCTFail("\(what): \(e)") }
            }
        }
        // The conventions for undefined metrics stay: no positives → AP 0, one class → AUC ½.
        XCTAssertEqual(try RiskMetrics.averagePrecision(scores: [0.2, 0.1], labels: [0, 0]), 0)
        XCTAssertEqual(try RiskMetrics.rocAUC(scores: [0.2, 0.1], labels: [1, 1]), 0.5)
    }

    func testBoostedTreesLearnAnInteraction() throws {
        var rng = SeededGenerator(seed: 3)
        func data(_ n: Int) -> ([Float], [Float]) {
            var x = [Float](), y = [Float]()
            for _ in 0..<n {
                let a = rng.nextUniform(), b = rng.nextUniform(), c = rng.nextUniform()
                x += [a, b, c]; y.append((a > 0.5) != (b > 0.5) ? 1 : 0)  // XOR: no single feature separates it
            }
            return (x, y)
        }
        let (xt, yt) = data(2000), (xv, yv) = data(1000)
        var o = GradientBoostedTrees.Options(); o.rounds = 60; o.depth = 3
        let m = try GradientBoostedTrees.train(x: xt, y: yt, features: 3, options: o)
        XCTAssertGreaterThan(try RiskMetrics.rocAUC(scores: m.predict(xv, rows: 1000), labels: yv), 0.97)
        // Round trip through safetensors.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gbt-\(getpid()).safetensors")
        try Safetensors.write(tensors: m.tensors(), to: url)
        let back = try GradientBoostedTrees(store: try Safetensors.read(url), features: 3, source: url.path)
        XCTAssertEqual(back.predict(xv, rows: 1000), m.predict(xv, rows: 1000))
    }

    func testSimulatorIsSeededAndWritesEveryTypology() throws {
        var o = AMLSimulator.Options(); o.accounts = 300; o.days = 20; o.seed = 5
        let a = try AMLSimulator.generate(o), b = try AMLSimulator.generate(o)
        XCTAssertEqual(a.csv, b.csv); XCTAssertEqual(a.patterns, b.patterns)
        o.seed = 6
        XCTAssertNotEqual(try AMLSimulator.generate(o).csv, a.csv)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sim-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let csv = dir.appendingPathComponent("tx.csv"), pat = dir.appendingPathComponent("p.csv")
        try Data(a.csv.utf8).write(to: csv); try Data(a.patterns.utf8).write(to: pat)
        var t = TransactionTable()
        let r = try t.append(csv: csv.path)
        XCTAssertEqual(r.total, 0)
        XCTAssertEqual(t.count, a.rows)
        let p = try readPatternFile(pat.path)
        XCTAssertEqual(p.count, a.laundering)
        XCTAssertEqual(t.positives, a.laundering)
        for row in p.keys { XCTAssertEqual(t.label[row], 1) }
        XCTAssertEqual(Set(p.values).intersection(AMLSimulator.typologies).count, 8)
        // A cycle's rows return to their first sender.
        let cycleRows = p.filter { $0.value == "cycle" }.keys.sorted()
        XCTAssertFalse(cycleRows.isEmpty)
        let senders = Set(cycleRows.map { t.src[$0] }), receivers = Set(cycleRows.map { t.dst[$0] })
        XCTAssertFalse(senders.intersection(receivers).isEmpty)
    }

    func testTrainScoreSaveLoadEndToEnd() throws {
        var o = AMLSimulator.Options(); o.accounts = 400; o.days = 30; o.seed = 11; o.patternRate = 30
        let sim = try AMLSimulator.generate(o)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let csv = dir.appendingPathComponent("tx.csv")
        try Data(sim.csv.utf8).write(to: csv)
        var t = TransactionTable()
        try t.append(csv: csv.path)
        let (train, test) = t.splitByTime(fraction: 0.7)
        XCTAssertGreaterThan(train.positives, 0); XCTAssertGreaterThan(test.positives, 0)
        var opts = TransactionModel.TrainOptions()
        opts.trees.rounds = 40; opts.gnnEpochs = 10; opts.folds = 3
        let (model, _) = try TransactionModel.train(train, source: "train", options: opts)
        try model.save(to: dir.appendingPathComponent("model"))
        let loaded = try TransactionModel.load(from: dir.appendingPathComponent("model"))
        let testPath = dir.appendingPathComponent("test.csv")
        try Data(test.csv().utf8).write(to: testPath)
        let s = try ScoredTransactions(model: loaded, path: testPath.path)
        XCTAssertEqual(s.inputRows.count, test.count)
        let scores = s.inputRows.map { s.scores[$0] }, labels = s.inputRows.map { Float(s.table.label[$0] == 1 ? 1 : 0) }
        XCTAssertGreaterThan(try RiskMetrics.rocAUC(scores: scores, labels: labels), 0.8)
        // A model with no positives is refused.
        var negatives = train
        for k in 0..<negatives.count { negatives.label[k] = 0 }
        XCTAssertThrowsError(try TransactionModel.train(negatives, source: "n", options: opts)) { e in
            XCTAssertEqual(e as? RiskError, .noPositiveLabels(path: "n"))
        }
        // A corrupted model folder is refused with a clear error.
        let cfg = dir.appendingPathComponent("model/config.json")
        try Data("{".utf8).write(to: cfg)
        XCTAssertThrowsError(try TransactionModel.load(from: dir.appendingPathComponent("model"))) { e in
            guard case .badModel = e as? RiskError else { return XCTFail("\(e)") }
        }
    }
}
