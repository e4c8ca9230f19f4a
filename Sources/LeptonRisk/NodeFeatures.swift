import Foundation

/// Per-item features of a generic graph: the item's own columns plus what its neighbourhood looks
/// like.
///
/// - Nodes: own features, the mean neighbour features per relation (relations undirected) and the
///   log degree per relation.
/// - Labelled edges (version 1): own columns, the mean over the edges sharing the same source and
///   over those sharing the same target, the item's deviation from each mean, and the log degree of
///   both endpoints.
/// - Labelled edges (version 2, written by `train` today) add the item's *standing* among
///   the edges of each endpoint, per column and for the log degree of the edge's other endpoint:
///   its percentile rank, the group's minimum, maximum and standard deviation; and, per endpoint, the mean log degree of the other endpoints of its
///   edges (e.g. for a review: how prolific the product's other reviewers are). A review that is
///   the most suspicious of its product, or a user whose least suspicious review is still high,
///   stands out where the group mean hides it.
/// - From version 2 on, both kinds end with the known-label columns (`NodeFeatures+KnownLabels`).
public enum NodeFeatures {
    /// The feature set written by `train` today; older models keep the set they were trained with.
    public static let currentVersion = 2

    /// Columns per item: the base columns, and from version 2 on (unless `knownLabels` is false)
    /// the known-label columns after them (``knownLabelWidth(relations:edgeMode:)``).
    public static func width(inputs d: Int, relations: Int, edgeMode: Bool, version: Int = currentVersion, knownLabels: Bool = true) -> Int {
        let base = edgeMode ? (version >= 2 ? 13 * d + 12 : 5 * d + 2) : d * (1 + relations) + relations
        return base + (version >= 2 && knownLabels ? knownLabelWidth(relations: relations, edgeMode: edgeMode) : 0)
    }

    /// The base columns (without the known-label ones): `[items, width(…, knownLabels: false)]`.
    public static func compute(_ g: NodeGraph, relations R: Int, version: Int = currentVersion) -> [Float] {
        g.labelsOnEdges ? edges(g, version: version) : nodes(g, relations: R)
    }

    static func nodes(_ g: NodeGraph, relations R: Int) -> [Float] {
        let d = g.featureCount, n = g.nodeCount, W = width(inputs: d, relations: R, edgeMode: false, knownLabels: false)
        var out = [Float](repeating: 0, count: n * W)
        var deg = [Float](repeating: 0, count: n * R)
        for i in 0..<n { for f in 0..<d { out[i * W + f] = g.features[i * d + f] } }
        // Relations treated as undirected: each edge sends its endpoint's features both ways.
        for e in 0..<g.edgeCount {
            let r = Int(g.relation[e]); if r >= R { continue }
            let u = Int(g.src[e]), v = Int(g.dst[e])
            if u == v { continue }
            let base = d * (1 + r)
            for f in 0..<d { out[u * W + base + f] += g.features[v * d + f]; out[v * W + base + f] += g.features[u * d + f] }
            deg[u * R + r] += 1; deg[v * R + r] += 1
        }
        for i in 0..<n { for r in 0..<R {
            let k = deg[i * R + r], base = d * (1 + r)
            if k > 0 { for f in 0..<d { out[i * W + base + f] /= k } }
            out[i * W + d * (1 + R) + r] = logf(1 + k)
        }}
        return out
    }

