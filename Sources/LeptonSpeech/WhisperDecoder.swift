import Foundation
import LeptonEngine

/// Whisper's text decoder with a key/value cache, for up to `maxRows` hypotheses (beams) that
/// advance together, one position per ``step(tokens:position:logits:)``.
///
/// All buffers are allocated once: the self-attention cache `[layer][row][448][384]` for keys
/// and values, the cross-attention keys|values of the current window `[layer][1500][768]`
/// (computed once per window by ``setEncoderOutput(_:)`` and shared by every row), and the
/// per-step activations. The output projection is the tied embedding matrix: one GEMM
/// `[rows, 384] × [51864, 384]ᵀ` per step for all rows.
public final class WhisperDecoder {
    public let model: WhisperModel
    public let maxRows: Int
    private let d = WhisperModel.dModel
    private let maxPositions = WhisperModel.decoderPositions
    private let sources = WhisperModel.encoderPositions

    private let selfKeys: [UnsafeMutablePointer<Float>]    // per layer [maxRows, 448, 384]
    private let selfValues: [UnsafeMutablePointer<Float>]
    private let crossKV: [UnsafeMutablePointer<Float>]     // per layer [1500, 768] (K part unused after re-lay)
    /// Cross-attention keys of the current window per layer and head, `[1500 keys, 64]` in panels
    /// of 16 keys, so that a query's scores are broadcast-FMAs with 16 keys per pair of SIMD8 lanes.
    private var crossKeys: [[PanelMatrix<Float>]] = []
    private let x: UnsafeMutablePointer<Float>             // [rows, 384]
    private let normed: UnsafeMutablePointer<Float>        // [rows, 384]
    private let qkv: UnsafeMutablePointer<Float>           // [rows, 1152]
    private let context: UnsafeMutablePointer<Float>       // [rows, 384]
    private let hidden: UnsafeMutablePointer<Float>        // [rows, 1536]
    private let scores: UnsafeMutablePointer<Float>        // [rows, 1500]
    private let gatherScratch: UnsafeMutablePointer<Float> // [maxRows, 448, 384]

    /// Steps run by this decoder, and rows advanced over all of them (benchmark statistics).
    public private(set) var stepsRun = 0, rowsRun = 0

    /// Where a step copies row 0's cross-attention scores (`q·k/√64`, before the softmax) of the
    /// heads that ``captureSlots`` names: slot `k` at `capture + k·1500`. Nil (the default) for
    /// decoding; set by the word alignment (``alignment(tokens:heads:)``).
    var capture: UnsafeMutablePointer<Float>?
    /// `layer · heads + head` → slot in ``capture``, or −1.
    var captureSlots: [Int] = []

    public init(model: WhisperModel, maxRows: Int = 5) {
        self.model = model
        self.maxRows = maxRows
        let d = WhisperModel.dModel, sources = WhisperModel.encoderPositions
        let maxPositions = WhisperModel.decoderPositions
        let cache = maxRows * maxPositions * d
        selfKeys = (0..<WhisperModel.decoderLayers).map { _ in .allocate(capacity: cache) }
        selfValues = (0..<WhisperModel.decoderLayers).map { _ in .allocate(capacity: cache) }
        crossKV = (0..<WhisperModel.decoderLayers).map { _ in .allocate(capacity: sources * 2 * d) }
        x = .allocate(capacity: maxRows * d)
        normed = .allocate(capacity: maxRows * d)
        qkv = .allocate(capacity: maxRows * 3 * d)
        context = .allocate(capacity: maxRows * d)
        hidden = .allocate(capacity: maxRows * WhisperModel.ffnDim)
        scores = .allocate(capacity: maxRows * WhisperModel.heads * max(sources, maxPositions))
        gatherScratch = .allocate(capacity: cache)
    }

    deinit {
        for p in selfKeys + selfValues + crossKV { p.deallocate() }
        for p in [x, normed, qkv, context, hidden, scores, gatherScratch] { p.deallocate() }
    }

    /// Computes the cross-attention keys and values of a new window from the encoder output `[1500, 384]`.
    public func setEncoderOutput(_ encoded: UnsafePointer<Float>) {
        let hd = WhisperModel.headDim
        for (l, layer) in model.decoderLayers.enumerated() {
            WhisperKernels.linear(encoded, layer.crossKV, rows: sources, into: crossKV[l])
            // Head h's keys are columns 64h ..< 64h+64 of the K half of each row; the panels of
            // the previous window are overwritten in place.
            if crossKeys.count == l {
                crossKeys.append((0..<WhisperModel.heads).map { h in
                    PanelMatrix<Float>(rowMajor: crossKV[l] + h * hd, outputs: sources, inputs: hd, rowStride: 2 * d)
                })
            } else {
                for h in 0..<WhisperModel.heads { crossKeys[l][h].repack(rowMajor: crossKV[l] + h * hd, rowStride: 2 * d) }
            }
        }
    }

