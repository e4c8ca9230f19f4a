import Foundation
import XCTest

/// Node and edge models that use the labels known of an item's neighbours, end to end on the real
/// YelpChi reviews (../shared/data/risk/yelpchi-reviews: authors' train and valid rows; the test
/// rows are held out and absent): `evaluate` gives them the train rows' labels only, `score` the
/// file given with `--known-labels`, and without any the model scores with its fallback trees.
extension RiskProgramTests {
    func testYelpChiReviewsWithAndWithoutKnownLabels() throws {
        let y = Self.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/risk/yelpchi-reviews")
        let edges = y.appendingPathComponent("reviews.csv").path, labels = y.appendingPathComponent("labels.csv").path
        let out = tmp.appendingPathComponent("yelp-model").path
        let t = try risk(["train", "--edges", edges, "--labels", labels, "--out", out, "--json", "-q"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let v = try XCTUnwrap(try json(t.stdout.split(separator: "\n")[0])["validation"] as? [String: Double])
        XCTAssertGreaterThan(try XCTUnwrap(v["trees_with_known_labels_cv_roc_auc"]), try XCTUnwrap(v["trees_without_known_labels_cv_roc_auc"]) + 0.005)

        // The authors' valid rows (chose nothing in this test; earlier sessions read them): ROC-AUC
        // with the train rows' labels known, and with none.
        func rocAUC(_ extra: [String]) throws -> Double {
            let r = try risk(["evaluate", "--model", out, "--edges", edges, "--labels", labels, "--bootstrap", "0", "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(try json(r.stdout.split(separator: "\n")[0])["roc_auc"] as? Double)
        }
        let known = try rocAUC([]), none = try rocAUC(["--without-known-labels"])
        XCTAssertGreaterThan(known, 0.84)
        XCTAssertGreaterThan(none, 0.81)   // second stage over the neighbours' scores
        XCTAssertGreaterThan(known, none + 0.02)

        // score: --known-labels changes the ranking; without it the model says nothing is known.
        let withLabels = try risk(["score", "--model", out, "--edges", edges, "--known-labels", labels, "--top", "50"])
        let without = try risk(["score", "--model", out, "--edges", edges, "--top", "50"])
        XCTAssertEqual(withLabels.status, 0, withLabels.stderr); XCTAssertEqual(without.status, 0, without.stderr)
        XCTAssertNotEqual(withLabels.stdout, without.stdout)
        assertOneLineError(try risk(["score", "--model", out, "--edges", edges, "--known-labels", tmp.appendingPathComponent("absent.csv").path]),
                           status: 1, contains: "absent.csv")
    }
}
