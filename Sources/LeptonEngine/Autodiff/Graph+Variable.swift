/// Differentiable graph operations on ``Variable``s, for message-passing layers (GCN, GraphSAGE,
/// GAT): the forward runs the ``GraphKernels``; the backward is written out for each op.
///
/// Edge tensors (`[edges, …]`) are in the graph's CSR order (see ``CSRGraph``).
extension Variable {
    /// `A · x` over the graph: `out[i] = Σ_{edges j→i} w_e · x[j]`; `x` `[sourceNodes, f]` → `[targetNodes, f]`.
    ///
    /// - Parameter weights: per-edge weights `[edges]` (nil = 1), differentiable too (e.g. attention).
    public static func spmm(_ graph: CSRGraph, _ x: Variable, weights: Variable? = nil) -> Variable {
        let y = GraphKernels.spmm(graph, x.value, weights: weights?.value)
        let inputs = weights.map { [x, $0] } ?? [x]
        return Variable.result(y, inputs) { g in
            if x.requiresGrad { x.accumulate(GraphKernels.spmmTransposed(graph, g, weights: weights?.value)) }
            if let w = weights, w.requiresGrad {
                w.accumulate(GraphKernels.edgeDot(graph, targetRows: g, sourceRows: x.value).reshaped(w.shape))
            }
        }
    }

    /// Source node rows per edge, `[edges, f]` (the "message" input `x_j`).
    public static func gatherSources(_ graph: CSRGraph, _ x: Variable) -> Variable {
        Variable.result(GraphKernels.gatherSources(graph, x.value), [x]) { g in
            x.accumulate(GraphKernels.scatterToSources(graph, g))
        }
    }

    /// Target node rows per edge, `[edges, f]` (the receiving node `x_i` of each message).
    public static func gatherTargets(_ graph: CSRGraph, _ x: Variable) -> Variable {
        Variable.result(GraphKernels.gatherTargets(graph, x.value), [x]) { g in
            x.accumulate(GraphKernels.segmentSum(g, graph.targetSegments))
        }
    }

    /// Sum of each segment's rows, `[rows, …]` → `[segments, …]`.
    public static func segmentSum(_ x: Variable, _ segments: Segments) -> Variable {
        Variable.result(GraphKernels.segmentSum(x.value, segments), [x]) { g in
            x.accumulate(GraphKernels.segmentExpand(g, segments))
        }
    }

    /// Mean of each segment's rows (0 for an empty segment).
    public static func segmentMean(_ x: Variable, _ segments: Segments) -> Variable {
        Variable.result(GraphKernels.segmentMean(x.value, segments), [x]) { g in
            x.accumulate(GraphKernels.segmentExpand(g, segments, mean: true))
        }
    }

    /// Column-wise maximum of each segment's rows (0 for an empty segment); the gradient flows to
    /// the first maximal row.
    public static func segmentMax(_ x: Variable, _ segments: Segments) -> Variable {
        let (y, argmax) = GraphKernels.segmentMax(x.value, segments)
        let shape = x.shape
        return Variable.result(y, [x]) { g in
            x.accumulate(GraphKernels.segmentMaxBackward(g, argmax: argmax, rowShape: shape))
        }
    }

    /// Softmax within each segment, per column.
    public static func segmentSoftmax(_ x: Variable, _ segments: Segments) -> Variable {
        let y = GraphKernels.segmentSoftmax(x.value, segments)
        return Variable.result(y, [x]) { g in
            x.accumulate(GraphKernels.segmentSoftmaxBackward(output: y, gradient: g, segments))
        }
    }

    /// Softmax of edge scores `[edges]` or `[edges, heads]` over the edges arriving at each node.
    public static func edgeSoftmax(_ graph: CSRGraph, _ scores: Variable) -> Variable {
        segmentSoftmax(scores, graph.targetSegments)
    }
}
