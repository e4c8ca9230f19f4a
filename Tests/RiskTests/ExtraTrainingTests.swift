import Foundation
import XCTest
@testable import LeptonRisk

/// `train --extra-training`: labelled rows of another graph reach every fold's trees, but the
/// out-of-fold figures that choose everything are on the bank's own rows only.
final class ExtraTrainingTests: XCTestCase {
    func testExtraRowsTrainTheTreesButAreNeverScored() throws {
        let bank = try simulatedTable(accounts: 300, days: 30, seed: 5)
        var o = TransactionModel.TrainOptions()
        o.trees.rounds = 30; o.useGNN = false; o.usePropagation = false; o.folds = 3
        let (_, alone) = try TransactionModel.train(bank, source: "bank", options: o)
        // The bank's own rows as the extra graph: each held-out block's rows, labels included,
        // then reach the trees that score it, so the out-of-fold figure must rise (a leak made
        // on purpose, to show the extra rows do train).
        o.extraTraining = ExtraTrainingRows(bank)
        let (model, leaked) = try TransactionModel.train(bank, source: "bank", options: o)
        XCTAssertGreaterThan(leaked["trees_cv_pr_auc"]!, alone["trees_cv_pr_auc"]! + 0.02, "\(alone) vs \(leaked)")
        // Counted as extra, never as validated rows: the validated rows and positives are the
        // bank's, counted here from its labels.
        let labelled = bank.label.filter { $0 >= 0 }.count
        XCTAssertEqual(leaked["extra_training_rows"], Float(labelled))
        XCTAssertEqual(leaked["extra_training_positives"], Float(bank.positives))
        XCTAssertEqual(model.config.trainRows, labelled)
        XCTAssertEqual(model.config.trainPositives, bank.positives)
        XCTAssertEqual(model.config.drift?.rows, labelled)   // monitor's reference: the bank's rows
        XCTAssertNil(alone["extra_training_rows"])
    }

    /// Rows scored out of fold are the bank's: a simulated graph with a different seed changes
    /// the trees, yet the crossValidate output covers exactly the bank's rows.
    func testCrossValidationScoresOnlyTheBanksRows() throws {
        let bank = try simulatedTable(accounts: 200, days: 20, seed: 8)
        let other = try simulatedTable(accounts: 200, days: 20, seed: 9)
        let F = TransactionFeatures.count
        let x = TransactionFeatures.compute(bank, index: AccountIndex(bank))
        let y = (0..<bank.count).map { Float(bank.label[$0] == 1 ? 1 : 0) }
        let ordered = (0..<bank.count).sorted { (bank.time[$0], $0) < (bank.time[$1], $1) }
        let half = ordered.count / 2
        let blocks = [Array(ordered[..<half]), Array(ordered[half...])]
        var foldOfRow = [Int](repeating: 0, count: bank.count)
        for r in blocks[1] { foldOfRow[r] = 1 }
        var topts = GradientBoostedTrees.Options(); topts.rounds = 20
        let extra = ExtraTrainingRows(other)
        XCTAssertEqual(extra.y.count, other.label.filter { $0 >= 0 }.count)
        XCTAssertEqual(extra.x.count, extra.y.count * F)
        let a = try TransactionModel.crossValidate(x: x, features: F, labels: y, blocks: blocks, foldOfRow: foldOfRow,
                                                   scoredRows: ordered, options: topts, log: { _ in })
        let b = try TransactionModel.crossValidate(x: x, features: F, labels: y, blocks: blocks, foldOfRow: foldOfRow,
                                                   scoredRows: ordered, options: topts, extra: extra, log: { _ in })
        XCTAssertEqual(b.scoresAll.count, bank.count)
        XCTAssertNotEqual(a.scoresAll, b.scoresAll)   // the extra rows trained the fold models
        // The figure that chose the tree count is the PR-AUC of the bank's own out-of-fold scores.
        let ap = try RiskMetrics.averagePrecision(scores: ordered.map { b.scoresAll[$0] }, labels: ordered.map { y[$0] })
        XCTAssertEqual(ap, b.averagePrecision, accuracy: 1e-4)
    }
}