    /// Advances every row by one token at `position` (the same for all rows).
    ///
    /// - Parameters:
    ///   - tokens: one input token per row (`tokens.count` rows ≤ `maxRows`).
    ///   - position: 0-based position of these tokens in the sequence (< 448).
    ///   - logits: `[rows, 51864]` output, or `nil` to skip the output projection (prompt tokens).
    public func step(tokens: [Int], position: Int, logits: UnsafeMutablePointer<Float>?) {
        let rows = tokens.count
        stepsRun += 1
        rowsRun += rows
        precondition(rows >= 1 && rows <= maxRows && position < maxPositions)
        let hd = WhisperModel.headDim, heads = WhisperModel.heads
        let scale = 1 / Float(hd).squareRoot()
        for (r, t) in tokens.enumerated() {
            let p = model.decoderPositions + position * d, xr = x + r * d
            model.embeddings.row(t, into: xr)
            for j in 0..<d { xr[j] += p[j] }
        }
        for (l, layer) in model.decoderLayers.enumerated() {
            // Causal self-attention over the cache.
            WhisperKernels.layerNorm(x, normed, layer.selfNorm, rows: rows)
            WhisperKernels.halfLinear(normed, layer.selfQKV, rows: rows, into: qkv)
            let keys = selfKeys[l], values = selfValues[l]
            for r in 0..<rows {
                let base = (r * maxPositions + position) * d
                (keys + base).update(from: qkv + r * 3 * d + d, count: d)
                (values + base).update(from: qkv + r * 3 * d + 2 * d, count: d)
            }
            let n = position + 1
            for r in 0..<rows {
                let rowKeys = keys + r * maxPositions * d, rowValues = values + r * maxPositions * d
                for h in 0..<heads {
                    let q = qkv + r * 3 * d + h * hd
                    let s = scores
                    for j in 0..<n { s[j] = Self.dot64(q, rowKeys + j * d + h * hd) * scale }
                    VectorMath.softmax(s, into: s, n)
                    let out = context + r * d + h * hd
                    out.update(repeating: 0, count: hd)
                    for j in 0..<n { Self.axpy64(s[j], rowValues + j * d + h * hd, out) }
                }
            }
            WhisperKernels.halfLinear(context, layer.selfOut, rows: rows, into: x, accumulate: true)

            // Cross-attention to the window's encoder output.
            WhisperKernels.layerNorm(x, normed, layer.crossNorm, rows: rows)
            WhisperKernels.halfLinear(normed, layer.crossQuery, rows: rows, into: qkv)
            crossAttention(kv: crossKV[l], keys: crossKeys[l], rows: rows, scale: scale, layer: l)
            WhisperKernels.halfLinear(context, layer.crossOut, rows: rows, into: x, accumulate: true)

            // Feed-forward.
            WhisperKernels.layerNorm(x, normed, layer.ffnNorm, rows: rows)
            WhisperKernels.halfLinear(normed, layer.ffnIn, rows: rows, into: hidden, gelu: true)
            WhisperKernels.halfLinear(hidden, layer.ffnOut, rows: rows, into: x, accumulate: true)
        }
        guard let logits else { return }
        WhisperKernels.layerNorm(x, normed, model.decoderNorm, rows: rows)
        Self.projectOutput(normed, rows: rows, embeddings: model.embeddings, into: logits)
    }

