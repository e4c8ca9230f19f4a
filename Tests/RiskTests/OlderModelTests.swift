import Foundation
import XCTest
@testable import LeptonRisk

/// A model trained before features were appended (samples/risk/model: the first 43) still loads
/// and scores: its trees read the first columns and never the new ones. A feature list that is not
/// an earlier version of this program's, or an older model with a network, is refused by name; a
/// monitor reference of the older list compares its own columns.
final class OlderModelTests: XCTestCase {
    static var sampleModel: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("samples/risk/model")
    }

    func testOlderTreesIgnoreTheAppendedColumns() throws {
        let m = try TransactionModel.load(from: Self.sampleModel)
        let older = m.config.features.count
        XCTAssertLessThan(older, TransactionFeatures.count, "samples/risk/model is the older model")
        XCTAssertEqual(m.config.features, Array(TransactionFeatures.names.prefix(older)))
        let t = try simulatedTable(accounts: 120, days: 10, seed: 5)
        var x = TransactionFeatures.compute(t)
        let F = TransactionFeatures.count
        let before = m.trees.predict(x, rows: t.count)
        // Any values in the new columns: the older trees give the same scores.
        var g = SystemRandomNumberGenerator()
        for r in 0..<t.count { for c in older..<F { x[r * F + c] = Float.random(in: -100...100, using: &g) } }
        XCTAssertEqual(m.trees.predict(x, rows: t.count), before)
    }

    func testDriftAgainstAnOlderReferenceComparesItsColumnsOnly() throws {
        let t = try simulatedTable(accounts: 120, days: 10, seed: 6)
        let x = TransactionFeatures.compute(t), rows = Array(0..<t.count), scores = rows.map { Float($0 % 7) / 7 }
        var older = DriftReference(features: x, rows: rows, scores: scores)
        older.featureEdges.removeLast(); older.featureShares.removeLast()   // a reference of the first F − 1
        let report = DriftReport(reference: older, features: x, rows: rows, scores: scores)
        XCTAssertEqual(report.features.map(\.name), Array(TransactionFeatures.names.dropLast()))
        XCTAssertTrue(report.features.allSatisfy { $0.psi < 1e-6 }, "the same rows: no drift")
    }

    func testForeignFeatureListsAndOlderNetworksAreRefusedByName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("older-model-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        func variant(_ edit: (inout [String: Any]) -> Void) throws -> String {
            try? FileManager.default.removeItem(at: dir)
            try FileManager.default.copyItem(at: Self.sampleModel, to: dir)
            let url = dir.appendingPathComponent("config.json")
            var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            edit(&config)
            try JSONSerialization.data(withJSONObject: config).write(to: url)
            do { _ = try TransactionModel.load(from: dir); return "loaded" } catch { return "\(error)" }
        }
        let swapped = try variant { c in
            var f = c["features"] as! [String]; f.swapAt(0, 1); c["features"] = f
        }
        XCTAssertTrue(swapped.contains("feature list differs") && swapped.contains("retrain"), swapped)
        let newer = try variant { c in c["features"] = TransactionFeatures.names + ["from_the_future"] }
        XCTAssertTrue(newer.contains("newer version"), newer)
        let network = try variant { c in c["gnnWeight"] = 0.5 }
        XCTAssertTrue(network.contains("before \(TransactionFeatures.names[43])") && network.contains("retrain"), network)
    }
}
