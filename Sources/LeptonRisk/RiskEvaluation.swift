import Foundation
import LeptonEngine

/// The figures `lepton-risk evaluate` reports for labelled rows.
public struct RiskEvaluation: Codable, Sendable {
    public var rows = 0
    public var positives = 0
    public var threshold: Float = 0.5
    public var precision: Float = 0
    public var recall: Float = 0
    public var minorityF1: Float = 0
    public var prAUC: Float = 0
    public var rocAUC: Float = 0
    public var alertBudget: Double = 0.005
    public var recallAtBudget: Float = 0
    /// 95% Wilson score intervals `[lower, upper]` of precision, recall and recall at the budget
    /// (nil when the proportion has no denominator, e.g. precision with nothing flagged).
    public var precisionCI: [Float]?
    public var recallCI: [Float]?
    public var recallAtBudgetCI: [Float]?
    /// Bootstrap percentile intervals of PR-AUC and recall at the budget (nil unless asked for).
    public var bootstrap: BootstrapIntervals?
    /// Cautions about the figures (a tiny test set); `evaluate` prints them on stderr.
    public var warnings: [String] = []
    /// Fewer positives than this and the figures are flagged as rough.
    public static let minimumPositives = 30
    /// Per typology: positives and how many are inside the alert budget / above the threshold.
    public var typologies: [String: TypologyRecall] = [:]

    public struct TypologyRecall: Codable, Sendable {
        public var positives = 0
        public var recalledAtThreshold = 0
        public var recalledAtBudget = 0
    }

    /// Computes the figures for `scores` against 0/1 `labels` (unlabelled rows must be removed first).
    /// - Parameters:
    ///   - typology: typology name of each positive row (index into `scores`), if known.
    ///   - resamples: bootstrap resamples for the intervals of PR-AUC and recall at the budget
    ///     (0: none), drawn with `seed`.
    public init(scores: [Float], labels: [Float], threshold: Float, budget: Double, typology: [Int: String] = [:],
                resamples: Int = 0, seed: UInt64 = 0) throws {
        rows = scores.count
        positives = Int(labels.reduce(0, +))
        self.threshold = threshold
        (precision, recall, minorityF1) = try RiskMetrics.precisionRecallF1(scores: scores, labels: labels, threshold: threshold)
        prAUC = try RiskMetrics.averagePrecision(scores: scores, labels: labels)
        rocAUC = try RiskMetrics.rocAUC(scores: scores, labels: labels)
        alertBudget = budget
        recallAtBudget = try RiskMetrics.recallAtBudget(scores: scores, labels: labels, budget: budget)
        var tp = 0, flagged = 0
        for i in scores.indices where scores[i] >= threshold { flagged += 1; if labels[i] > 0.5 { tp += 1 } }
        precisionCI = RiskMetrics.wilsonInterval(successes: tp, trials: flagged)
        recallCI = RiskMetrics.wilsonInterval(successes: tp, trials: positives)
        let caught = Int((recallAtBudget * Float(positives)).rounded())
        recallAtBudgetCI = RiskMetrics.wilsonInterval(successes: caught, trials: positives)
        bootstrap = try RiskMetrics.bootstrap(scores: scores, labels: labels, budget: budget, resamples: resamples, seed: seed)
        if positives < Self.minimumPositives {
            warnings.append("only \(positives) positive\(positives == 1 ? "" : "s") in the test set: precision and recall are rough "
                            + "(see the 95% intervals); use at least \(Self.minimumPositives) positives to compare models")
        }
        if !typology.isEmpty {
            let k = max(1, Int((Double(scores.count) * budget).rounded()))
            let order = scores.indices.sorted { scores[$0] > scores[$1] }
            var inBudget = Set<Int>()
            for q in 0..<min(k, order.count) { inBudget.insert(order[q]) }
            for (i, name) in typology where i < labels.count && labels[i] > 0.5 {
                var r = typologies[name] ?? TypologyRecall()
                r.positives += 1
                if scores[i] >= threshold { r.recalledAtThreshold += 1 }
                if inBudget.contains(i) { r.recalledAtBudget += 1 }
                typologies[name] = r
            }
        }
    }

    /// Human-readable lines.
    public var text: String {
        func ci(_ v: [Float]?) -> String { v.map { String(format: " [%.4f, %.4f]", Double($0[0]), Double($0[1])) } ?? "" }
        var s = String(format: "rows %d, positives %d\nPR-AUC %.4f  ROC-AUC %.4f\n", rows, positives, prAUC, rocAUC)
        s += String(format: "threshold %.4f: precision %.4f", threshold, precision) + ci(precisionCI)
        s += String(format: " recall %.4f", recall) + ci(recallCI) + String(format: " minority F1 %.4f\n", minorityF1)
        s += String(format: "recall at %.2f%% alert budget: %.4f", alertBudget * 100, recallAtBudget) + ci(recallAtBudgetCI)
        for (name, r) in typologies.sorted(by: { $0.key < $1.key }) {
            s += "\n  \(name): \(r.recalledAtBudget)/\(r.positives) in budget, \(r.recalledAtThreshold)/\(r.positives) above threshold"
        }
        s += "\n(95% Wilson intervals in brackets)"
        if let b = bootstrap {
            s += "\nbootstrap 95% intervals (\(b.resamples) resamples, seed \(b.seed)): PR-AUC" + ci(b.prAUC)
                + String(format: ", recall at %.2f%% budget", alertBudget * 100) + ci(b.recallAtBudget)
        }
        return s
    }
}

/// Sets the engine's thread count (Swift kernels and OpenBLAS).
public func configureThreads(_ n: Int) { EngineThreads.set(n) }
