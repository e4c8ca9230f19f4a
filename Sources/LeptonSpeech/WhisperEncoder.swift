import Foundation
import LeptonEngine

/// Runs Whisper's audio encoder on one 30 s window, in preallocated buffers.
///
/// Input `[3000, 80]` (time-major log-mel), output `[1500, 384]`. Layout is time-major
/// throughout so that both convolutions are one GEMM each over an im2col matrix whose rows are
/// three contiguous frames (weights were re-laid `[out, kernel, in]` at load).
public final class WhisperEncoder {
    public let model: WhisperModel
    private let frames = WhisperModel.encoderFrames
    private let positions = WhisperModel.encoderPositions
    private let d = WhisperModel.dModel

    // Buffers (float counts in comments); `wide` doubles as im2col, `scores` as conv1 output.
    private let x: UnsafeMutablePointer<Float>        // [1500, 384] residual stream
    private let normed: UnsafeMutablePointer<Float>   // [1500, 384]
    private let qkv: UnsafeMutablePointer<Float>      // [1500, 1152]
    private let context: UnsafeMutablePointer<Float>  // [1500, 384]
    private let scores: UnsafeMutablePointer<Float>   // [1500, 1500] ≥ [3000, 384]
    private let extraScores: [UnsafeMutablePointer<Float>] // one [1500, 1500] per further worker
    private let wide: UnsafeMutablePointer<Float>     // [1500, 1536] ≥ [3000, 240], [1500, 1152]

    /// The encoder output of the last ``encode(_:)``: `[1500, 384]`.
    public var output: UnsafePointer<Float> { UnsafePointer(x) }

    public init(model: WhisperModel) {
        self.model = model
        x = .allocate(capacity: positions * d)
        normed = .allocate(capacity: positions * d)
        qkv = .allocate(capacity: positions * 3 * d)
        context = .allocate(capacity: positions * d)
        scores = .allocate(capacity: max(positions * positions, frames * d))
        let square = WhisperModel.encoderPositions * WhisperModel.encoderPositions
        extraScores = (1..<max(1, min(EngineThreads.count, WhisperModel.heads))).map { _ in .allocate(capacity: square) }
        wide = .allocate(capacity: max(positions * WhisperModel.ffnDim, frames * 3 * WhisperModel.melBins, positions * 3 * d))
    }

    deinit {
        for p in [x, normed, qkv, context, scores, wide] + extraScores { p.deallocate() }
    }

    /// Encodes `features` `[3000, 80]`; the result is in ``output``.
    public func encode(_ features: UnsafePointer<Float>) {
        let mels = WhisperModel.melBins
        // conv1 (k3, s1, p1): im2col [3000, 3·80] → [3000, 384], GELU.
        let col1 = wide
        for t in 0..<frames {
            let row = col1 + t * 3 * mels
            for k in 0..<3 {
                let src = t + k - 1
                if src < 0 || src >= frames { (row + k * mels).update(repeating: 0, count: mels) }
                else { (row + k * mels).update(from: features + src * mels, count: mels) }
            }
        }
        let h1 = scores
        WhisperKernels.linear(col1, model.conv1, rows: frames, into: h1, addBias: false)
        WhisperKernels.biasGELU(h1, bias: model.conv1.bias, rows: frames, width: d)
        // conv2 (k3, s2, p1): im2col [1500, 3·384] → [1500, 384], GELU, + positions.
        let col2 = wide
        for t in 0..<positions {
            let row = col2 + t * 3 * d
            for k in 0..<3 {
                let src = 2 * t + k - 1
                if src < 0 || src >= frames { (row + k * d).update(repeating: 0, count: d) }
                else { (row + k * d).update(from: h1 + src * d, count: d) }
            }
        }
        WhisperKernels.linear(col2, model.conv2, rows: positions, into: x, addBias: false)
        WhisperKernels.biasGELU(x, bias: model.conv2.bias, rows: positions, width: d)
        for i in 0..<(positions * d) { x[i] += model.encoderPositions[i] }

        for layer in model.encoderLayers {
            // Self-attention block.
            WhisperKernels.layerNorm(x, normed, gamma: layer.attentionNorm.gamma, beta: layer.attentionNorm.beta, rows: positions, width: d)
            WhisperKernels.linear(normed, layer.qkv, rows: positions, into: qkv)
            attention()
            WhisperKernels.linearAccumulate(context, layer.attentionOut, rows: positions, into: x)
            // Feed-forward block.
            WhisperKernels.layerNorm(x, normed, gamma: layer.ffnNorm.gamma, beta: layer.ffnNorm.beta, rows: positions, width: d)
            WhisperKernels.linear(normed, layer.ffnIn, rows: positions, into: wide, addBias: false)
            WhisperKernels.biasGELU(wide, bias: layer.ffnIn.bias, rows: positions, width: WhisperModel.ffnDim)
            WhisperKernels.linearAccumulate(wide, layer.ffnOut, rows: positions, into: x)
        }
        WhisperKernels.layerNorm(x, x, gamma: model.encoderNorm.gamma, beta: model.encoderNorm.beta, rows: positions, width: d)
    }

    /// Full (non-causal) multi-head attention over `qkv` into `context`; heads are shared out
    /// over the workers, each with its own `[1500, 1500]` score buffer.
    private func attention() {
        let n = positions, hd = WhisperModel.headDim, ld = 3 * d, d = self.d
        let scale = 1 / Float(hd).squareRoot()
        nonisolated(unsafe) let buffers = [scores] + extraScores
        nonisolated(unsafe) let qkv = qkv, context = context
        let workers = buffers.count
        parallelChunks(workers) { lo, hi in
            for w in lo..<hi {
                let s = buffers[w]
                for h in stride(from: w, to: WhisperModel.heads, by: workers) {
                    BLAS.sgemm(m: n, n: n, k: hd, alpha: scale, a: qkv + h * hd, lda: ld,
                               b: qkv + d + h * hd, ldb: ld, transB: true, c: s, ldc: n)
                    for r in 0..<n { WhisperKernels.softmax(s + r * n, n) }
                    BLAS.sgemm(m: n, n: hd, k: n, a: s, lda: n, b: qkv + 2 * d + h * hd, ldb: ld,
                               c: context + h * hd, ldc: d)
                }
            }
        }
    }
}
