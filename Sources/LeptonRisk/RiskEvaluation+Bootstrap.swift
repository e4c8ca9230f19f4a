import Foundation
import LeptonEngine

/// Bootstrap percentile intervals of the ranking figures (`evaluate --bootstrap N --seed S`):
/// PR-AUC and recall at the alert budget have no closed-form interval, so the test rows are
/// resampled with replacement `resamples` times and the 2.5th and 97.5th percentiles of each
/// figure are reported. The same seed and rows give the same intervals.
public struct BootstrapIntervals: Codable, Sendable, Equatable {
    public var resamples: Int
    public var seed: UInt64
    /// 95% percentile interval `[lower, upper]` of the average precision (PR-AUC).
    public var prAUC: [Float]
    /// 95% percentile interval of the recall at the alert budget.
    public var recallAtBudget: [Float]
    /// Resamples that drew no positive row (left out: both figures are undefined there).
    public var withoutPositives: Int
}

extension RiskMetrics {
    /// Average precision and recall at `budget` of the rows weighted by `weights` (a row drawn
    /// twice counts twice), with `order` the rows by decreasing score. Equal to
    /// ``averagePrecision(scores:labels:)`` and ``recallAtBudget(scores:labels:budget:)`` on the
    /// data set with each row repeated `weights[i]` times (ties grouped as there).
    static func weightedRanking(order: [Int], groupEnd: [Int], positive: [Bool], weights: [Int32], budget: Double)
        -> (ap: Double, recallAtBudget: Double)? {
        var total = 0, positives = 0
        for i in order { total += Int(weights[i]); if positive[i] { positives += Int(weights[i]) } }
        guard positives > 0 else { return nil }
        // Average precision: one step per group of tied scores.
        var tp = 0, seen = 0, ap = 0.0, lastRecall = 0.0
        var k = 0
        while k < order.count {
            let end = groupEnd[k]
            for q in k..<end { let w = Int(weights[order[q]]); seen += w; if positive[order[q]] { tp += w } }
            if seen > 0 {
                let recall = Double(tp) / Double(positives)
                ap += (recall - lastRecall) * Double(tp) / Double(seen)
                lastRecall = recall
            }
            k = end
        }
        // Recall in the top `budget` share of the drawn rows.
        var room = max(1, Int((Double(total) * budget).rounded()))
        var caught = 0
        for i in order where room > 0 {
            let take = min(Int(weights[i]), room)
            room -= take
            if positive[i] { caught += take }
        }
        return (ap, Double(caught) / Double(positives))
    }

    /// Bootstrap percentile intervals (see ``BootstrapIntervals``); nil with `resamples` < 1 or
    /// no rows.
    public static func bootstrap(scores: [Float], labels: [Float], budget: Double, resamples: Int, seed: UInt64) throws -> BootstrapIntervals? {
        try checkScores(scores, labels: labels)
        let n = scores.count
        guard resamples > 0, n > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var groupEnd = [Int](repeating: n, count: n)
        var k = 0
        while k < n {
            var j = k
            while j < n && scores[order[j]] == scores[order[k]] { j += 1 }
            for q in k..<j { groupEnd[q] = j }
            k = j
        }
        let positive = labels.map { $0 > 0.5 }
        var rng = SeededGenerator(seed: seed)
        var weights = [Int32](repeating: 0, count: n)
        var aps: [Double] = [], recalls: [Double] = []
        var empty = 0
        for _ in 0..<resamples {
            for i in weights.indices { weights[i] = 0 }
            for _ in 0..<n { weights[Int(rng.next() % UInt64(n))] += 1 }
            guard let r = weightedRanking(order: order, groupEnd: groupEnd, positive: positive, weights: weights, budget: budget) else {
                empty += 1; continue
            }
            aps.append(r.ap); recalls.append(r.recallAtBudget)
        }
        guard !aps.isEmpty else { return nil }
        func interval(_ v: [Double]) -> [Float] {
            let s = v.sorted()
            // Percentiles by linear interpolation between order statistics (NumPy's default).
            func q(_ p: Double) -> Float {
                let x = p * Double(s.count - 1), lo = Int(x.rounded(.down)), hi = min(lo + 1, s.count - 1)
                return Float(s[lo] + (s[hi] - s[lo]) * (x - Double(lo)))
            }
            return [q(0.025), q(0.975)]
        }
        return BootstrapIntervals(resamples: resamples, seed: seed, prAUC: interval(aps), recallAtBudget: interval(recalls),
                                  withoutPositives: empty)
    }
}
