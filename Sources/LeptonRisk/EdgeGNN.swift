import Foundation
import LeptonEngine

/// Shape of the edge-classification GNN, stored in the model's `config.json`.
public struct EdgeGNNConfig: Codable, Sendable {
    public var inputFeatures: Int
    public var hidden = 32
    public var layers = 2
    public var learningRate: Float = 0.01
    /// The message-passing layer; absent in models saved before the choice existed (GraphSAGE).
    public var conv: GraphConvKind? = nil
    public init(inputFeatures: Int, conv: GraphConvKind = .sage) { self.inputFeatures = inputFeatures; self.conv = conv }
}

/// An edge classifier for directed transaction multigraphs with the adaptations of Egressy et
/// al. 2024 that matter for AML: every layer passes messages both along the edges (from senders)
/// and against them (reverse message passing, from receivers), each message carries the
/// transaction's own features (GraphSAGE and GAT layers), and the edge is re-embedded from both
/// endpoint states and its features before classification (edge update readout). The layer is
/// ``GraphConvKind`` `config.conv`: GraphSAGE (default), GCN or GAT.
///
///     x⁰_v = [log1p in-degree, log1p out-degree, 1]
///     xˡ⁺¹ = ReLU( conv_fwdˡ(xˡ, e) + conv_revˡ(xˡ, e) )
///     score(u→v) = σ( lin2 ReLU( lin1 [x_u ‖ x_v ‖ e_uv] ) )
///
/// Weight names (safetensors, prefix `gnn.`): `fwd.{l}.<layer weights>` (for GraphSAGE
/// `lin_l.weight/bias`, `lin_r.weight`; see ``GraphConv``), `rev.{l}.…`,
/// `head.1.weight/bias [hidden, 2·hidden+features]`, `head.2.weight/bias [1, hidden]`,
/// `edge_mean`, `edge_std` `[features]` (standardisation of the edge features).
public struct EdgeGNN: Sendable {
    public var config: EdgeGNNConfig
    var fwd: [GraphConv] = [], rev: [GraphConv] = []
    var head1: GraphLinear, head2: GraphLinear
    var edgeMean: [Float], edgeStd: [Float]
    static let nodeInputs = 3

