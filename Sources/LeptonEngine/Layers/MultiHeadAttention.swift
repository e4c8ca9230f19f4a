import Foundation

/// Multi-head scaled dot-product attention with input and output projections.
///
/// Weights (Whisper/BART naming): `q_proj.weight` `[d, d]`, `q_proj.bias` `[d]`, likewise `k_proj`,
/// `v_proj`, `out_proj`. `keyBias: false` drops the key projection's bias (as Whisper does).
///
/// While gradients are recorded it is composed of differentiable ops; under
/// ``withoutGradients(_:)`` it runs the fused ``Tensor/batchedAttention(query:key:value:heads:causal:queryOffset:keyMask:additiveMask:scale:)`` kernel.
public final class MultiHeadAttention: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let heads: Int
    public let dropout: Dropout
    public var isTraining = true

    public init(dim: Int, heads: Int, keyBias: Bool = true, dropout: Float = 0, rng: inout SeededGenerator) {
        precondition(dim % heads == 0, "dim \(dim) not divisible by \(heads) heads")
        qProj = Linear(dim, dim, rng: &rng)
        kProj = Linear(dim, dim, bias: keyBias, rng: &rng)
        vProj = Linear(dim, dim, rng: &rng)
        outProj = Linear(dim, dim, rng: &rng)
        self.heads = heads
        self.dropout = Dropout(dropout, seed: rng.next())
    }

    public var children: [(String, any Module)] {
        [("q_proj", qProj), ("k_proj", kProj), ("v_proj", vProj), ("out_proj", outProj), ("dropout", dropout)]
    }

    /// Self- or cross-attention.
    ///
    /// - Parameters:
    ///   - query: `[B, tq, d]`.
    ///   - key: `[B, tk, d]` (pass `query` again for self-attention).
    ///   - value: `[B, tk, d]`.
    ///   - keyMask: per batch item, `tk` flags (`true` = real token).
    ///   - causal: query `i` sees keys `0...i` only.
    /// - Returns: `[B, tq, d]`.
    public func callAsFunction(query: Variable, key: Variable, value: Variable,
                               keyMask: [[Bool]]? = nil, causal: Bool = false) -> Variable {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "MultiHeadAttention expects [B, t, d] inputs")
        let b = query.shape[0], tq = query.shape[1], tk = key.shape[1], d = query.shape[2], dh = d / heads
        let q = qProj(query), k = kProj(key), v = vProj(value)
        if !GradientMode.enabled {
            let o = Tensor.batchedAttention(query: q.value, key: k.value, value: v.value, heads: heads,
                                            causal: causal, keyMask: keyMask)
            return outProj(Variable(o))
        }
        func split(_ x: Variable, _ t: Int) -> Variable {
            x.reshaped([b, t, heads, dh]).permuted([0, 2, 1, 3]).reshaped([b * heads, t, dh])
        }
        var scores = split(q, tq).matmul(split(k, tk), transposeOther: true) * (1 / Float(dh).squareRoot())
        if keyMask != nil || causal {
            // A large negative bias rather than -inf keeps fully masked rows finite during training.
            var mask = [Float](repeating: 0, count: b * heads * tq * tk)
            for bi in 0..<b { for h in 0..<heads { for i in 0..<tq { for j in 0..<tk {
                let masked = (keyMask.map { !$0[bi][j] } ?? false) || (causal && j > i)
                if masked { mask[((bi * heads + h) * tq + i) * tk + j] = -1e9 }
            } } } }
            scores = scores + Tensor(shape: [b * heads, tq, tk], scalars: mask)
        }
        let p = dropout(scores.softmax())
        let o = p.matmul(split(v, tk)).reshaped([b, heads, tq, dh]).permuted([0, 2, 1, 3]).reshaped([b, tq, d])
        return outProj(o)
    }
}
