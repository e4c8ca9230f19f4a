import Foundation
import LeptonEngine

/// A gradient attack on the scan classifier's input (untargeted: it raises the loss of the true label).
public enum ScanAttackKind: String, Sendable, Codable, CaseIterable {
    /// Fast gradient sign method (Goodfellow et al. 2015): one step of size ε along the gradient's sign.
    case fgsm
    /// Projected gradient descent (Madry et al. 2018): a random start in the ε-ball, then `steps`
    /// signed steps, each projected back into the ball and the pixel range.
    case pgd
}

/// How an attack runs. ε and the step size are in the pixel range 0…1 *before* normalisation
/// (the command line's `--epsilon 2` is 2/255), so a perturbed image is still an 8-bit-range picture.
public struct ScanAttack: Sendable, Codable, Equatable {
    public var kind: ScanAttackKind
    /// Largest change of any pixel (L∞ radius), in 0…1.
    public var epsilon: Float
    /// PGD iterations (FGSM is one step of size ε).
    public var steps: Int
    /// PGD step size in 0…1; nil: 2.5·ε/steps (Madry et al.), enough to cross the ball from its
    /// random start.
    public var stepSize: Float?
    /// Seed of PGD's random start (uniform in the ε-ball): the same seed gives the same images.
    public var seed: UInt64

    public init(kind: ScanAttackKind, epsilon: Float, steps: Int = 10, stepSize: Float? = nil, seed: UInt64 = 0) {
        self.kind = kind; self.epsilon = epsilon; self.steps = steps; self.stepSize = stepSize; self.seed = seed
    }

    /// The PGD step actually used.
    public var effectiveStepSize: Float { stepSize ?? 2.5 * epsilon / Float(Swift.max(1, steps)) }

    /// A problem with the settings (a message naming the option), nil when they are usable.
    public var problem: String? {
        guard epsilon.isFinite, epsilon >= 0, epsilon <= 1 else { return "epsilon must be between 0 and 255/255" }
        guard kind == .fgsm || (1...1000).contains(steps) else { return "PGD steps must be between 1 and 1000" }
        if let s = stepSize, !(s.isFinite && s > 0 && s <= 1) { return "the PGD step size must be above 0 and at most 255/255" }
        return nil
    }
}

/// Clean and attacked figures of one ε.
public struct RobustEvaluation: Sendable, Codable {
    /// ε in 0…1 (×255 for the command line's units).
    public var epsilon: Float
    /// The figures on the attacked images (at ε = 0: the clean ones).
    public var attacked: ImageEvaluation
    /// Share of images whose predicted class the attack changed.
    public var flipped: Double
    /// Largest |attacked − clean| pixel change seen (≤ ε) and whether every pixel stayed in 0…1.
    public var largestChange: Float
    public var withinPixelRange: Bool
}

extension ScanClassifier {
    /// The mean cross-entropy of `labels` (temperature 1) and its gradient with respect to the
    /// pixels (`[n, size, size]` in 0…1, before normalisation): the chain rule through
    /// `(pixel − mean)/std` divides the network-input gradient by `std`.
    ///
    /// The logits are the ones `analyze` reports: with test-time augmentation (`config.tta`), the
    /// mean over the shifted views, so an attack is white-box on the shipped predictor rather than
    /// on its unshifted view alone (which would overstate robustness: an attack on one view only
    /// transfers to the mean). The views go through the network as one batch, their mean into the
    /// loss, and each view's gradient is carried back through its shift.
    ///
    /// Evaluation mode with the weights as constants (running batch-norm statistics, nothing in
    /// the model written), so attacks may run while other threads analyze with the same model.
    public func inputGradient(pixels: [Float], labels: [Int], n: Int) -> (loss: Double, gradient: [Float]) {
        precondition(pixels.count == n * config.inputSize * config.inputSize && labels.count == n,
                     "inputGradient: \(pixels.count) pixels, \(labels.count) labels for \(n) images of \(config.inputSize)²")
        let views = testTimeViews(normalise(pixels), n: n)
        let input = Variable(Tensor(shape: [views.count * n, 1, config.inputSize, config.inputSize], scalars: Array(views.joined())),
                             requiresGrad: true)
        let loss = withGradients {
            let z = head(features(input, .inference), .inference)
            let mean = views.count == 1 ? z : z.reshaped([views.count, n * classCount]).mean(axis: 0).reshaped([n, classCount])
            return crossEntropy(mean, targets: labels)
        }
        loss.backward()
        let scale = 1 / config.std
        let g = input.grad?.scalars ?? [Float](repeating: 0, count: views.count * pixels.count)
        return (Double(loss.value.scalars[0]), foldTestTimeGradients(g, n: n).map { $0 * scale })
    }

