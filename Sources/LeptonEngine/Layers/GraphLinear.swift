import Foundation

/// A directed multigraph in incoming-edge CSR form, the layout every message-passing layer
/// aggregates over: node `i` receives the edges `inStart[i]..<inStart[i+1]`, each from
/// `inSource[k]`, carrying original edge id `inEdge[k]` (to index edge features `[edges, d]`).
///
/// Duplicate edges and self-loops are kept: each occurrence is one message.
public struct MessagePassingGraph: Sendable {
    public let nodeCount: Int
    public let edgeCount: Int
    public let inStart: [Int32]
    public let inSource: [Int32]
    public let inEdge: [Int32]

    /// Builds the CSR from an edge list (`src[e] → dst[e]`) with a stable counting sort by target.
    public init(nodes: Int, src: [Int32], dst: [Int32]) {
        precondition(src.count == dst.count, "src and dst differ in length")
        nodeCount = nodes
        edgeCount = src.count
        var start = [Int32](repeating: 0, count: nodes + 1)
        for d in dst { precondition(d >= 0 && Int(d) < nodes, "edge target \(d) out of range"); start[Int(d) + 1] += 1 }
        for i in 0..<nodes { start[i + 1] += start[i] }
        var fill = start
        var source = [Int32](repeating: 0, count: src.count), edge = [Int32](repeating: 0, count: src.count)
        for e in 0..<src.count {
            precondition(src[e] >= 0 && Int(src[e]) < nodes, "edge source \(src[e]) out of range")
            let d = Int(dst[e]); let k = Int(fill[d]); fill[d] += 1
            source[k] = src[e]; edge[k] = Int32(e)
        }
        inStart = start; inSource = source; inEdge = edge
    }

    /// The same edges pointing the other way (messages flow from receiver to sender): used for
    /// reverse message passing and for the backward pass of an aggregation.
    public func reversed() -> MessagePassingGraph {
        var src = [Int32](repeating: 0, count: edgeCount), dst = [Int32](repeating: 0, count: edgeCount)
        for i in 0..<nodeCount {
            for k in Int(inStart[i])..<Int(inStart[i + 1]) {
                let e = Int(inEdge[k]); src[e] = Int32(i); dst[e] = inSource[k]
            }
        }
        return MessagePassingGraph(nodes: nodeCount, src: src, dst: dst)
    }

    /// Incoming edge count per node.
    public var inDegree: [Int] { (0..<nodeCount).map { Int(inStart[$0 + 1] - inStart[$0]) } }
}

