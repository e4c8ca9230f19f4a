import Foundation

/// Temperature scaling and the measures of calibration: does a confidence of 0.8 mean right 8
/// times in 10?
///
/// Temperature scaling (Guo et al., 2017) turns a model's probabilities `p` into
/// `softmax(log p / T)`: one number `T`, fitted on held-out rows by minimising their negative
/// log-likelihood, so the ranking (and the accuracy) is unchanged and only the confidences move
/// (`T` > 1 softens overconfident probabilities, `T` < 1 sharpens timid ones, such as those of a
/// label-smoothed mixture of two heads).
///
/// The expected calibration error (ECE) over `bins` equal-width confidence bins is
/// `Σ_b (n_b / N) · |accuracy_b − mean confidence_b|`, a top-1 confidence of exactly 1 counting
/// in the last bin; the bins are the reliability diagram's numbers.
/// `scripts/check-calibration.py` checks these against NumPy.
public enum IntentCalibration {
    /// One bar of a reliability diagram.
    public struct Bin: Codable, Sendable, Equatable {
        /// The confidence range `[lower, upper)` (the last bin includes 1).
        public var lower: Double, upper: Double
        /// Rows whose top-1 confidence falls in the bin.
        public var count: Int
        /// Their mean confidence and the share of them whose top label is right (0 when empty).
        public var confidence: Double, accuracy: Double
    }

    /// Calibration of one set of predictions.
    public struct Reliability: Codable, Sendable, Equatable {
        public var ece: Double
        /// Mean negative log-likelihood of the true labels (natural log).
        public var nll: Double
        public var bins: [Bin]
    }

    /// Probability rows (`classes` per row, row-major) scaled by `temperature`:
    /// `softmax(log p / T)` per row, computed stably (zeros stay zero; a row with a NaN or
    /// infinite value becomes NaN, so the model's finiteness check still refuses it).
    public static func scaled(_ p: [Double], classes: Int, temperature: Double) -> [Double] {
        precondition(classes > 0 && p.count % classes == 0 && temperature > 0)
        var out = [Double](repeating: 0, count: p.count)
        for r in stride(from: 0, to: p.count, by: classes) {
            if p[r..<(r + classes)].contains(where: { !$0.isFinite }) {
                for k in 0..<classes { out[r + k] = .nan }
                continue
            }
            var top = -Double.infinity
            for k in 0..<classes where p[r + k] > 0 { top = max(top, Foundation.log(p[r + k]) / temperature) }
            guard top.isFinite else { continue }
            var sum = 0.0
            for k in 0..<classes where p[r + k] > 0 {
                out[r + k] = Foundation.exp(Foundation.log(p[r + k]) / temperature - top); sum += out[r + k]
            }
            for k in 0..<classes { out[r + k] /= sum }
        }
        return out
    }

    /// ECE, NLL and the reliability bins of probability rows against the true class of each row.
    public static func reliability(_ p: [Double], classes: Int, labels: [Int], bins: Int = 10) -> Reliability {
        precondition(classes > 0 && p.count == labels.count * classes && bins > 0)
        var count = [Int](repeating: 0, count: bins), conf = [Double](repeating: 0, count: bins), right = [Int](repeating: 0, count: bins)
        var nll = 0.0
        for (i, y) in labels.enumerated() {
            let row = p[(i * classes)..<((i + 1) * classes)]
            var arg = row.startIndex
            for k in row.indices where row[k] > row[arg] { arg = k }
            let c = row[arg], b = min(bins - 1, Int(c * Double(bins)))
            count[b] += 1; conf[b] += c
            if arg - row.startIndex == y { right[b] += 1 }
            nll -= Foundation.log(max(row[row.startIndex + y], 1e-300))
        }
        let n = Double(max(labels.count, 1))
        var ece = 0.0, out: [Bin] = []
        for b in 0..<bins {
            let k = Double(count[b])
            let bin = Bin(lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins), count: count[b],
                          confidence: count[b] > 0 ? conf[b] / k : 0, accuracy: count[b] > 0 ? Double(right[b]) / k : 0)
            ece += k / n * abs(bin.accuracy - bin.confidence)
            out.append(bin)
        }
        return Reliability(ece: ece, nll: nll / n, bins: out)
    }

    /// The temperature in 0.05...20 minimising the mean negative log-likelihood of `labels` under
    /// the scaled rows: golden-section search on `log T` (the NLL is convex in `1/T`), to 1e-4 in
    /// `log T`.
    public static func fitTemperature(_ p: [Double], classes: Int, labels: [Int]) -> Double {
        func loss(_ logT: Double) -> Double {
            reliability(scaled(p, classes: classes, temperature: Foundation.exp(logT)), classes: classes, labels: labels, bins: 1).nll
        }
        var a = Foundation.log(0.05), b = Foundation.log(20.0)
        let g = (5.0.squareRoot() - 1) / 2
        var c = b - g * (b - a), d = a + g * (b - a)
        var fc = loss(c), fd = loss(d)
        for _ in 0..<100 where b - a > 1e-4 {
            if fc < fd { b = d; d = c; fd = fc; c = b - g * (b - a); fc = loss(c) }
            else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = loss(d) }
        }
        return Foundation.exp((a + b) / 2)
    }
}
