/// GraphSAGE convolution with mean aggregation (Hamilton et al. 2017; PyG `SAGEConv(aggr="mean")`):
///
///     out_i = lin_l( mean_{j→i} [x_j ‖ e_ji] ) + lin_r(x_i)
///
/// Edge features `e` are optional (`edgeFeatures` > 0 appends them to every message, as in the
/// edge-aware variants used for transaction graphs). Nodes without incoming edges aggregate 0.
/// Weights: `lin_l.weight [out, in + edgeFeatures]`, `lin_l.bias [out]`, `lin_r.weight [out, in]`.
public struct SAGEConv: Sendable {
    public var linL: GraphLinear
    public var linR: GraphLinear
    public let inFeatures: Int
    public let edgeFeatures: Int

    public init(_ inFeatures: Int, _ outFeatures: Int, edgeFeatures: Int = 0, rng: inout SeededGenerator) {
        self.inFeatures = inFeatures
        self.edgeFeatures = edgeFeatures
        linL = GraphLinear(inFeatures + edgeFeatures, outFeatures, bias: true, rng: &rng)
        linR = GraphLinear(inFeatures, outFeatures, bias: false, rng: &rng)
    }

    /// - Parameters:
    ///   - x: node features `[nodes, in]`.
    ///   - edges: optional edge features `[edges, edgeFeatures]` in the graph's CSR order
    ///     (``CSRGraph/toCSROrder(_:)``).
    /// - Returns: `[nodes, out]`.
    public mutating func forward(_ x: Tensor, graph: CSRGraph, edges: Tensor? = nil, training: Bool = true) -> Tensor {
        precondition((edges?.shape[1] ?? 0) == edgeFeatures, "SAGEConv expects \(edgeFeatures) edge features")
        if projectsFirst {
            // mean_j(x_j)·Wᵀ = mean_j(x_j·Wᵀ): aggregating the narrower projected rows gathers less
            // memory. Nodes without incoming edges keep just the bias, as in the other order.
            let p = linL.forward(x, training: training)
            var y = GraphKernels.meanOfSources(graph, p)
            addBiasToIsolated(&y, graph)
            y.addScaled(linR.forward(x, training: training))
            return y
        }
        var y = linL.forward(aggregate(x, graph, edges), training: training)
        y.addScaled(linR.forward(x, training: training))
        return y
    }

    /// `mean_{j→i} [x_j ‖ e_ji]` `[nodes, in + edgeFeatures]`.
    func aggregate(_ x: Tensor, _ graph: CSRGraph, _ edges: Tensor?) -> Tensor {
        let mean = GraphKernels.meanOfSources(graph, x)
        guard edgeFeatures > 0, let e = edges else { return mean }
        precondition(e.shape == [graph.edgeCount, edgeFeatures], "SAGEConv: edge features \(e.shape) for \(graph.edgeCount) edges")
        return Tensor.concat([mean, GraphKernels.segmentMean(e, graph.targetSegments)], axis: 1)
    }

    /// Inference without kept state: the fused kernels of ``GraphSAGEFused`` (no `[nodes, in]`
    /// intermediates, one GEMM per block), with the ReLU applied in place when `relu`.
    /// - Parameters:
    ///   - x: node features `[nodes, in]`.
    ///   - edges: edge features `[edges, edgeFeatures]` in CSR order (layers with edge features
    ///     take the unfused path).
    /// - Returns: `[nodes, out]`.
    public func infer(_ x: Tensor, graph: CSRGraph, edges: Tensor? = nil, relu: Bool = false) -> Tensor {
        if edgeFeatures == 0 {
            return GraphSAGEFused.forward(x, graph: graph, weightL: linL.weight, bias: linL.bias, weightR: linR.weight, relu: relu)
        }
        precondition(edges?.shape[1] == edgeFeatures, "SAGEConv expects \(edgeFeatures) edge features")
        var y = GraphLinear.apply(aggregate(x, graph, edges), linL.weight, linL.bias)
        y.addScaled(GraphLinear.apply(x, linR.weight, nil))
        return relu ? y.relu() : y
    }

    /// True when the layer projects before aggregating (no edge features and a narrower output).
    public var projectsFirst: Bool { edgeFeatures == 0 && linL.outFeatures < inFeatures }

    func addBiasToIsolated(_ y: inout Tensor, _ g: CSRGraph) {
        guard let b = linL.bias else { return }
        let o = linL.outFeatures
        let bs = b.scalars
        y.withUnsafeMutableBufferPointer { yb in
            for i in 0..<g.targetCount where g.rowStart[i + 1] == g.rowStart[i] { for c in 0..<o { yb[i * o + c] = bs[c] } }
        }
    }

    /// Accumulates parameter gradients; returns `(dx [nodes, in], dEdges [edges, edgeFeatures]?)`,
    /// `dEdges` in CSR order. With `needInputGrad: false` (a first layer on raw features) only the
    /// parameter gradients are accumulated and an empty `[0, in]` tensor is returned for `dx`.
    public mutating func backward(_ dOut: Tensor, graph: CSRGraph, needInputGrad: Bool = true) -> (Tensor, Tensor?) {
        if !needInputGrad && edgeFeatures == 0 && !projectsFirst {
            _ = linL.backward(dOut, needInputGrad: false)
            _ = linR.backward(dOut, needInputGrad: false)
            return (Tensor.zeros([0, inFeatures]), nil)
        }
        if projectsFirst {
            let o = linL.outFeatures
            var dx = linL.backward(GraphKernels.meanOfSourcesTransposed(graph, dOut))!
            // The bias of nodes without incoming edges reached the output directly.
            if linL.biasGrad != nil {
                let d = dOut.scalars
                linL.biasGrad!.withUnsafeMutableBufferPointer { bg in
                    for i in 0..<graph.targetCount where graph.rowStart[i + 1] == graph.rowStart[i] { for c in 0..<o { bg[c] += d[i * o + c] } }
                }
            }
            dx.addScaled(linR.backward(dOut)!)
            return (dx, nil)
        }
        let dAgg = linL.backward(dOut)!
        var dx = linR.backward(dOut)!
        guard edgeFeatures > 0 else {
            dx.addScaled(GraphKernels.meanOfSourcesTransposed(graph, dAgg))
            return (dx, nil)
        }
        dx.addScaled(GraphKernels.meanOfSourcesTransposed(graph, dAgg.slice(axis: 1, start: 0, end: inFeatures)))
        let dE = GraphKernels.segmentExpand(dAgg.slice(axis: 1, start: inFeatures, end: inFeatures + edgeFeatures),
                                            graph.targetSegments, mean: true)
        return (dx, dE)
    }

    public mutating func zeroGrad() { linL.zeroGrad(); linR.zeroGrad() }

    public mutating func visitParameters(prefix: String = "", _ body: (String, inout Tensor, Tensor) -> Void) {
        linL.visitParameters(prefix: prefix + "lin_l.", body); linR.visitParameters(prefix: prefix + "lin_r.", body)
    }
}
