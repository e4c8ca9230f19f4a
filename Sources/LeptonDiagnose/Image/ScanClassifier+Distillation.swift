import Foundation
import LeptonEngine

/// Training a smaller scan classifier (the student) from a trained one (the teacher), as Hinton et
/// al. (2015) distil a network: on every training batch the teacher's logits, softened by a
/// temperature `T`, are a second target beside the labels (``distillationLoss(_:teacherLogits:targets:temperature:alpha:classWeights:)``).
///
/// The teacher sees exactly the student's (augmented, normalised) batch, so the soft targets
/// follow the augmentation; it runs in inference mode (running statistics, weights as constants)
/// and gets no gradient. `lepton-diagnose train --distil-from TEACHER --channels 8,16,32`.
public struct ScanDistillation: Sendable {
    /// The trained model whose soft outputs are learned.
    public let teacher: ScanClassifier
    /// `T`: softens the teacher's and the student's distributions (≥ 1; 1 = plain probabilities).
    public var temperature: Float
    /// Weight of the soft targets; `1 − alpha` goes to the class-weighted cross-entropy on labels.
    public var alpha: Float

    /// Defaults: `T = 4`, `α = 0.9` (the paper's advice: a small weight on the hard targets, a
    /// temperature of a few units for a small network).
    public init(teacher: ScanClassifier, temperature: Float = 4, alpha: Float = 0.9) {
        self.teacher = teacher; self.temperature = temperature; self.alpha = alpha
    }

    /// Why the teacher cannot teach a student configured as `student`, or nil: it must read the
    /// same input (size, normalisation) and name the same classes in the same order.
    public func problem(student: ScanClassifierConfig) -> String? {
        let t = teacher.config
        if !(temperature.isFinite && temperature >= 1 && temperature <= 100) { return "temperature \(temperature) is outside 1...100" }
        if !(alpha.isFinite && (0...1).contains(alpha)) { return "alpha \(alpha) is outside 0...1" }
        if t.classes != student.classes { return "the teacher's classes \(t.classes) differ from the student's \(student.classes)" }
        if t.inputSize != student.inputSize { return "the teacher reads \(t.inputSize)×\(t.inputSize) images, the student \(student.inputSize)×\(student.inputSize)" }
        if t.mean != student.mean || t.std != student.std { return "the teacher normalises with mean \(t.mean) / std \(t.std), the student with \(student.mean) / \(student.std)" }
        return nil
    }

    /// The loss of a training step: the student's `logits` for the normalised `batch` against the
    /// teacher's logits for the same batch and the labels.
    func loss(_ logits: Variable, batch: [Float], labels: [Int], classWeights: [Float]) -> Variable {
        let teacherLogits = Tensor(shape: logits.shape, scalars: teacher.logits(batch, n: labels.count))
        return distillationLoss(logits, teacherLogits: teacherLogits, targets: labels, temperature: temperature, alpha: alpha,
                                classWeights: classWeights)
    }
}

extension ScanClassifierConfig {
    /// The default student of `teacher`: every conv block half as wide (at least 1 channel), the
    /// rest of the configuration (input, classes, pooling) the same.
    public static func student(of teacher: ScanClassifierConfig) -> ScanClassifierConfig {
        var c = ScanClassifierConfig()
        c.inputSize = teacher.inputSize; c.classes = teacher.classes; c.pool = teacher.pool
        c.arch = teacher.arch; c.residualBlocks = teacher.residualBlocks
        c.mean = teacher.mean; c.std = teacher.std; c.bnEps = teacher.bnEps
        c.channels = teacher.channels.map { Swift.max(1, $0 / 2) }
        return c
    }
}
