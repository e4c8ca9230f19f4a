import Foundation
import LeptonEngine

/// Shape of the edge-classification GNN, stored in the model's `config.json`.
public struct EdgeGNNConfig: Codable, Sendable {
    public var inputFeatures: Int
    public var hidden = 32
    public var layers = 2
    public var learningRate: Float = 0.01
    public init(inputFeatures: Int) { self.inputFeatures = inputFeatures }
}

/// A GraphSAGE edge classifier for directed transaction multigraphs with the adaptations of
/// Egressy et al. 2024 that matter for AML: every layer passes messages both along the edges
/// (from senders) and against them (reverse message passing, from receivers), each message
/// carries the transaction's own features, and the edge is re-embedded from both endpoint states
/// and its features before classification (edge update readout).
///
///     x⁰_v = [log1p in-degree, log1p out-degree, 1]
///     xˡ⁺¹ = ReLU( SAGE_fwdˡ(xˡ, e) + SAGE_revˡ(xˡ, e) )
///     score(u→v) = σ( lin2 ReLU( lin1 [x_u ‖ x_v ‖ e_uv] ) )
///
/// Weight names (safetensors, prefix `gnn.`): `fwd.{l}.lin_l.weight/bias`, `fwd.{l}.lin_r.weight`,
/// `rev.{l}.…`, `head.1.weight/bias [hidden, 2·hidden+features]`, `head.2.weight/bias [1, hidden]`,
/// `edge_mean`, `edge_std` `[features]` (standardisation of the edge features).
public struct EdgeGNN {
    public var config: EdgeGNNConfig
    var fwd: [SAGEConv] = [], rev: [SAGEConv] = []
    var head1: GraphLinear, head2: GraphLinear
    var edgeMean: [Float], edgeStd: [Float]
    static let nodeInputs = 3

