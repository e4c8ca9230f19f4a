import Foundation
import LeptonEngine

/// How `ScanClassifier.train` runs.
public struct TrainingOptions: Sendable {
    public var epochs = 20
    public var batchSize = 64
    public var learningRate: Float = 2e-3
    /// Decoupled (AdamW) weight decay.
    public var weightDecay: Float = 1e-4
    /// Stop after this many epochs without a better validation figure (``selectBy``).
    public var patience = 5
    /// Which validation figure chooses the epoch kept: ROC-AUC (ties: the lower loss), or the
    /// loss (NLL) alone. AUC saturates near 1 on PneumoniaMNIST's validation rows, where it can keep
    /// an epoch whose accuracy at the threshold is poor; the loss also weighs the probabilities.
    public var selectBy: EpochSelection = .auc
    public var seed: UInt64 = 0
    /// Random shifts (±2 px), rotations (±10°), scaling (±5 %) and intensity changes (gain ±15 %, offset ±0.08).
    public var augment = true
    /// Weight each class by `count / (classes · classCount)` in the loss.
    public var classWeights = true
    /// Learn from a teacher's softened outputs as well as from the labels (nil: labels only).
    public var distillation: ScanDistillation?
    /// Fine-tuning: start from this model's weights (same architecture) instead of a random
    /// initialisation (`lepton-diagnose prune`).
    public var startFrom: ScanClassifier?
    /// Adversarial training: each batch is trained on together with its adversarial version
    /// (made by this attack on the model as it stands, in evaluation mode), so the loss is the
    /// mean of the clean and the adversarial cross-entropy (Goodfellow et al. 2015). nil: clean only.
    public var adversarial: ScanAttack?
    public init() {}
}

/// The validation figure that chooses the epoch a training run keeps.
public enum EpochSelection: String, Sendable, Codable, CaseIterable {
    case auc, loss
}

/// Figures of a training run.
public struct TrainingSummary: Sendable, Codable {
    public var epochsRun = 0
    public var bestEpoch = 0
    public var valAccuracy = 0.0
    public var valAUC = 0.0
    public var valECE = 0.0
    public var valLoss = 0.0
    public var temperature: Float = 1
    public var seconds = 0.0
    public var secondsPerEpoch = 0.0
}

/// Evaluation of a classifier on labelled images (positive class = index 1).
public struct ImageEvaluation: Sendable, Codable {
    public var count = 0
    public var accuracy = 0.0
    public var auc = 0.0
    public var sensitivity = 0.0
    public var specificity = 0.0
    public var ece = 0.0
    public var threshold: Float = 0.5
    public var nll = 0.0
}

extension ScanClassifier {
    /// Positive-class probabilities (temperature-scaled) of a data set, in batches.
    public func positiveProbabilities(_ data: LabeledImages, temperature: Float? = nil) -> [Float] {
        let raw = allLogits(data)
        let p = ScanClassifier.softmax(raw, classes: classCount, temperature: temperature ?? config.temperature)
        return (0..<data.count).map { p[$0 * classCount + min(1, classCount - 1)] }
    }

    /// Raw logits `[count, classes]` in batches of 256.
    public func allLogits(_ data: LabeledImages) -> [Float] {
        let plane = data.size * data.size
        var out: [Float] = []
        out.reserveCapacity(data.count * classCount)
        var i = 0
        while i < data.count {
            let n = min(256, data.count - i)
            out += logits(normalise(Array(data.pixels[(i * plane)..<((i + n) * plane)])), n: n)
            i += n
        }
        return out
    }

    /// ACC, ROC-AUC, sensitivity, specificity at `threshold`, ECE (15 bins) and NLL.
    public func evaluate(_ data: LabeledImages, threshold: Float? = nil) throws -> ImageEvaluation {
        let t = threshold ?? config.threshold
        let raw = allLogits(data)
        let probs = ScanClassifier.softmax(raw, classes: classCount, temperature: config.temperature)
        let pos = (0..<data.count).map { probs[$0 * classCount + 1] }
        var e = ImageEvaluation()
        e.count = data.count; e.threshold = t
        var tp = 0, tn = 0, fp = 0, fn = 0
        var nll = 0.0
        for i in 0..<data.count {
            let predicted = pos[i] >= t ? 1 : 0, y = data.labels[i] > 0 ? 1 : 0
            if predicted == 1 && y == 1 { tp += 1 } else if predicted == 0 && y == 0 { tn += 1 } else if predicted == 1 { fp += 1 } else { fn += 1 }
            nll -= Double(Foundation.log(max(probs[i * classCount + min(data.labels[i], classCount - 1)], 1e-12)))
        }
        e.accuracy = Double(tp + tn) / Double(max(1, data.count))
        e.sensitivity = Double(tp) / Double(max(1, tp + fn))
        e.specificity = Double(tn) / Double(max(1, tn + fp))
        let ys = data.labels.map { $0 > 0 ? 1 : 0 }
        e.auc = try Metrics.rocAUC(labels: ys, scores: pos)
        e.ece = try Metrics.expectedCalibrationError(probabilities: pos, labels: ys, bins: 15)
        e.nll = nll / Double(max(1, data.count))
        return e
    }