    /// Cross-attention of `rows` queries (in `qkv`, stride 384) over the window's keys (panels)
    /// and values (`kv` columns 384…767). One task per head: scores `[rows, 1500]` as a small
    /// GEMM over the key panels, row softmax, then the weighted values. Output into `context`.
    private func crossAttention(kv: UnsafeMutablePointer<Float>, keys: [PanelMatrix<Float>], rows: Int, scale: Float, layer: Int) {
        let hd = WhisperModel.headDim, heads = WhisperModel.heads, d = self.d, n = sources
        nonisolated(unsafe) let q = qkv, context = context, scores = scores, kv = kv, capture = capture
        let slots = capture == nil ? [] : Array(captureSlots[(layer * heads)..<((layer + 1) * heads)])
        WhisperKernels.forEachTask(heads) { task in
            for h in task..<(task + 1) {
                let s = scores + h * rows * n
                // Scores `scale · q·k`: the queries are scaled first, which is exact (scale = 1/8).
                for r in 0..<rows { for c in 0..<hd { q[r * d + h * hd + c] *= scale } }
                keys[h].multiply(q + h * hd, rows: rows, ldx: d, panelRange: 0..<keys[h].panels, into: s, ldy: n,
                                 bias: nil, accumulate: false)
                if let capture, slots[h] >= 0 { (capture + slots[h] * n).update(from: s, count: n) }
                // Unnormalised softmax; each output row is divided by its sum at the end.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { inverse in
                    for r in 0..<rows { inverse[r] = 1 / VectorMath.expShifted(s + r * n, into: s + r * n, n) }
                    // Weighted values, two query rows × 32 channels at a time: each value vector
                    // loaded serves two rows (8 accumulators, 4 value vectors in registers).
                    var r = 0
                    while r < rows {
                        let pair = r + 1 < rows
                        let p0 = s + r * n, p1 = s + (pair ? r + 1 : r) * n
                        for half in 0..<2 {
                            let v0 = kv + d + h * hd + half * 32
                            typealias V = SIMD8<Float>
                            var a0 = V(repeating: 0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0
                            for j in 0..<n {
                                let v = UnsafeRawPointer(v0 + j * 2 * d)
                                let w0 = v.loadUnaligned(as: V.self), w1 = (v + 32).loadUnaligned(as: V.self)
                                let w2 = (v + 64).loadUnaligned(as: V.self), w3 = (v + 96).loadUnaligned(as: V.self)
                                let x0 = V(repeating: p0[j]), x1 = V(repeating: p1[j])
                                a0.addProduct(x0, w0); a1.addProduct(x0, w1); a2.addProduct(x0, w2); a3.addProduct(x0, w3)
                                b0.addProduct(x1, w0); b1.addProduct(x1, w1); b2.addProduct(x1, w2); b3.addProduct(x1, w3)
                            }
                            let scale0 = V(repeating: inverse[r])
                            let o0 = UnsafeMutableRawPointer(context + r * d + h * hd + half * 32)
                            o0.storeBytes(of: a0 * scale0, as: V.self); (o0 + 32).storeBytes(of: a1 * scale0, as: V.self)
                            (o0 + 64).storeBytes(of: a2 * scale0, as: V.self); (o0 + 96).storeBytes(of: a3 * scale0, as: V.self)
                            if pair {
                                let scale1 = V(repeating: inverse[r + 1])
                                let o1 = UnsafeMutableRawPointer(context + (r + 1) * d + h * hd + half * 32)
                                o1.storeBytes(of: b0 * scale1, as: V.self); (o1 + 32).storeBytes(of: b1 * scale1, as: V.self)
                                (o1 + 64).storeBytes(of: b2 * scale1, as: V.self); (o1 + 96).storeBytes(of: b3 * scale1, as: V.self)
                            }
                        }
                        r += 2
                    }
                }
            }
        }
    }

    /// Rearranges the cache rows after a beam-search step: new row `i` continues old row
    /// `origins[i]`; positions `0..<length` are kept.
    public func reorder(origins: [Int], length: Int) {
        let rowStride = maxPositions * d
        for cache in selfKeys + selfValues {
            for (i, o) in origins.enumerated() {
                (gatherScratch + i * rowStride).update(from: cache + o * rowStride, count: length * d)
            }
            for i in 0..<origins.count {
                (cache + i * rowStride).update(from: gatherScratch + i * rowStride, count: length * d)
            }
        }
    }

    /// `logits[rows, V] = x[rows, 384] · Eᵀ` with `E` the float16 embedding panels: reads the
    /// 40 MB matrix once per step for all rows, with no packing copy (OpenBLAS would pack the
    /// whole matrix on every call for so few rows).
    static func projectOutput(_ x: UnsafePointer<Float>, rows: Int, embeddings: WhisperPanelWeights,
                              into logits: UnsafeMutablePointer<Float>) {
        WhisperKernels.panelProduct(x, embeddings, rows: rows, into: logits, bias: nil, accumulate: false, tasks: 32)
    }

    @inline(__always)
    static func dot64(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i < 64 {
            acc.addProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self), UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        return acc.sum()
    }

    @inline(__always)
    static func axpy64(_ s: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let sv = SIMD8<Float>(repeating: s)
        var i = 0
        while i < 64 {
            let v = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self).addingProduct(sv, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
    }
}
