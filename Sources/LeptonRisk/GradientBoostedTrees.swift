import Foundation
import LeptonEngine

/// Gradient-boosted decision trees for binary labels (logistic loss, second-order splits on
/// histogram bins, depth-limited trees, row and column subsampling, positive-class weight).
/// The strong tabular baseline the graph model is measured against, and a scorer on its own.
public struct GradientBoostedTrees: Sendable {
    public struct Options: Sendable {
        public var rounds = 300
        public var depth = 5
        public var learningRate: Float = 0.08
        public var lambda: Float = 1
        public var minChildWeight: Float = 1
        public var rowSample: Float = 0.8
        public var columnSample: Float = 0.8
        public var bins = 64
        /// Weight of positive rows (class imbalance); nil = sqrt(negatives / positives).
        public var positiveWeight: Float? = nil
        public var seed: UInt64 = 0
        public init() {}
    }

    /// Flattened trees: node `k` splits on `feature[k]` at `threshold[k]` (go left when x ≤ t);
    /// leaves have `feature[k] == -1` and carry `value[k]`.
    public var feature: [Int32] = []
    public var threshold: [Float] = []
    public var left: [Int32] = []
    public var right: [Int32] = []
    public var value: [Float] = []
    /// Root node of each tree.
    public var roots: [Int32] = []
    public var baseScore: Float = 0
    public var featureCount: Int = 0
    /// Split gain summed per feature (for explanations).
    public var importance: [Float] = []

    public init() {}

    /// Raw margin (log-odds) of one row, using the first `trees` trees (all by default).
    @inline(__always)
    public func margin(_ x: UnsafePointer<Float>, trees: Int? = nil) -> Float {
        var s = baseScore
        let nt = trees ?? roots.count
        feature.withUnsafeBufferPointer { fe in threshold.withUnsafeBufferPointer { th in
        left.withUnsafeBufferPointer { le in right.withUnsafeBufferPointer { ri in value.withUnsafeBufferPointer { va in
            for tIdx in 0..<nt {
                var k = Int(roots[tIdx])
                while fe[k] >= 0 { k = x[Int(fe[k])] <= th[k] ? Int(le[k]) : Int(ri[k]) }
                s += va[k]
            }
        }}}}}
        return s
    }