    /// Temperature minimising validation NLL (golden-section search on log T in [0.05, 20]).
    public static func fitTemperature(logits: [Float], labels: [Int], classes: Int) -> Float {
        func nll(_ logT: Double) -> Double {
            let p = softmax(logits, classes: classes, temperature: Float(Foundation.exp(logT)))
            var s = 0.0
            for (i, y) in labels.enumerated() { s -= Foundation.log(Double(max(p[i * classes + y], 1e-12))) }
            return s
        }
        var a = Foundation.log(0.05), b = Foundation.log(20.0)
        let g = (5.0.squareRoot() - 1) / 2
        var c = b - g * (b - a), d = a + g * (b - a)
        for _ in 0..<60 {
            if nll(c) < nll(d) { b = d } else { a = c }
            c = b - g * (b - a); d = a + g * (b - a)
        }
        return Float(Foundation.exp((a + b) / 2))
    }

    /// Trains a new classifier: AdamW with cosine learning-rate decay, class-weighted cross-entropy,
    /// augmentation, early stopping on validation ROC-AUC (best weights kept), then temperature
    /// scaling fitted on validation.
    /// - Parameters:
    ///   - progress: called with one line per epoch.
    ///   - curves: gets every batch's loss and, per epoch, the validation figures (`val_loss`,
    ///     `val_accuracy`, `val_auc`); it writes them to curves.csv and TensorBoard (`--logdir`).
    public static func train(train: LabeledImages, val: LabeledImages, config: ScanClassifierConfig,
                             options: TrainingOptions, curves: TrainingProgress? = nil,
                             progress: (String) -> Void = { _ in }) throws -> (ScanClassifier, TrainingSummary) {
        // Data problems, not command-line usage: `badLabels` (exit 1 in the program).
        guard train.count > 0 else { throw DiagnoseError.badLabels(file: "training set", line: 0, reason: "no training images") }
        guard val.count > 0 else { throw DiagnoseError.badLabels(file: "validation set", line: 0, reason: "no validation images (rows under val/ or --val)") }
        let k = config.classes.count
        guard let maxLabel = (train.labels + val.labels).max(), maxLabel < k, (train.labels + val.labels).allSatisfy({ $0 >= 0 }) else {
            throw DiagnoseError.badLabels(file: "training set", line: 0, reason: "labels must be 0...\(k - 1) for \(k) classes")
        }
        if let problem = options.adversarial?.problem { throw DiagnoseError.usage("--adversarial: \(problem)") }
        if let problem = options.distillation?.problem(student: config) {
            throw DiagnoseError.usage("--distil-from: \(problem)")
        }
        let model = ScanClassifier(config: config, seed: options.seed)
        if let start = options.startFrom {
            let (a, b) = (start.config, config)
            guard a.arch ?? .cnn == b.arch ?? .cnn, a.residualBlocks == b.residualBlocks, a.channels == b.channels,
                  a.pool == b.pool, a.classes == b.classes else {
                throw DiagnoseError.usage("the model to fine-tune has \(start.config.arch ?? .cnn) channels \(start.config.channels), the configuration \(config.arch ?? .cnn) \(config.channels)")
            }
            model.restore(start.snapshot())
        }
        var rng = SeededGenerator(seed: options.seed &+ 1)
        var counts = [Int](repeating: 0, count: k)
        for y in train.labels { counts[y] += 1 }
        let classWeight: [Float] = (0..<k).map { c in
            options.classWeights && counts[c] > 0 ? Float(train.count) / Float(k * counts[c]) : 1
        }
        let trainer = ScanTrainer(model: model, classWeights: classWeight, weightDecay: options.weightDecay,
                                  distillation: options.distillation)
        let plane = train.size * train.size
        let stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        let totalSteps = max(1, stepsPerEpoch * options.epochs)
        var summary = TrainingSummary()
        var best: (auc: Double, loss: Double, state: ScanClassifier.Snapshot)? = nil
        var sinceBest = 0
        let start = Date()
        for epoch in 1...max(1, options.epochs) {
            let epochStart = Date()
            var order = Array(0..<train.count)
            order.shuffle(using: &rng)
            var lossSum = 0.0
            for s in 0..<stepsPerEpoch {
                let idx = Array(order[(s * options.batchSize)..<min(train.count, (s + 1) * options.batchSize)])
                let n = idx.count
                var pixels = [Float](repeating: 0, count: n * plane)
                for (j, i) in idx.enumerated() {
                    let img = Array(train.pixels[(i * plane)..<((i + 1) * plane)])
                    let aug = options.augment ? Augmentation.apply(img, size: train.size, rng: &rng) : img
                    pixels.replaceSubrange((j * plane)..<((j + 1) * plane), with: aug)
                }
                var labels = idx.map { train.labels[$0] }
                if var attack = options.adversarial {
                    attack.seed = options.seed &+ UInt64(trainer.steps) &* 7919
                    pixels += model.adversarialPixels(pixels, labels: labels, n: n, attack: attack)
                    labels += labels
                }
                let step = trainer.steps + 1
                let lr = options.learningRate * 0.5 * (1 + Float(Foundation.cos(Double.pi * Double(step - 1) / Double(totalSteps))))
                let loss = trainer.step(model.normalise(pixels), labels: labels, learningRate: lr)
                lossSum += loss
                curves?.step(loss: Float(loss))
            }
            model.config.temperature = 1
            let e = try model.evaluate(val, threshold: 0.5)
            do {
                try curves?.endEpoch(metrics: ["val_loss": Float(e.nll), "val_accuracy": Float(e.accuracy), "val_auc": Float(e.auc)])
            } catch {
                throw DiagnoseError.writeFailed(path: curves?.csvURL?.path ?? "training log", reason: "\(error)")
            }
            let secs = Date().timeIntervalSince(epochStart)
            progress(String(format: "epoch %d/%d  train loss %.4f  val loss %.4f  val acc %.4f  val auc %.4f  (%.1f s)",
                            epoch, options.epochs, lossSum / Double(stepsPerEpoch), e.nll, e.accuracy, e.auc, secs))
            summary.epochsRun = epoch
            let better: Bool
            if let b = best {
                better = options.selectBy == .loss ? e.nll < b.loss
                    : e.auc > b.auc + 1e-6 || (abs(e.auc - b.auc) <= 1e-6 && e.nll < b.loss)
            } else { better = true }
            if better {
                best = (e.auc, e.nll, model.snapshot()); summary.bestEpoch = epoch; sinceBest = 0
            } else {
                sinceBest += 1
                if sinceBest >= options.patience {
                    progress("early stop: no better validation \(options.selectBy == .loss ? "loss" : "AUC") for \(options.patience) epochs"); break
                }
            }
        }
        if let b = best { model.restore(b.state) }
        let valLogits = model.allLogits(val)
        model.config.temperature = fitTemperature(logits: valLogits, labels: val.labels, classes: k)
        let e = try model.evaluate(val)
        summary.valAccuracy = e.accuracy; summary.valAUC = e.auc; summary.valECE = e.ece; summary.valLoss = e.nll
        summary.temperature = model.config.temperature
        summary.seconds = Date().timeIntervalSince(start)
        summary.secondsPerEpoch = summary.seconds / Double(max(1, summary.epochsRun))
        return (model, summary)
    }

