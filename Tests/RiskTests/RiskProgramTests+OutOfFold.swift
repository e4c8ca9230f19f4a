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

/// `scripts/oof-by-typology.py`: recall within a budget per typology and average precision, on a
/// hand-made pair of files whose answer is worked out below by hand.
extension RiskProgramTests {
    func testOutOfFoldByTypologyScriptCountsByHand() throws {
        // Ten rows; positives 1 (stack), 3 (fan-out), 5 (stack) at ranks 2, 4, 6. A budget of 0.3
        // alerts the top 3 rows (0, 1, 2): only row 1 is caught. Average precision
        // (1/2 + 2/4 + 3/6) / 3 = 0.5.
        let scores = ["row,label,score", "0,0,0.9", "1,1,0.8", "2,0,0.7", "3,1,0.6", "4,0,0.5", "5,1,0.4",
                      "6,0,0.3", "7,0,0.2", "8,0,0.1", "9,0,0.05"]
        let patterns = ["row_index,pattern_id,typology", "1,7,stack", "3,8,fan-out", "5,7,stack"]
        let s = tmp.appendingPathComponent("hand-oof.csv"), p = tmp.appendingPathComponent("hand-patterns.csv")
        try Data((scores.joined(separator: "\n") + "\n").utf8).write(to: s)
        try Data((patterns.joined(separator: "\n") + "\n").utf8).write(to: p)
        func script(_ arguments: [String]) throws -> (status: Int32, stdout: String) {
            let proc = Process(), out = Pipe()
            proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            proc.arguments = ["python3", Self.repoRoot.appendingPathComponent("scripts/oof-by-typology.py").path] + arguments
            proc.standardOutput = out; proc.standardError = FileHandle.nullDevice
            do { try proc.run() } catch { throw XCTSkip("python3 is not installed") }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            proc.waitUntilExit()
            return (proc.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let r = try script([s.path, p.path, "--budget", "0.3", "--missed", "--json"])
        XCTAssertEqual(r.status, 0)
        let j = try json(Substring(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertEqual(j["budget_rows"] as? Int, 3)
        XCTAssertEqual(j["caught"] as? Int, 1)
        XCTAssertEqual(try XCTUnwrap(j["pr_auc"] as? Double), 0.5, accuracy: 1e-9)
        let table = try XCTUnwrap(j["typologies"] as? [String: [String: Int]])
        XCTAssertEqual(table["stack"], ["caught": 1, "positives": 2])
        XCTAssertEqual(table["fan-out"], ["caught": 0, "positives": 1])
        let missed = try XCTUnwrap(j["missed"] as? [[String: Any]])
        XCTAssertEqual(missed.map { $0["row"] as? Int }, [3, 5])
        XCTAssertEqual(missed.map { $0["rank"] as? Int }, [4, 6])
        // A budget outside (0, 1] is a usage error; a file without the expected header is bad input.
        XCTAssertEqual(try script([s.path, p.path, "--budget", "0"]).status, 64)
        XCTAssertEqual(try script([p.path, s.path]).status, 1)
    }
}
