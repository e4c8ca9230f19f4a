extension Metrics {
    /// Fraction of positions where `predicted` equals `labels` (0 for empty input).
    public static func accuracy(predicted: [Int], labels: [Int]) throws -> Double {
        try checkLengths(labels.count, predicted.count, "accuracy predictions")
        guard !labels.isEmpty else { return 0 }
        var hits = 0
        for i in labels.indices where labels[i] == predicted[i] { hits += 1 }
        return Double(hits) / Double(labels.count)
    }

    /// Confusion matrix `[true class][predicted class]` (rows are the true labels, as scikit-learn).
    public static func confusionMatrix(predicted: [Int], labels: [Int], classes: Int) throws -> [[Int]] {
        try checkLengths(labels.count, predicted.count, "confusion matrix predictions")
        try checkLabels(labels, classes: classes, "confusion matrix labels")
        try checkLabels(predicted, classes: classes, "confusion matrix predictions")
        var m = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for i in labels.indices { m[labels[i]][predicted[i]] += 1 }
        return m
    }

    /// Per-class and macro-averaged precision, recall and F1.
    public struct ClassificationReport: Sendable, Equatable {
        /// Per class: true positives / predicted positives (0 when nothing was predicted as the class).
        public var precision: [Double]
        /// Per class: true positives / actual positives (0 when the class never occurs).
        public var recall: [Double]
        /// Per class: harmonic mean of precision and recall (0 when both are 0).
        public var f1: [Double]
        /// Per class: number of true occurrences.
        public var support: [Int]
        /// Unweighted means over classes (scikit-learn `average="macro"`, `zero_division=0`).
        public var macroPrecision: Double { mean(precision) }
        public var macroRecall: Double { mean(recall) }
        /// Mean of the per-class F1 values (not the F1 of the macro precision and recall).
        public var macroF1: Double { mean(f1) }

        private func mean(_ a: [Double]) -> Double { a.isEmpty ? 0 : a.reduce(0, +) / Double(a.count) }
    }

    /// Precision, recall and F1 for every class in `0..<classes`, with scikit-learn's
    /// `zero_division=0` convention for classes never predicted or never present.
    public static func classificationReport(predicted: [Int], labels: [Int], classes: Int) throws -> ClassificationReport {
        let m = try confusionMatrix(predicted: predicted, labels: labels, classes: classes)
        var r = ClassificationReport(precision: [], recall: [], f1: [], support: [])
        for c in 0..<classes {
            let tp = Double(m[c][c])
            let predictedAs = Double((0..<classes).reduce(0) { $0 + m[$1][c] })
            let actual = m[c].reduce(0, +)
            let p = predictedAs > 0 ? tp / predictedAs : 0
            let rc = actual > 0 ? tp / Double(actual) : 0
            r.precision.append(p)
            r.recall.append(rc)
            r.f1.append(p + rc > 0 ? 2 * p * rc / (p + rc) : 0)
            r.support.append(actual)
        }
        return r
    }
}
