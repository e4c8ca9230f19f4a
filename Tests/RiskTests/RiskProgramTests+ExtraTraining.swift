import Foundation
import XCTest

/// `train --extra-training FILE`: the rows reach the model card with counts a reviewer can check
/// against the file; a wrong value is one line and the documented exit status.
extension RiskProgramTests {
    func testExtraTrainingReachesTheModelCard() throws {
        let h = Self.samples + "/train.csv", extra = Self.samples + "/test.csv"
        let out = tmp.appendingPathComponent("extra-card")
        let r = try risk(["train", "--transactions", h, "--extra-training", extra, "--out", out.path,
                          "--trees", "20", "--gnn-epochs", "0", "--json", "-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Counted from the extra CSV itself.
        let rows = try String(contentsOfFile: extra, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let labelled = rows.filter { !($0.last ?? "").isEmpty }
        let card = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("model-card.json"))) as? [String: Any])
        let e = try XCTUnwrap((card["data"] as? [String: Any])?["extra_training"] as? [String: Any], "\(card)")
        XCTAssertEqual(e["source"] as? String, extra)
        XCTAssertEqual(e["labelled_rows"] as? Int, labelled.count)
        XCTAssertEqual(e["positives"] as? Int, labelled.filter { $0.last == "1" }.count)
        // The validated rows stay the training file's.
        let own = try String(contentsOfFile: h, encoding: .utf8).split(separator: "\n").dropFirst().filter { !$0.hasSuffix(",") }
        XCTAssertEqual((card["data"] as? [String: Any])?["labelled_rows"] as? Int, own.count)
        let markdown = try String(contentsOf: out.appendingPathComponent("model-card.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("extra training rows"), markdown)
        XCTAssertEqual((try json(r.stdout.split(separator: "\n")[0])["validation"] as? [String: Double])?["extra_training_rows"],
                       Double(labelled.count))
    }

    func testExtraTrainingBadValuesAreOneLine() throws {
        let h = Self.samples + "/train.csv", out = tmp.appendingPathComponent("extra-bad").path
        assertOneLineError(try risk(["train", "--transactions", h, "--extra-training", "/nonexistent/sim.csv", "--out", out,
                                     "--trees", "5", "--gnn-epochs", "0"]), status: 1, contains: "/nonexistent/sim.csv")
        // A file without a laundering row teaches the trees nothing about laundering.
        let negatives = tmp.appendingPathComponent("extra-negatives.csv")
        let text = try String(contentsOfFile: h, encoding: .utf8).split(separator: "\n").filter { !$0.hasSuffix(",1") }.joined(separator: "\n") + "\n"
        try Data(text.utf8).write(to: negatives)
        assertOneLineError(try risk(["train", "--transactions", h, "--extra-training", negatives.path, "--out", out,
                                     "--trees", "5", "--gnn-epochs", "0"]), status: 1, contains: "no positive labels")
        // Node graphs have no transfers to add (checked before any file is read).
        assertOneLineError(try risk(["train", "--edges", "edges.csv", "--labels", "labels.csv", "--extra-training", h, "--out", out]),
                           status: 64, contains: "--extra-training")
    }
}
