import Foundation
import LeptonEngine

/// Scoring a large table without the `[transactions, F]` tensors of ``EdgeGNN/prepare(_:features:)``
/// (the edge features in three orders: 3 × 172 bytes a row, plus the readout's `[rows, 2·hidden + F]`).
///
/// GraphSAGE layers see the edge features only through each node's mean over its incoming edges,
/// and that mean is the same in every layer: summed per node as chunks of rows go by (in row
/// order, the order in which the engine's segment mean adds them, so the sums are the same
/// floats), it leaves node-sized arrays only. The layers then run on node states, and the
/// readout takes the rows chunk by chunk. GCN layers ignore edge features; GAT layers weigh
/// every edge on its own, so a GAT model still takes the whole-table path (``streams`` is false).
extension EdgeGNN {
    /// True when the layers can take the edge features as per-node means (GraphSAGE, GCN).
    public var streams: Bool { (config.conv ?? .sage) != .gat }

    /// Per-node sums of the standardised edge features over the incoming edges (forward layers)
    /// and over the outgoing ones (reverse layers), added chunk by chunk in row order.
    public struct EdgeSums {
        let width: Int
        var incoming: [Float], outgoing: [Float]
        var inCount: [Int32], outCount: [Int32]

        init(accounts n: Int, width: Int) {
            self.width = width
            incoming = [Float](repeating: 0, count: n * width); outgoing = incoming
            inCount = [Int32](repeating: 0, count: n); outCount = inCount
        }

        /// Adds the standardised features `e` `[rows.count, width]` of `rows`.
        mutating func add(_ e: [Float], rows: Range<Int>, table t: TransactionTable) {
            let F = width
            for (q, r) in rows.enumerated() {
                let u = Int(t.src[r]), v = Int(t.dst[r])
                for f in 0..<F { incoming[v * F + f] += e[q * F + f] }
                for f in 0..<F { outgoing[u * F + f] += e[q * F + f] }
                inCount[v] += 1; outCount[u] += 1
            }
        }

        /// Means `[accounts, width]` (sum × 1/count, as the engine's segment mean; 0 without edges).
        static func means(_ sums: [Float], _ count: [Int32], width F: Int) -> Tensor {
            var out = sums
            for a in count.indices where count[a] > 0 {
                let inv = 1 / Float(count[a])
                for f in 0..<F { out[a * F + f] *= inv }
            }
            return Tensor(shape: [count.count, F], scalars: out)
        }
    }

    /// Empty sums for the accounts of `t` (fill them with ``addEdges(_:features:rows:)``).
    public func edgeSums(_ t: TransactionTable) -> EdgeSums { EdgeSums(accounts: t.accountCount, width: config.inputFeatures) }

    /// Adds the edges `rows` with raw inputs `x` `[rows.count, F]` to `sums`.
    public func addEdges(_ sums: inout EdgeSums, table t: TransactionTable, features x: [Float], rows: Range<Int>) {
        sums.add(standardised(x), rows: rows, table: t)
    }

    /// Node states after all layers `[accounts, hidden]`, from the edge means of `sums` (the
    /// graph's index arrays are built here and dropped on return).
    public func nodeStates(_ t: TransactionTable, sums: EdgeSums) -> Tensor {
        precondition(streams, "GAT layers need every edge's features")
        let n = t.accountCount
        let g: CSRGraph, gr: CSRGraph
        do {
            g = try CSRGraph(sources: t.src.map(Int.init), targets: t.dst.map(Int.init), nodes: n)
            gr = try CSRGraph(sources: t.dst.map(Int.init), targets: t.src.map(Int.init), nodes: n)
        } catch { preconditionFailure("TransactionTable account ids out of range: \(error)") }
        let F = config.inputFeatures
        let meanIn = EdgeSums.means(sums.incoming, sums.inCount, width: F), meanOut = EdgeSums.means(sums.outgoing, sums.outCount, width: F)
        var h = Self.nodeInputTensor(g)
        for l in 0..<config.layers {
            // The same sum as `encode`: forward layer, plus the reverse one, then ReLU.
            var a = Self.layer(fwd[l], h, graph: g, edgeMeans: meanIn)
            a.addScaled(Self.layer(rev[l], h, graph: gr, edgeMeans: meanOut))
            h = a.relu()
        }
        return h
    }

    /// One layer's output `[accounts, hidden]` with the edge features given as per-node means:
    /// GraphSAGE's `lin_l(mean_j [x_j ‖ e_ji]) + lin_r(x_i)` with the edge half of the mean
    /// given (the mean of a concatenation is the concatenation of the means); GCN as it is.
    static func layer(_ conv: GraphConv, _ x: Tensor, graph: CSRGraph, edgeMeans: Tensor) -> Tensor {
        switch conv {
        case .sage(let l):
            var y = GraphLinear.apply(Tensor.concat([GraphKernels.meanOfSources(graph, x), edgeMeans], axis: 1), l.linL.weight, l.linL.bias)
            y.addScaled(GraphLinear.apply(x, l.linR.weight, nil))
            return y
        case .gcn(var l): return l.forward(x, graph: graph, training: false)
        case .gat: preconditionFailure("GAT layers need every edge's features")
        }
    }

    /// Probabilities of the rows `rows`, whose raw inputs are `x` `[rows.count, F]`, given the
    /// node states of ``nodeStates(_:sums:)``.
    public func probabilities(nodeStates h: Tensor, table t: TransactionTable, features x: [Float], rows: Range<Int>) -> [Float] {
        readout(edgeInputs(h, standardised(x), firstRow: rows.lowerBound, t, rows: rows)).map { 1 / (1 + expf(-$0)) }
    }
}