    /// Probabilities for a row-major `[rows, featureCount]` matrix.
    public func predict(_ x: [Float], rows: Int, trees: Int? = nil) -> [Float] {
        var out = [Float](repeating: 0, count: rows)
        let F = featureCount
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                nonisolated(unsafe) let xp = xb.baseAddress!, op = ob.baseAddress!
                parallelChunks(rows, grain: 2048) { lo, hi in
                    for r in lo..<hi { op[r] = 1 / (1 + expf(-self.margin(xp + r * F, trees: trees))) }
                }
            }
        }
        return out
    }

    /// Trains on rows `x` (`[rows, features]`) with labels 0/1. When validation rows are given,
    /// keeps the number of trees with the best validation average precision.
    public static func train(x: [Float], y: [Float], features F: Int, options o: Options,
                             validation: (x: [Float], y: [Float])? = nil,
                             log: (String) -> Void = { _ in }) throws -> GradientBoostedTrees {
        let rows = y.count
        var model = GradientBoostedTrees()
        model.featureCount = F
        model.importance = [Float](repeating: 0, count: F)
        let pos = y.reduce(0, +), neg = Float(rows) - pos
        let wPos = o.positiveWeight ?? max(1, (neg / max(pos, 1)).squareRoot())
        let p0 = (pos * wPos) / (pos * wPos + neg)
        model.baseScore = logf(max(p0, 1e-6) / max(1 - p0, 1e-6))

        // Quantile bin edges per feature; bin(v) = number of edges < v.
        let B = o.bins
        var edges = [[Float]](repeating: [], count: F)
        var binned = [UInt8](repeating: 0, count: rows * F) // column-major
        var column = [Float](repeating: 0, count: rows)
        for f in 0..<F {
            for r in 0..<rows { column[r] = x[r * F + f] }
            var sorted = column; sorted.sort()
            var e: [Float] = []
            for q in 1..<B {
                let v = sorted[min(rows - 1, q * rows / B)]
                if e.last.map({ v > $0 }) ?? true { e.append(v) }
            }
            if let last = e.last, last >= sorted[rows - 1] { e.removeLast() }
            edges[f] = e
            for r in 0..<rows {
                let v = column[r]
                var lo = 0, hi = e.count
                while lo < hi { let mid = (lo + hi) >> 1; if e[mid] < v { lo = mid + 1 } else { hi = mid } }
                binned[f * rows + r] = UInt8(lo)
            }
        }

        var rng = SeededGenerator(seed: o.seed)
        var margin = [Float](repeating: model.baseScore, count: rows)
        var grad = [Float](repeating: 0, count: rows), hess = [Float](repeating: 0, count: rows)
        var nodeOf = [Int32](repeating: 0, count: rows)
        var valMargin = validation.map { v in [Float](repeating: model.baseScore, count: v.y.count) }
        var bestAP: Float = -1, bestTrees = 0

        for round in 0..<o.rounds {
            for r in 0..<rows {
                let p = 1 / (1 + expf(-margin[r]))
                let w = y[r] > 0.5 ? wPos : 1
                grad[r] = w * (p - y[r]); hess[r] = max(w * p * (1 - p), 1e-6)
            }
            // Row sample: rows not sampled get node -1.
            for r in 0..<rows { nodeOf[r] = rng.nextUniform() < o.rowSample ? 0 : -1 }
            let cols = (0..<F).filter { _ in rng.nextUniform() < o.columnSample }
            let useCols = cols.isEmpty ? [Int(rng.next() % UInt64(F))] : cols

            // Grow level by level. Local node ids per level map to global node indices.
            let root = Int32(model.feature.count)
            model.roots.append(root)
            model.feature.append(-1); model.threshold.append(0); model.left.append(-1); model.right.append(-1); model.value.append(0)
            var levelNodes: [Int32] = [root]   // global ids of nodes at this level
            for depth in 0...o.depth {
                let L = levelNodes.count
                var sumG = [Float](repeating: 0, count: L), sumH = [Float](repeating: 0, count: L)
                for r in 0..<rows where nodeOf[r] >= 0 { let k = Int(nodeOf[r]); sumG[k] += grad[r]; sumH[k] += hess[r] }
                var bestGain = [Float](repeating: 0, count: L), bestFeat = [Int](repeating: -1, count: L), bestBin = [Int](repeating: 0, count: L)
                if depth < o.depth {
                    // Histograms per (node, feature).
                    var hg = [Float](repeating: 0, count: L * B), hh = [Float](repeating: 0, count: L * B)
                    for f in useCols {
                        for k in 0..<(L * B) { hg[k] = 0; hh[k] = 0 }
                        binned.withUnsafeBufferPointer { bb in
                            let col = bb.baseAddress! + f * rows
                            for r in 0..<rows where nodeOf[r] >= 0 {
                                let k = Int(nodeOf[r]) * B + Int(col[r]); hg[k] += grad[r]; hh[k] += hess[r]
                            }
                        }
                        let nb = edges[f].count + 1
                        for node in 0..<L where sumH[node] >= 2 * o.minChildWeight {
                            let G = sumG[node], H = sumH[node]
                            let parent = G * G / (H + o.lambda)
                            var gl: Float = 0, hl: Float = 0
                            for b in 0..<(nb - 1) {
                                gl += hg[node * B + b]; hl += hh[node * B + b]
                                let hr = H - hl
                                if hl < o.minChildWeight || hr < o.minChildWeight { continue }
                                let gr = G - gl
                                let gain = gl * gl / (hl + o.lambda) + gr * gr / (hr + o.lambda) - parent
                                if gain > bestGain[node] + 1e-6 { bestGain[node] = gain; bestFeat[node] = f; bestBin[node] = b }
                            }
                        }
                    }
                }
                // Turn nodes into splits or leaves.
                var nextLevel: [Int32] = []
                var childLocal = [Int](repeating: -1, count: L)
                for node in 0..<L {
                    let g = Int(levelNodes[node])
                    if bestFeat[node] >= 0 {
                        let f = bestFeat[node]
                        model.feature[g] = Int32(f); model.threshold[g] = edges[f][bestBin[node]]
                        model.importance[f] += bestGain[node]
                        let l = Int32(model.feature.count)
                        for _ in 0..<2 { model.feature.append(-1); model.threshold.append(0); model.left.append(-1); model.right.append(-1); model.value.append(0) }
                        model.left[g] = l; model.right[g] = l + 1
                        childLocal[node] = nextLevel.count
                        nextLevel.append(l); nextLevel.append(l + 1)
                    } else {
                        model.value[g] = -o.learningRate * sumG[node] / (sumH[node] + o.lambda)
                    }
                }
                if nextLevel.isEmpty { break }
                for r in 0..<rows where nodeOf[r] >= 0 {
                    let node = Int(nodeOf[r])
                    let c = childLocal[node]
                    if c < 0 { nodeOf[r] = -1; continue }
                    let f = bestFeat[node]
                    nodeOf[r] = Int32(binned[f * rows + r] <= UInt8(bestBin[node]) ? c : c + 1)
                }
                levelNodes = nextLevel
            }
            // Update margins of all rows (sampled or not) with the new tree.
            let t = model.roots.count - 1
            x.withUnsafeBufferPointer { xb in
                for r in 0..<rows { margin[r] += model.treeValue(t, xb.baseAddress! + r * F) }
            }
            if let v = validation, var vm = valMargin {
                let vr = v.y.count
                v.x.withUnsafeBufferPointer { xb in for r in 0..<vr { vm[r] += model.treeValue(t, xb.baseAddress! + r * F) } }
                valMargin = vm
                let ap = try RiskMetrics.averagePrecision(scores: vm, labels: v.y)
                if ap > bestAP + 1e-5 { bestAP = ap; bestTrees = round + 1 }
                if (round + 1) % 50 == 0 { log("trees \(round + 1): validation AP \(String(format: "%.4f", ap))") }
            }
        }
        if validation != nil && bestTrees > 0 && bestTrees < model.roots.count { model.truncate(trees: bestTrees) }
        return model
    }

    @inline(__always)
    func treeValue(_ t: Int, _ x: UnsafePointer<Float>) -> Float {
        var k = Int(roots[t])
        while feature[k] >= 0 { k = x[Int(feature[k])] <= threshold[k] ? Int(left[k]) : Int(right[k]) }
        return value[k]
    }

    /// Margins of every row after each `every` trees: `[checkpoints][rows]` (checkpoint c holds
    /// the first `(c + 1)·every` trees, the last one all trees).
    public func stagedMargins(_ x: [Float], rows: Int, every: Int) -> [[Float]] {
        let F = featureCount
        var m = [Float](repeating: baseScore, count: rows)
        var out: [[Float]] = []
        x.withUnsafeBufferPointer { xb in
            for t in 0..<roots.count {
                for r in 0..<rows { m[r] += treeValue(t, xb.baseAddress! + r * F) }
                if (t + 1) % every == 0 || t == roots.count - 1 { out.append(m) }
            }
        }
        return out
    }

    /// Mean binary log-loss of 0/1 `labels` on the rows of `x` after every `every` trees (and
    /// after the last), summed in Double: the training curve of a boosted model.
    public func stagedLogLoss(_ x: [Float], labels y: [Float], every: Int) -> [Double] {
        stagedMargins(x, rows: y.count, every: every).map { margins in
            var sum = 0.0
            for (m, label) in zip(margins, y) {
                // −log σ(±m) = log(1 + e^∓m), written so that neither exponential overflows.
                let z = Double(label > 0.5 ? -m : m)
                sum += max(z, 0) + log1p(exp(-abs(z)))
            }
            return y.isEmpty ? 0 : sum / Double(y.count)
        }
    }

    /// One model whose margin is the mean of the given models' margins (all trees kept, leaf
    /// values and base scores divided by the number of models). Used for the cross-validation
    /// ensemble, whose scores are calibrated like the out-of-fold scores that chose the threshold.
    public static func averaged(_ models: [GradientBoostedTrees]) -> GradientBoostedTrees {
        var out = GradientBoostedTrees()
        guard let first = models.first else { return out }
        let k = Float(models.count)
        out.featureCount = first.featureCount
        out.importance = [Float](repeating: 0, count: first.featureCount)
        for m in models {
            let offset = Int32(out.feature.count)
            out.feature += m.feature
            out.threshold += m.threshold
            out.left += m.left.map { $0 >= 0 ? $0 + offset : $0 }
            out.right += m.right.map { $0 >= 0 ? $0 + offset : $0 }
            out.value += m.value.map { $0 / k }
            out.roots += m.roots.map { $0 + offset }
            out.baseScore += m.baseScore / k
            for f in 0..<min(out.importance.count, m.importance.count) { out.importance[f] += m.importance[f] / k }
        }
        return out
    }

    /// Keeps the first `trees` trees.
    public mutating func truncate(trees: Int) {
        guard trees < roots.count else { return }
        let end = Int(roots[trees])
        roots.removeLast(roots.count - trees)
        feature.removeLast(feature.count - end); threshold.removeLast(threshold.count - end)
        left.removeLast(left.count - end); right.removeLast(right.count - end); value.removeLast(value.count - end)
    }

    // MARK: Saving (safetensors-friendly tensors)

    /// The trees as named tensors (`gbt.feature`, `gbt.threshold`, `gbt.left`, `gbt.right`, `gbt.value`,
    /// `gbt.roots`, `gbt.base`, `gbt.importance`), all float32 `[nodes]` / `[trees]` / `[1]` / `[features]`.
    public func tensors(prefix: String = "gbt.") -> [String: Tensor] {
        [
            prefix + "feature": Tensor(shape: [feature.count], scalars: feature.map(Float.init)),
            prefix + "threshold": Tensor(shape: [threshold.count], scalars: threshold),
            prefix + "left": Tensor(shape: [left.count], scalars: left.map(Float.init)),
            prefix + "right": Tensor(shape: [right.count], scalars: right.map(Float.init)),
            prefix + "value": Tensor(shape: [value.count], scalars: value),
            prefix + "roots": Tensor(shape: [roots.count], scalars: roots.map(Float.init)),
            prefix + "base": Tensor(shape: [1], scalars: [baseScore]),
            prefix + "importance": Tensor(shape: [importance.count], scalars: importance),
        ]
    }

    /// Takes `features` input columns, the first `featureCount` of them the ones it was trained on
    /// (a model of an earlier feature list reading a longer row; no node splits on the new ones).
    mutating func widen(to features: Int) {
        guard features > featureCount else { return }
        importance += [Float](repeating: 0, count: features - featureCount)
        featureCount = features
    }

    /// Rebuilds trees from `tensors(prefix:)` output; checks every index is in range.
    public init(store: WeightStore, prefix: String = "gbt.", features: Int, source: String) throws {
        func ints(_ name: String) throws -> [Int32] { try store.take(prefix + name).scalars.map { Int32($0) } }
        feature = try ints("feature"); left = try ints("left"); right = try ints("right"); roots = try ints("roots")
        threshold = try store.take(prefix + "threshold").scalars
        value = try store.take(prefix + "value").scalars
        baseScore = try store.take(prefix + "base").scalars.first ?? 0
        importance = try store.take(prefix + "importance").scalars
        featureCount = features
        let n = feature.count
        var ok = threshold.count == n && left.count == n && right.count == n && value.count == n
        ok = ok && importance.count == features
        for r in roots where r < 0 || Int(r) >= n { ok = false }
        for k in 0..<n where ok {
            let f = Int(feature[k])
            if f >= features || f < -1 { ok = false; break }
            if f >= 0 {
                let l = Int(left[k]), r = Int(right[k])
                if l <= k || l >= n || r <= k || r >= n { ok = false }
            }
        }
        if !ok { throw RiskError.badModel(path: source, reason: "inconsistent tree tensors under \(prefix)") }
    }
}
