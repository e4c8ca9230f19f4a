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

extension RiskProgramTests {
    /// `--depth` and `--learning-rate` reach the trees (a depth-1 tree has one split, so every
    /// node of the saved trees is a root or one of its two leaves); bad values exit 64.
    func testTreeDepthAndLearningRateOptions() throws {
        let h = Self.samples + "/train.csv", out = tmp.appendingPathComponent("stumps")
        let r = try risk(["train", "--transactions", h, "--out", out.path, "--trees", "10", "--depth", "1",
                          "--learning-rate", "0.3", "--gnn-epochs", "0", "--no-propagation", "-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // The safetensors header (8-byte length, then JSON) gives the trees' node and root counts.
        let file = try Data(contentsOf: out.appendingPathComponent("model.safetensors"))
        let n = file.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: file.subdata(in: 8..<(8 + n))) as? [String: Any])
        func count(_ name: String) -> Int { ((header[name] as? [String: Any])?["shape"] as? [Int])?.first ?? -1 }
        XCTAssertGreaterThan(count("gbt.roots"), 0)
        XCTAssertLessThanOrEqual(count("gbt.feature"), 3 * count("gbt.roots"))
        XCTAssertGreaterThan(count("gbt.feature"), count("gbt.roots"))   // not all single leaves
        // The settings reach the model card (the trees' count, depth and rate a reviewer signs off).
        let card = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("model-card.json"))) as? [String: Any])
        let choices = try XCTUnwrap(card["choices"] as? [String: Any])
        XCTAssertEqual(choices["tree_depth"] as? Int, 1)
        XCTAssertEqual(choices["tree_learning_rate"] as? Double ?? 0, 0.3, accuracy: 1e-6)
        for bad in [["--depth", "0"], ["--depth", "13"], ["--learning-rate", "0"], ["--learning-rate", "1.5"], ["--learning-rate", "nan"]] {
            assertOneLineError(try risk(["train", "--transactions", h, "--out", out.path, "--gnn-epochs", "0"] + bad),
                               status: 64, contains: bad[0])
        }
    }
}
