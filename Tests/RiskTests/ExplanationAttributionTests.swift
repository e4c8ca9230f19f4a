import Foundation
import LeptonEngine
import XCTest
@testable import LeptonRisk

/// Alert reasons that add up: TreeSHAP against Shapley values computed from their definition, an
/// explanation's parts against its score, and readable reasons against the raw rows.
final class ExplanationAttributionTests: XCTestCase {
    /// Shapley values by their definition (every subset of the other features, weighted
    /// |S|!(M−|S|−1)!/M!), with the value of a subset the tree ensemble's margin when the features
    /// outside it follow the background (each split on an unknown feature averages its children
    /// by cover). Exponential: only for a handful of features.
    private func bruteForceShapley(_ m: GradientBoostedTrees, _ x: [Float], cover: [Float]) -> [Double] {
        let M = m.featureCount
        func value(_ known: Int) -> Double {
            func node(_ k: Int) -> Double {
                if m.feature[k] < 0 { return Double(m.value[k]) }
                let f = Int(m.feature[k]), l = Int(m.left[k]), r = Int(m.right[k])
                if known & (1 << f) != 0 { return node(x[f] <= m.threshold[k] ? l : r) }
                return (Double(cover[l]) * node(l) + Double(cover[r]) * node(r)) / Double(cover[k])
            }
            return Double(m.baseScore) + m.roots.reduce(0) { $0 + node(Int($1)) }
        }
        func factorial(_ n: Int) -> Double { n < 2 ? 1 : Double(n) * factorial(n - 1) }
        var phi = [Double](repeating: 0, count: M)
        for i in 0..<M {
            for s in 0..<(1 << M) where s & (1 << i) == 0 {
                let size = s.nonzeroBitCount
                phi[i] += factorial(size) * factorial(M - size - 1) / factorial(M) * (value(s | (1 << i)) - value(s))
            }
        }
        return phi
    }

    func testTreeSHAPEqualsShapleyValuesFromTheirDefinition() throws {
        var rng = SeededGenerator(seed: 17)
        let F = 5, n = 1500
        var x = [Float](), y = [Float]()
        for _ in 0..<n {
            let row = (0..<F).map { _ in rng.nextUniform() }
            x += row
            // Interactions and a feature used twice on a path, so that unwinding is exercised.
            y.append(((row[0] > 0.5) != (row[1] > 0.3)) || row[2] > 0.8 * row[0] ? 1 : 0)
        }
        var o = GradientBoostedTrees.Options(); o.rounds = 12; o.depth = 4; o.seed = 2
        let m = try GradientBoostedTrees.train(x: x, y: y, features: F, options: o)
        let cover = m.covers(background: Array(x[0..<(400 * F)]), rows: 400)
        var checked = 0
        for r in stride(from: 500, to: 1500, by: 50) {
            let row = Array(x[(r * F)..<((r + 1) * F)])
            let fast = m.shapContributions(row, cover: cover)
            let reference = bruteForceShapley(m, row, cover: cover)
            for f in 0..<F { XCTAssertEqual(Double(fast[f]), reference[f], accuracy: 1e-4, "row \(r) feature \(f)") }
            // Efficiency: the contributions add up to the margin's distance from the baseline.
            let margin = row.withUnsafeBufferPointer { m.margin($0.baseAddress!) }
            XCTAssertEqual(m.expectedMargin(cover: cover) + fast.reduce(0, +), margin, accuracy: 1e-4)
            checked += 1
        }
        XCTAssertEqual(checked, 20)
    }

    /// A trained transaction model on simulated data, and the scored test part.
    private func scoredSimulation() throws -> (ScoredTransactions, TransactionModel) {
        var o = AMLSimulator.Options(); o.accounts = 400; o.days = 30; o.seed = 11; o.patternRate = 30
        let sim = try AMLSimulator.generate(o)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attribution-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("tx.csv")
        try Data(sim.csv.utf8).write(to: csv)
        var t = TransactionTable()
        try t.append(csv: csv.path)
        let (train, test) = t.splitByTime(fraction: 0.7)
        var opts = TransactionModel.TrainOptions()
        opts.trees.rounds = 40; opts.gnnEpochs = 10; opts.folds = 3
        let (model, _) = try TransactionModel.train(train, source: "train", options: opts)
        let testPath = dir.appendingPathComponent("test.csv")
        try Data(test.csv().utf8).write(to: testPath)
        return (try ScoredTransactions(model: model, path: testPath.path), model)
    }

    func testExplanationPartsAddUpToTheScoreAndReasonsSayWhatTheRowsSay() throws {
        let (s, model) = try scoredSimulation()
        let t = s.table
        let top = s.inputRows.sorted { s.scores[$0] > s.scores[$1] }.prefix(5)
        for i in top {
            let e = try Explanation(scored: s, model: model, id: String(t.row[i]))
            let total = e.baseline + e.drivers.reduce(0) { $0 + $1.effect }
            XCTAssertEqual(total, e.score, accuracy: 1e-4, "row \(t.row[i]): \(e.text)")
            XCTAssertEqual(e.drivers.filter { TransactionFeatures.names.contains($0.feature) }.count, 6)
            XCTAssertFalse(e.drivers.contains { $0.reason.contains("_") }, "a reason in feature names: \(e.text)")
        }

        // The sender's usual amount, from the raw rows: the transfer's log amount against the mean
        // log amount of the sender's payments within 14 days either side.
        let usual = TransactionFeatures.names.firstIndex(of: "amount_vs_src_usual")!
        var compared = 0
        for i in s.inputRows.prefix(300) {
            let mine = (0..<t.count).filter { t.src[$0] == t.src[i] && abs(t.time[$0] - t.time[i]) <= 14 * 1440 }
            guard mine.count >= 2, mine.count <= 400 else { continue }
            let mean = mine.reduce(0.0) { $0 + log(1 + Double(t.usd($1))) } / Double(mine.count)
            let ratio = exp(log(1 + Double(t.usd(i))) - mean)
            let x = s.features(row: i)
            let text = TransactionFeatures.reason(feature: usual, features: x, table: t, row: i)
            let expected = ratio >= 100 ? nil : (ratio >= 1 ? String(format: "%.1f×", ratio) : String(format: "%.2g×", ratio))
            if let expected { XCTAssertEqual(text, "\(expected) the sender's usual amount", "row \(t.row[i])"); compared += 1 }
        }
        XCTAssertGreaterThan(compared, 50)

        // The amount as the file wrote it, in its currency.
        let amount = TransactionFeatures.names.firstIndex(of: "log_amount_usd")!
        let i = s.inputRows.first!
        let text = TransactionFeatures.reason(feature: amount, features: s.features(row: i), table: t, row: i)
        XCTAssertTrue(text.hasPrefix("amount "), text)
        XCTAssertTrue(text.contains(t.currencyName(t.payCurrency[i])), text)
        let digits = text.dropFirst("amount ".count).prefix { $0 != " " }.replacingOccurrences(of: ",", with: "")
        XCTAssertEqual(Double(digits) ?? -1, t.amountPaid[i], accuracy: 0.005)
    }
}
