extension Metrics {
    /// Points of a ROC curve (scikit-learn `roc_curve`).
    public struct ROCCurve: Sendable, Equatable {
        public var falsePositiveRate: [Double]
        public var truePositiveRate: [Double]
        /// Decreasing; the first is `+infinity` (nothing predicted positive).
        public var thresholds: [Double]
    }

    /// Points of a precision–recall curve (scikit-learn `precision_recall_curve`).
    public struct PrecisionRecallCurve: Sendable, Equatable {
        /// For increasing thresholds, ending with 1 (the point of zero recall).
        public var precision: [Double]
        /// For increasing thresholds, ending with 0.
        public var recall: [Double]
        /// Increasing distinct scores; one fewer than `precision`.
        public var thresholds: [Double]
    }

    /// Cumulative true and false positive counts at each distinct score, highest score first
    /// (scikit-learn's `_binary_clf_curve`): tied scores form one threshold.
    static func binaryCounts(labels: [Int], scores: [Float]) throws -> (fps: [Double], tps: [Double], thresholds: [Double]) {
        try checkLengths(labels.count, scores.count, "scores")
        for (i, l) in labels.enumerated() where l != 0 && l != 1 { throw MetricsError.invalidLabel(what: "binary labels", index: i, value: l) }
        for (i, s) in scores.enumerated() where s.isNaN { throw MetricsError.invalidArgument("score at index \(i) is NaN") }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var fps: [Double] = [], tps: [Double] = [], thr: [Double] = []
        var tp = 0.0, fp = 0.0
        for (k, i) in order.enumerated() {
            if labels[i] == 1 { tp += 1 } else { fp += 1 }
            // Emit a point after the last element of each run of equal scores.
            if k == order.count - 1 || scores[order[k + 1]] != scores[i] {
                tps.append(tp); fps.append(fp); thr.append(Double(scores[i]))
            }
        }
        return (fps, tps, thr)
    }

    /// ROC curve of binary `labels` (0/1) against `scores` (higher = more positive).
    ///
    /// - Parameter dropIntermediate: drop collinear points that do not change the curve's shape
    ///   (scikit-learn's default, `drop_intermediate=True`).
    /// - Throws: ``MetricsError/undefined(metric:reason:)`` when only one class is present.
    public static func rocCurve(labels: [Int], scores: [Float], dropIntermediate: Bool = true) throws -> ROCCurve {
        var (fps, tps, thr) = try binaryCounts(labels: labels, scores: scores)
        guard let p = tps.last, let n = fps.last, p > 0, n > 0 else {
            throw MetricsError.undefined(metric: "ROC curve", reason: "labels hold only one class")
        }
        if dropIntermediate && fps.count > 2 {
            // Keep the ends and every point where the curve bends (second difference non-zero).
            var keep = [0]
            for i in 1..<(fps.count - 1) {
                let bendF = fps[i + 1] - 2 * fps[i] + fps[i - 1], bendT = tps[i + 1] - 2 * tps[i] + tps[i - 1]
                if bendF != 0 || bendT != 0 { keep.append(i) }
            }
            keep.append(fps.count - 1)
            fps = keep.map { fps[$0] }; tps = keep.map { tps[$0] }; thr = keep.map { thr[$0] }
        }
        return ROCCurve(falsePositiveRate: [0] + fps.map { $0 / n }, truePositiveRate: [0] + tps.map { $0 / p },
                        thresholds: [.infinity] + thr)
    }

    /// Area under the ROC curve by the trapezoidal rule (ties count one half, as scikit-learn).
    public static func rocAUC(labels: [Int], scores: [Float]) throws -> Double {
        let c = try rocCurve(labels: labels, scores: scores, dropIntermediate: false)
        var area = 0.0
        for i in 1..<c.falsePositiveRate.count {
            area += (c.falsePositiveRate[i] - c.falsePositiveRate[i - 1]) * (c.truePositiveRate[i] + c.truePositiveRate[i - 1]) / 2
        }
        return area
    }

    /// Precision–recall curve of binary `labels` against `scores`.
    ///
    /// Precision at a threshold where nothing is predicted positive is 0; recall is 1 everywhere
    /// when there are no positives (scikit-learn's conventions).
    public static func precisionRecallCurve(labels: [Int], scores: [Float]) throws -> PrecisionRecallCurve {
        let (fps, tps, thr) = try binaryCounts(labels: labels, scores: scores)
        guard let positives = tps.last else { return PrecisionRecallCurve(precision: [1], recall: [0], thresholds: []) }
        var precision: [Double] = [], recall: [Double] = []
        for i in tps.indices {
            let predicted = tps[i] + fps[i]
            precision.append(predicted > 0 ? tps[i] / predicted : 0)
            recall.append(positives > 0 ? tps[i] / positives : 1)
        }
        return PrecisionRecallCurve(precision: precision.reversed() + [1], recall: recall.reversed() + [0],
                                    thresholds: thr.reversed())
    }

    /// Average precision: `Σₙ (Rₙ − Rₙ₋₁) Pₙ` over the precision–recall curve's thresholds
    /// (scikit-learn `average_precision_score`; a step function, not the trapezoidal area).
    public static func averagePrecision(labels: [Int], scores: [Float]) throws -> Double {
        let c = try precisionRecallCurve(labels: labels, scores: scores)
        var ap = 0.0
        for i in 0..<(c.recall.count - 1) { ap -= (c.recall[i + 1] - c.recall[i]) * c.precision[i] }
        return ap
    }
}
