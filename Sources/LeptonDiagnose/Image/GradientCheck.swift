import Foundation
import LeptonEngine

/// Checks `ScanClassifier`'s hand-written backward pass against central finite differences of the
/// class-weighted cross-entropy (training-mode batch norm) on a random batch. Used by the tests.
public struct GradientCheck: Sendable {
    let config: ScanClassifierConfig
    let seed: UInt64

    public init(config: ScanClassifierConfig, seed: UInt64) { self.config = config; self.seed = seed }

    /// Returns the median and 90th percentile of the relative errors
    /// `|analytic − numeric| / max(|a| + |n|, 1e-3)` over a sample of parameters from every tensor
    /// (step 1e-3 in float32: a few per cent of noise, more where ReLU/max-pool kinks are crossed),
    /// and how many were checked. A wrong backward gives errors near 1.
    public func run(perTensor: Int = 6) -> (median: Float, p90: Float, count: Int) {
        let model = ScanClassifier(config: config, seed: seed)
        var rng = SeededGenerator(seed: seed &+ 11)
        let n = 4, plane = config.inputSize * config.inputSize, k = config.classes.count
        let x = (0..<(n * plane)).map { _ in rng.nextNormal() }
        let labels = (0..<n).map { $0 % k }
        let weights: [Float] = (0..<k).map { Float($0 + 1) }
        func loss() -> (Double, [Float], ScanClassifier.Forward) {
            let f = model.forward(x, n: n, training: true)
            let p = ScanClassifier.softmax(f.logits, classes: k, temperature: 1)
            var wsum: Float = 0
            for y in labels { wsum += weights[y] }
            var l = 0.0
            var d = [Float](repeating: 0, count: n * k)
            for b in 0..<n {
                let y = labels[b], w = weights[y] / wsum
                l -= Double(w) * Foundation.log(Double(p[b * k + y]))
                for c in 0..<k { d[b * k + c] = w * (p[b * k + c] - (c == y ? 1 : 0)) }
            }
            return (l, d, f)
        }
        let (_, d, f) = loss()
        let g = model.backward(f, dLogits: d, n: n)
        var errors: [Float] = []
        let eps: Float = 1e-3
        func probe(_ get: () -> Float, _ set: (Float) -> Void, analytic: Float) {
            let v = get()
            set(v + eps); let lp = loss().0
            set(v - eps); let lm = loss().0
            set(v)
            let numeric = Float((lp - lm) / Double(2 * eps))
            errors.append(abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-3))
        }
        for i in 0..<model.blocks {
            for j in 0..<min(perTensor, model.convW[i].count) {
                let idx = (j * 7919) % model.convW[i].count
                probe({ model.convW[i][idx] }, { model.convW[i][idx] = $0 }, analytic: g.convW[i][idx])
            }
            for j in 0..<min(perTensor, model.gamma[i].count) {
                probe({ model.gamma[i][j] }, { model.gamma[i][j] = $0 }, analytic: g.gamma[i][j])
                probe({ model.beta[i][j] }, { model.beta[i][j] = $0 }, analytic: g.beta[i][j])
            }
        }
        for j in 0..<min(perTensor, model.fcW.count) { probe({ model.fcW[j] }, { model.fcW[j] = $0 }, analytic: g.fcW[j]) }
        errors.sort()
        return (errors[errors.count / 2], errors[min(errors.count - 1, errors.count * 9 / 10)], errors.count)
    }
}
