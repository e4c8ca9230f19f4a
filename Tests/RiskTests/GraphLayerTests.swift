import XCTest
@testable import LeptonEngine
import LeptonTestSupport

/// The graph layers against dense references written independently with plain loops over the
/// edge list (not the CSR), and their backward passes against central finite differences.
final class GraphLayerTests: XCTestCase {
    // 4 nodes; a duplicate edge (0→1 twice), a self-loop (3→3), and node 3 without other inputs.
    let src: [Int32] = [0, 0, 2, 1, 3, 2]
    let dst: [Int32] = [1, 1, 1, 2, 3, 0]
    let n = 4

    func features(_ rows: Int, _ cols: Int, seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor.randomNormal([rows, cols], using: &rng)
    }

    func close(_ a: Tensor, _ b: [Float], tol: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a.scalars, b) { XCTAssertEqual(x, y, accuracy: tol * max(1, abs(y)), file: file, line: line) }
    }

    /// The engine's graph from an edge list (the layers' one graph type).
    func graph(_ nodes: Int, _ s: [Int32], _ t: [Int32]) -> CSRGraph {
        try! CSRGraph(sources: s.map(Int.init), targets: t.map(Int.init), nodes: nodes)
    }

    func testCSRKeepsDuplicatesAndSelfLoops() {
        let g = graph(n, src, dst)
        XCTAssertEqual(g.inDegree, [1, 3, 1, 1])
        XCTAssertEqual(g.outDegree, [2, 1, 2, 1])
    }

    func testSAGEMatchesDenseReference() {
        var rng = SeededGenerator(seed: 1)
        var layer = SAGEConv(3, 2, edgeFeatures: 2, rng: &rng)
        let x = features(n, 3, seed: 2), e = features(src.count, 2, seed: 3)
        let g = graph(n, src, dst)
        let out = layer.forward(x, graph: g, edges: try! g.toCSROrder(e))
        // Reference: mean over incoming edges of [x_src ‖ e], then the two affine maps.
        let X = x.scalars, E = e.scalars, WL = layer.linL.weight.scalars, BL = layer.linL.bias!.scalars, WR = layer.linR.weight.scalars
        var ref = [Float]()
        for i in 0..<n {
            var agg = [Float](repeating: 0, count: 5); var k: Float = 0
            for (q, d) in dst.enumerated() where Int(d) == i {
                for c in 0..<3 { agg[c] += X[Int(src[q]) * 3 + c] }
                for c in 0..<2 { agg[3 + c] += E[q * 2 + c] }
                k += 1
            }
            if k > 0 { agg = agg.map { $0 / k } }
            for o in 0..<2 {
                var v = BL[o]
                for c in 0..<5 { v += WL[o * 5 + c] * agg[c] }
                for c in 0..<3 { v += WR[o * 3 + c] * X[i * 3 + c] }
                ref.append(v)
            }
        }
        close(out, ref)
    }

    func testGCNMatchesDenseReference() {
        var rng = SeededGenerator(seed: 4)
        var layer = GCNConv(3, 2, rng: &rng)
        layer.bias = Tensor(shape: [2], scalars: [0.5, -0.25])
        let x = features(n, 3, seed: 5)
        let out = layer.forward(x, graph: graph(n, src, dst))
        // Dense Â: counts of non-self edges j→i plus the identity; deg = row sums (incoming).
        var A = [[Float]](repeating: [Float](repeating: 0, count: n), count: n)
        for (s, d) in zip(src, dst) where s != d { A[Int(d)][Int(s)] += 1 }
        for i in 0..<n { A[i][i] = 1 }
        let deg = A.map { $0.reduce(0, +) }
        XCTAssertEqual(deg, [2, 4, 2, 1])
        let X = x.scalars, W = layer.lin.weight.scalars
        var ref = [Float]()
        for i in 0..<n { for o in 0..<2 {
            var v: Float = o == 0 ? 0.5 : -0.25
            for j in 0..<n where A[i][j] != 0 {
                var h: Float = 0
                for c in 0..<3 { h += W[o * 3 + c] * X[j * 3 + c] }
                v += A[i][j] / (deg[i] * deg[j]).squareRoot() * h
            }
            ref.append(v)
        }}
        close(out, ref)
    }

    func testGATMatchesReference() {
        var rng = SeededGenerator(seed: 6)
        var layer = GATConv(3, channels: 2, heads: 2, edgeFeatures: 2, rng: &rng)
        let x = features(n, 3, seed: 7), e = features(src.count, 2, seed: 8)
        let g = graph(n, src, dst)
        let out = layer.forward(x, graph: g, edges: try! g.toCSROrder(e))
        let X = x.scalars, E = e.scalars, W = layer.lin.weight.scalars, WE = layer.linEdge!.weight.scalars
        let aS = layer.attSrc.scalars, aD = layer.attDst.scalars, aE = layer.attEdge!.scalars
        func h(_ j: Int, _ k: Int) -> Float { var v: Float = 0; for c in 0..<3 { v += W[k * 3 + c] * X[j * 3 + c] }; return v }
        func he(_ q: Int, _ k: Int) -> Float { var v: Float = 0; for c in 0..<2 { v += WE[k * 2 + c] * E[q * 2 + c] }; return v }
        func lrelu(_ v: Float) -> Float { v > 0 ? v : 0.2 * v }
        var ref = [Float](repeating: 0, count: n * 4)
        for i in 0..<n { for hd in 0..<2 {
            // Entries: (source, edge or -1 for the added self-loop); existing self-loops dropped.
            var entries: [(Int, Int)] = [(i, -1)]
            for (q, d) in dst.enumerated() where Int(d) == i && Int(src[q]) != i { entries.append((Int(src[q]), q)) }
            let logits = entries.map { (j, q) -> Float in
                var z: Float = 0
                for c in 0..<2 { z += aS[hd * 2 + c] * h(j, hd * 2 + c) + aD[hd * 2 + c] * h(i, hd * 2 + c) }
                if q >= 0 { for c in 0..<2 { z += aE[hd * 2 + c] * he(q, hd * 2 + c) } }
                return lrelu(z)
            }
            let m = logits.max()!
            let w = logits.map { expf($0 - m) }, s = w.reduce(0, +)
            for (k, (j, _)) in entries.enumerated() { for c in 0..<2 { ref[i * 4 + hd * 2 + c] += w[k] / s * h(j, hd * 2 + c) } }
        }}
        close(out, ref)
    }

    /// Loss = Σ out ⊙ R; compares d loss / d x (every entry) and three weight entries with the
    /// shared central-difference checker (step 1e-2, 2e-3 + 1e-2·|numeric|).
    func gradientCheck(forward: (inout Tensor, Tensor) -> Tensor, backward: (Tensor) -> Tensor,
                       x: Tensor, weight: Tensor, weightGrad: () -> Tensor, outShape: [Int], file: StaticString = #filePath, line: UInt = #line) {
        var w = weight
        let r = features(outShape[0], outShape[1], seed: 99)
        _ = forward(&w, x)
        let dx = backward(r)
        let dw = weightGrad()
        let checker = GradientChecker()
        let picks = [0, weight.count / 2, weight.count - 1]
        let comparisons = checker.compare([("x", x)], analytic: [dx]) { p in
            var w = weight; return GradientChecker.weightedSum(forward(&w, p[0]), r)
        } + checker.compare([("weight", weight)], analytic: [dw], indices: { _ in picks }) { p in
            var w = p[0]; return GradientChecker.weightedSum(forward(&w, x), r)
        }
        XCTAssertNil(checker.failure(comparisons), file: file, line: line)
    }

    func testSAGEGradients() {
        var rng = SeededGenerator(seed: 10)
        var layer = SAGEConv(3, 2, edgeFeatures: 2, rng: &rng)
        let g = graph(n, src, dst)
        let x = features(n, 3, seed: 11), e = try! g.toCSROrder(features(src.count, 2, seed: 12))
        gradientCheck(forward: { w, x in layer.linL.weight = w; return layer.forward(x, graph: g, edges: e) },
                      backward: { d in layer.zeroGrad(); return layer.backward(d, graph: g).0 },
                      x: x, weight: layer.linL.weight, weightGrad: { layer.linL.weightGrad }, outShape: [n, 2])
    }

    func testGCNGradients() {
        var rng = SeededGenerator(seed: 13)
        var layer = GCNConv(3, 2, rng: &rng)
        let g = graph(n, src, dst)
        gradientCheck(forward: { w, x in layer.lin.weight = w; return layer.forward(x, graph: g) },
                      backward: { d in layer.zeroGrad(); return layer.backward(d, graph: g) },
                      x: features(n, 3, seed: 14), weight: layer.lin.weight, weightGrad: { layer.lin.weightGrad }, outShape: [n, 2])
    }

    func testGATGradients() {
        var rng = SeededGenerator(seed: 15)
        var layer = GATConv(3, channels: 2, heads: 2, edgeFeatures: 2, rng: &rng)
        let g = graph(n, src, dst)
        let e = try! g.toCSROrder(features(src.count, 2, seed: 16))
        gradientCheck(forward: { w, x in layer.attSrc = w; return layer.forward(x, graph: g, edges: e) },
                      backward: { d in layer.zeroGrad(); return layer.backward(d, graph: g).0 },
                      x: features(n, 3, seed: 17), weight: layer.attSrc, weightGrad: { layer.attSrcGrad }, outShape: [n, 4])
        gradientCheck(forward: { w, x in layer.lin.weight = w; return layer.forward(x, graph: g, edges: e) },
                      backward: { d in layer.zeroGrad(); return layer.backward(d, graph: g).0 },
                      x: features(n, 3, seed: 18), weight: layer.lin.weight, weightGrad: { layer.lin.weightGrad }, outShape: [n, 4])
    }
}