/// Dense affine map `y = x·Wᵀ + b` with a hand-written backward pass, the building block of the
/// graph layers. `weight` is `[out, in]` (PyTorch `Linear` layout), `bias` `[out]`.
public struct GraphLinear: Sendable {
    public var weight: Tensor
    public var bias: Tensor?
    public var weightGrad: Tensor
    public var biasGrad: Tensor?
    var input: Tensor? = nil

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// Glorot-uniform weights, zero bias.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededGenerator) {
        let limit = (6 / Float(inFeatures + outFeatures)).squareRoot()
        weight = Tensor.randomUniform([outFeatures, inFeatures], low: -limit, high: limit, using: &rng)
        self.bias = bias ? Tensor.zeros([outFeatures]) : nil
        weightGrad = Tensor.zeros([outFeatures, inFeatures])
        biasGrad = bias ? Tensor.zeros([outFeatures]) : nil
    }

    /// `x` `[rows, in]` → `[rows, out]`; keeps `x` for `backward` when `training`.
    public mutating func forward(_ x: Tensor, training: Bool = true) -> Tensor {
        if training { input = x }
        return Self.apply(x, weight, bias)
    }

    /// `x·Wᵀ + b` without any state.
    public static func apply(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?) -> Tensor {
        let rows = x.shape[0], i = weight.shape[1], o = weight.shape[0]
        precondition(x.shape[1] == i, "GraphLinear expects \(i) inputs, got \(x.shape)")
        var y = Tensor(shape: [rows, o]) { yb in
            let yp = yb.baseAddress!
            if let b = bias {
                b.withUnsafeBufferPointer { bb in
                    let bp = bb.baseAddress!
                    for r in 0..<rows { (yp + r * o).update(from: bp, count: o) }
                }
            } else { yb.initialize(repeating: 0) }
        }
        if rows > 0 {
            x.withUnsafeBufferPointer { xb in weight.withUnsafeBufferPointer { wb in
                y.withUnsafeMutableBufferPointer { yb in
                    BLAS.sgemm(m: rows, n: o, k: i, a: xb.baseAddress!, lda: i, b: wb.baseAddress!, ldb: i, transB: true,
                               beta: 1, c: yb.baseAddress!, ldc: o)
                }
            }}
        }
        return y
    }

    /// Accumulates weight/bias gradients from `dy` `[rows, out]`; returns `dx` `[rows, in]`.
    public mutating func backward(_ dy: Tensor, needInputGrad: Bool = true) -> Tensor? {
        guard let x = input else { preconditionFailure("GraphLinear.backward before forward(training: true)") }
        let rows = x.shape[0], i = inFeatures, o = outFeatures
        if rows > 0 {
            dy.withUnsafeBufferPointer { db in x.withUnsafeBufferPointer { xb in
                weightGrad.withUnsafeMutableBufferPointer { gb in
                    BLAS.sgemm(m: o, n: i, k: rows, a: db.baseAddress!, lda: o, transA: true, b: xb.baseAddress!, ldb: i,
                               beta: 1, c: gb.baseAddress!, ldc: i)
                }
            }}
            if biasGrad != nil {
                dy.withUnsafeBufferPointer { db in biasGrad!.withUnsafeMutableBufferPointer { bg in
                    let dp = db.baseAddress!, gp = bg.baseAddress!
                    for r in 0..<rows { let row = dp + r * o; for c in 0..<o { gp[c] += row[c] } }
                }}
            }
        }
        guard needInputGrad else { return nil }
        var dx = Tensor.zeros([rows, i])
        if rows > 0 {
            dy.withUnsafeBufferPointer { db in weight.withUnsafeBufferPointer { wb in dx.withUnsafeMutableBufferPointer { xb in
                BLAS.sgemm(m: rows, n: i, k: o, a: db.baseAddress!, lda: o, b: wb.baseAddress!, ldb: i, c: xb.baseAddress!, ldc: i)
            }}}
        }
        return dx
    }

    /// Sets gradients to zero.
    public mutating func zeroGrad() {
        weightGrad = Tensor.zeros(weight.shape)
        if let b = bias { biasGrad = Tensor.zeros(b.shape) }
    }

    /// Calls `body(name, &parameter, gradient)` for every parameter (optimizers update in place).
    public mutating func visitParameters(prefix: String = "", _ body: (String, inout Tensor, Tensor) -> Void) {
        body(prefix + "weight", &weight, weightGrad)
        if bias != nil, let g = biasGrad { body(prefix + "bias", &bias!, g) }
    }

    /// Parameters and their gradients, named (`weight`, `bias`).
    public var parameters: [(String, Tensor, Tensor)] {
        var p = [("weight", weight, weightGrad)]
        if let b = bias, let g = biasGrad { p.append(("bias", b, g)) }
        return p
    }
}

