/// Why a graph could not be built from an edge list.
public enum GraphError: Error, CustomStringConvertible, Equatable {
    /// An edge endpoint outside `0..<nodes`.
    case nodeOutOfRange(edge: Int, endpoint: String, node: Int, nodes: Int)
    /// Source and target lists (or an edge tensor and the edge count) differ in length.
    case lengthMismatch(what: String, expected: Int, found: Int)
    /// More edges or nodes than 32-bit indices hold.
    case tooLarge(String)
    /// Segment offsets that do not start at 0, decrease, or do not end at the row count.
    case invalidSegments(String)

    public var description: String {
        switch self {
        case let .nodeOutOfRange(edge, endpoint, node, nodes): return "edge \(edge): \(endpoint) node \(node) is outside 0..<\(nodes)"
        case let .lengthMismatch(what, expected, found): return "\(what): expected \(expected), found \(found)"
        case let .tooLarge(what): return "graph too large: \(what)"
        case let .invalidSegments(what): return "invalid segments: \(what)"
        }
    }
}

/// A directed multigraph stored as compressed sparse rows by **target**: row `i` lists the edges
/// arriving at node `i`, which is exactly the sparse matrix `A[target, source]` of message passing
/// (`out = A · x` sums each node's incoming messages).
///
/// Duplicate edges and self-loops are kept (each occurrence is one entry, as in PyTorch Geometric's
/// `edge_index`). Within a row, entries keep the order of the edge list (a stable counting sort).
///
/// Edge-level tensors (`[edges, …]`: weights, scores, edge features) used with the kernels are in
/// **CSR order** — position `p` is the edge `edgeID[p]` of the original list; ``toCSROrder(_:)`` and
/// ``toEdgeOrder(_:)`` convert. The transpose (rows by source) is built at the same time, because
/// every backward pass needs it.
public struct CSRGraph: Sendable {
    /// Number of target nodes (rows).
    public let targetCount: Int
    /// Number of source nodes (columns); equal to `targetCount` for an ordinary graph.
    public let sourceCount: Int
    /// `rowStart[i]..<rowStart[i+1]` are the CSR positions of the edges into node `i`; `[targets + 1]`.
    public let rowStart: [Int32]
    /// Source node of each CSR position; `[edges]`.
    public let source: [Int32]
    /// Index in the original edge list of each CSR position; `[edges]`.
    public let edgeID: [Int32]
    /// Transposed rows: `reverseStart[j]..<reverseStart[j+1]` are the edges leaving source `j`; `[sources + 1]`.
    public let reverseStart: [Int32]
    /// Target node of each transposed position; `[edges]`.
    public let reverseTarget: [Int32]
    /// CSR position (in the by-target order) of each transposed position; `[edges]`.
    public let reversePosition: [Int32]

    /// Number of edges (non-zeros).
    public var edgeCount: Int { source.count }

    /// Builds the graph from an edge list `sources[e] → targets[e]`.
    ///
    /// - Parameters:
    ///   - nodes: node count (targets); `sourceNodes` defaults to the same (bipartite graphs differ).
    /// - Throws: ``GraphError`` for a node index out of range or lists of different length.
    public init(sources: [Int], targets: [Int], nodes: Int, sourceNodes: Int? = nil) throws {
        let ns = sourceNodes ?? nodes
        guard sources.count == targets.count else {
            throw GraphError.lengthMismatch(what: "edge targets", expected: sources.count, found: targets.count)
        }
        guard sources.count < Int(Int32.max), nodes < Int(Int32.max), ns < Int(Int32.max) else {
            throw GraphError.tooLarge("\(sources.count) edges, \(nodes) nodes (32-bit indices)")
        }
        for e in sources.indices {
            if sources[e] < 0 || sources[e] >= ns { throw GraphError.nodeOutOfRange(edge: e, endpoint: "source", node: sources[e], nodes: ns) }
            if targets[e] < 0 || targets[e] >= nodes { throw GraphError.nodeOutOfRange(edge: e, endpoint: "target", node: targets[e], nodes: nodes) }
        }
        targetCount = nodes
        sourceCount = ns
        let m = sources.count
        // Counting sort by target (stable), then by source for the transpose.
        var start = [Int32](repeating: 0, count: nodes + 1)
        for t in targets { start[t + 1] += 1 }
        for i in 0..<nodes { start[i + 1] += start[i] }
        var fill = start
        var src = [Int32](repeating: 0, count: m), ids = [Int32](repeating: 0, count: m)
        for e in 0..<m {
            let p = Int(fill[targets[e]]); fill[targets[e]] += 1
            src[p] = Int32(sources[e]); ids[p] = Int32(e)
        }
        var rstart = [Int32](repeating: 0, count: ns + 1)
        for s in src { rstart[Int(s) + 1] += 1 }
        for j in 0..<ns { rstart[j + 1] += rstart[j] }
        var rfill = rstart
        var rtarget = [Int32](repeating: 0, count: m), rpos = [Int32](repeating: 0, count: m)
        for i in 0..<nodes {
            for p in Int(start[i])..<Int(start[i + 1]) {
                let s = Int(src[p]); let q = Int(rfill[s]); rfill[s] += 1
                rtarget[q] = Int32(i); rpos[q] = Int32(p)
            }
        }
        rowStart = start; source = src; edgeID = ids
        reverseStart = rstart; reverseTarget = rtarget; reversePosition = rpos
    }