extension GraphLayerTests {
    /// A narrowing layer without edge features projects before aggregating: same function.
    func testSAGEProjectFirstMatchesDenseReference() {
        var rng = SeededGenerator(seed: 21)
        var layer = SAGEConv(5, 2, rng: &rng)
        XCTAssertTrue(layer.projectsFirst)
        layer.linL.bias = Tensor(shape: [2], scalars: [0.3, -0.7])
        // Node 4 has no incoming edge: its output is bias + lin_r(x_4).
        let g = graph(5, src, dst)
        let x = features(5, 5, seed: 22)
        let out = layer.forward(x, graph: g)
        let X = x.scalars, WL = layer.linL.weight.scalars, WR = layer.linR.weight.scalars
        var ref = [Float]()
        for i in 0..<5 {
            var agg = [Float](repeating: 0, count: 5); var k: Float = 0
            for (q, d) in dst.enumerated() where Int(d) == i { for c in 0..<5 { agg[c] += X[Int(src[q]) * 5 + c] }; k += 1 }
            if k > 0 { agg = agg.map { $0 / k } }
            for o in 0..<2 {
                var v: Float = o == 0 ? 0.3 : -0.7
                for c in 0..<5 { v += WL[o * 5 + c] * agg[c] + WR[o * 5 + c] * X[i * 5 + c] }
                ref.append(v)
            }
        }
        close(out, ref)
        gradientCheck(forward: { w, x in layer.linL.weight = w; return layer.forward(x, graph: g) },
                      backward: { d in layer.zeroGrad(); return layer.backward(d, graph: g).0 },
                      x: x, weight: layer.linL.weight, weightGrad: { layer.linL.weightGrad }, outShape: [5, 2])
    }

