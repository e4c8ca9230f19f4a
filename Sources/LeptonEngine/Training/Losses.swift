import Foundation

// Loss functions, each a fused forward/backward (one pass over the logits, stable in float).
// All return the mean over samples as a scalar variable.

/// Multi-class cross-entropy from logits (PyTorch `cross_entropy` semantics).
///
/// With class weights `w` and label smoothing `ε` over `C` classes, sample `i` with target `y`
/// contributes `(1−ε)·w_y·(−log p_y) + ε/C·Σ_c w_c·(−log p_c)`, and the mean divides by `Σ_i w_{y_i}`.
///
/// - Parameters:
///   - logits: `[N, C]`.
///   - targets: `N` class indices in `0..<C`; `ignoreIndex` entries are skipped.
///   - classWeights: `C` weights, or nil for 1.
///   - labelSmoothing: `ε` in `[0, 1)`.
public func crossEntropy(_ logits: Variable, targets: [Int], classWeights: [Float]? = nil,
                         labelSmoothing: Float = 0, ignoreIndex: Int? = nil) -> Variable {
    precondition(logits.rank == 2 && logits.shape[0] == targets.count, "crossEntropy: logits \(logits.shape), \(targets.count) targets")
    let n = logits.shape[0], c = logits.shape[1]
    if let w = classWeights { precondition(w.count == c, "crossEntropy: \(w.count) class weights for \(c) classes") }
    let eps = labelSmoothing
    let logp = logits.value.logSoftmax()
    let w = classWeights ?? [Float](repeating: 1, count: c)
    let wSum = w.reduce(0, +)
    var total = 0.0, norm = 0.0
    logp.withUnsafeBufferPointer { lp in
        for i in 0..<n {
            let y = targets[i]
            if y == ignoreIndex { continue }
            precondition(y >= 0 && y < c, "crossEntropy: target \(y) out of 0..<\(c)")
            var smooth = 0.0
            if eps > 0 { for k in 0..<c { smooth -= Double(w[k] * lp[i * c + k]) } }
            total += Double((1 - eps) * w[y]) * Double(-lp[i * c + y]) + Double(eps) / Double(c) * smooth
            norm += Double(w[y])
        }
    }
    let denom = Float(Swift.max(norm, 1e-12))
    return Variable.result(Tensor(scalar: Float(total) / denom), [logits]) { g in
        let scale = g[flat: 0] / denom
        logits.accumulate(Tensor(shape: [n, c]) { o in
            logp.withUnsafeBufferPointer { lp in
                for i in 0..<n {
                    let y = targets[i], row = o.baseAddress! + i * c
                    if y == ignoreIndex { for k in 0..<c { row[k] = 0 }; continue }
                    // Loss = Σ_k a_k (−log p_k) with a_k = (1−ε) w_y [k=y] + ε/C w_k ⇒ grad = (Σa) p − a.
                    let aSum = (1 - eps) * w[y] + eps / Float(c) * wSum
                    for k in 0..<c {
                        let a = (k == y ? (1 - eps) * w[y] : 0) + eps / Float(c) * w[k]
                        row[k] = scale * (aSum * expf(lp[i * c + k]) - a)
                    }
                }
            }
        })
    }
}

/// Binary cross-entropy on logits, elementwise against `targets` in [0, 1] (PyTorch
/// `binary_cross_entropy_with_logits`): `−[pw·y·log σ(x) + (1−y)·log(1−σ(x))]`, averaged.
///
/// - Parameters:
///   - logits: any shape.
///   - targets: same shape.
///   - positiveWeight: `pw`, weight of positive examples (e.g. negatives/positives for imbalance).
public func binaryCrossEntropyWithLogits(_ logits: Variable, targets: Tensor, positiveWeight: Float = 1) -> Variable {
    precondition(logits.count == targets.count, "BCE: logits \(logits.shape) vs targets \(targets.shape)")
    let n = logits.count, x = logits.value
    var total = 0.0
    x.withUnsafeBufferPointer { xb in targets.withUnsafeBufferPointer { tb in
        for i in 0..<n {
            let v = xb[i], y = tb[i]
            // log σ(v) = −softplus(−v); log(1−σ(v)) = −softplus(v), softplus computed stably.
            let spNeg = softplus(-v), spPos = softplus(v)
            total += Double(positiveWeight * y * spNeg + (1 - y) * spPos)
        }
    } }
    let inv = 1 / Float(Swift.max(n, 1))
    return Variable.result(Tensor(scalar: Float(total) * inv), [logits]) { g in
        let scale = g[flat: 0] * inv
        logits.accumulate(Tensor(shape: x.shape) { o in
            x.withUnsafeBufferPointer { xb in targets.withUnsafeBufferPointer { tb in
                for i in 0..<n {
                    let s = 1 / (1 + expf(-xb[i])), y = tb[i]
                    o[i] = scale * (s * (positiveWeight * y + 1 - y) - positiveWeight * y)
                }
            } }
        })
    }
}

