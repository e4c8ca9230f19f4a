import Foundation

/// A graph in the generic CSV form: a nodes file (`id, f0, f1, …`), an edges file
/// (`src, dst[, relation][, time][, amount]…`, or `edge_id, src, dst, …` when the first column is
/// an edge id) and a labels file (`id, label[, split]`).
///
/// Labels name nodes when a nodes file is given; without one, and when the edges file starts
/// with an id column, they name edges (edge classification, e.g. reviews between users and products).
public struct NodeGraph {
    public var nodeIDs = ByteInterner(capacity: 4096)
    /// `[nodes, featureCount]` row-major (zero rows for nodes that appear only in edges).
    public var features: [Float] = []
    public var featureCount = 0
    public var featureNames: [String] = []
    public var src: [Int32] = [], dst: [Int32] = []
    /// Relation index of each edge (0 when the file has no relation column).
    public var relation: [UInt8] = []
    public var relationNames: [String] = ["edge"]
    /// Edge ids (first column) when the edges file has one.
    public var edgeIDs: ByteInterner? = nil
    /// Numeric edge columns `[edges, edgeFeatureCount]` (other than endpoints and relation).
    public var edgeFeatures: [Float] = []
    public var edgeFeatureCount = 0
    public var edgeFeatureNames: [String] = []
    /// Labelled items (node or edge index) with label 0/1 and split name ("" when absent).
    public var labelled: [(item: Int, label: Int8, split: String)] = []
    /// True when labels name edges.
    public var labelsOnEdges = false
    public var skips = SkipReport()

    public var nodeCount: Int { nodeIDs.count }
    public var edgeCount: Int { src.count }
    /// Items that can be scored: nodes, or edges in edge-label mode.
    public var itemCount: Int { labelsOnEdges ? edgeCount : nodeCount }
    public func itemName(_ i: Int) -> String { labelsOnEdges ? (edgeIDs?.key(i) ?? String(i)) : nodeIDs.key(i) }

    public init() {}

    /// Loads the three files. `labels` may be nil when scoring.
    /// - Throws: `RiskError` for unreadable/empty files, bad headers, every row malformed.
    public static func load(nodes: String?, edges: String, labels: String?) throws -> NodeGraph {
        var g = NodeGraph()
        if let n = nodes { try g.loadNodes(n) }
        try g.loadEdges(edges, hasNodesFile: nodes != nil)
        if g.featureCount > 0 && g.features.count < g.nodeCount * g.featureCount {
            g.features += [Float](repeating: 0, count: g.nodeCount * g.featureCount - g.features.count)
        }
        if let l = labels { try g.loadLabels(l) }
        return g
    }

    mutating func loadNodes(_ path: String) throws {
        var header: [String]? = nil
        var kept = 0, seen = 0
        try CSVStream(path: path, maxFields: 4096).forEachRow { r in
            if header == nil {
                header = (0..<r.count).map { r.string($0) }
                featureCount = r.count - 1
                featureNames = Array(header!.dropFirst())
                if featureCount < 1 { throw RiskError.badHeader(path: path, expected: "id,f0,f1,…", found: header!.joined(separator: ",")) }
                return
            }
            seen += 1
            guard r.count == featureCount + 1 else {
                skips.add("wrong number of columns", line: r.line, path: path, detail: "\(r.count) instead of \(featureCount + 1)"); return
            }
            var row = [Float](repeating: 0, count: featureCount)
            for f in 0..<featureCount {
                guard let v = r.double(f + 1), Float(v).isFinite else {  // 1e39 is a finite Double but +inf as Float
                    skips.add("non-numeric feature", line: r.line, path: path, detail: "column \(f + 2): '\(r.string(f + 1))'"); return
                }
                row[f] = Float(v)
            }
            let (p, n) = r.bytes(0)
            guard n > 0 else { skips.add("missing node id", line: r.line, path: path); return }
            let before = nodeIDs.count
            let id = Int(nodeIDs.intern(p, n))
            if id < before { skips.add("duplicate node id", line: r.line, path: path, detail: r.string(0)); return }
            features.append(contentsOf: row)
            kept += 1
        }
        if header == nil || seen == 0 { throw RiskError.empty(path: path) }
        if kept == 0 { throw RiskError.noUsableRows(path: path, skipped: skips.total, firstReason: skips.examples.first ?? "") }
    }