    /// Incoming edge count of every target node (duplicates and self-loops counted).
    public var inDegree: [Int] { (0..<targetCount).map { Int(rowStart[$0 + 1] - rowStart[$0]) } }
    /// Outgoing edge count of every source node.
    public var outDegree: [Int] { (0..<sourceCount).map { Int(reverseStart[$0 + 1] - reverseStart[$0]) } }

    /// Rows of an edge-list-ordered tensor `[edges, …]` permuted into CSR order.
    public func toCSROrder(_ t: Tensor) throws -> Tensor {
        try permuteRows(t, edgeID.map(Int.init))
    }

    /// Rows of a CSR-ordered tensor `[edges, …]` permuted back into edge-list order.
    public func toEdgeOrder(_ t: Tensor) throws -> Tensor {
        var inverse = [Int](repeating: 0, count: edgeCount)
        for (p, e) in edgeID.enumerated() { inverse[Int(e)] = p }
        return try permuteRows(t, inverse)
    }

    private func permuteRows(_ t: Tensor, _ from: [Int]) throws -> Tensor {
        guard t.rank >= 1, t.shape[0] == edgeCount else {
            throw GraphError.lengthMismatch(what: "edge tensor rows", expected: edgeCount, found: t.rank >= 1 ? t.shape[0] : 0)
        }
        let w = edgeCount == 0 ? 0 : t.count / edgeCount
        return Tensor(shape: t.shape) { out in
            t.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let o = out.baseAddress else { return }
                for (p, e) in from.enumerated() { (o + p * w).update(from: s + e * w, count: w) }
            }
        }
    }

    /// The segments of CSR positions per target node (for segment reductions over edge tensors).
    public var targetSegments: Segments { Segments(uncheckedOffsets: rowStart) }
}

/// Contiguous groups of rows: group `s` is rows `offsets[s]..<offsets[s+1]` (sorted segments, as
/// `torch_scatter.segment_csr`). Empty groups are allowed.
public struct Segments: Sendable {
    /// `[groups + 1]`, starting at 0, non-decreasing.
    public let offsets: [Int32]
    public var count: Int { offsets.count - 1 }
    /// Total number of rows covered.
    public var rowCount: Int { Int(offsets.last ?? 0) }

    init(uncheckedOffsets: [Int32]) { offsets = uncheckedOffsets }

    /// Segments from explicit offsets (validated).
    public init(offsets: [Int]) throws {
        guard let first = offsets.first, first == 0 else { throw GraphError.invalidSegments("offsets must start at 0") }
        for i in 1..<offsets.count where offsets[i] < offsets[i - 1] {
            throw GraphError.invalidSegments("offset \(offsets[i]) at \(i) is below \(offsets[i - 1])")
        }
        guard offsets.last! < Int(Int32.max) else { throw GraphError.tooLarge("\(offsets.last!) rows") }
        self.offsets = offsets.map { Int32($0) }
    }

    /// Segments from the group sizes.
    public init(counts: [Int]) throws {
        var o = [0]
        for c in counts {
            guard c >= 0 else { throw GraphError.invalidSegments("negative count \(c)") }
            o.append(o.last! + c)
        }
        try self.init(offsets: o)
    }

    /// Segments from a sorted group id per row (`ids[r]` ∈ `0..<groups`, non-decreasing).
    public init(sortedIDs ids: [Int], groups: Int) throws {
        var counts = [Int](repeating: 0, count: groups)
        for (r, g) in ids.enumerated() {
            guard g >= 0 && g < groups else { throw GraphError.invalidSegments("row \(r): group \(g) outside 0..<\(groups)") }
            if r > 0 && g < ids[r - 1] { throw GraphError.invalidSegments("row \(r): group ids are not sorted") }
            counts[g] += 1
        }
        try self.init(counts: counts)
    }
}
