import Foundation

/// One row's score as a sum of parts an analyst can read: a baseline (the trees' score for a
/// typical row of this data), each feature's Shapley contribution, then the graph parts (the
/// neighbours' risk propagated over the transaction graph, the GNN blend, the account-sequence
/// (LSTM) blend), in the order the model applies them. The parts add up to the score exactly (up
/// to float rounding): `baseline + Σ features + neighbours + gnn + sequence = score`.
public struct ScoreAttribution: Sendable {
    /// The trees' probability at the background's expected margin.
    public var baseline: Float
    /// Each feature's contribution in probability units (`[TransactionFeatures.count]`).
    public var features: [Float]
    /// `propagated - trees` (0 without propagation).
    public var neighbours: Float
    /// `gnnWeight · (gnn - propagated)` (0 without a GNN).
    public var gnn: Float
    /// `sequenceWeight · (sequence - score before it)` (0 without a sequence scorer).
    public var sequence: Float
    /// The score these parts add up to.
    public var score: Float

    /// One feature's contribution with its readable reason.
    public struct Reason: Sendable, Equatable {
        public var feature: String
        public var value: Float
        public var effect: Float
        public var text: String
    }
}

extension ScoredTransactions {
    /// Node covers of `model`'s trees over (at most 20,000 evenly spaced) loaded rows: the
    /// background that the attributions' baseline averages over.
    public func attributionCover(model: TransactionModel) -> [Float] {
        let n = table.count, k = min(n, 20000)
        return model.trees.covers(background: features(rows: (0..<k).map { $0 * n / k }), rows: k)
    }

    /// The parts of table row `i`'s score (see ``ScoreAttribution``). `cover` comes from
    /// ``attributionCover(model:)`` (computed once for many rows); `features` are the row's
    /// (computed again when nil).
    public func attribution(row i: Int, model: TransactionModel, cover: [Float], features: [Float]? = nil) -> ScoreAttribution {
        let x = features ?? self.features(row: i)
        let trees = model.trees
        let phi = trees.shapContributions(x, cover: cover)
        let m0 = trees.expectedMargin(cover: cover)
        let m = m0 + phi.reduce(0, +)
        let p0 = 1 / (1 + expf(-m0)), p = parts.trees[i]
        // Shapley values add up in margin (log-odds) units; the score is a probability. Scaling
        // every contribution by the same factor keeps their signs and proportions and makes them
        // add up to p - p0 (the slope of the sigmoid at the row when the margins coincide).
        let scale = abs(m - m0) > 1e-6 ? (p - p0) / (m - m0) : p * (1 - p)
        let prop = parts.propagated?[i] ?? p
        let gnn = parts.gnn.map { model.config.gnnWeight * ($0[i] - prop) } ?? 0
        let beforeSequence = prop + gnn
        let sequence = parts.sequence.map { (model.config.sequenceWeight ?? 0) * ($0[i] - beforeSequence) } ?? 0
        return ScoreAttribution(baseline: p0, features: phi.map { $0 * scale }, neighbours: prop - p, gnn: gnn,
                                sequence: sequence, score: scores[i])
    }

    /// The `top` features that raise row `i`'s score most, in readable words (`features`: the
    /// row's, computed again when nil).
    public func reasons(row i: Int, attribution a: ScoreAttribution, top: Int = 3, features: [Float]? = nil) -> [ScoreAttribution.Reason] {
        let F = TransactionFeatures.count
        let x = features ?? self.features(row: i)
        return (0..<F).filter { a.features[$0] > 0 }.sorted { a.features[$0] > a.features[$1] }.prefix(top).map { f in
            ScoreAttribution.Reason(feature: TransactionFeatures.names[f], value: x[f], effect: a.features[f],
                                    text: TransactionFeatures.reason(feature: f, features: x, table: table, row: i))
        }
    }
}
