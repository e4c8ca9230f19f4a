import Foundation
import XCTest
import LeptonEngine
@testable import LeptonRisk

/// A node/edge model that leans on the labels known of an item's neighbours: kept by
/// cross-validation only when it helps, never fed an evaluated item's label, falling back to trees
/// trained without labels when none is known, saved and loaded strictly; an older (version 1)
/// model still scores with the columns it was trained on.
final class KnownLabelModelTests: XCTestCase {
    let scratch = ScratchFolder("risk-known-labels")
    var dir: URL { scratch.url }
    func write(_ text: String, _ name: String) -> String { scratch.write(text, name) }

    /// Reviews by 300 users of 20 products where spam is a property of the user (as Yelp's filter
    /// treats it): all of a spammer's reviews are spam; the review's own column says so only
    /// weakly (so that even the neighbours' scores say less than their labels).
    /// Splits: about 60% train, 40% valid, drawn per review.
    func spamGraph(seed: UInt64 = 7, flip: (String, Int) -> Int = { _, y in y }) throws -> (edges: String, labels: String) {
        var rng = SeededGenerator(seed: seed)
        var edges = "id,user,product,x\n", labels = "id,label,split\n"
        var r = 0
        for u in 0..<300 {
            let spammer = Double.random(in: 0..<1, using: &rng) < 0.25
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let x = Double.random(in: 0..<1, using: &rng) + (spammer ? 0.1 : 0)
                edges += "r\(r),u\(u),p\(Int.random(in: 0..<20, using: &rng)),\(x)\n"
                let split = Double.random(in: 0..<1, using: &rng) < 0.6 ? "train" : "valid"
                labels += "r\(r),\(flip(split, spammer ? 1 : 0)),\(split)\n"
                r += 1
            }
        }
        return (write(edges, "spam-edges-\(seed).csv"), write(labels, "spam-labels-\(seed).csv"))
    }

    func options() -> NodeModel.TrainOptions {
        var o = NodeModel.TrainOptions(); o.trees.rounds = 60; o.gnnEpochs = 0; o.folds = 4
        return o
    }

    func validationAUC(_ m: NodeModel, _ g: NodeGraph, known: [Int8]?) throws -> Float {
        let s = try m.score(g, known: known)
        let rows = g.labelled.filter { $0.split == "valid" }
        return try RiskMetrics.rocAUC(scores: rows.map { s[$0.item] }, labels: rows.map { Float($0.label) })
    }

    func testKnownLabelsKeptWhenTheyHelpAndNeverLeakTheEvaluatedLabels() throws {
        let (e, l) = try spamGraph()
        let g = try NodeGraph.load(nodes: nil, edges: e, labels: l)
        let (m, metrics) = try NodeModel.train(g, source: l, options: options())
        XCTAssertTrue(m.config.knownLabels, "cross-validation should keep the known labels here: \(metrics)")
        XCTAssertGreaterThan(metrics["trees_with_known_labels_cv_roc_auc"]!, metrics["trees_without_known_labels_cv_roc_auc"]! + 0.02)
        XCTAssertEqual(m.treesWithoutKnownLabels.count, m.trees.count)
        XCTAssertTrue(m.config.propagation, "the neighbours' first-stage scores help here too: \(metrics)")
        let known = g.knownLabelsForEvaluation(split: "valid")
        XCTAssertGreaterThan(try validationAUC(m, g, known: known), try validationAUC(m, g, known: nil) + 0.05)

        // The evaluated (valid) labels flipped: not one score moves. The training labels flipped: scores move.
        let (_, lv) = try spamGraph(flip: { s, y in s == "valid" ? 1 - y : y })
        let gv = try NodeGraph.load(nodes: nil, edges: e, labels: lv)
        XCTAssertEqual(try m.score(gv, known: gv.knownLabelsForEvaluation(split: "valid")), try m.score(g, known: known))
        let (_, lt) = try spamGraph(flip: { s, y in s == "train" ? 1 - y : y })
        let gt = try NodeGraph.load(nodes: nil, edges: e, labels: lt)
        XCTAssertNotEqual(try m.score(gt, known: gt.knownLabelsForEvaluation(split: "valid")), try m.score(g, known: known))

        // Nothing known: the fallback trees, with their own threshold.
        let none = try m.score(g, known: nil)
        XCTAssertEqual(try m.score(g, known: [Int8](repeating: -1, count: g.itemCount)), none)
        let x = NodeFeatures.rows(g, relations: 1, version: m.config.formatVersion, known: nil), F = x.count / g.itemCount
        var fallback = [Float](repeating: 0, count: g.itemCount)
        for t in m.treesWithoutKnownLabels {
            for (i, v) in t.predict(x, rows: g.itemCount).enumerated() { fallback[i] += v / Float(m.treesWithoutKnownLabels.count) }
        }
        do {
            // The second stage reads the fallback's scores of each review's neighbours.
            let x2 = NodeFeatures.appending(x, width: F, NodeFeatures.propagationColumns(g, relations: 1, scores: fallback), width: 4)
            var second = [Float](repeating: 0, count: g.itemCount)
            for t in m.stage2 { for (i, v) in t.predict(x2, rows: g.itemCount).enumerated() { second[i] += v / Float(m.stage2.count) } }
            fallback = second
        }
        XCTAssertEqual(none, fallback)
        XCTAssertEqual(m.threshold(known: nil), m.config.thresholdWithoutKnownLabels)
        XCTAssertEqual(m.threshold(known: known), m.config.threshold)

        // Saved and loaded: the same scores both ways; the fallback trees are required by name.
        let out = dir.appendingPathComponent("model")
        try m.save(to: out)
        let back = try NodeModel.load(from: out)
        XCTAssertEqual(try back.score(g, known: known), try m.score(g, known: known))
        XCTAssertEqual(try back.score(g, known: nil), none)
        let cfg = out.appendingPathComponent("config.json")
        let text = try String(contentsOf: cfg, encoding: .utf8)
        try text.replacingOccurrences(of: "\"knownLabels\" : true", with: "\"knownLabels\" : false").write(to: cfg, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NodeModel.load(from: out)) { error in
            XCTAssertTrue("\(error)".contains("gbt-unknown0."), "\(error)")
        }
        do {
            try text.replacingOccurrences(of: "\"propagation\" : true", with: "\"propagation\" : false").write(to: cfg, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try NodeModel.load(from: out)) { error in XCTAssertTrue("\(error)".contains("gbt2-0."), "\(error)") }
        }
    }

    func testLabelsThatDoNotHelpAreNotKept() throws {
        // Spam drawn per review, not per user: the neighbours' labels say nothing.
        var rng = SeededGenerator(seed: 3)
        var edges = "id,user,product,x\n", labels = "id,label\n"
        for r in 0..<900 {
            let spam = Double.random(in: 0..<1, using: &rng) < 0.25
            edges += "r\(r),u\(Int.random(in: 0..<300, using: &rng)),p\(Int.random(in: 0..<20, using: &rng)),\(Double.random(in: 0..<1, using: &rng) + (spam ? 0.5 : 0))\n"
            labels += "r\(r),\(spam ? 1 : 0)\n"
        }
        let g = try NodeGraph.load(nodes: nil, edges: write(edges, "noise-edges.csv"), labels: write(labels, "noise-labels.csv"))
        let (m, metrics) = try NodeModel.train(g, source: "noise-labels.csv", options: options())
        XCTAssertFalse(m.config.knownLabels, "\(metrics)")
        XCTAssertTrue(m.treesWithoutKnownLabels.isEmpty)
        XCTAssertEqual(try m.score(g, known: g.allKnownLabels()), try m.score(g, known: nil), "columns not kept are never read")
    }

    func testAbsurdSizesInTheConfigAreRefusedNotTrapped() throws {
        let (e, l) = try spamGraph(seed: 5)
        let (m, _) = try NodeModel.train(try NodeGraph.load(nodes: nil, edges: e, labels: l), source: l, options: options())
        let out = dir.appendingPathComponent("absurd")
        try m.save(to: out)
        let cfg = out.appendingPathComponent("config.json")
        let original = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cfg)) as? [String: Any])
        // Each would overflow a size computed from it (a trap before this check) or is meaningless.
        for (key, value) in [("inputFeatures", Int.max as Any), ("relationNames", (0..<300).map { "r\($0)" } as Any),
                             ("gnnHidden", 0 as Any), ("gnnWeight", 2.5 as Any)] {
            var obj = original; obj[key] = value
            try JSONSerialization.data(withJSONObject: obj).write(to: cfg)
            XCTAssertThrowsError(try NodeModel.load(from: out), key) { error in
                XCTAssertTrue("\(error)".contains("out of range"), "\(key): \(error)")
            }
        }
    }

    func testAVersionOneModelScoresWithItsOwnColumns() throws {
        let (e, l) = try spamGraph(seed: 11)
        let g = try NodeGraph.load(nodes: nil, edges: e, labels: l)
        let x1 = NodeFeatures.compute(g, relations: 1, version: 1), F1 = NodeFeatures.width(inputs: 1, relations: 1, edgeMode: true, version: 1)
        XCTAssertEqual(x1.count, g.itemCount * F1)
        var o = GradientBoostedTrees.Options(); o.rounds = 20; o.depth = 3
        let trees = try GradientBoostedTrees.train(x: x1, y: (0..<g.itemCount).map { Float($0 % 3 == 0 ? 1 : 0) }, features: F1, options: o)
        var config = NodeModelConfig()
        config.kind = "edges"; config.formatVersion = 1; config.inputFeatures = 1; config.featureNames = ["x"]
        let out = dir.appendingPathComponent("v1")
        try NodeModel(config: config, trees: [trees], treesWithoutKnownLabels: [], stage2: [], gnn: nil)
            .save(to: out)
        // Written by an older program: no knownLabels key at all.
        let cfg = out.appendingPathComponent("config.json")
        var obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cfg)) as? [String: Any])
        obj.removeValue(forKey: "knownLabels")
        try JSONSerialization.data(withJSONObject: obj).write(to: cfg)
        let m = try NodeModel.load(from: out)
        XCTAssertEqual(try m.score(g, known: g.allKnownLabels()), trees.predict(x1, rows: g.itemCount))
        obj["formatVersion"] = 3
        try JSONSerialization.data(withJSONObject: obj).write(to: cfg)
        XCTAssertThrowsError(try NodeModel.load(from: out)) { error in XCTAssertTrue("\(error)".contains("format version 3"), "\(error)") }
    }
}
