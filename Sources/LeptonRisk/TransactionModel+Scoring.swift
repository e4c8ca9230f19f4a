import Foundation
import LeptonEngine

/// The scorer: trees, then neighbour-score propagation, then the GNN and sequence blends (the
/// order in which training chose them), over the rows in chunks.
///
/// Memory grows with the table (its columns, the account lists and a few floats a row: the score
/// parts), not with the features: a chunk's `[rows, features]` matrix is computed, consumed by
/// the trees (and summed into the GNN's per-account edge means), and dropped; the GNN's readout
/// and the sequence scorer compute their chunk's features again. Every part is computed per row
/// as the whole-table functions of training compute it (same floats; see `StreamedScoringTests`).
extension TransactionModel {
    /// Rows per chunk: 65,536 rows of features are 11 MB (a multiple of the sequence scorer's
    /// 4,096-row batches, so its batches are the whole-table ones).
    public static let scoringChunk = 1 << 16

    /// The parts of a transaction score, for explanations.
    public struct ScoreParts: Sendable {
        /// Final scores `[transactions]` in [0, 1], higher = riskier.
        public var final: [Float]
        /// First-stage tree scores `[transactions]`.
        public var trees: [Float]
        /// Tree scores after neighbour-score propagation (nil without propagation).
        public var propagated: [Float]?
        /// GNN scores (nil when the model has no GNN).
        public var gnn: [Float]?
        /// Account-sequence scores (nil when the model has no sequence scorer).
        public var sequence: [Float]?
    }

    /// Scores for every row of `t`: probabilities in [0, 1], higher = riskier.
    public func score(_ t: TransactionTable) -> [Float] {
        scoreParts(TransactionFeatures.Computer(t)).final
    }

    /// The propagation column and weight β, when the model propagates neighbours' scores.
    var propagationSetting: (column: Int, weight: Float)? {
        guard let agg = config.propagation, let beta = config.propagationWeight,
              let column = ScorePropagation.names.firstIndex(of: agg) else { return nil }
        return (column, beta)
    }

    /// Scores with their parts, for the table of `c`, `chunk` rows at a time.
    public func scoreParts(_ c: TransactionFeatures.Computer, chunk: Int = scoringChunk) -> ScoreParts {
        let t = c.table, m = t.count
        let chunks = stride(from: 0, to: m, by: max(chunk, 1)).map { $0..<min(m, $0 + max(chunk, 1)) }
        let g = config.gnnWeight > 0 ? gnn : nil
        let ports = g != nil && config.gnnPortNumbers == true ? TransactionFeatures.ports(t, index: c.index) : nil
        func gnnInputs(_ x: [Float], _ r: Range<Int>) -> [Float] {
            ports.map { TransactionFeatures.gnnInputs(features: x, ports: $0, rows: r) } ?? x
        }
        // Pass 1: features chunk by chunk → trees, and the GNN's per-account edge sums.
        var p1 = [Float](repeating: 0, count: m)
        var sums = g.flatMap { $0.streams ? $0.edgeSums(t) : nil }
        for r in chunks {
            let x = c.rows(r)
            p1.replaceSubrange(r, with: trees.predict(x, rows: r.count))
            if let g, sums != nil { g.addEdges(&sums!, table: t, features: gnnInputs(x, r), rows: r) }
        }
        var parts = ScoreParts(final: p1, trees: p1)
        if let setting = propagationSetting {
            var p = [Float](); p.reserveCapacity(m)
            for r in chunks {
                let prop = ScorePropagation.compute(t, index: c.index, scores: p1, windowDays: config.propagationWindowDays ?? 3,
                                                    twoHop: config.propagation == "two_hop_max", rows: r)
                p += ScorePropagation.combine(scores: p1, propagated: prop, column: setting.column, weight: setting.weight, rows: r)
            }
            parts.propagated = p; parts.final = p
        }
        if let g {
            var q: [Float]
            if let sums {
                let h = g.nodeStates(t, sums: sums)
                q = []; q.reserveCapacity(m)
                for r in chunks { q += g.probabilities(nodeStates: h, table: t, features: gnnInputs(c.rows(r), r), rows: r) }
            } else {
                // GAT: attention weighs every edge, so its layers take the whole table's features.
                q = g.predict(t, features: gnnInputs(c.rows(0..<m), 0..<m))
            }
            parts.gnn = q
            parts.final = Self.blend(parts.final, q, weight: config.gnnWeight)
        }
        if let s = sequence, let w = config.sequenceWeight, w > 0 {
            let position = SequenceScorer.positions(t, c.index)
            var q = [Float](); q.reserveCapacity(m)
            for r in chunks { q += s.predict(c, rows: r, position: position) }
            parts.sequence = q
            parts.final = Self.blend(parts.final, q, weight: w)
        }
        return parts
    }

    /// `(1 − w)·base + w·other`, row by row.
    static func blend(_ base: [Float], _ other: [Float], weight w: Float) -> [Float] {
        (0..<base.count).map { (1 - w) * base[$0] + w * other[$0] }
    }

    /// The ``ScorePropagation`` aggregates of row `i` (`[ScorePropagation.count]`) from the
    /// first-stage scores `trees`, for an explanation (nil without propagation).
    public func neighbourFeatures(_ c: TransactionFeatures.Computer, trees: [Float], row i: Int) -> [Float]? {
        guard propagationSetting != nil else { return nil }
        return ScorePropagation.compute(c.table, index: c.index, scores: trees, windowDays: config.propagationWindowDays ?? 3,
                                        twoHop: config.propagation == "two_hop_max", rows: i..<(i + 1))
    }
}
