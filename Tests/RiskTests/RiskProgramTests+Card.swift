import Foundation
import XCTest

/// Issue 23: a model card a model-risk reviewer can check against the training file, and alerts
/// whose reasons are words and whose parts add up to the score.
extension RiskProgramTests {
    func testTrainWritesAModelCardThatMatchesTheTrainingFile() throws {
        let h = Self.samples + "/train.csv"
        let out = tmp.appendingPathComponent("model-card")
        let train = try risk(["train", "--transactions", h, "--out", out.path, "--trees", "20", "--gnn-epochs", "0", "-q"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let card = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("model-card.json"))) as? [String: Any])
        let markdown = try String(contentsOf: out.appendingPathComponent("model-card.md"), encoding: .utf8)

        // The facts, from the CSV itself: labelled rows, laundering rows, the labelled period.
        let rows = try String(contentsOfFile: h, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let labelled = rows.filter { !($0.last ?? "").trimmingCharacters(in: .whitespaces).isEmpty }
        let times = labelled.map { String($0[0]) }.sorted()
        let data = try XCTUnwrap(card["data"] as? [String: Any])
        XCTAssertEqual(data["labelled_rows"] as? Int, labelled.count)
        XCTAssertEqual(data["positives"] as? Int, labelled.filter { $0.last == "1" }.count)
        XCTAssertEqual(data["period_start"] as? String, times.first)
        XCTAssertEqual(data["period_end"] as? String, times.last)
        XCTAssertEqual((card["features"] as? [Any])?.count, 44)
        XCTAssertEqual((card["choices"] as? [String: Any])?["tree_depth"] as? Int, 2)   // the default, chosen by CV (README)

        // The model id is the one every output names: SHA-256 of the weights then the config.
        let sha = try sha256Prefix([out.path + "/model.safetensors", out.path + "/config.json"])
        XCTAssertEqual((card["model"] as? [String: Any])?["sha256"] as? String, sha)
        XCTAssertTrue(markdown.contains(sha), markdown)
        XCTAssertEqual(card["software"] as? String, "lepton-risk 0.1.0")

        // The validation figure lies inside its own bootstrap interval.
        let validation = try XCTUnwrap(card["validation"] as? [String: Double])
        let intervals = try XCTUnwrap(card["intervals"] as? [String: Any])
        let pr = try XCTUnwrap(intervals["pr_auc"] as? [Double]), ap = try XCTUnwrap(validation["cv_pr_auc"])
        XCTAssertLessThanOrEqual(pr[0], ap + 1e-6); XCTAssertGreaterThanOrEqual(pr[1], ap - 1e-6)
        XCTAssertLessThan(pr[0], pr[1])

        // No account of the training file in the card.
        let accounts = Set(rows.flatMap { [String($0[2]), String($0[4])] })
        let cardText = try String(contentsOf: out.appendingPathComponent("model-card.json"), encoding: .utf8) + markdown
        XCTAssertEqual(accounts.filter { $0.count >= 6 && cardText.contains($0) }, [])
    }

    func testAlertsCarryReasonsInWordsAndExplanationsAddUp() throws {
        let m = Self.samples + "/model", tx = Self.samples + "/test.csv", h = Self.samples + "/train.csv"
        let sc = try risk(["score", "--model", m, "--transactions", tx, "--history", h, "--json", "--top", "5"])
        XCTAssertEqual(sc.status, 0, sc.stderr)
        let lines = sc.stdout.split(separator: "\n").dropFirst()
        XCTAssertEqual(lines.count, 5)
        for line in lines {
            let alert = try json(line)
            let reasons = try XCTUnwrap(alert["reasons"] as? [[String: Any]], "\(alert)")
            XCTAssertFalse(reasons.isEmpty)
            for r in reasons {
                let text = try XCTUnwrap(r["text"] as? String)
                XCTAssertFalse(text.contains("_") || text.isEmpty, text)
                XCTAssertGreaterThan(r["effect"] as? Double ?? 0, 0)
            }
            // explain splits the same score into parts that add up to it.
            let ex = try risk(["explain", "--model", m, "--transactions", tx, "--history", h, "\(alert["row"] as! Int)", "--json"])
            XCTAssertEqual(ex.status, 0, ex.stderr)
            let e = try json(ex.stdout.split(separator: "\n")[0])
            let parts = (e["baseline"] as! Double) + (e["drivers"] as! [[String: Any]]).reduce(0) { $0 + ($1["effect"] as! Double) }
            XCTAssertEqual(parts, alert["score"] as! Double, accuracy: 1e-4)
            // The alert's first reason is the explanation's largest positive feature part.
            let top = (e["drivers"] as! [[String: Any]]).filter { ($0["effect"] as! Double) > 0 && $0["feature"] as? String != "other features" }
                .max { ($0["effect"] as! Double) < ($1["effect"] as! Double) }
            if let top, (top["feature"] as? String)?.contains(" ") == false {
                XCTAssertEqual(top["reason"] as? String, reasons[0]["text"] as? String)
            }
        }
    }
}

extension RiskProgramTests {
    /// `--gnn auto` (the default) cross-validates every layer, reports each one's out-of-fold
    /// PR-AUC and blends the best; a fixed layer reports only its own.
    func testGNNLayerIsChosenByCrossValidation() throws {
        let h = Self.samples + "/train.csv"
        let r = try risk(["train", "--transactions", h, "--out", tmp.appendingPathComponent("auto").path, "--trees", "10",
                          "--gnn-epochs", "3", "--no-propagation", "--json", "-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let v = try XCTUnwrap(try json(r.stdout.split(separator: "\n")[0])["validation"] as? [String: Double])
        let each = ["sage", "gcn", "gat"].compactMap { v["gnn_\($0)_cv_pr_auc"] }
        XCTAssertEqual(each.count, 3, "\(v)")
        XCTAssertEqual(v["gnn_cv_pr_auc"] ?? -1, each.max()!, accuracy: 1e-6)
        let fixed = try risk(["train", "--transactions", h, "--out", tmp.appendingPathComponent("gcn").path, "--trees", "10",
                              "--gnn-epochs", "3", "--gnn", "gcn", "--json", "-q"])
        let w = try XCTUnwrap(try json(fixed.stdout.split(separator: "\n")[0])["validation"] as? [String: Double])
        XCTAssertNotNil(w["gnn_gcn_cv_pr_auc"]); XCTAssertNil(w["gnn_sage_cv_pr_auc"])
        XCTAssertEqual(try risk(["train", "--transactions", h, "--out", "/tmp/x", "--gnn", "gin"]).status, 64)
    }
}