    public init(config: EdgeGNNConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed &+ 17)
        var inW = Self.nodeInputs
        for _ in 0..<config.layers {
            let kind = config.conv ?? .sage
            fwd.append(GraphConv(kind, inW, config.hidden, edgeFeatures: config.inputFeatures, rng: &rng))
            rev.append(GraphConv(kind, inW, config.hidden, edgeFeatures: config.inputFeatures, rng: &rng))
            inW = config.hidden
        }
        head1 = GraphLinear(2 * config.hidden + config.inputFeatures, config.hidden, rng: &rng)
        head2 = GraphLinear(config.hidden, 1, rng: &rng)
        edgeMean = [Float](repeating: 0, count: config.inputFeatures)
        edgeStd = [Float](repeating: 1, count: config.inputFeatures)
    }

    /// The graph and inputs of one transaction table, built once per fit or predict.
    struct Prepared {
        /// Transactions as edges sender → receiver, and the same edges receiver → sender (reverse
        /// message passing); the engine's graph type, each with its transpose for the backward pass.
        let g: CSRGraph, gr: CSRGraph
        /// Node inputs `[accounts, 3]`.
        let x0: Tensor
        /// Standardised edge features `[transactions, F]` in transaction order (the edge readout),
        /// and in the CSR orders of `g` and `gr` (the messages).
        let e: Tensor, eForward: Tensor, eReverse: Tensor
    }

    func prepare(_ t: TransactionTable, features x: [Float]) -> Prepared {
        let n = t.accountCount, F = config.inputFeatures
        let src = t.src.map(Int.init), dst = t.dst.map(Int.init)
        let g: CSRGraph, gr: CSRGraph
        do {
            g = try CSRGraph(sources: src, targets: dst, nodes: n)
            gr = try CSRGraph(sources: dst, targets: src, nodes: n)
        } catch { preconditionFailure("TransactionTable account ids out of range: \(error)") }
        let et = Tensor(shape: [t.count, F], scalars: standardised(x))
        do {
            return Prepared(g: g, gr: gr, x0: Self.nodeInputTensor(g), e: et,
                            eForward: try g.toCSROrder(et), eReverse: try gr.toCSROrder(et))
        } catch { preconditionFailure("edge features for \(t.count) transactions: \(error)") }
    }

    /// Node inputs `[accounts, 3]`: log1p in-degree, log1p out-degree, 1.
    static func nodeInputTensor(_ g: CSRGraph) -> Tensor {
        let n = g.targetCount
        var x0 = [Float](repeating: 1, count: n * nodeInputs)
        for i in 0..<n {
            x0[i * 3] = logf(1 + Float(g.rowStart[i + 1] - g.rowStart[i]))
            x0[i * 3 + 1] = logf(1 + Float(g.reverseStart[i + 1] - g.reverseStart[i]))
        }
        return Tensor(shape: [n, nodeInputs], scalars: x0)
    }

    /// Edge features `[rows, F]` standardised with the training rows' means and deviations and
    /// clipped to ±6.
    func standardised(_ x: [Float]) -> [Float] {
        let F = config.inputFeatures
        var e = x
        for r in 0..<(x.count / max(F, 1)) { for f in 0..<F { e[r * F + f] = max(-6, min(6, (e[r * F + f] - edgeMean[f]) / edgeStd[f])) } }
        return e
    }

    /// Node states after all layers `[nodes, hidden]`, plus the pre-activations for backward.
    mutating func encode(_ p: Prepared, training: Bool) -> (Tensor, [Tensor]) {
        var h = p.x0
        var pres: [Tensor] = []
        for l in 0..<config.layers {
            var a = fwd[l].forward(h, graph: p.g, edges: p.eForward, training: training)
            a.addScaled(rev[l].forward(h, graph: p.gr, edges: p.eReverse, training: training))
            pres.append(a)
            h = a.relu()
        }
        return (h, pres)
    }

    /// `[x_u ‖ x_v ‖ e_uv]` for the given transaction rows; `es` holds the standardised edge
    /// features of rows `firstRow...` (all rows, or the scorer's chunk).
    func edgeInputs<Rows: Collection<Int>>(_ h: Tensor, _ es: [Float], firstRow: Int = 0, _ t: TransactionTable, rows: Rows) -> Tensor {
        let H = config.hidden, F = config.inputFeatures, W = 2 * H + F
        let hs = h.scalars
        var z = [Float](repeating: 0, count: rows.count * W)
        for (q, r) in rows.enumerated() {
            let u = Int(t.src[r]), v = Int(t.dst[r]), e = r - firstRow
            for c in 0..<H { z[q * W + c] = hs[u * H + c]; z[q * W + H + c] = hs[v * H + c] }
            for f in 0..<F { z[q * W + 2 * H + f] = es[e * F + f] }
        }
        return Tensor(shape: [rows.count, W], scalars: z)
    }

    /// Logits of `rows` without keeping state.
    func logits(_ p: Prepared, _ t: TransactionTable, rows: [Int]) -> [Float] {
        var m = self
        let (h, _) = m.encode(p, training: false)
        return readout(edgeInputs(h, p.e.scalars, t, rows: rows))
    }

    /// The classifier head on edge inputs `[rows, 2·hidden + F]`: one logit per row.
    func readout(_ z: Tensor) -> [Float] {
        GraphLinear.apply(GraphLinear.apply(z, head1.weight, head1.bias).relu(), head2.weight, head2.bias).scalars
    }

    /// Probabilities for `rows` (all transactions when nil).
    public func predict(_ t: TransactionTable, features x: [Float], rows: [Int]? = nil) -> [Float] {
        logits(prepare(t, features: x), t, rows: rows ?? Array(0..<t.count)).map { 1 / (1 + expf(-$0)) }
    }

    /// The training loss: binary cross-entropy with positives weighted `positiveWeight`, averaged
    /// over the weighted count (summed in Double).
    static func weightedLoss(logits: [Float], labels y: [Float], positiveWeight wPos: Float) -> Double {
        var loss = 0.0, weight = 0.0
        for q in logits.indices {
            let pr = 1 / (1 + expf(-logits[q])), positive = y[q] > 0.5, w = Double(positive ? wPos : 1)
            loss -= w * Double(positive ? logf(max(pr, 1e-7)) : logf(max(1 - pr, 1e-7)))
            weight += w
        }
        return weight > 0 ? loss / weight : 0
    }

    /// ``weightedLoss(logits:labels:positiveWeight:)`` on `rows` and its gradient with respect to
    /// every parameter, left in the layers' gradients (zeroed first): the hand-written backward pass.
    mutating func lossAndGradients(_ p: Prepared, _ t: TransactionTable, rows: [Int], labels y: [Float],
                                   positiveWeight wPos: Float) -> Double {
        let F = config.inputFeatures, H = config.hidden
        zeroGrad()
        let (h, pres) = encode(p, training: true)
        let z = edgeInputs(h, p.e.scalars, t, rows: rows)
        let a1 = head1.forward(z)
        let logits = head2.forward(a1.relu()).scalars
        // d(loss)/d(logit) for weighted BCE, averaged over the weighted count.
        let pos = y.reduce(0, +), norm = 1 / (pos * wPos + (Float(y.count) - pos))
        let dl = (0..<logits.count).map { q -> Float in
            let pr = 1 / (1 + expf(-logits[q])); let w = y[q] > 0.5 ? wPos : 1
            return w * (pr - y[q]) * norm
        }
        let dr1 = head2.backward(Tensor(shape: [logits.count, 1], scalars: dl))!
        let da1 = Tensor(shape: a1.shape, scalars: zip(dr1.scalars, a1.scalars).map { $1 > 0 ? $0 : 0 })
        let dz = head1.backward(da1)!.scalars
        // Scatter endpoint gradients back to node states.
        var dh = [Float](repeating: 0, count: t.accountCount * H)
        let W = 2 * H + F
        for (q, r) in rows.enumerated() {
            let u = Int(t.src[r]), v = Int(t.dst[r])
            for c in 0..<H { dh[u * H + c] += dz[q * W + c]; dh[v * H + c] += dz[q * W + H + c] }
        }
        var grad = Tensor(shape: [t.accountCount, H], scalars: dh)
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let pre = pres[l].scalars
            grad = Tensor(shape: grad.shape, scalars: zip(grad.scalars, pre).map { $1 > 0 ? $0 : 0 })
            var dxF = fwd[l].backward(grad, graph: p.g, needInputGrad: l > 0)
            let dxR = rev[l].backward(grad, graph: p.gr, needInputGrad: l > 0)
            if l > 0 { dxF.addScaled(dxR); grad = dxF }
        }
        return Self.weightedLoss(logits: logits, labels: y, positiveWeight: wPos)
    }

    /// Full-batch training with weighted binary cross-entropy on `trainRows`, AdamW, keeping the
    /// weights with the best validation average precision.
    /// - Parameter onEpoch: called after every epoch with its number (from 1) and training loss.
    public mutating func fit(_ t: TransactionTable, features x: [Float], trainRows: [Int], validationRows: [Int],
                             epochs: Int, log: (String) -> Void, onEpoch: (Int, Double) throws -> Void = { _, _ in }) throws {
        let F = config.inputFeatures
        // Standardise edge features on the training rows.
        for f in 0..<F {
            var s: Double = 0, s2: Double = 0
            for r in trainRows { let v = Double(x[r * F + f]); s += v; s2 += v * v }
            let n = Double(max(trainRows.count, 1)), mean = s / n
            edgeMean[f] = Float(mean); edgeStd[f] = Float(max((s2 / n - mean * mean).squareRoot(), 1e-3))
        }
        let p = prepare(t, features: x)
        let y = trainRows.map { Float(t.label[$0] == 1 ? 1 : 0) }
        let pos = y.reduce(0, +), neg = Float(y.count) - pos
        let wPos = max(1, (neg / max(pos, 1)).squareRoot())
        let yv = validationRows.map { Float(t.label[$0] == 1 ? 1 : 0) }
        var adam = AdamByName(learningRate: config.learningRate, weightDecay: 1e-4)
        var best = self, bestAP: Float = -1
        for epoch in 0..<epochs {
            let loss = lossAndGradients(p, t, rows: trainRows, labels: y, positiveWeight: wPos)
            adam.beginStep()
            visitParameters { name, param, g in adam.update(name, &param, g) }
            if !validationRows.isEmpty && ((epoch + 1) % 5 == 0 || epoch == epochs - 1) {
                let pv = logits(p, t, rows: validationRows).map { 1 / (1 + expf(-$0)) }
                let ap = try RiskMetrics.averagePrecision(scores: pv, labels: yv)
                if ap > bestAP { bestAP = ap; best = self }
                if (epoch + 1) % 20 == 0 { log("gnn epoch \(epoch + 1): loss \(String(format: "%.4f", loss)), validation AP \(String(format: "%.4f", ap))") }
            }
            try onEpoch(epoch + 1, loss)
        }
        if !validationRows.isEmpty { self = best }
    }

    mutating func zeroGrad() {
        for l in 0..<fwd.count { fwd[l].zeroGrad(); rev[l].zeroGrad() }
        head1.zeroGrad(); head2.zeroGrad()
    }

    mutating func visitParameters(_ body: (String, inout Tensor, Tensor) -> Void) {
        for l in 0..<fwd.count {
            fwd[l].visitParameters(prefix: "gnn.fwd.\(l).", body)
            rev[l].visitParameters(prefix: "gnn.rev.\(l).", body)
        }
        head1.visitParameters(prefix: "gnn.head.1.", body)
        head2.visitParameters(prefix: "gnn.head.2.", body)
    }

    /// All weights as named tensors (for safetensors).
    public func tensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        var m = self
        m.visitParameters { name, p, _ in out[name] = p }
        out["gnn.edge_mean"] = Tensor(shape: [config.inputFeatures], scalars: edgeMean)
        out["gnn.edge_std"] = Tensor(shape: [config.inputFeatures], scalars: edgeStd)
        return out
    }

    /// Loads weights strictly: every tensor must exist with the shape this config implies.
    public init(config: EdgeGNNConfig, store: WeightStore, source: String) throws {
        self.init(config: config, seed: 0)
        var failure: String? = nil
        visitParameters { name, p, _ in
            guard failure == nil else { return }
            do { p = try store.take(name, shape: p.shape) } catch { failure = "\(error)" }
        }
        if let f = failure { throw RiskError.badModel(path: source, reason: f) }
        do {
            edgeMean = try store.take("gnn.edge_mean", shape: [config.inputFeatures]).scalars
            edgeStd = try store.take("gnn.edge_std", shape: [config.inputFeatures]).scalars
        } catch { throw RiskError.badModel(path: source, reason: "\(error)") }
    }
}
