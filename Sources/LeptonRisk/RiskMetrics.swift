import LeptonEngine

/// Ranking and threshold metrics for rare-positive scoring: the engine's ``Metrics`` with the
/// conventions a risk model needs where a metric is undefined (no positives, one class). Scores
/// that are not numbers are an error (`MetricsError.invalidArgument`), never a low metric.
public enum RiskMetrics {
    /// Average precision (scikit-learn's step-wise definition, ties grouped); 0 with no positives.
    public static func averagePrecision(scores: [Float], labels: [Float]) throws -> Float {
        let binary = labels.map { $0 > 0.5 ? 1 : 0 }
        let ap = try Metrics.averagePrecision(labels: binary, scores: scores)
        return binary.contains(1) ? Float(ap) : 0
    }

    /// ROC-AUC (ties count one half); 0.5 when only one class is present.
    public static func rocAUC(scores: [Float], labels: [Float]) throws -> Float {
        do { return Float(try Metrics.rocAUC(labels: labels.map { $0 > 0.5 ? 1 : 0 }, scores: scores)) }
        catch MetricsError.undefined { return 0.5 }
    }

    /// Throws for a NaN score (a ranking of NaNs is undefined).
    static func checkScores(_ scores: [Float], labels: [Float]) throws {
        guard scores.count == labels.count else {
            throw MetricsError.lengthMismatch(what: "labels", expected: scores.count, found: labels.count)
        }
        if let i = scores.firstIndex(where: \.isNaN) { throw MetricsError.invalidArgument("score at index \(i) is NaN") }
    }

    /// Precision, recall and F1 of the positive class at `score >= threshold`.
    public static func precisionRecallF1(scores: [Float], labels: [Float], threshold: Float) throws -> (Float, Float, Float) {
        try checkScores(scores, labels: labels)
        var tp = 0, fp = 0, fn = 0
        for i in scores.indices {
            let p = scores[i] >= threshold, y = labels[i] > 0.5
            if p && y { tp += 1 } else if p { fp += 1 } else if y { fn += 1 }
        }
        let pr = tp + fp > 0 ? Float(tp) / Float(tp + fp) : 0
        let rc = tp + fn > 0 ? Float(tp) / Float(tp + fn) : 0
        return (pr, rc, pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0)
    }

    /// The threshold that maximises positive-class F1 (chosen on validation data).
    public static func bestF1Threshold(scores: [Float], labels: [Float]) throws -> (threshold: Float, f1: Float) {
        try checkScores(scores, labels: labels)
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        let P = labels.reduce(0) { $0 + ($1 > 0.5 ? 1 : 0) }
        if P == 0 || order.isEmpty { return (0.5, 0) }
        var tp = 0, best: Float = 0, bestT: Float = scores[order[0]]
        var k = 0
        while k < order.count {
            var j = k
            while j < order.count && scores[order[j]] == scores[order[k]] { if labels[order[j]] > 0.5 { tp += 1 }; j += 1 }
            let f1 = 2 * Float(tp) / Float(j + P)
            if f1 > best {
                best = f1
                // Midway to the next lower score, so slightly different test scores fall the same way.
                bestT = j < order.count ? (scores[order[k]] + scores[order[j]]) / 2 : scores[order[k]]
            }
            k = j
        }
        return (bestT, best)
    }

    /// Share of positives among the top `budget` fraction of rows by score (alert budget recall).
    public static func recallAtBudget(scores: [Float], labels: [Float], budget: Double) throws -> Float {
        try checkScores(scores, labels: labels)
        let P = labels.reduce(0) { $0 + ($1 > 0.5 ? 1 : 0) }
        if P == 0 { return 0 }
        let k = max(1, Int((Double(scores.count) * budget).rounded()))
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0
        for q in 0..<min(k, order.count) where labels[order[q]] > 0.5 { tp += 1 }
        return Float(tp) / Float(P)
    }

    /// Wilson score interval of a binomial proportion (Wilson 1927; Newcombe 1998, method 3),
    /// `[lower, upper]` at the two-sided level of `z` (1.96 = 95%); nil when `trials` is 0.
    /// Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n
    /// successes, which matters on the handful of positives of a small test set.
    public static func wilsonInterval(successes k: Int, trials n: Int, z: Double = 1.959963984540054) -> [Float]? {
        guard n > 0, k >= 0, k <= n else { return nil }
        let p = Double(k) / Double(n), z2 = z * z, nd = Double(n)
        let center = (p + z2 / (2 * nd)) / (1 + z2 / nd)
        let half = z / (1 + z2 / nd) * (p * (1 - p) / nd + z2 / (4 * nd * nd)).squareRoot()
        return [Float(max(0, center - half)), Float(min(1, center + half))]
    }
}
