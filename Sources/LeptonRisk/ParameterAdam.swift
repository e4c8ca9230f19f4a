import Foundation
import LeptonEngine

/// Adam (Kingma & Ba 2015) over named parameters visited in place, with optional decoupled weight
/// decay (AdamW). State is kept per parameter name.
struct ParameterAdam {
    var learningRate: Float
    var beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    var weightDecay: Float = 0
    var step = 0
    var m: [String: [Float]] = [:], v: [String: [Float]] = [:]

    init(learningRate: Float, weightDecay: Float = 0) { self.learningRate = learningRate; self.weightDecay = weightDecay }

    /// Call once per optimisation step before visiting parameters.
    mutating func beginStep() { step += 1 }

    mutating func update(_ name: String, _ p: inout Tensor, _ g: Tensor) {
        let n = p.count
        var mm = m[name] ?? [Float](repeating: 0, count: n), vv = v[name] ?? [Float](repeating: 0, count: n)
        let b1 = beta1, b2 = beta2, lr = learningRate, eps = epsilon, wd = weightDecay
        let c1 = 1 - powf(b1, Float(step)), c2 = 1 - powf(b2, Float(step))
        g.withUnsafeBufferPointer { gb in
            p.withUnsafeMutableBufferPointer { pb in
                for i in 0..<n {
                    let gi = gb[i]
                    mm[i] = b1 * mm[i] + (1 - b1) * gi
                    vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                    let mh = mm[i] / c1, vh = vv[i] / c2
                    pb[i] -= lr * (mh / (vh.squareRoot() + eps) + wd * pb[i])
                }
            }
        }
        m[name] = mm; v[name] = vv
    }
}
