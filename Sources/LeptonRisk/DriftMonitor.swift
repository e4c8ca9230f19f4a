import Foundation

/// What a model's inputs and scores looked like in training, kept to tell later when new data no
/// longer looks like it (`lepton-risk monitor`). Per feature and for the score: the deciles of the
/// training rows as bin edges and the share of rows in each bin. Quantiles only, no row.
public struct DriftReference: Codable, Sendable, Equatable {
    /// Bin upper edges per feature (`[features][≤ 9]`, increasing; the last bin is open).
    public var featureEdges: [[Float]]
    /// Share of the reference rows in each bin (`[features][edges + 1]`).
    public var featureShares: [[Float]]
    public var scoreEdges: [Float]
    public var scoreShares: [Float]
    /// Rows the reference was computed from.
    public var rows: Int

    /// The reference of `rows` of a row-major `[*, TransactionFeatures.count]` matrix and their
    /// scores (`scores[k]` belongs to `rows[k]`).
    public init(features x: [Float], rows: [Int], scores: [Float]) {
        let F = TransactionFeatures.count
        featureEdges = []; featureShares = []
        for f in 0..<F {
            let column = rows.map { x[$0 * F + f] }
            let edges = Self.decileEdges(column)
            featureEdges.append(edges); featureShares.append(Self.shares(column, edges: edges))
        }
        scoreEdges = Self.decileEdges(scores)
        scoreShares = Self.shares(scores, edges: scoreEdges)
        self.rows = rows.count
    }

    /// Distinct interior deciles: a feature that is mostly 0 gets fewer bins, not empty ones.
    static func decileEdges(_ values: [Float]) -> [Float] {
        let v = values.filter { $0.isFinite }.sorted()
        guard !v.isEmpty else { return [] }
        var edges: [Float] = []
        for k in 1...9 {
            let e = v[min(v.count - 1, k * v.count / 10)]
            if e != edges.last && e < v.last! { edges.append(e) }
        }
        return edges
    }

    /// Share of `values` in each bin: bin k holds edges[k-1] < x ≤ edges[k]; non-finite values are
    /// left out (the ingest never yields them).
    static func shares(_ values: [Float], edges: [Float]) -> [Float] {
        var counts = [Float](repeating: 0, count: edges.count + 1)
        var n: Float = 0
        for x in values where x.isFinite {
            var lo = 0, hi = edges.count
            while lo < hi { let mid = (lo + hi) / 2; if x <= edges[mid] { hi = mid } else { lo = mid + 1 } }
            counts[lo] += 1; n += 1
        }
        return counts.map { n > 0 ? $0 / n : 0 }
    }
}

/// The population stability index of new data against a ``DriftReference``, per feature and for
/// the score: PSI = Σ (new − ref) · ln(new / ref) over the reference's bins, shares floored at
/// 1e-4 so that an empty bin counts as rare, not infinite. The usual reading: under 0.1 stable,
/// 0.1–0.25 a moderate shift, above 0.25 a shift that calls the model's figures into question.
public struct DriftReport: Sendable {
    public struct Item: Sendable, Equatable {
        public var name: String
        public var psi: Float
        public var reference: [Float]
        public var current: [Float]
    }
    public var score: Item
    public var features: [Item]
    public var rows: Int

    public static func psi(reference: [Float], current: [Float]) -> Float {
        zip(reference, current).reduce(0) { s, p in
            let r = max(p.0, 1e-4), c = max(p.1, 1e-4)
            return s + (c - r) * logf(c / r)
        }
    }

    /// Compares `rows` of the feature matrix `x` and their `scores` with `reference`.
    public init(reference: DriftReference, features x: [Float], rows: [Int], scores: [Float]) {
        // A reference of an earlier feature list covers its first columns only.
        let F = TransactionFeatures.count
        features = (0..<min(F, reference.featureEdges.count)).map { f in
            let current = DriftReference.shares(rows.map { x[$0 * F + f] }, edges: reference.featureEdges[f])
            return Item(name: TransactionFeatures.names[f], psi: Self.psi(reference: reference.featureShares[f], current: current),
                        reference: reference.featureShares[f], current: current)
        }
        let current = DriftReference.shares(scores, edges: reference.scoreEdges)
        score = Item(name: "score", psi: Self.psi(reference: reference.scoreShares, current: current),
                     reference: reference.scoreShares, current: current)
        self.rows = rows.count
    }

    /// `stable`, `moderate` or `shifted` at the usual 0.1 / `failAt` cuts.
    public static func level(_ psi: Float, failAt: Float) -> String {
        psi >= failAt ? "shifted" : psi >= 0.1 ? "moderate" : "stable"
    }
}

extension DriftReport.Item {
    /// A bar chart of the shares per bin as RGB pixels (`[height][width][3]`): for each bin of
    /// the reference, its reference share (gray) beside the new data's (red), on one scale, with
    /// a baseline and a tick between bins. Text (bin edges, PSI) belongs in the report beside it.
    public func barChart(width: Int = 640, height: Int = 320) -> [UInt8] {
        var px = [UInt8](repeating: 255, count: width * height * 3)
        func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            for y in max(0, y0)..<min(height, y1) { for x in max(0, x0)..<min(width, x1) {
                let o = (y * width + x) * 3
                px[o] = rgb.0; px[o + 1] = rgb.1; px[o + 2] = rgb.2
            } }
        }
        let margin = 24, bins = max(reference.count, 1)
        let top = max(reference.max() ?? 0, current.max() ?? 0, 1e-6)
        let plotW = width - 2 * margin, plotH = height - 2 * margin, base = height - margin
        let group = plotW / bins
        for k in 0..<reference.count {
            let x = margin + k * group
            let bar = max(1, group * 2 / 5)
            let hr = Int(Float(plotH) * reference[k] / top), hc = Int(Float(plotH) * current[k] / top)
            fill(x + group / 10, base - hr, x + group / 10 + bar, base, (150, 150, 150))
            fill(x + group / 2, base - hc, x + group / 2 + bar, base, (200, 30, 40))
            fill(x, base, x + 1, base + 6, (0, 0, 0))
        }
        fill(margin, base, margin + bins * group + 1, base + 1, (0, 0, 0))
        fill(margin + bins * group, base, margin + bins * group + 1, base + 6, (0, 0, 0))
        return px
    }
}