    /// A copy of every parameter and running statistic (tensors are copy-on-write values).
    struct Snapshot: @unchecked Sendable {
        var state: [String: Tensor]
    }

    func snapshot() -> Snapshot { Snapshot(state: stateDict()) }

    func restore(_ s: Snapshot) {
        // Same model, same names and shapes: cannot fail.
        for (name, v) in namedParameters() + namedBuffers() { if let t = s.state[name] { v.value = t } }
    }
}

/// Training-time augmentation of one grayscale image in [0, 1].
enum Augmentation {
    static func apply(_ img: [Float], size: Int, rng: inout SeededGenerator) -> [Float] {
        let angle = (rng.nextUniform() * 2 - 1) * Float.pi / 18  // ±10°
        let scale = 1 + (rng.nextUniform() * 2 - 1) * 0.05
        let tx = (rng.nextUniform() * 2 - 1) * 2, ty = (rng.nextUniform() * 2 - 1) * 2
        let gain = 1 + (rng.nextUniform() * 2 - 1) * 0.15, offset = (rng.nextUniform() * 2 - 1) * 0.08
        let c = Float(size - 1) / 2
        let cosA = Foundation.cos(angle) / scale, sinA = Foundation.sin(angle) / scale
        var out = [Float](repeating: 0, count: size * size)
        for y in 0..<size {
            for x in 0..<size {
                // Inverse map: output pixel → source position (rotation about the centre, then shift).
                let dx = Float(x) - c - tx, dy = Float(y) - c - ty
                let sx = min(max(cosA * dx + sinA * dy + c, 0), Float(size - 1))
                let sy = min(max(-sinA * dx + cosA * dy + c, 0), Float(size - 1))
                let x0 = Int(sx), y0 = Int(sy), x1 = min(x0 + 1, size - 1), y1 = min(y0 + 1, size - 1)
                let fx = sx - Float(x0), fy = sy - Float(y0)
                let v = (img[y0 * size + x0] * (1 - fx) + img[y0 * size + x1] * fx) * (1 - fy)
                    + (img[y1 * size + x0] * (1 - fx) + img[y1 * size + x1] * fx) * fy
                out[y * size + x] = min(max(v * gain + offset, 0), 1)
            }
        }
        return out
    }
}

