import Foundation

/// Graph attention convolution (Veličković et al. 2018; PyG `GATConv`, heads concatenated,
/// LeakyReLU slope 0.2, no dropout) with optional edge features:
///
///     h = x·Wᵀ   (per head [heads, channels])
///     z_ij = LeakyReLU(a_src·h_j + a_dst·h_i + a_edge·(W_e e_ji))
///     α_ij = softmax over the incoming edges of i plus one self-loop (existing self-loops are
///            replaced by it; the self-loop has no edge-feature term)
///     out_i = Σ_j α_ij h_j + b
///
/// Weights: `lin.weight [heads·channels, in]`, `att_src`, `att_dst` `[heads, channels]`,
/// `lin_edge.weight [heads·channels, edgeFeatures]` and `att_edge [heads, channels]` when
/// edge features are used, `bias [heads·channels]`.
public struct GATConv: Sendable {
    public let heads: Int
    public let channels: Int
    public let edgeFeatures: Int
    public var lin: GraphLinear
    public var linEdge: GraphLinear?
    public var attSrc: Tensor, attDst: Tensor, attEdge: Tensor?
    public var bias: Tensor
    public var attSrcGrad: Tensor, attDstGrad: Tensor, attEdgeGrad: Tensor?, biasGrad: Tensor
    public var negativeSlope: Float = 0.2

    // Forward cache.
    var h: [Float] = [], he: [Float] = []
    var alpha: [Float] = []      // [incoming entries, heads]
    var alphaSelf: [Float] = []  // [nodes, heads]
    var pre: [Float] = [], preSelf: [Float] = []

    public init(_ inFeatures: Int, channels: Int, heads: Int = 1, edgeFeatures: Int = 0, rng: inout SeededGenerator) {
        self.heads = heads; self.channels = channels; self.edgeFeatures = edgeFeatures
        lin = GraphLinear(inFeatures, heads * channels, bias: false, rng: &rng)
        let lim = (6 / Float(1 + channels)).squareRoot()
        attSrc = Tensor.randomUniform([heads, channels], low: -lim, high: lim, using: &rng)
        attDst = Tensor.randomUniform([heads, channels], low: -lim, high: lim, using: &rng)
        if edgeFeatures > 0 {
            linEdge = GraphLinear(edgeFeatures, heads * channels, bias: false, rng: &rng)
            attEdge = Tensor.randomUniform([heads, channels], low: -lim, high: lim, using: &rng)
            attEdgeGrad = Tensor.zeros([heads, channels])
        }
        bias = Tensor.zeros([heads * channels])
        attSrcGrad = Tensor.zeros([heads, channels]); attDstGrad = Tensor.zeros([heads, channels]); biasGrad = Tensor.zeros([heads * channels])
    }

    @inline(__always) func leaky(_ v: Float) -> Float { v > 0 ? v : negativeSlope * v }

    /// - Parameter edges: edge features `[edges, edgeFeatures]` in the graph's CSR order.
    /// - Returns: `[nodes, heads·channels]`.
    public mutating func forward(_ x: Tensor, graph g: CSRGraph, edges: Tensor? = nil, training: Bool = true) -> Tensor {
        let n = g.targetCount, H = heads, C = channels, W = H * C
        h = lin.forward(x, training: training).scalars
        if let le = linEdge {
            guard let e = edges else { preconditionFailure("GATConv built with edge features needs `edges`") }
            var l = le
            he = l.forward(e, training: training).scalars
            linEdge = l
        }
        let aS = attSrc.scalars, aD = attDst.scalars, aE = attEdge?.scalars ?? []
        var sSrc = [Float](repeating: 0, count: n * H), sDst = [Float](repeating: 0, count: n * H)
        for i in 0..<n { for hh in 0..<H { var a: Float = 0, b: Float = 0
            for c in 0..<C { a += h[i * W + hh * C + c] * aS[hh * C + c]; b += h[i * W + hh * C + c] * aD[hh * C + c] }
            sSrc[i * H + hh] = a; sDst[i * H + hh] = b } }
        let m = g.edgeCount
        alpha = [Float](repeating: 0, count: m * H); pre = alpha
        alphaSelf = [Float](repeating: 0, count: n * H); preSelf = alphaSelf
        var out = [Float](repeating: 0, count: n * W)
        let b = bias.scalars
        for i in 0..<n {
            let k0 = Int(g.rowStart[i]), k1 = Int(g.rowStart[i + 1])
            for hh in 0..<H {
                let ps = sSrc[i * H + hh] + sDst[i * H + hh]
                preSelf[i * H + hh] = ps
                var mx = leaky(ps)
                for k in k0..<k1 {
                    let j = Int(g.source[k]); if j == i { continue }
                    var z = sSrc[j * H + hh] + sDst[i * H + hh]
                    if edgeFeatures > 0 {
                        let e = k; var s: Float = 0
                        for c in 0..<C { s += he[e * W + hh * C + c] * aE[hh * C + c] }
                        z += s
                    }
                    pre[k * H + hh] = z
                    mx = max(mx, leaky(z))
                }
                var sum = expf(leaky(ps) - mx)
                alphaSelf[i * H + hh] = sum
                for k in k0..<k1 where Int(g.source[k]) != i {
                    let v = expf(leaky(pre[k * H + hh]) - mx); alpha[k * H + hh] = v; sum += v
                }
                let inv = 1 / sum
                alphaSelf[i * H + hh] *= inv
                let o = i * W + hh * C
                for c in 0..<C { out[o + c] = alphaSelf[i * H + hh] * h[i * W + hh * C + c] + b[hh * C + c] }
                for k in k0..<k1 {
                    let j = Int(g.source[k]); if j == i { continue }
                    alpha[k * H + hh] *= inv
                    let a = alpha[k * H + hh]
                    for c in 0..<C { out[o + c] += a * h[j * W + hh * C + c] }
                }
            }
        }
        return Tensor(shape: [n, W], scalars: out)
    }

