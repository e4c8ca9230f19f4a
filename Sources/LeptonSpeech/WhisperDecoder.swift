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
    private let crossKV: [UnsafeMutablePointer<Float>]     // per layer [1500, 768]
    private let x: UnsafeMutablePointer<Float>             // [rows, 384]
    private let normed: UnsafeMutablePointer<Float>        // [rows, 384]
    private let qkv: UnsafeMutablePointer<Float>           // [rows, 1152]
    private let context: UnsafeMutablePointer<Float>       // [rows, 384]
    private let hidden: UnsafeMutablePointer<Float>        // [rows, 1536]
    private let scores: UnsafeMutablePointer<Float>        // [rows, 1500]
    private let gatherScratch: UnsafeMutablePointer<Float> // [maxRows, 448, 384]

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
        scores = .allocate(capacity: maxRows * max(sources, maxPositions))
        gatherScratch = .allocate(capacity: cache)
    }

    deinit {
        for p in selfKeys + selfValues + crossKV { p.deallocate() }
        for p in [x, normed, qkv, context, hidden, scores, gatherScratch] { p.deallocate() }
    }

    /// Computes the cross-attention keys and values of a new window from the encoder output `[1500, 384]`.
    public func setEncoderOutput(_ encoded: UnsafePointer<Float>) {
        for (l, layer) in model.decoderLayers.enumerated() {
            WhisperKernels.linear(encoded, layer.crossKV, rows: sources, into: crossKV[l])
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
        precondition(rows >= 1 && rows <= maxRows && position < maxPositions)
        let hd = WhisperModel.headDim, heads = WhisperModel.heads
        let scale = 1 / Float(hd).squareRoot()
        for (r, t) in tokens.enumerated() {
            let e = model.embeddings + t * d, p = model.decoderPositions + position * d, xr = x + r * d
            for j in 0..<d { xr[j] = Float(e[j]) + p[j] }
        }
        for (l, layer) in model.decoderLayers.enumerated() {
            // Causal self-attention over the cache.
            WhisperKernels.layerNorm(x, normed, gamma: layer.selfNorm.gamma, beta: layer.selfNorm.beta, rows: rows, width: d)
            WhisperKernels.linear(normed, layer.selfQKV, rows: rows, into: qkv)
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
                    WhisperKernels.softmax(s, n)
                    let out = context + r * d + h * hd
                    out.update(repeating: 0, count: hd)
                    for j in 0..<n { Self.axpy64(s[j], rowValues + j * d + h * hd, out) }
                }
            }
            WhisperKernels.linearAccumulate(context, layer.selfOut, rows: rows, into: x)

            // Cross-attention to the window's encoder output.
            WhisperKernels.layerNorm(x, normed, gamma: layer.crossNorm.gamma, beta: layer.crossNorm.beta, rows: rows, width: d)
            WhisperKernels.linear(normed, layer.crossQuery, rows: rows, into: qkv)
            let kv = crossKV[l]
            for h in 0..<heads {
                BLAS.sgemm(m: rows, n: sources, k: hd, alpha: scale, a: qkv + h * hd, lda: d,
                           b: kv + h * hd, ldb: 2 * d, transB: true, c: scores, ldc: sources)
                for r in 0..<rows { WhisperKernels.softmax(scores + r * sources, sources) }
                BLAS.sgemm(m: rows, n: hd, k: sources, a: scores, lda: sources, b: kv + d + h * hd, ldb: 2 * d,
                           c: context + h * hd, ldc: d)
            }
            WhisperKernels.linearAccumulate(context, layer.crossOut, rows: rows, into: x)

            // Feed-forward.
            WhisperKernels.layerNorm(x, normed, gamma: layer.ffnNorm.gamma, beta: layer.ffnNorm.beta, rows: rows, width: d)
            WhisperKernels.linear(normed, layer.ffnIn, rows: rows, into: hidden, addBias: false)
            WhisperKernels.biasGELU(hidden, bias: layer.ffnIn.bias, rows: rows, width: WhisperModel.ffnDim)
            WhisperKernels.linearAccumulate(hidden, layer.ffnOut, rows: rows, into: x)
        }
        guard let logits else { return }
        WhisperKernels.layerNorm(x, normed, gamma: model.decoderNorm.gamma, beta: model.decoderNorm.beta, rows: rows, width: d)
        Self.projectOutput(normed, rows: rows, embeddings: model.embeddings, into: logits)
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

    /// `logits[rows, V] = x[rows, 384] · Eᵀ` with `E` in float16: each block of 4 vocabulary rows
    /// is converted once (F16C) into an L1 scratch and multiplied with every hypothesis row,
    /// 4 independent SIMD8 accumulators per row. Reads the 40 MB matrix once per step, with no
    /// packing copy (OpenBLAS would pack the whole matrix on every call for so few rows).
    static func projectOutput(_ x: UnsafePointer<Float>, rows: Int, embeddings: UnsafePointer<Float16>,
                              into logits: UnsafeMutablePointer<Float>) {
        let d = WhisperModel.dModel, vocab = WhisperModel.vocabularySize
        nonisolated(unsafe) let x = x, embeddings = embeddings, logits = logits
        parallelChunks(vocab / 4, grain: 1024) { lo, hi in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 4 * d)
            defer { scratch.deallocate() }
            for block in lo..<hi {
                let v0 = block * 4
                let src = embeddings + v0 * d
                for i in 0..<(4 * d) { scratch[i] = Float(src[i]) }
                for r in 0..<rows {
                    let xr = x + r * d
                    var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                    var j = 0
                    while j < d {
                        let xv = UnsafeRawPointer(xr + j).loadUnaligned(as: SIMD8<Float>.self)
                        a0 += xv * UnsafeRawPointer(scratch + j).loadUnaligned(as: SIMD8<Float>.self)
                        a1 += xv * UnsafeRawPointer(scratch + d + j).loadUnaligned(as: SIMD8<Float>.self)
                        a2 += xv * UnsafeRawPointer(scratch + 2 * d + j).loadUnaligned(as: SIMD8<Float>.self)
                        a3 += xv * UnsafeRawPointer(scratch + 3 * d + j).loadUnaligned(as: SIMD8<Float>.self)
                        j += 8
                    }
                    let out = logits + r * vocab + v0
                    out[0] = a0.sum(); out[1] = a1.sum(); out[2] = a2.sum(); out[3] = a3.sum()
                }
            }
        }
    }

    @inline(__always)
    static func dot64(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i < 64 {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        return acc.sum()
    }

    @inline(__always)
    static func axpy64(_ s: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let sv = SIMD8<Float>(repeating: s)
        var i = 0
        while i < 64 {
            let v = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self) + sv * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
    }
}
