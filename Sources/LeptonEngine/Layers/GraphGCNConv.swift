import Foundation

/// Graph convolution (Kipf & Welling 2017) with PyG `GCNConv` semantics on a directed multigraph:
/// existing self-loops are replaced by one self-loop of weight 1 per node; `deg_i` counts the
/// incoming edges of `i` (duplicates included, self-loops excluded) plus that loop; then
///
///     out_i = b + Σ_{j→i ∪ {i}} (x_j W^T) / sqrt(deg_i · deg_j)
///
/// Weights: `lin.weight [out, in]`, `bias [out]`.
public struct GCNConv: Sendable {
    public var lin: GraphLinear
    public var bias: Tensor
    public var biasGrad: Tensor
    var projected: Tensor? = nil

    public init(_ inFeatures: Int, _ outFeatures: Int, rng: inout SeededGenerator) {
        lin = GraphLinear(inFeatures, outFeatures, bias: false, rng: &rng)
        bias = Tensor.zeros([outFeatures]); biasGrad = Tensor.zeros([outFeatures])
    }

    /// `deg_i` of the normalisation (incoming non-self edges + 1).
    public static func degrees(_ g: CSRGraph) -> [Float] {
        (0..<g.targetCount).map { i in
            var d: Float = 1
            for k in Int(g.rowStart[i])..<Int(g.rowStart[i + 1]) where Int(g.source[k]) != i { d += 1 }
            return d
        }
    }

    /// Normalised propagation `out_i = h_i/deg_i + Σ_{k ∈ start[i]..<start[i+1], j = index[k] ≠ i} h_j/sqrt(deg_i deg_j)`
    /// of `h [nodes, d]`. With the graph's rows (`rowStart`, `source`) it is the forward; the weight
    /// `1/sqrt(deg_i deg_j)` is symmetric, so with the transposed rows (`reverseStart`,
    /// `reverseTarget`) it is the transpose, the backward.
    static func propagate(_ h: Tensor, start: [Int32], index: [Int32], invSqrtDeg: [Float]) -> Tensor {
        let n = invSqrtDeg.count, d = h.shape[1]
        var out = Tensor.zeros([n, d])
        h.withUnsafeBufferPointer { hb in out.withUnsafeMutableBufferPointer { ob in
        start.withUnsafeBufferPointer { st in index.withUnsafeBufferPointer { so in invSqrtDeg.withUnsafeBufferPointer { ib in
            nonisolated(unsafe) let hp = hb.baseAddress!, op = ob.baseAddress!, stp = st.baseAddress!, sop = so.baseAddress, ip = ib.baseAddress!
            parallelChunks(n, grain: 1024) { lo, hi in
                for i in lo..<hi {
                    let o = op + i * d, self_ = hp + i * d
                    let wi = ip[i]
                    for c in 0..<d { o[c] = wi * wi * self_[c] }
                    for k in Int(stp[i])..<Int(stp[i + 1]) {
                        let j = Int(sop![k]); if j == i { continue }
                        let w = wi * ip[j]; let s = hp + j * d
                        for c in 0..<d { o[c] += w * s[c] }
                    }
                }
            }
        }}}}}
        return out
    }

    public mutating func forward(_ x: Tensor, graph: CSRGraph, training: Bool = true) -> Tensor {
        precondition(graph.sourceCount == graph.targetCount, "GCNConv needs one node set")
        let inv = Self.degrees(graph).map { 1 / $0.squareRoot() }
        let h = lin.forward(x, training: training)
        var out = Self.propagate(h, start: graph.rowStart, index: graph.source, invSqrtDeg: inv)
        let d = out.shape[1]
        bias.withUnsafeBufferPointer { bb in out.withUnsafeMutableBufferPointer { ob in
            for i in 0..<graph.targetCount { for c in 0..<d { ob[i * d + c] += bb[c] } }
        }}
        return out
    }

    /// The transpose of the propagation: the same sum over the transposed rows with the degrees
    /// of the forward graph. Returns `dx [nodes, in]`.
    public mutating func backward(_ dOut: Tensor, graph: CSRGraph) -> Tensor {
        let inv = Self.degrees(graph).map { 1 / $0.squareRoot() }
        let dh = Self.propagate(dOut, start: graph.reverseStart, index: graph.reverseTarget, invSqrtDeg: inv)
        let d = dOut.shape[1]
        dOut.withUnsafeBufferPointer { db in biasGrad.withUnsafeMutableBufferPointer { bg in
            for i in 0..<graph.targetCount { for c in 0..<d { bg[c] += db[i * d + c] } }
        }}
        return lin.backward(dh)!
    }

    public mutating func zeroGrad() { lin.zeroGrad(); biasGrad = Tensor.zeros(bias.shape) }

    public mutating func visitParameters(prefix: String = "", _ body: (String, inout Tensor, Tensor) -> Void) {
        lin.visitParameters(prefix: prefix + "lin.", body); body(prefix + "bias", &bias, biasGrad)
    }
}
