/// Which message-passing layer a graph model uses (a training choice, stored in its config).
public enum GraphConvKind: String, CaseIterable, Codable, Sendable {
    /// ``SAGEConv``: mean of `[x_j ‖ e_ji]` plus a root term (the default).
    case sage
    /// ``GCNConv``: symmetric-normalised sum with self-loops; edge features are not part of the message.
    case gcn
    /// ``GATConv``: attention over the incoming edges (and a self-loop), edge features in the score.
    case gat
}

/// One message-passing layer of the kind chosen at run time, with the hand-written backward pass
/// of the layer it wraps: graph models hold `[GraphConv]` and stay independent of the choice.
///
/// Weight names are the wrapped layer's (`lin_l.weight`, … for SAGE; `lin.weight`, `bias` for
/// GCN; `lin.weight`, `att_src`, `att_dst`, `lin_edge.weight`, `att_edge`, `bias` for GAT).
public enum GraphConv: Sendable {
    case sage(SAGEConv)
    case gcn(GCNConv)
    case gat(GATConv)

    /// Attention heads of a GAT layer (`out` is split evenly between them when it divides).
    public static let attentionHeads = 2

    /// - Parameters:
    ///   - inFeatures: node input width; `outFeatures`: node output width.
    ///   - edgeFeatures: edge feature width (SAGE and GAT use them; GCN ignores them).
    public init(_ kind: GraphConvKind, _ inFeatures: Int, _ outFeatures: Int, edgeFeatures: Int = 0, rng: inout SeededGenerator) {
        switch kind {
        case .sage: self = .sage(SAGEConv(inFeatures, outFeatures, edgeFeatures: edgeFeatures, rng: &rng))
        case .gcn: self = .gcn(GCNConv(inFeatures, outFeatures, rng: &rng))
        case .gat:
            let heads = outFeatures % Self.attentionHeads == 0 ? Self.attentionHeads : 1
            self = .gat(GATConv(inFeatures, channels: outFeatures / heads, heads: heads, edgeFeatures: edgeFeatures, rng: &rng))
        }
    }

    public var kind: GraphConvKind {
        switch self { case .sage: .sage; case .gcn: .gcn; case .gat: .gat }
    }

    /// - Parameters:
    ///   - x: node features `[nodes, in]`.
    ///   - edges: edge features `[edges, edgeFeatures]` in the graph's CSR order (ignored by GCN).
    /// - Returns: `[nodes, out]`.
    public mutating func forward(_ x: Tensor, graph: CSRGraph, edges: Tensor? = nil, training: Bool = true) -> Tensor {
        switch self {
        case .sage(var l): let y = l.forward(x, graph: graph, edges: edges, training: training); self = .sage(l); return y
        case .gcn(var l): let y = l.forward(x, graph: graph, training: training); self = .gcn(l); return y
        case .gat(var l): let y = l.forward(x, graph: graph, edges: edges, training: training); self = .gat(l); return y
        }
    }

    /// Accumulates parameter gradients from `dOut` `[nodes, out]` (after a training `forward`);
    /// returns `dx` `[nodes, in]` (`[0, in]` for a SAGE first layer with `needInputGrad: false`).
    public mutating func backward(_ dOut: Tensor, graph: CSRGraph, needInputGrad: Bool = true) -> Tensor {
        switch self {
        case .sage(var l): let d = l.backward(dOut, graph: graph, needInputGrad: needInputGrad).0; self = .sage(l); return d
        case .gcn(var l): let d = l.backward(dOut, graph: graph); self = .gcn(l); return d
        case .gat(var l): let d = l.backward(dOut, graph: graph).0; self = .gat(l); return d
        }
    }

    public mutating func zeroGrad() {
        switch self {
        case .sage(var l): l.zeroGrad(); self = .sage(l)
        case .gcn(var l): l.zeroGrad(); self = .gcn(l)
        case .gat(var l): l.zeroGrad(); self = .gat(l)
        }
    }

    /// Calls `body(name, &parameter, gradient)` for every parameter (optimizers update in place).
    public mutating func visitParameters(prefix: String = "", _ body: (String, inout Tensor, Tensor) -> Void) {
        switch self {
        case .sage(var l): l.visitParameters(prefix: prefix, body); self = .sage(l)
        case .gcn(var l): l.visitParameters(prefix: prefix, body); self = .gcn(l)
        case .gat(var l): l.visitParameters(prefix: prefix, body); self = .gat(l)
        }
    }
}