/// One optimisation step at a time through the engine: class-weighted ``crossEntropy`` (or, with a
/// teacher, the distillation loss), autodiff backward, ``AdamW`` on every parameter (decoupled
/// decay on conv and linear weights only, as the biases and batch-norm affine parameters are not
/// decayed). Used by `train` and by the benchmark.
public final class ScanTrainer: @unchecked Sendable {
    public let model: ScanClassifier
    let classWeights: [Float]
    let distillation: ScanDistillation?
    let decayed: AdamW, undecayed: AdamW
    public private(set) var steps = 0

    public init(model: ScanClassifier, classWeights: [Float]? = nil, weightDecay: Float = 0, distillation: ScanDistillation? = nil) {
        self.model = model
        self.distillation = distillation
        self.classWeights = classWeights ?? [Float](repeating: 1, count: model.classCount)
        let named = model.namedParameters()
        // Conv and linear weights (rank ≥ 2) are decayed; biases and batch-norm scales (rank 1) are not.
        decayed = AdamW(named.filter { $0.1.shape.count >= 2 }.map(\.1), learningRate: 1e-3, weightDecay: weightDecay)
        undecayed = AdamW(named.filter { $0.1.shape.count < 2 }.map(\.1), learningRate: 1e-3, weightDecay: 0)
    }

    /// Trains on one normalised batch `[n, size, size]`; returns the batch loss.
    @discardableResult
    public func step(_ batch: [Float], labels: [Int], learningRate lr: Float) -> Double {
        model.setTraining(true)
        defer { model.setTraining(false) }
        let logits = model.head(model.features(model.inputVariable(batch, n: labels.count), .training), .training)
        // PyTorch's weighted mean: Σ w_y·(−log p_y) / Σ w_y.
        let loss = distillation?.loss(logits, batch: batch, labels: labels, classWeights: classWeights)
            ?? crossEntropy(logits, targets: labels, classWeights: classWeights)
        model.zeroGrad()
        loss.backward()
        steps += 1
        decayed.learningRate = lr; undecayed.learningRate = lr
        decayed.step(); undecayed.step()
        return Double(loss.value.scalars[0])
    }
}

extension ScanClassifierConfig {
    /// The same network (input size, blocks, classes, normalisation) with nothing a training run
    /// fits or records (temperature, threshold, notes, version): the configuration to fine-tune into.
    public var architecture: ScanClassifierConfig {
        var c = ScanClassifierConfig()
        c.inputSize = inputSize; c.channels = channels; c.pool = pool; c.classes = classes
        c.arch = arch; c.residualBlocks = residualBlocks; c.tta = tta
        c.bnEps = bnEps; c.mean = mean; c.std = std
        return c
    }
}
