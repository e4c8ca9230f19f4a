import Foundation
import XCTest
import LeptonEngine
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

    func testForeignFeatureListsAreRefusedByName() throws {
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
        XCTAssertTrue(network.contains("no gnn config"), network)
    }

    /// An older model's GNN (GraphSAGE with port numbers, GAT without) and GRU, saved with one
    /// feature fewer than today's, load widened and compute exactly what the narrow networks
    /// compute on the same transactions without the new column.
    func testOlderNetworksAreWidenedAndComputeWhatTheyDid() throws {
        let t = try simulatedTable(accounts: 150, days: 12, seed: 8)
        let F = TransactionFeatures.count, FM = F - 1, P = TransactionFeatures.portNames.count
        let wide = TransactionFeatures.compute(t)
        var narrow: [Float] = []
        for r in 0..<t.count { narrow += wide[(r * F)..<(r * F + FM)] }
        let widePorts = TransactionFeatures.gnnInputs(t, features: wide), W = F + P
        var narrowPorts: [Float] = []
        for r in 0..<t.count {
            let row = Array(widePorts[(r * W)..<((r + 1) * W)])
            narrowPorts += row.prefix(FM); narrowPorts += row.suffix(P)
        }
        var rng = SeededGenerator(seed: 21)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -0.5...0.5, using: &rng) })
        }
        var o = GradientBoostedTrees.Options(); o.rounds = 10; o.depth = 2
        let trees = try GradientBoostedTrees.train(x: narrow, y: (0..<t.count).map { t.label[$0] == 1 ? 1 : 0 }, features: FM, options: o)
        let H = 16
        let gru = SequenceScorer(config: SequenceScorerConfig(cell: .gru, inputFeatures: FM), weightIH: random([3 * H, FM + 1]),
                                 weightHH: random([3 * H, H]), biasIH: random([3 * H]), biasHH: random([3 * H]),
                                 headWeight: random([1, H]), headBias: random([1]),
                                 mean: (0..<FM).map { _ in Float.random(in: -1...1, using: &rng) },
                                 std: (0..<FM).map { _ in Float.random(in: 0.5...2, using: &rng) })
        for (kind, ports) in [(GraphConvKind.sage, true), (.gat, false)] {
            let inputs = FM + (ports ? P : 0)
            var gnn = EdgeGNN(config: EdgeGNNConfig(inputFeatures: inputs, conv: kind), seed: 5)
            gnn.edgeMean = (0..<inputs).map { _ in Float.random(in: -1...1, using: &rng) }
            gnn.edgeStd = (0..<inputs).map { _ in Float.random(in: 0.5...2, using: &rng) }
            var config = TransactionModelConfig()
            config.features = Array(TransactionFeatures.names.prefix(FM))
            config.gnnWeight = 0.5; config.gnn = gnn.config; config.gnnPortNumbers = ports
            config.sequenceWeight = 0.25; config.sequence = gru.config
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("older-networks-\(getpid())-\(kind)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try TransactionModel(config: config, trees: trees, gnn: gnn, sequence: gru).save(to: dir)

            let m = try TransactionModel.load(from: dir)
            XCTAssertEqual(m.config.gnn?.inputFeatures, F + (ports ? P : 0))
            XCTAssertEqual(m.config.features.count, FM, "the older list stays (monitor compares it)")
            let before = gnn.predict(t, features: ports ? narrowPorts : narrow)
            let after = try XCTUnwrap(m.gnn).predict(t, features: ports ? widePorts : wide)
            XCTAssertEqual(after.count, before.count)
            for (a, b) in zip(after, before) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(kind)") }
            let seqBefore = gru.predict(t, features: narrow), seqAfter = try XCTUnwrap(m.sequence).predict(t, features: wide)
            for (a, b) in zip(seqAfter, seqBefore) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            XCTAssertTrue(m.score(t).allSatisfy(\.isFinite))
        }
    }
}