    /// Accumulates parameter gradients; returns `(dx [nodes, in], dEdges [edges, edgeFeatures]?)`
    /// (`dEdges` in CSR order).
    public mutating func backward(_ dOut: Tensor, graph g: CSRGraph) -> (Tensor, Tensor?) {
        let n = g.targetCount, H = heads, C = channels, W = H * C
        let d = dOut.scalars
        var dh = [Float](repeating: 0, count: n * W)
        var dsSrc = [Float](repeating: 0, count: n * H), dsDst = [Float](repeating: 0, count: n * H)
        var dsEdge = [Float](repeating: 0, count: g.edgeCount * H)
        var bg = biasGrad.scalars
        for i in 0..<n { for c in 0..<W { bg[c] += d[i * W + c] } }
        biasGrad = Tensor(shape: [W], scalars: bg)
        for i in 0..<n {
            let k0 = Int(g.rowStart[i]), k1 = Int(g.rowStart[i + 1])
            for hh in 0..<H {
                let o = i * W + hh * C
                // dα for every entry, then the softmax Jacobian.
                var dSelf: Float = 0
                for c in 0..<C { dSelf += d[o + c] * h[i * W + hh * C + c] }
                var s = alphaSelf[i * H + hh] * dSelf
                var dAlpha = [Float](repeating: 0, count: k1 - k0)
                for k in k0..<k1 {
                    let j = Int(g.source[k]); if j == i { continue }
                    var v: Float = 0
                    for c in 0..<C { v += d[o + c] * h[j * W + hh * C + c] }
                    dAlpha[k - k0] = v; s += alpha[k * H + hh] * v
                }
                // Self-loop entry.
                let aSelf = alphaSelf[i * H + hh]
                var dz = aSelf * (dSelf - s) * (preSelf[i * H + hh] > 0 ? 1 : negativeSlope)
                dsSrc[i * H + hh] += dz; dsDst[i * H + hh] += dz
                for c in 0..<C { dh[i * W + hh * C + c] += aSelf * d[o + c] }
                for k in k0..<k1 {
                    let j = Int(g.source[k]); if j == i { continue }
                    let a = alpha[k * H + hh]
                    dz = a * (dAlpha[k - k0] - s) * (pre[k * H + hh] > 0 ? 1 : negativeSlope)
                    dsSrc[j * H + hh] += dz; dsDst[i * H + hh] += dz
                    if edgeFeatures > 0 { dsEdge[k * H + hh] += dz }
                    for c in 0..<C { dh[j * W + hh * C + c] += a * d[o + c] }
                }
            }
        }
        // Attention vectors: s_src = a_src·h, s_dst = a_dst·h.
        let aS = attSrc.scalars, aD = attDst.scalars
        var gS = attSrcGrad.scalars, gD = attDstGrad.scalars
        for i in 0..<n { for hh in 0..<H { for c in 0..<C {
            let hv = h[i * W + hh * C + c]
            gS[hh * C + c] += dsSrc[i * H + hh] * hv; gD[hh * C + c] += dsDst[i * H + hh] * hv
            dh[i * W + hh * C + c] += dsSrc[i * H + hh] * aS[hh * C + c] + dsDst[i * H + hh] * aD[hh * C + c]
        }}}
        attSrcGrad = Tensor(shape: [H, C], scalars: gS); attDstGrad = Tensor(shape: [H, C], scalars: gD)
        var dEdges: Tensor? = nil
        if edgeFeatures > 0, var le = linEdge, let aEt = attEdge {
            let aE = aEt.scalars
            var gE = attEdgeGrad!.scalars
            var dhe = [Float](repeating: 0, count: g.edgeCount * W)
            for e in 0..<g.edgeCount { for hh in 0..<H { for c in 0..<C {
                gE[hh * C + c] += dsEdge[e * H + hh] * he[e * W + hh * C + c]
                dhe[e * W + hh * C + c] = dsEdge[e * H + hh] * aE[hh * C + c]
            }}}
            attEdgeGrad = Tensor(shape: [H, C], scalars: gE)
            dEdges = le.backward(Tensor(shape: [g.edgeCount, W], scalars: dhe))
            linEdge = le
        }
        let dx = lin.backward(Tensor(shape: [n, W], scalars: dh))!
        return (dx, dEdges)
    }

    public mutating func zeroGrad() {
        lin.zeroGrad(); linEdge?.zeroGrad()
        attSrcGrad = Tensor.zeros([heads, channels]); attDstGrad = Tensor.zeros([heads, channels])
        if attEdge != nil { attEdgeGrad = Tensor.zeros([heads, channels]) }
        biasGrad = Tensor.zeros(bias.shape)
    }

    public mutating func visitParameters(prefix: String = "", _ body: (String, inout Tensor, Tensor) -> Void) {
        lin.visitParameters(prefix: prefix + "lin.", body)
        body(prefix + "att_src", &attSrc, attSrcGrad); body(prefix + "att_dst", &attDst, attDstGrad)
        if linEdge != nil, attEdge != nil, let ag = attEdgeGrad {
            linEdge!.visitParameters(prefix: prefix + "lin_edge.", body); body(prefix + "att_edge", &attEdge!, ag)
        }
        body(prefix + "bias", &bias, biasGrad)
    }
}
