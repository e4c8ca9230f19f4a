import Foundation
import XCTest
@testable import LeptonRisk
import LeptonEngine

/// The chunked scorer (``TransactionModel/scoreParts(_:chunk:)``: features a chunk at a time,
/// the GNN's layers on per-account edge means, propagation and the sequence scorer per chunk)
/// gives the scores of the whole-table functions training uses (every row's features at once,
/// the full-batch GNN of `EdgeGNN.predict`, whole-table propagation), on the samples' training
/// and test files loaded as one table (5,614 rows), with models that use every part.
final class StreamedScoringTests: XCTestCase {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples/risk")

    func table() throws -> TransactionTable {
        try TransactionTable.load(["train.csv", "test.csv"].map { Self.samples.appendingPathComponent($0).path }).0
    }

    /// The sample model's trees with propagation and a GNN (trained for a few epochs) blended
    /// in, and optionally port numbers and a GRU sequence scorer.
    func model(_ t: TransactionTable, conv: GraphConvKind, ports: Bool = false, sequence: Bool = false) throws -> TransactionModel {
        let sample = try TransactionModel.load(from: Self.samples.appendingPathComponent("model"))
        var cfg = sample.config
        cfg.propagation = "two_hop_max"; cfg.propagationWeight = 0.5; cfg.propagationWindowDays = 3
        let x = TransactionFeatures.compute(t)
        let xg = ports ? TransactionFeatures.gnnInputs(t, features: x) : x
        var g = EdgeGNN(config: EdgeGNNConfig(inputFeatures: xg.count / t.count, conv: conv), seed: 3)
        try g.fit(t, features: xg, trainRows: Array(0..<t.count), validationRows: [], epochs: 3, log: { _ in })
        cfg.gnn = g.config; cfg.gnnWeight = 0.4; cfg.gnnPortNumbers = ports
        var gru: SequenceScorer? = nil
        if sequence {
            var sc = SequenceScorerConfig(cell: .gru, inputFeatures: TransactionFeatures.count); sc.hidden = 4
            gru = try SequenceScorer.train(t, features: x, index: AccountIndex(t), trainRows: Array(0..<t.count), config: sc, epochs: 1, seed: 1)
            cfg.sequence = sc; cfg.sequenceWeight = 0.3
        }
        return TransactionModel(config: cfg, trees: sample.trees, gnn: g, sequence: gru)
    }

    /// Final scores from the whole-table functions, in the order the scorer applies them.
    func wholeTable(_ m: TransactionModel, _ t: TransactionTable) -> [Float] {
        let x = TransactionFeatures.compute(t), index = AccountIndex(t)
        var s = m.trees.predict(x, rows: t.count)
        let prop = ScorePropagation.compute(t, index: index, scores: s, windowDays: 3, twoHop: true)
        s = ScorePropagation.combine(scores: s, propagated: prop, column: ScorePropagation.names.firstIndex(of: "two_hop_max")!, weight: 0.5)
        let q = m.gnn!.predict(t, features: m.config.gnnPortNumbers == true ? TransactionFeatures.gnnInputs(t, features: x) : x)
        let w: Float = 0.4
        s = (0..<t.count).map { (1 - w) * s[$0] + w * q[$0] }
        if let seq = m.sequence {
            let r = seq.predict(t, features: x, index: index)
            let v: Float = 0.3
            s = (0..<t.count).map { (1 - v) * s[$0] + v * r[$0] }
        }
        return s
    }

    func testChunkedScoresEqualTheWholeTable() throws {
        let t = try table()
        XCTAssertEqual(t.count, 5614)
        let c = TransactionFeatures.Computer(t)
        for (name, m, chunks) in [("sage", try model(t, conv: .sage), [1000, 4096, 1 << 16]),
                                  ("gcn+ports+gru", try model(t, conv: .gcn, ports: true, sequence: true), [4096]),
                                  ("gat", try model(t, conv: .gat), [1000])] {
            let reference = wholeTable(m, t)
            XCTAssertGreaterThan(Set(reference).count, 1000, name)
            for chunk in chunks {
                let parts = m.scoreParts(c, chunk: chunk)
                XCTAssertNotNil(parts.gnn, name)
                let worst = zip(parts.final, reference).map { abs($0 - $1) }.max()!
                if chunk % 4096 == 0 {
                    XCTAssertTrue(parts.final == reference, "\(name), chunks of \(chunk): largest difference \(worst)")
                } else {
                    // The GNN readout's matrix product (OpenBLAS) may block rows that start off
                    // its unrolling differently and round a sum otherwise: 6e-8 (one ulp) seen.
                    XCTAssertLessThanOrEqual(worst, 1e-6, "\(name), chunks of \(chunk)")
                }
            }
        }
    }

    /// Features of any rows (an alert's) equal their rows of the whole matrix, and the pair
    /// counts (kept per row, not in a dictionary) are the transfers counted here by pair.
    func testRowsOnDemandAndPairCounts() throws {
        let t = try table()
        let F = TransactionFeatures.count, x = TransactionFeatures.compute(t)
        let rows = [5613, 0, 17, 4000, 17, 2500]
        let some = TransactionFeatures.Computer(t).rows(rows)
        for (q, r) in rows.enumerated() { XCTAssertEqual(Array(some[(q * F)..<((q + 1) * F)]), Array(x[(r * F)..<((r + 1) * F)])) }
        var pairs: [String: Int] = [:]
        for i in 0..<t.count { pairs["\(t.src[i])>\(t.dst[i])", default: 0] += 1 }
        let pc = TransactionFeatures.names.firstIndex(of: "pair_count")!, rc = TransactionFeatures.names.firstIndex(of: "reverse_pair_count")!
        var repeated = 0, reversed = 0
        for i in 0..<t.count {
            let n = pairs["\(t.src[i])>\(t.dst[i])"]!, back = pairs["\(t.dst[i])>\(t.src[i])"] ?? 0
            XCTAssertEqual(x[i * F + pc], logf(Float(n)), "row \(i)")
            XCTAssertEqual(x[i * F + rc], logf(1 + Float(back)), "row \(i)")
            if n > 1 { repeated += 1 }
            if back > 0 { reversed += 1 }
        }
        XCTAssertGreaterThan(repeated, 100); XCTAssertGreaterThan(reversed, 10)
    }

    /// `ScoredTransactions` (the program's path) scores like the whole-table functions, with the
    /// training file as history.
    func testScoredTransactionsWithHistory() throws {
        let sample = try TransactionModel.load(from: Self.samples.appendingPathComponent("model"))
        let s = try ScoredTransactions(model: sample, path: Self.samples.appendingPathComponent("test.csv").path,
                                       history: Self.samples.appendingPathComponent("train.csv").path)
        XCTAssertGreaterThan(s.historyRows, 0)
        XCTAssertEqual(s.scores, sample.trees.predict(TransactionFeatures.compute(s.table), rows: s.table.count))
        XCTAssertEqual(s.inputRows, s.historyRows..<s.table.count)
    }
}