    static func edges(_ g: NodeGraph, version: Int) -> [Float] {
        let d = g.edgeFeatureCount, m = g.edgeCount, n = g.nodeCount, W = width(inputs: d, relations: 1, edgeMode: true, version: version, knownLabels: false)
        var sumS = [Float](repeating: 0, count: n * d), sumD = sumS
        var cS = [Float](repeating: 0, count: n), cD = cS
        for e in 0..<m {
            let u = Int(g.src[e]), v = Int(g.dst[e]); cS[u] += 1; cD[v] += 1
            for f in 0..<d { sumS[u * d + f] += g.edgeFeatures[e * d + f]; sumD[v * d + f] += g.edgeFeatures[e * d + f] }
        }
        var out = [Float](repeating: 0, count: m * W)
        for e in 0..<m {
            let u = Int(g.src[e]), v = Int(g.dst[e]), o = e * W
            for f in 0..<d {
                let x = g.edgeFeatures[e * d + f], ms = sumS[u * d + f] / cS[u], md = sumD[v * d + f] / cD[v]
                out[o + f] = x; out[o + d + f] = ms; out[o + 2 * d + f] = md
                out[o + 3 * d + f] = x - ms; out[o + 4 * d + f] = x - md
            }
            out[o + 5 * d] = logf(cS[u]); out[o + 5 * d + 1] = logf(cD[v])
        }
        guard version >= 2 else { return out }
        // Each edge's columns plus the log degree of the endpoint on the other side.
        var bySrc = [Float](repeating: 0, count: m * (d + 1)), byDst = bySrc
        for e in 0..<m {
            for f in 0..<d { bySrc[e * (d + 1) + f] = g.edgeFeatures[e * d + f]; byDst[e * (d + 1) + f] = g.edgeFeatures[e * d + f] }
            bySrc[e * (d + 1) + d] = logf(cD[Int(g.dst[e])]); byDst[e * (d + 1) + d] = logf(cS[Int(g.src[e])])
        }
        standing(bySrc, columns: d + 1, endpoints: g.src, nodes: n, into: &out, width: W, at: 5 * d + 2)
        standing(byDst, columns: d + 1, endpoints: g.dst, nodes: n, into: &out, width: W, at: 9 * d + 6)
        // Mean log degree of the other endpoint, over each endpoint's edges.
        var otherS = [Float](repeating: 0, count: n), otherD = otherS
        for e in 0..<m {
            let u = Int(g.src[e]), v = Int(g.dst[e])
            otherS[u] += logf(cD[v]); otherD[v] += logf(cS[u])
        }
        for e in 0..<m {
            let u = Int(g.src[e]), v = Int(g.dst[e]), o = e * W + 13 * d + 10
            out[o] = otherS[u] / cS[u]; out[o + 1] = otherD[v] / cD[v]
        }
        return out
    }

    /// Writes, per column `f` at `at + 4f …`: the edge's percentile rank among the edges sharing
    /// its endpoint (ties share their mid rank; 0.5 for an edge alone), and the group's minimum,
    /// maximum and (population) standard deviation.
    static func standing(_ values: [Float], columns d: Int, endpoints: [Int32], nodes: Int, into out: inout [Float], width W: Int, at base: Int) {
        let m = endpoints.count
        // Edges grouped by endpoint (counting sort), then each group sorted per column.
        var start = [Int](repeating: 0, count: nodes + 1)
        for e in 0..<m { start[Int(endpoints[e]) + 1] += 1 }
        for i in 0..<nodes { start[i + 1] += start[i] }
        var fill = start, members = [Int](repeating: 0, count: m)
        for e in 0..<m { let u = Int(endpoints[e]); members[fill[u]] = e; fill[u] += 1 }
        var order: [Int] = []
        for u in 0..<nodes where start[u + 1] > start[u] {
            let group = members[start[u]..<start[u + 1]], k = group.count
            for f in 0..<d {
                order = group.sorted { values[$0 * d + f] < values[$1 * d + f] }
                let lo = values[order[0] * d + f], hi = values[order[k - 1] * d + f]
                var s: Double = 0, s2: Double = 0
                for e in group { let x = Double(values[e * d + f]); s += x; s2 += x * x }
                let mean = s / Double(k), sd = Float(max(s2 / Double(k) - mean * mean, 0).squareRoot())
                var a = 0
                while a < k {
                    var b = a
                    let x = values[order[a] * d + f]
                    while b + 1 < k && values[order[b + 1] * d + f] == x { b += 1 }
                    let rank: Float = k == 1 ? 0.5 : Float(a + b) / 2 / Float(k - 1)
                    for q in a...b {
                        let o = order[q] * W + base + 4 * f
                        out[o] = rank; out[o + 1] = lo; out[o + 2] = hi; out[o + 3] = sd
                    }
                    a = b + 1
                }
            }
        }
    }
}