    /// Adversarial versions of `pixels` (`[n, size, size]` in 0…1) under `attack`: every pixel
    /// within ε of the original and within 0…1.
    ///
    /// - Parameter start: PGD's starting perturbation (`n·size²` values in [−ε, ε]); nil draws it
    ///   uniformly from `attack.seed`. Tests pass the reference implementation's start.
    public func adversarialPixels(_ pixels: [Float], labels: [Int], n: Int, attack: ScanAttack, start: [Float]? = nil) -> [Float] {
        let eps = attack.epsilon
        guard eps > 0 else { return pixels }
        switch attack.kind {
        case .fgsm:
            let g = inputGradient(pixels: pixels, labels: labels, n: n).gradient
            return (0..<pixels.count).map { i in Swift.min(Swift.max(pixels[i] + eps * Self.sign(g[i]), 0), 1) }
        case .pgd:
            var delta: [Float]
            if let start {
                precondition(start.count == pixels.count, "PGD start of \(start.count) values for \(pixels.count) pixels")
                delta = start
            } else {
                var rng = SeededGenerator(seed: attack.seed)
                delta = (0..<pixels.count).map { _ in (rng.nextUniform() * 2 - 1) * eps }
            }
            var x = (0..<pixels.count).map { i in Swift.min(Swift.max(pixels[i] + delta[i], 0), 1) }
            let alpha = attack.effectiveStepSize
            for _ in 0..<attack.steps {
                let g = inputGradient(pixels: x, labels: labels, n: n).gradient
                for i in 0..<x.count {
                    // Step, project onto the ε-ball around the original, then onto the pixel range.
                    let moved = Swift.min(Swift.max(x[i] + alpha * Self.sign(g[i]) - pixels[i], -eps), eps)
                    x[i] = Swift.min(Swift.max(pixels[i] + moved, 0), 1)
                }
            }
            return x
        }
    }

    /// `sign` with sign(0) = 0, as `torch.sign`: a pixel the loss does not depend on stays put.
    @inline(__always) static func sign(_ v: Float) -> Float { v > 0 ? 1 : (v < 0 ? -1 : 0) }

    /// Adversarial versions of a whole data set, in batches of 256 (PGD's random start drawn per
    /// batch from `attack.seed` and the batch's first index, so it does not depend on threads).
    public func adversarialImages(_ data: LabeledImages, attack: ScanAttack, progress: (Int) -> Void = { _ in }) -> LabeledImages {
        let plane = data.size * data.size
        var out = data
        var i = 0
        while i < data.count {
            let n = Swift.min(256, data.count - i)
            var batchAttack = attack
            batchAttack.seed = attack.seed &+ UInt64(i)
            let adv = adversarialPixels(Array(data.pixels[(i * plane)..<((i + n) * plane)]), labels: Array(data.labels[i..<(i + n)]),
                                        n: n, attack: batchAttack)
            out.pixels.replaceSubrange((i * plane)..<((i + n) * plane), with: adv)
            i += n
            progress(i)
        }
        return out
    }

    /// Clean figures (ε = 0) and the figures under `kind` at each ε of `epsilons` (0…1), at
    /// `threshold` (default: the model's) with the model's temperature.
    /// - Parameter progress: called with `(ε, images done)`.
    public func robustEvaluation(_ data: LabeledImages, kind: ScanAttackKind, epsilons: [Float], steps: Int = 10,
                                 stepSize: Float? = nil, seed: UInt64 = 0, threshold: Float? = nil,
                                 progress: (Float, Int) -> Void = { _, _ in }) throws -> [RobustEvaluation] {
        let clean = try evaluate(data, threshold: threshold)
        let cleanPredicted = predictedClasses(data, threshold: threshold)
        var out = [RobustEvaluation(epsilon: 0, attacked: clean, flipped: 0, largestChange: 0, withinPixelRange: true)]
        for eps in epsilons where eps > 0 {
            let attack = ScanAttack(kind: kind, epsilon: eps, steps: steps, stepSize: stepSize, seed: seed)
            if let problem = attack.problem { throw DiagnoseError.usage(problem) }
            let adv = adversarialImages(data, attack: attack) { progress(eps, $0) }
            let predicted = predictedClasses(adv, threshold: threshold)
            var largest: Float = 0, inRange = true
            for (a, c) in zip(adv.pixels, data.pixels) {
                largest = Swift.max(largest, abs(a - c))
                if !(a >= 0 && a <= 1) { inRange = false }
            }
            let flipped = zip(predicted, cleanPredicted).filter { $0 != $1 }.count
            out.append(RobustEvaluation(epsilon: eps, attacked: try evaluate(adv, threshold: threshold), flipped: Double(flipped) / Double(Swift.max(1, data.count)),
                                        largestChange: largest, withinPixelRange: inRange))
        }
        return out
    }

    /// The class each image is assigned at `threshold` (default: the model's; binary) or by the largest logit.
    func predictedClasses(_ data: LabeledImages, threshold: Float? = nil) -> [Int] {
        let k = classCount, t = threshold ?? config.threshold
        if k == 2 { return positiveProbabilities(data).map { $0 >= t ? 1 : 0 } }
        let raw = allLogits(data)
        return (0..<data.count).map { b in (0..<k).max { raw[b * k + $0] < raw[b * k + $1] }! }
    }
}
