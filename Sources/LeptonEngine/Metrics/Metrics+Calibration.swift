extension Metrics {
    /// One bin of a reliability diagram.
    public struct CalibrationBin: Sendable, Equatable {
        /// Bin edges: the bin holds probabilities in `(lower, upper]` (the first bin also holds 0).
        public var lower: Double, upper: Double
        public var count: Int
        /// Mean predicted probability of the bin's samples.
        public var meanProbability: Double
        /// Fraction of the bin's samples whose label is 1.
        public var fractionPositive: Double
    }

    /// Reliability diagram with `bins` equal-width bins over [0, 1]: right-closed bins
    /// `[0, 1/M], (1/M, 2/M], …, ((M−1)/M, 1]`, the binning of scikit-learn's
    /// `calibration_curve(strategy="uniform")`. Empty bins are left out.
    ///
    /// - Parameters:
    ///   - probabilities: predicted probability of the positive class, each in [0, 1].
    ///   - labels: 0/1 outcomes.
    public static func reliabilityDiagram(probabilities: [Float], labels: [Int], bins: Int = 15) throws -> [CalibrationBin] {
        try checkLengths(labels.count, probabilities.count, "probabilities")
        guard bins > 0 else { throw MetricsError.invalidArgument("bins must be positive, got \(bins)") }
        for (i, l) in labels.enumerated() where l != 0 && l != 1 { throw MetricsError.invalidLabel(what: "binary labels", index: i, value: l) }
        var count = [Int](repeating: 0, count: bins), sumP = [Double](repeating: 0, count: bins), sumY = [Double](repeating: 0, count: bins)
        let edges = (0...bins).map { Double($0) / Double(bins) }
        for (i, pf) in probabilities.enumerated() {
            let p = Double(pf)
            guard p >= 0, p <= 1 else { throw MetricsError.invalidArgument("probability \(pf) at index \(i) is outside [0, 1]") }
            // Smallest b with p <= edges[b+1] (the inner edges are compared exactly, as searchsorted does).
            var b = min(bins - 1, max(0, Int((p * Double(bins)).rounded(.up)) - 1))
            while b > 0 && p <= edges[b] { b -= 1 }
            while b < bins - 1 && p > edges[b + 1] { b += 1 }
            count[b] += 1; sumP[b] += p; sumY[b] += Double(labels[i])
        }
        return (0..<bins).filter { count[$0] > 0 }.map { b in
            CalibrationBin(lower: edges[b], upper: edges[b + 1], count: count[b],
                           meanProbability: sumP[b] / Double(count[b]), fractionPositive: sumY[b] / Double(count[b]))
        }
    }

    /// Expected calibration error of binary predictions: `Σ_b (n_b / n) · |fraction positive_b − mean probability_b|`
    /// over the bins of ``reliabilityDiagram(probabilities:labels:bins:)`` (equal width, right-closed).
    public static func expectedCalibrationError(probabilities: [Float], labels: [Int], bins: Int = 15) throws -> Double {
        let diagram = try reliabilityDiagram(probabilities: probabilities, labels: labels, bins: bins)
        let n = Double(labels.count)
        return diagram.reduce(0) { $0 + Double($1.count) / n * abs($1.fractionPositive - $1.meanProbability) }
    }

    /// Top-label expected calibration error of a multiclass model (Guo et al. 2017): confidence is
    /// the largest class probability, outcome is whether its class (first on ties) equals the label;
    /// then binary ECE with equal-width right-closed bins.
    ///
    /// - Parameter probabilities: `[samples, classes]`, each row a distribution.
    public static func topLabelCalibrationError(probabilities: Tensor, labels: [Int], bins: Int = 15) throws -> Double {
        guard probabilities.rank == 2 else { throw MetricsError.invalidArgument("probabilities must be [samples, classes], got \(probabilities.shape)") }
        let (n, k) = (probabilities.shape[0], probabilities.shape[1])
        try checkLengths(n, labels.count, "labels")
        var confidence = [Float](repeating: 0, count: n), correct = [Int](repeating: 0, count: n)
        probabilities.withUnsafeBufferPointer { p in
            for i in 0..<n {
                var best = 0
                for c in 1..<max(k, 1) where p[i * k + c] > p[i * k + best] { best = c }
                confidence[i] = k > 0 ? p[i * k + best] : 0
                correct[i] = best == labels[i] ? 1 : 0
            }
        }
        return try expectedCalibrationError(probabilities: confidence, labels: correct, bins: bins)
    }
}
