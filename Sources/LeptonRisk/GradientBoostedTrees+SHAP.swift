import Foundation

/// Exact Shapley contributions of each feature to one row's margin (TreeSHAP, Lundberg, Erion &
/// Lee 2018, "Consistent individualized feature attribution for tree ensembles", Algorithm 2).
///
/// Why Shapley values rather than "replace one feature by its median": they add up. The margin of
/// a row is `expected + Σ contributions` exactly, so an analyst can read an alert's reasons as the
/// parts of its score. "Expected" is the margin averaged over a background set: the trees store no
/// training covers, so ``covers(background:rows:)`` counts how many background rows reach each node
/// (the rows being scored are a fair background: the same bank, the same period).
extension GradientBoostedTrees {
    /// Background rows reaching each node (`[nodes]`), from a row-major `[rows, featureCount]` matrix.
    /// A tiny pseudo-count on every leaf, summed upwards, keeps unreached nodes usable without
    /// changing any reached node's share by more than that count allows.
    public func covers(background x: [Float], rows: Int) -> [Float] {
        let F = featureCount
        var cover = [Float](repeating: 0, count: feature.count)
        x.withUnsafeBufferPointer { xb in
            for r in 0..<rows {
                let row = xb.baseAddress! + r * F
                for root in roots {
                    var k = Int(root)
                    while feature[k] >= 0 { k = row[Int(feature[k])] <= threshold[k] ? Int(left[k]) : Int(right[k]) }
                    cover[k] += 1
                }
            }
        }
        func settle(_ k: Int) -> Float {
            if feature[k] < 0 { cover[k] += 1e-3; return cover[k] }
            cover[k] = settle(Int(left[k])) + settle(Int(right[k]))
            return cover[k]
        }
        for root in roots { _ = settle(Int(root)) }
        return cover
    }

    /// The margin expected over the background that gave `cover`: `baseScore` plus each tree's
    /// cover-weighted mean leaf value.
    public func expectedMargin(cover: [Float]) -> Float {
        var s = Double(baseScore)
        func mean(_ k: Int) -> Double {
            if feature[k] < 0 { return Double(value[k]) }
            let l = Int(left[k]), r = Int(right[k])
            return (Double(cover[l]) * mean(l) + Double(cover[r]) * mean(r)) / Double(cover[k])
        }
        for root in roots { s += mean(Int(root)) }
        return Float(s)
    }

    /// Each feature's Shapley contribution to `margin(x)` (`[featureCount]`): their sum is
    /// `margin(x) - expectedMargin(cover:)`, up to float rounding.
    public func shapContributions(_ x: [Float], cover: [Float]) -> [Float] {
        precondition(x.count == featureCount && cover.count == feature.count)
        var phi = [Double](repeating: 0, count: featureCount)
        var path = [PathElement]()
        for root in roots {
            path.removeAll(keepingCapacity: true)
            recurse(Int(root), path: path, zero: 1, one: 1, feature: -1, x: x, cover: cover, phi: &phi)
        }
        return phi.map { Float($0) }
    }

    /// One element of the unique path of features split on from the root: the fraction of
    /// "feature unknown" background that follows this branch (`zero`), whether `x` follows it
    /// (`one`), and the permutation weight.
    struct PathElement {
        var feature: Int
        var zero: Double
        var one: Double
        var weight: Double
    }

    private func recurse(_ k: Int, path parent: [PathElement], zero: Double, one: Double, feature splitFeature: Int,
                         x: [Float], cover: [Float], phi: inout [Double]) {
        var path = parent
        Self.extend(&path, zero: zero, one: one, feature: splitFeature)
        if feature[k] < 0 {
            for i in 1..<path.count {
                let w = Self.unwoundSum(path, i)
                phi[path[i].feature] += w * (path[i].one - path[i].zero) * Double(value[k])
            }
            return
        }
        let f = Int(feature[k])
        let (hot, cold) = x[f] <= threshold[k] ? (Int(left[k]), Int(right[k])) : (Int(right[k]), Int(left[k]))
        var incomingZero = 1.0, incomingOne = 1.0
        if let seen = path.firstIndex(where: { $0.feature == f }) {
            // A feature split on twice along the path counts once: undo its earlier extension.
            incomingZero = path[seen].zero; incomingOne = path[seen].one
            Self.unwind(&path, seen)
        }
        let c = Double(cover[k])
        recurse(hot, path: path, zero: Double(cover[hot]) / c * incomingZero, one: incomingOne, feature: f, x: x, cover: cover, phi: &phi)
        recurse(cold, path: path, zero: Double(cover[cold]) / c * incomingZero, one: 0, feature: f, x: x, cover: cover, phi: &phi)
    }

    /// Adds a feature to the path, updating the weights of all subset sizes.
    static func extend(_ m: inout [PathElement], zero: Double, one: Double, feature: Int) {
        let d = m.count
        m.append(PathElement(feature: feature, zero: zero, one: one, weight: d == 0 ? 1 : 0))
        var i = d - 1
        while i >= 0 {
            m[i + 1].weight += one * m[i].weight * Double(i + 1) / Double(d + 1)
            m[i].weight = zero * m[i].weight * Double(d - i) / Double(d + 1)
            i -= 1
        }
    }

    /// Removes path element `index`, the inverse of ``extend``.
    static func unwind(_ m: inout [PathElement], _ index: Int) {
        let d = m.count - 1
        let one = m[index].one, zero = m[index].zero
        var next = m[d].weight
        var i = d - 1
        while i >= 0 {
            if one != 0 {
                let tmp = m[i].weight
                m[i].weight = next * Double(d + 1) / (Double(i + 1) * one)
                next = tmp - m[i].weight * zero * Double(d - i) / Double(d + 1)
            } else {
                m[i].weight = m[i].weight * Double(d + 1) / (zero * Double(d - i))
            }
            i -= 1
        }
        for j in index..<d { m[j].feature = m[j + 1].feature; m[j].zero = m[j + 1].zero; m[j].one = m[j + 1].one }
        m.removeLast()
    }

    /// The total weight the path would have with element `index` unwound, without changing it.
    static func unwoundSum(_ m: [PathElement], _ index: Int) -> Double {
        let d = m.count - 1
        let one = m[index].one, zero = m[index].zero
        var next = m[d].weight, total = 0.0
        var i = d - 1
        while i >= 0 {
            if one != 0 {
                let tmp = next * Double(d + 1) / (Double(i + 1) * one)
                total += tmp
                next = m[i].weight - tmp * zero * Double(d - i) / Double(d + 1)
            } else {
                total += m[i].weight / zero / (Double(d - i) / Double(d + 1))
            }
            i -= 1
        }
        return total
    }
}