    public init(config: EdgeGNNConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed &+ 17)
        var inW = Self.nodeInputs
        for _ in 0..<config.layers {
            fwd.append(SAGEConv(inW, config.hidden, edgeFeatures: config.inputFeatures, rng: &rng))
            rev.append(SAGEConv(inW, config.hidden, edgeFeatures: config.inputFeatures, rng: &rng))
            inW = config.hidden
        }
        head1 = GraphLinear(2 * config.hidden + config.inputFeatures, config.hidden, rng: &rng)
        head2 = GraphLinear(config.hidden, 1, rng: &rng)
        edgeMean = [Float](repeating: 0, count: config.inputFeatures)
        edgeStd = [Float](repeating: 1, count: config.inputFeatures)
    }

    struct Prepared {
        let g: MessagePassingGraph, gr: MessagePassingGraph
        let x0: Tensor, e: Tensor
    }

    func prepare(_ t: TransactionTable, features x: [Float]) -> Prepared {
        let g = MessagePassingGraph(nodes: t.accountCount, src: t.src, dst: t.dst)
        let gr = g.reversed()
        let n = t.accountCount, F = config.inputFeatures
        var x0 = [Float](repeating: 1, count: n * Self.nodeInputs)
        for i in 0..<n {
            x0[i * 3] = logf(1 + Float(g.inStart[i + 1] - g.inStart[i]))
            x0[i * 3 + 1] = logf(1 + Float(gr.inStart[i + 1] - gr.inStart[i]))
        }
        var e = x
        for r in 0..<t.count { for f in 0..<F { e[r * F + f] = max(-6, min(6, (e[r * F + f] - edgeMean[f]) / edgeStd[f])) } }
        return Prepared(g: g, gr: gr, x0: Tensor(shape: [n, 3], scalars: x0), e: Tensor(shape: [t.count, F], scalars: e))
    }

    /// Node states after all layers `[nodes, hidden]`, plus the pre-activations for backward.
    mutating func encode(_ p: Prepared, training: Bool) -> (Tensor, [Tensor]) {
        var h = p.x0
        var pres: [Tensor] = []
        for l in 0..<config.layers {
            var a = fwd[l].forward(h, graph: p.g, edges: p.e, training: training)
            a.addScaled(rev[l].forward(h, graph: p.gr, edges: p.e, training: training))
            pres.append(a)
            h = a.relu()
        }
        return (h, pres)
    }

    /// `[x_u ‖ x_v ‖ e_uv]` for the given transaction rows.
    func edgeInputs(_ h: Tensor, _ p: Prepared, _ t: TransactionTable, rows: [Int]) -> Tensor {
        let H = config.hidden, F = config.inputFeatures, W = 2 * H + F
        let hs = h.scalars, es = p.e.scalars
        var z = [Float](repeating: 0, count: rows.count * W)
        for (q, r) in rows.enumerated() {
            let u = Int(t.src[r]), v = Int(t.dst[r])
            for c in 0..<H { z[q * W + c] = hs[u * H + c]; z[q * W + H + c] = hs[v * H + c] }
            for f in 0..<F { z[q * W + 2 * H + f] = es[r * F + f] }
        }
        return Tensor(shape: [rows.count, W], scalars: z)
    }

    /// Probabilities for `rows` (all transactions when nil).
    public func predict(_ t: TransactionTable, features x: [Float], rows: [Int]? = nil) -> [Float] {
        var m = self
        let p = m.prepare(t, features: x)
        let (h, _) = m.encode(p, training: false)
        let rs = rows ?? Array(0..<t.count)
        var z = GraphLinear.apply(m.edgeInputs(h, p, t, rows: rs), head1.weight, head1.bias).relu()
        z = GraphLinear.apply(z, head2.weight, head2.bias)
        return z.scalars.map { 1 / (1 + expf(-$0)) }
    }

    /// Full-batch training with weighted binary cross-entropy on `trainRows`, Adam, keeping the
    /// weights with the best validation average precision.
    public mutating func fit(_ t: TransactionTable, features x: [Float], trainRows: [Int], validationRows: [Int],
                             epochs: Int, log: (String) -> Void) {
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
        var adam = ParameterAdam(learningRate: config.learningRate, weightDecay: 1e-4)
        var best = self, bestAP: Float = -1
        let H = config.hidden
        for epoch in 0..<epochs {
            zeroGrad()
            let (h, pres) = encode(p, training: true)
            let z = edgeInputs(h, p, t, rows: trainRows)
            let a1 = head1.forward(z)
            let r1 = a1.relu()
            let logits = head2.forward(r1).scalars
            // d(loss)/d(logit) for weighted BCE, averaged over the weighted count.
            let norm = 1 / (pos * wPos + neg)
            var loss: Float = 0
            let dl = (0..<logits.count).map { q -> Float in
                let pr = 1 / (1 + expf(-logits[q])); let w = y[q] > 0.5 ? wPos : 1
                loss -= w * (y[q] > 0.5 ? logf(max(pr, 1e-7)) : logf(max(1 - pr, 1e-7)))
                return w * (pr - y[q]) * norm
            }
            let dr1 = head2.backward(Tensor(shape: [logits.count, 1], scalars: dl))!
            let da1 = Tensor(shape: a1.shape, scalars: zip(dr1.scalars, a1.scalars).map { $1 > 0 ? $0 : 0 })
            let dz = head1.backward(da1)!.scalars
            // Scatter endpoint gradients back to node states.
            var dh = [Float](repeating: 0, count: t.accountCount * H)
            let W = 2 * H + F
            for (q, r) in trainRows.enumerated() {
                let u = Int(t.src[r]), v = Int(t.dst[r])
                for c in 0..<H { dh[u * H + c] += dz[q * W + c]; dh[v * H + c] += dz[q * W + H + c] }
            }
            var grad = Tensor(shape: [t.accountCount, H], scalars: dh)
            for l in stride(from: config.layers - 1, through: 0, by: -1) {
                let pre = pres[l].scalars
                grad = Tensor(shape: grad.shape, scalars: zip(grad.scalars, pre).map { $1 > 0 ? $0 : 0 })
                var (dxF, _) = fwd[l].backward(grad, graph: p.g, reversed: p.gr)
                let (dxR, _) = rev[l].backward(grad, graph: p.gr, reversed: p.g)
                dxF.addScaled(dxR)
                grad = dxF
            }
            adam.beginStep()
            visitParameters { name, param, g in adam.update(name, &param, g) }
            if !validationRows.isEmpty && ((epoch + 1) % 5 == 0 || epoch == epochs - 1) {
                let pv = predict(t, features: x, rows: validationRows)
                let ap = RiskMetrics.averagePrecision(scores: pv, labels: yv)
                if ap > bestAP { bestAP = ap; best = self }
                if (epoch + 1) % 20 == 0 { log("gnn epoch \(epoch + 1): loss \(String(format: "%.4f", loss * norm)), validation AP \(String(format: "%.4f", ap))") }
            }
        }
        if !validationRows.isEmpty { self = best }
        _ = best
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
