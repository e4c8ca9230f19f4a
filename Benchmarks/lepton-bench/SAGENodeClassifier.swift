import Foundation
import LeptonEngine

/// A two-layer GraphSAGE node classifier (mean aggregation, ReLU between, no dropout), trained
/// full-batch with softmax cross-entropy and Adam: the model of the GNN benchmark, the same as
/// PyG's `SAGEConv(F, H) → ReLU → SAGEConv(H, C)`. Lives with the benchmark, its only user.
struct SAGENodeClassifier {
    var conv1: SAGEConv
    var conv2: SAGEConv
    var adam: AdamByName

    init(inputs: Int, hidden: Int, classes: Int, learningRate: Float = 0.01, seed: UInt64 = 0) {
        var rng = SeededGenerator(seed: seed)
        conv1 = SAGEConv(inputs, hidden, rng: &rng)
        conv2 = SAGEConv(hidden, classes, rng: &rng)
        adam = AdamByName(learningRate: learningRate)
    }

    /// Logits `[nodes, classes]` for node features `x [nodes, inputs]`.
    mutating func forward(_ x: Tensor, graph: CSRGraph, training: Bool = false) -> Tensor {
        if !training {
            // Fused inference: the hidden layer stays in cache, only its 2-class projection is gathered.
            return GraphSAGEFused.forwardTwoLayers(x, graph: graph,
                                                   first: (conv1.linL.weight, conv1.linL.bias, conv1.linR.weight),
                                                   second: (conv2.linL.weight, conv2.linL.bias, conv2.linR.weight))
        }
        let a1 = conv1.forward(x, graph: graph, training: training)
        return conv2.forward(Self.relu(a1), graph: graph, training: training)
    }

    static func relu(_ t: Tensor) -> Tensor {
        var out = t
        out.withUnsafeMutableBufferPointer { b in let p = b.baseAddress!; for i in 0..<b.count where p[i] < 0 { p[i] = 0 } }
        return out
    }

    /// One full-batch epoch: forward, mean cross-entropy over all nodes, backward, Adam step.
    /// - Returns: the loss before the step.
    @discardableResult
    mutating func trainEpoch(_ x: Tensor, labels: [Int32], graph: CSRGraph) -> Float {
        // One BLAS thread: between the epoch's many GEMMs the graph kernels run on our own
        // workers, and idle OpenBLAS workers spin in sched_yield meanwhile (28% of the samples
        // under perf), stealing a core. Measured on the 100k/1M benchmark graph, 2 threads:
        // 174–191 ms per epoch (CPU 116–126 ms) instead of 227–234 ms (CPU 152–156 ms).
        BLAS.withSingleThreadedBLAS { trainEpochBody(x, labels: labels, graph: graph) }
    }

    mutating func trainEpochBody(_ x: Tensor, labels: [Int32], graph: CSRGraph) -> Float {
        conv1.zeroGrad(); conv2.zeroGrad()
        let a1 = conv1.forward(x, graph: graph, training: true)
        let logits = conv2.forward(Self.relu(a1), graph: graph, training: true)
        let n = logits.shape[0], c = logits.shape[1]
        var loss: Double = 0
        var dLogits = Tensor(shape: [n, c]) { _ in }
        logits.withUnsafeBufferPointer { lb in dLogits.withUnsafeMutableBufferPointer { db in
            let lp = lb.baseAddress!, dp = db.baseAddress!
            let inv = 1 / Float(n)
            for i in 0..<n {
                let row = lp + i * c, d = dp + i * c
                var m = row[0]
                for k in 1..<c { m = max(m, row[k]) }
                var s: Float = 0
                for k in 0..<c { d[k] = expf(row[k] - m); s += d[k] }
                let y = Int(labels[i])
                loss -= Double(row[y] - m - logf(s))
                for k in 0..<c { d[k] = d[k] / s * inv }
                d[y] -= inv
            }
        }}
        let (dh, _) = conv2.backward(dLogits, graph: graph)
        var da1 = dh
        a1.withUnsafeBufferPointer { ab in da1.withUnsafeMutableBufferPointer { db in
            let ap = ab.baseAddress!, dp = db.baseAddress!
            for i in 0..<db.count where ap[i] <= 0 { dp[i] = 0 }
        }}
        _ = conv1.backward(da1, graph: graph, needInputGrad: false)
        adam.beginStep()
        conv1.visitParameters(prefix: "conv1.") { adam.update($0, &$1, $2) }
        conv2.visitParameters(prefix: "conv2.") { adam.update($0, &$1, $2) }
        return Float(loss / Double(n))
    }
}