    // MARK: Fused inference kernels

    /// One SAGE layer by plain loops over the edge list: `act(mean_{j→i} x_j·W_lᵀ + b + x_i·W_rᵀ)`.
    func sageReference(_ X: [Float], d: Int, src: [Int32], dst: [Int32], nodes: Int,
                       wl: [Float], b: [Float], wr: [Float], o: Int, relu: Bool) -> [Float] {
        var agg = [Float](repeating: 0, count: nodes * d), deg = [Float](repeating: 0, count: nodes)
        for (q, t) in dst.enumerated() {
            let i = Int(t), j = Int(src[q]); deg[i] += 1
            for c in 0..<d { agg[i * d + c] += X[j * d + c] }
        }
        var out = [Float](repeating: 0, count: nodes * o)
        for i in 0..<nodes {
            for r in 0..<o {
                var v = b[r]
                for c in 0..<d {
                    let m = deg[i] > 0 ? agg[i * d + c] / deg[i] : 0
                    v += wl[r * d + c] * m + wr[r * d + c] * X[i * d + c]
                }
                out[i * o + r] = relu ? max(v, 0) : v
            }
        }
        return out
    }

    /// A random multigraph over more nodes than one kernel block (256), with duplicate edges,
    /// self-loops and nodes without incoming edges.
    func randomGraph(nodes: Int, edges: Int, seed: UInt64) -> ([Int32], [Int32]) {
        var rng = SeededGenerator(seed: seed)
        var s = [Int32](), t = [Int32]()
        for _ in 0..<edges {
            let a = Int32(rng.next() % UInt64(nodes)), b = Int32(rng.next() % UInt64(nodes - 37))  // the last 37 receive nothing
            s.append(a); t.append(b)
            if rng.next() % 10 == 0 { s.append(a); t.append(b) }          // duplicate
            if rng.next() % 20 == 0 { s.append(b); t.append(b) }          // self-loop
        }
        return (s, t)
    }

