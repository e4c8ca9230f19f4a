import Foundation

/// Second-stage columns: how risky the items around an item were scored by the first stage
/// (one round of score propagation, as lepton-risk does for transfers): fraud clusters, and the
/// first stage's view of an item's neighbours sums up their evidence better than their columns'
/// means do. No label is read here.
extension NodeFeatures {
    /// For labelled edges, per endpoint (source, then target) over its other edges; for nodes, per
    /// relation over the node's neighbours: the mean and the highest first-stage score (−1 when none).
    public static func propagationWidth(relations R: Int, edgeMode: Bool) -> Int { edgeMode ? 4 : 2 * R }

    /// - Parameter scores: first-stage score of every item `[items]`.
    /// - Returns: `[items, propagationWidth]` row-major.
    public static func propagationColumns(_ g: NodeGraph, relations R: Int, scores s: [Float]) -> [Float] {
        precondition(s.count == g.itemCount, "one score per item")
        let W = propagationWidth(relations: R, edgeMode: g.labelsOnEdges)
        var out = [Float](repeating: -1, count: g.itemCount * W)
        if g.labelsOnEdges {
            for (side, ends) in [g.src, g.dst].enumerated() {
                // Per endpoint: sum, count, and the two highest scores (so an edge's "others" can
                // leave its own out).
                var sum = [Float](repeating: 0, count: g.nodeCount), count = sum
                var top1 = [Float](repeating: -1, count: g.nodeCount), top2 = top1
                for e in 0..<g.edgeCount {
                    let u = Int(ends[e]), v = s[e]
                    sum[u] += v; count[u] += 1
                    if v > top1[u] { top2[u] = top1[u]; top1[u] = v } else if v > top2[u] { top2[u] = v }
                }
                for e in 0..<g.edgeCount {
                    let u = Int(ends[e]), o = e * W + 2 * side
                    guard count[u] > 1 else { continue }
                    out[o] = (sum[u] - s[e]) / (count[u] - 1)
                    out[o + 1] = s[e] == top1[u] ? top2[u] : top1[u]
                }
            }
            return out
        }
        var sum = [Float](repeating: 0, count: g.nodeCount * R), count = sum, top = [Float](repeating: -1, count: g.nodeCount * R)
        for e in 0..<g.edgeCount {
            let r = Int(g.relation[e]), u = Int(g.src[e]), v = Int(g.dst[e])
            if r >= R || u == v { continue }
            sum[u * R + r] += s[v]; count[u * R + r] += 1; top[u * R + r] = max(top[u * R + r], s[v])
            sum[v * R + r] += s[u]; count[v * R + r] += 1; top[v * R + r] = max(top[v * R + r], s[u])
        }
        for i in 0..<g.nodeCount { for r in 0..<R where count[i * R + r] > 0 {
            out[i * W + 2 * r] = sum[i * R + r] / count[i * R + r]; out[i * W + 2 * r + 1] = top[i * R + r]
        }}
        return out
    }

    /// `x` `[items, F]` with `extra` `[items, E]` appended to each row.
    static func appending(_ x: [Float], width F: Int, _ extra: [Float], width E: Int) -> [Float] {
        let n = F + E > 0 ? (x.count + extra.count) / (F + E) : 0
        var out = [Float](repeating: 0, count: n * (F + E))
        for i in 0..<n {
            for c in 0..<F { out[i * (F + E) + c] = x[i * F + c] }
            for c in 0..<E { out[i * (F + E) + F + c] = extra[i * E + c] }
        }
        return out
    }
}
