import Foundation
import XCTest

/// `train --out-of-fold FILE`: the scores the validation figures come from, one per labelled row of
/// the training file, named by the file's own row numbers, so a reviewer can recompute the figures.
extension RiskProgramTests {
    func testOutOfFoldScoresRecomputeTheValidationFigure() throws {
        let h = Self.samples + "/train.csv"
        let out = tmp.appendingPathComponent("oof-model"), oof = tmp.appendingPathComponent("oof.csv")
        let r = try risk(["train", "--transactions", h, "--out", out.path, "--out-of-fold", oof.path,
                          "--trees", "30", "--gnn-epochs", "0", "--json", "-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // The training file's labels by data row (0-based), read here from the CSV itself.
        let data = try String(contentsOfFile: h, encoding: .utf8).split(separator: "\n").dropFirst()
        let fileLabel = data.map { $0.split(separator: ",", omittingEmptySubsequences: false).last.map(String.init) ?? "" }
        let lines = try String(contentsOf: oof, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "row,label,score")
        let rows = lines.dropFirst().map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(rows.count, fileLabel.filter { !$0.isEmpty }.count)
        XCTAssertEqual(Set(rows.map { $0[0] }).count, rows.count, "a row twice")
        var scores: [Double] = [], labels: [Int] = []
        for cells in rows {
            let row = try XCTUnwrap(Int(cells[0])), score = try XCTUnwrap(Double(cells[2]))
            XCTAssertEqual(cells[1], fileLabel[row], "row \(row)")
            XCTAssertTrue((0...1).contains(score))
            scores.append(score); labels.append(cells[1] == "1" ? 1 : 0)
        }
        // Average precision as scikit-learn defines it (tied scores as one step), from the file alone.
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        let positives = Double(labels.reduce(0, +))
        var tp = 0.0, fp = 0.0, lastRecall = 0.0, ap = 0.0, i = 0
        while i < order.count {
            var j = i
            while j < order.count && scores[order[j]] == scores[order[i]] { tp += Double(labels[order[j]]); fp += Double(1 - labels[order[j]]); j += 1 }
            ap += (tp / positives - lastRecall) * tp / (tp + fp); lastRecall = tp / positives; i = j
        }
        let validation = try XCTUnwrap(try json(r.stdout.split(separator: "\n")[0])["validation"] as? [String: Double])
        XCTAssertEqual(ap, try XCTUnwrap(validation["cv_pr_auc"]), accuracy: 1e-5)

        assertOneLineError(try risk(["train", "--edges", "edges.csv", "--labels", "labels.csv", "--out-of-fold", oof.path,
                                     "--out", out.path]), status: 64, contains: "--out-of-fold")
    }
}
