import Foundation
import LeptonEngine

/// Checks the scan CNN's gradients (the engine's autodiff through conv, batch norm, ReLU, max
/// pool, global average pool and linear) against central finite differences of the class-weighted
/// cross-entropy (training-mode batch norm) on a random batch. Used by the tests.
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
        model.setTraining(true)
        defer { model.setTraining(false) }
        func loss() -> Variable {
            crossEntropy(model.head(model.features(model.inputVariable(x, n: n))), targets: labels, classWeights: weights)
        }
        model.zeroGrad()
        loss().backward()
        var errors: [Float] = []
        let eps: Float = 1e-3
        for (name, p) in model.namedParameters() {
            // A conv bias followed by training-mode batch norm has an exactly zero gradient: skipped.
            guard let g = p.grad, !(name.hasPrefix("c") && name.hasSuffix(".bias")) else { continue }
            let analytic = g.scalars
            for j in 0..<min(perTensor, p.count) {
                let idx = (j * 7919) % p.count
                var values = p.value.scalars
                let v = values[idx]
                values[idx] = v + eps; p.value = Tensor(shape: p.shape, scalars: values)
                let lp = Double(withoutGradients { loss() }.value.scalars[0])
                values[idx] = v - eps; p.value = Tensor(shape: p.shape, scalars: values)
                let lm = Double(withoutGradients { loss() }.value.scalars[0])
                values[idx] = v; p.value = Tensor(shape: p.shape, scalars: values)
                let numeric = Float((lp - lm) / Double(2 * eps))
                errors.append(abs(analytic[idx] - numeric) / max(abs(analytic[idx]) + abs(numeric), 1e-3))
            }
        }
        errors.sort()
        return (errors[errors.count / 2], errors[min(errors.count - 1, errors.count * 9 / 10)], errors.count)
    }
}