    func testFusedSAGEInferenceMatchesLoopReference() {
        let saved = EngineThreads.count
        EngineThreads.set(2)
        defer { EngineThreads.set(saved) }
        let nodes = 900
        let (s, t) = randomGraph(nodes: nodes, edges: 6000, seed: 5)
        let g = graph(nodes, s, t)
        // (in, out): 64-wide SIMD gather with aggregate-first; generic widths; project-first with
        // the two-class fast path and with a general width.
        for (d, o) in [(64, 64), (5, 7), (64, 2), (6, 3)] {
            var rng = SeededGenerator(seed: UInt64(d * 100 + o))
            var layer = SAGEConv(d, o, rng: &rng)
            layer.linL.bias = Tensor.randomNormal([o], using: &rng)
            let x = features(nodes, d, seed: UInt64(d + o))
            for relu in [false, true] {
                let ref = sageReference(x.scalars, d: d, src: s, dst: t, nodes: nodes, wl: layer.linL.weight.scalars,
                                        b: layer.linL.bias!.scalars, wr: layer.linR.weight.scalars, o: o, relu: relu)
                close(layer.infer(x, graph: g, relu: relu), ref)
            }
            // The training path (kept state, separate GEMMs) agrees as well.
            close(layer.forward(x, graph: g, training: true),
                  sageReference(x.scalars, d: d, src: s, dst: t, nodes: nodes, wl: layer.linL.weight.scalars,
                                b: layer.linL.bias!.scalars, wr: layer.linR.weight.scalars, o: o, relu: false))
        }
    }

    func testFusedTwoLayerInferenceMatchesLoopReference() {
        let saved = EngineThreads.count
        EngineThreads.set(2)
        defer { EngineThreads.set(saved) }
        let nodes = 700
        let (s, t) = randomGraph(nodes: nodes, edges: 5000, seed: 9)
        let g = graph(nodes, s, t)
        for (d, h, c) in [(64, 64, 2), (8, 16, 3)] {
            var rng = SeededGenerator(seed: UInt64(d + h + c))
            var l1 = SAGEConv(d, h, rng: &rng), l2 = SAGEConv(h, c, rng: &rng)
            l1.linL.bias = Tensor.randomNormal([h], using: &rng); l2.linL.bias = Tensor.randomNormal([c], using: &rng)
            let x = features(nodes, d, seed: 77)
            let hid = sageReference(x.scalars, d: d, src: s, dst: t, nodes: nodes, wl: l1.linL.weight.scalars,
                                    b: l1.linL.bias!.scalars, wr: l1.linR.weight.scalars, o: h, relu: true)
            let ref = sageReference(hid, d: h, src: s, dst: t, nodes: nodes, wl: l2.linL.weight.scalars,
                                    b: l2.linL.bias!.scalars, wr: l2.linR.weight.scalars, o: c, relu: false)
            let out = GraphSAGEFused.forwardTwoLayers(x, graph: g, first: (l1.linL.weight, l1.linL.bias, l1.linR.weight),
                                                      second: (l2.linL.weight, l2.linL.bias, l2.linR.weight))
            XCTAssertEqual(out.shape, [nodes, c])
            close(out, ref)
        }
    }
}