    mutating func loadEdges(_ path: String, hasNodesFile: Bool) throws {
        var header: [String]? = nil
        var srcCol = 0, dstCol = 1, idCol = -1, relCol = -1
        var featureCols: [Int] = []
        var relations = ByteInterner(capacity: 16)
        var seen = 0
        try CSVStream(path: path, maxFields: 1024).forEachRow { r in
            if header == nil {
                let h = (0..<r.count).map { r.string($0).trimmingCharacters(in: .whitespaces).lowercased() }
                header = h
                if let s = h.firstIndex(where: { ["src", "source", "from", "u"].contains($0) }),
                   let d = h.firstIndex(where: { ["dst", "target", "to", "v"].contains($0) }) {
                    srcCol = s; dstCol = d
                } else if h.count >= 3 && h[0].hasSuffix("id") {
                    idCol = 0; srcCol = 1; dstCol = 2
                } else if h.count < 2 {
                    throw RiskError.badHeader(path: path, expected: "src,dst[,relation,time,amount]", found: h.joined(separator: ","))
                }
                relCol = h.firstIndex(where: { $0 == "relation" || $0 == "type" || $0 == "etype" }) ?? -1
                featureCols = (0..<h.count).filter { $0 != srcCol && $0 != dstCol && $0 != idCol && $0 != relCol }
                edgeFeatureCount = featureCols.count
                edgeFeatureNames = featureCols.map { h[$0] }
                if idCol >= 0 { edgeIDs = ByteInterner(capacity: 1 << 16) }
                relationNames = []
                return
            }
            seen += 1
            guard r.count == header!.count else {
                skips.add("wrong number of columns", line: r.line, path: path, detail: "\(r.count) instead of \(header!.count)"); return
            }
            var feats = [Float](repeating: 0, count: featureCols.count)
            for (q, c) in featureCols.enumerated() {
                guard let v = r.double(c), Float(v).isFinite else {
                    skips.add("non-numeric edge value", line: r.line, path: path, detail: "column \(c + 1): '\(r.string(c))'"); return
                }
                feats[q] = Float(v)
            }
            let (sp, sn) = r.bytes(srcCol), (dp, dn) = r.bytes(dstCol)
            guard sn > 0, dn > 0 else { skips.add("missing endpoint", line: r.line, path: path); return }
            if hasNodesFile {
                guard let a = nodeIDs.lookup(sp, sn), let b = nodeIDs.lookup(dp, dn) else {
                    skips.add("edge to unknown node", line: r.line, path: path, detail: "\(r.string(srcCol)) → \(r.string(dstCol))"); return
                }
                src.append(a); dst.append(b)
            } else {
                src.append(nodeIDs.intern(sp, sn)); dst.append(nodeIDs.intern(dp, dn))
            }
            if relCol >= 0 {
                let (rp, rn) = r.bytes(relCol)
                let before = relations.count
                let k = relations.intern(rp, rn)
                if relations.count > before { relationNames.append(r.string(relCol)) }
                relation.append(UInt8(min(Int(k), 255)))
            } else { relation.append(0) }
            if idCol >= 0 {
                let (ip, in_) = r.bytes(idCol)
                _ = edgeIDs!.intern(ip, in_)
            }
            edgeFeatures.append(contentsOf: feats)
        }
        if header == nil || seen == 0 { throw RiskError.empty(path: path) }
        if src.isEmpty { throw RiskError.noUsableRows(path: path, skipped: skips.total, firstReason: skips.examples.first ?? "") }
        if relationNames.isEmpty { relationNames = ["edge"] }
        if relationNames.count > 255 { throw RiskError.badArgument("\(path): more than 255 relation types") }
    }

    mutating func loadLabels(_ path: String) throws {
        var header = true
        var seen = 0
        labelsOnEdges = featureCount == 0 && edgeIDs != nil
        try CSVStream(path: path).forEachRow { r in
            if header { header = false; return }
            seen += 1
            guard r.count >= 2 else { skips.add("wrong number of columns", line: r.line, path: path); return }
            let (p, n) = r.bytes(0)
            let item: Int32?
            if labelsOnEdges { item = edgeIDs!.lookup(p, n) } else { item = nodeIDs.lookup(p, n) }
            guard let it = item else { skips.add("label for unknown id", line: r.line, path: path, detail: r.string(0)); return }
            let lab: Int8
            if r.equals(1, "1") { lab = 1 } else if r.equals(1, "0") { lab = 0 } else if r.length(1) == 0 { return } else {
                skips.add("bad label", line: r.line, path: path, detail: r.string(1)); return
            }
            labelled.append((Int(it), lab, r.count >= 3 ? r.string(2) : ""))
        }
        if header || seen == 0 { throw RiskError.empty(path: path) }
        if labelled.isEmpty { throw RiskError.noUsableRows(path: path, skipped: skips.total, firstReason: skips.examples.first ?? "") }
    }
}