/// Mean (or sum) of incoming rows: `out[i] = reduce_{k ∈ in(i)} x[inSource[k]]`, optionally with
/// edge features appended to every message (`[x_j ‖ e_ij]`). Nodes without incoming edges get 0.
enum GraphAggregate {
    static func mean(_ x: Tensor, edgeFeatures: Tensor?, graph g: MessagePassingGraph) -> Tensor {
        let n = g.nodeCount, d = x.shape[1], de = edgeFeatures?.shape[1] ?? 0, w = d + de
        var out = Tensor.zeros([n, w])
        x.withUnsafeBufferPointer { xb in
        out.withUnsafeMutableBufferPointer { ob in
        g.inStart.withUnsafeBufferPointer { st in g.inSource.withUnsafeBufferPointer { so in g.inEdge.withUnsafeBufferPointer { ed in
            nonisolated(unsafe) let xp = xb.baseAddress!, op = ob.baseAddress!
            nonisolated(unsafe) let stp = st.baseAddress!, sop = so.baseAddress!, edp = ed.baseAddress!
            nonisolated(unsafe) let ep: UnsafePointer<Float>? = edgeFeatures?.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }
            if ep == nil && d == 64 {
                // Common width: four SIMD16 accumulators stay in registers across the edges.
                parallelChunks(n, grain: 1024) { lo, hi in
                    for i in lo..<hi {
                        let k0 = Int(stp[i]), k1 = Int(stp[i + 1])
                        if k1 == k0 { continue }
                        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                        for k in k0..<k1 {
                            let s = UnsafeRawPointer(xp + Int(sop[k]) * 64)
                            a0 += s.loadUnaligned(as: SIMD16<Float>.self)
                            a1 += s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                            a2 += s.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                            a3 += s.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
                        }
                        let inv = 1 / Float(k1 - k0)
                        let o = UnsafeMutableRawPointer(op + i * 64)
                        o.storeBytes(of: a0 * inv, as: SIMD16<Float>.self)
                        o.storeBytes(of: a1 * inv, toByteOffset: 64, as: SIMD16<Float>.self)
                        o.storeBytes(of: a2 * inv, toByteOffset: 128, as: SIMD16<Float>.self)
                        o.storeBytes(of: a3 * inv, toByteOffset: 192, as: SIMD16<Float>.self)
                    }
                }
                return
            }
            parallelChunks(n, grain: 1024) { lo, hi in
                for i in lo..<hi {
                    let k0 = Int(stp[i]), k1 = Int(stp[i + 1])
                    if k1 == k0 { continue }
                    let o = op + i * w
                    for k in k0..<k1 {
                        let s = xp + Int(sop[k]) * d
                        for c in 0..<d { o[c] += s[c] }
                        if let ep { let e = ep + Int(edp[k]) * de; for c in 0..<de { o[d + c] += e[c] } }
                    }
                    let inv = 1 / Float(k1 - k0)
                    for c in 0..<w { o[c] *= inv }
                }
            }
        }}}}}
        return out
    }

    /// Backward of `mean`: scatters `dOut[i] / deg(i)` to the sources (via the reversed graph) and,
    /// when edge features were used, to the edge rows.
    static func meanBackward(_ dOut: Tensor, inputWidth d: Int, edgeWidth de: Int, graph g: MessagePassingGraph,
                             reversed r: MessagePassingGraph) -> (Tensor, Tensor?) {
        let n = g.nodeCount, w = d + de
        var dx = Tensor.zeros([n, d])
        var de_ = de > 0 ? Tensor.zeros([g.edgeCount, de]) : nil
        let invDeg = (0..<n).map { i -> Float in let k = g.inStart[i + 1] - g.inStart[i]; return k > 0 ? 1 / Float(k) : 0 }
        dOut.withUnsafeBufferPointer { db in dx.withUnsafeMutableBufferPointer { xb in
        r.inStart.withUnsafeBufferPointer { st in r.inSource.withUnsafeBufferPointer { so in
            nonisolated(unsafe) let dp = db.baseAddress!, xp = xb.baseAddress!, stp = st.baseAddress!, sop = so.baseAddress!
            invDeg.withUnsafeBufferPointer { ib in
                nonisolated(unsafe) let ip = ib.baseAddress!
                // In the reversed graph, node j "receives" from every i it sends to in g.
                parallelChunks(n, grain: 1024) { lo, hi in
                    for j in lo..<hi {
                        let o = xp + j * d
                        for k in Int(stp[j])..<Int(stp[j + 1]) {
                            let i = Int(sop[k]); let s = dp + i * w; let f = ip[i]
                            for c in 0..<d { o[c] += f * s[c] }
                        }
                    }
                }
            }
        }}}}
        if de > 0 {
            dOut.withUnsafeBufferPointer { db in de_!.withUnsafeMutableBufferPointer { eb in
                for i in 0..<n {
                    let f = invDeg[i]
                    for k in Int(g.inStart[i])..<Int(g.inStart[i + 1]) {
                        let e = Int(g.inEdge[k])
                        for c in 0..<de { eb[e * de + c] = f * db[i * w + d + c] }
                    }
                }
            }}
        }
        return (dx, de_)
    }
}