/// Binary focal loss on logits with 0/1 targets (Lin et al. 2017; torchvision `sigmoid_focal_loss`):
/// `−α_t (1 − p_t)^γ log p_t`, with `p_t = σ(x)` for positives and `1 − σ(x)` for negatives,
/// `α_t = α` for positives and `1 − α` for negatives (pass `alpha: nil` for no weighting). Averaged.
public func sigmoidFocalLoss(_ logits: Variable, targets: Tensor, alpha: Float? = 0.25, gamma: Float = 2) -> Variable {
    precondition(logits.count == targets.count, "focal: logits \(logits.shape) vs targets \(targets.shape)")
    let n = logits.count, x = logits.value
    var total = 0.0
    var grad = [Float](repeating: 0, count: n)
    x.withUnsafeBufferPointer { xb in targets.withUnsafeBufferPointer { tb in
        for i in 0..<n {
            let positive = tb[i] > 0.5
            let z = positive ? xb[i] : -xb[i]          // p_t = σ(z)
            let a: Float = alpha.map { positive ? $0 : 1 - $0 } ?? 1
            let logP = -softplus(-z), p = Foundation.exp(logP), q = 1 - p
            let qg = powf(q, gamma)
            total += Double(-a * qg * logP)
            // d/dz [−a qᵞ log p] = a qᵞ (γ p log p − q)   (dσ/dz = p q)
            let dz = a * qg * (gamma * p * logP - q)
            grad[i] = positive ? dz : -dz
        }
    } }
    let inv = 1 / Float(Swift.max(n, 1))
    return Variable.result(Tensor(scalar: Float(total) * inv), [logits]) { g in
        logits.accumulate(Tensor(shape: x.shape, scalars: grad) * (g[flat: 0] * inv))
    }
}

/// Multi-class focal loss on logits: `−α_y (1 − p_y)^γ log p_y` averaged over samples
/// (`classWeights` = α per class, nil for 1).
public func focalLoss(_ logits: Variable, targets: [Int], gamma: Float = 2, classWeights: [Float]? = nil) -> Variable {
    precondition(logits.rank == 2 && logits.shape[0] == targets.count, "focalLoss: logits \(logits.shape), \(targets.count) targets")
    let n = logits.shape[0], c = logits.shape[1]
    let logp = logits.value.logSoftmax()
    var total = 0.0
    var grad = [Float](repeating: 0, count: n * c)
    logp.withUnsafeBufferPointer { lp in
        for i in 0..<n {
            let y = targets[i]
            precondition(y >= 0 && y < c, "focalLoss: target \(y) out of 0..<\(c)")
            let a = classWeights?[y] ?? 1
            let ly = lp[i * c + y], py = Foundation.exp(ly), q = Swift.max(1 - py, 0)
            total += Double(-a * powf(q, gamma) * ly)
            // dL/dlogit_k = −a ([k=y] − p_k) (qᵞ − γ q^(γ−1) p_y log p_y)
            let qgm1: Float = q > 0 ? powf(q, gamma - 1) : (gamma == 1 ? 1 : 0)
            let common = -a * (powf(q, gamma) - gamma * qgm1 * py * ly)
            for k in 0..<c { grad[i * c + k] = common * ((k == y ? 1 : 0) - Foundation.exp(lp[i * c + k])) }
        }
    }
    let inv = 1 / Float(Swift.max(n, 1))
    return Variable.result(Tensor(scalar: Float(total) * inv), [logits]) { g in
        logits.accumulate(Tensor(shape: [n, c], scalars: grad) * (g[flat: 0] * inv))
    }
}

/// Mean squared error `mean((prediction − target)²)`.
public func mseLoss(_ prediction: Variable, _ target: Tensor) -> Variable {
    precondition(prediction.count == target.count, "mse: \(prediction.shape) vs \(target.shape)")
    let diff = prediction.value - target.reshaped(prediction.shape)
    let n = Float(Swift.max(prediction.count, 1))
    let loss = diff.withUnsafeBufferPointer { b in var s = 0.0; for v in b { s += Double(v * v) }; return Float(s) / n }
    return Variable.result(Tensor(scalar: loss), [prediction]) { g in prediction.accumulate(diff * (2 * g[flat: 0] / n)) }
}

/// log(1 + eˣ) without overflow.
@inline(__always)
func softplus(_ x: Float) -> Float { x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)) }
