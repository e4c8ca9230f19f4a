import Foundation

/// Columns from labels already known when an item is scored (label-aware aggregation, as in
/// GAGA, Wang et al., VLDB 2023): fraud clusters, so the confirmed labels of an item's
/// neighbours say much about it. On YelpChi a user's other filtered reviews all but decide
/// whether this one is filtered too.
///
/// An item's own label never reaches its own columns: only *other* items' labels are counted.
/// Which labels are known is the caller's choice and must never include the items being
/// evaluated (``NodeGraph/knownLabelsForEvaluation(split:)``); training uses, for each fold, the
/// labels of the other folds only, as scoring will see labels of the training items only.
extension NodeFeatures {
    /// Known-label columns: for labelled edges, per endpoint (source, then target) over its other
    /// edges; for nodes, per relation over the node's neighbours (both directions): the log of
    /// 1 + the number of known labels and the share of them that are positive (−1 when none is known).
    public static func knownLabelWidth(relations R: Int, edgeMode: Bool) -> Int { edgeMode ? 4 : 2 * R }

    /// - Parameter known: per item (node, or edge in edge mode) 1 or 0 for a known label, −1 for unknown.
    /// - Returns: `[items, knownLabelWidth]` row-major.
    public static func knownLabelColumns(_ g: NodeGraph, relations R: Int, known: [Int8]) -> [Float] {
        precondition(known.count == g.itemCount, "one known-label entry per item")
        let W = knownLabelWidth(relations: R, edgeMode: g.labelsOnEdges)
        var out = [Float](repeating: 0, count: g.itemCount * W)
        func write(_ o: Int, count k: Float, positives p: Float) {
            out[o] = logf(1 + k); out[o + 1] = k > 0 ? p / k : -1
        }
        if g.labelsOnEdges {
            // Sums over all edges of each endpoint, then each edge's own label taken back out.
            var kS = [Float](repeating: 0, count: g.nodeCount), pS = kS, kD = kS, pD = kS
            for e in 0..<g.edgeCount where known[e] >= 0 {
                let u = Int(g.src[e]), v = Int(g.dst[e]), y = Float(known[e])
                kS[u] += 1; pS[u] += y; kD[v] += 1; pD[v] += y
            }
            for e in 0..<g.edgeCount {
                let u = Int(g.src[e]), v = Int(g.dst[e])
                let own: Float = known[e] >= 0 ? 1 : 0, y: Float = known[e] == 1 ? 1 : 0
                write(e * W, count: kS[u] - own, positives: pS[u] - y)
                write(e * W + 2, count: kD[v] - own, positives: pD[v] - y)
            }
            return out
        }
        var k = [Float](repeating: 0, count: g.nodeCount * R), p = k
        for e in 0..<g.edgeCount {
            let r = Int(g.relation[e]), u = Int(g.src[e]), v = Int(g.dst[e])
            if r >= R || u == v { continue }
            if known[v] >= 0 { k[u * R + r] += 1; p[u * R + r] += Float(known[v]) }
            if known[u] >= 0 { k[v * R + r] += 1; p[v * R + r] += Float(known[u]) }
        }
        for i in 0..<g.nodeCount { for r in 0..<R { write(i * W + 2 * r, count: k[i * R + r], positives: p[i * R + r]) } }
        return out
    }

    /// Base columns (``compute(_:relations:version:)``) followed, from version 2 on, by the
    /// known-label columns: the model's input rows.
    public static func rows(_ g: NodeGraph, relations R: Int, version: Int, known: [Int8]?) -> [Float] {
        let base = compute(g, relations: R, version: version)
        guard version >= 2 else { return base }
        let Fb = width(inputs: g.labelsOnEdges ? g.edgeFeatureCount : g.featureCount, relations: R, edgeMode: g.labelsOnEdges,
                       version: version, knownLabels: false)
        let Fl = knownLabelWidth(relations: R, edgeMode: g.labelsOnEdges)
        let lab = knownLabelColumns(g, relations: R, known: known ?? [Int8](repeating: -1, count: g.itemCount))
        var out = [Float](repeating: 0, count: g.itemCount * (Fb + Fl))
        for i in 0..<g.itemCount {
            for c in 0..<Fb { out[i * (Fb + Fl) + c] = base[i * Fb + c] }
            for c in 0..<Fl { out[i * (Fb + Fl) + Fb + c] = lab[i * Fl + c] }
        }
        return out
    }
}

extension NodeGraph {
    /// Known labels for evaluating `split` (nil: every split but "train"): the labels of the
    /// "train" rows, never of an evaluated row. Nothing is known when the file has no splits or
    /// the training rows themselves are evaluated.
    public func knownLabelsForEvaluation(split: String?) -> [Int8] {
        var known = [Int8](repeating: -1, count: itemCount)
        guard split != "train", labelled.contains(where: { !$0.split.isEmpty }) else { return known }
        for (item, label, sp) in labelled where sp == "train" { known[item] = label }
        // An item listed twice (train and evaluated) must not leak: evaluated wins.
        for (item, _, sp) in labelled where sp != "train" { known[item] = -1 }
        return known
    }

    /// Every labelled row as known (`score --known-labels`).
    public func allKnownLabels() -> [Int8] {
        var known = [Int8](repeating: -1, count: itemCount)
        for (item, label, _) in labelled { known[item] = label }
        return known
    }
}
