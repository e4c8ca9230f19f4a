import Foundation

// Knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network",
// 2015): a student learns from a teacher's softened outputs as well as from the labels.

/// `T² · mean_i KL(softmax(t_i / T) ‖ softmax(s_i / T))`: the soft-target term of distillation,
/// for student logits `s` `[N, C]` and fixed teacher logits `t` (same shape).
///
/// The `T²` factor keeps the gradient's scale independent of `T` (the soft targets' gradient
/// shrinks as `1/T²`), as the paper prescribes. Gradient with respect to the student's logits:
/// `T · (softmax(s_i / T) − softmax(t_i / T)) / N`. Computed from log-softmaxes, so a teacher
/// that is certain (a probability that rounds to 0) contributes 0, never NaN.
public func softTargetKL(_ logits: Variable, teacherLogits: Tensor, temperature t: Float) -> Variable {
    precondition(logits.rank == 2 && teacherLogits.shape == logits.shape, "softTargetKL: student \(logits.shape), teacher \(teacherLogits.shape)")
    precondition(t.isFinite && t > 0, "softTargetKL: temperature \(t) must be positive")
    let n = logits.shape[0], c = logits.shape[1]
    let student = (logits.value * (1 / t)).logSoftmax(), teacher = (teacherLogits * (1 / t)).logSoftmax()
    var total = 0.0
    student.withUnsafeBufferPointer { ls in
        teacher.withUnsafeBufferPointer { lt in
            for k in 0..<(n * c) where lt[k] > -80 {   // p_t·log p_t → 0 as p_t → 0
                total += Double(Foundation.exp(lt[k])) * Double(lt[k] - ls[k])
            }
        }
    }
    let scale = t * t / Float(Swift.max(n, 1))
    return Variable.result(Tensor(scalar: Float(total) * scale), [logits]) { g in
        // d/ds [T² KL] = T² · (1/T) (p_s − p_t), averaged over the N rows.
        logits.accumulate((student.exp() - teacher.exp()) * (g[flat: 0] * t / Float(Swift.max(n, 1))))
    }
}

/// The distillation objective `α · softTargetKL(s, t; T) + (1 − α) · crossEntropy(s, y)` (the
/// hard-label term with optional class weights, as ``crossEntropy(_:targets:classWeights:labelSmoothing:ignoreIndex:)``).
///
/// - Parameters:
///   - logits: the student's `[N, C]`.
///   - teacherLogits: the teacher's raw logits for the same inputs (no gradient flows to them).
///   - targets: the labels.
///   - temperature: `T` ≥ 1 softens both distributions (1 = plain probabilities).
///   - alpha: weight of the soft targets in [0, 1] (1 = teacher only, 0 = labels only).
public func distillationLoss(_ logits: Variable, teacherLogits: Tensor, targets: [Int], temperature: Float, alpha: Float,
                             classWeights: [Float]? = nil) -> Variable {
    precondition((0...1).contains(alpha), "distillationLoss: alpha \(alpha) outside [0, 1]")
    let soft = softTargetKL(logits, teacherLogits: teacherLogits, temperature: temperature)
    if alpha == 1 { return soft }
    return soft * alpha + crossEntropy(logits, targets: targets, classWeights: classWeights) * (1 - alpha)
}
