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
    /// Score blocks `[250, 1500]` for the attention tasks, one per concurrently running task.
    private let scorePool: WhisperKernels.BufferPool
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
        scorePool = WhisperKernels.BufferPool(count: max(2, ProcessInfo.processInfo.activeProcessorCount),
                                              capacity: Self.queryBlock * (WhisperModel.encoderPositions + 1))
        wide = .allocate(capacity: max(positions * WhisperModel.ffnDim, frames * 3 * WhisperModel.melBins, positions * 3 * d))
    }

    deinit {
        for p in [x, normed, qkv, context, scores, wide] { p.deallocate() }
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
        WhisperKernels.linear(col1, model.conv1, rows: frames, into: h1, gelu: true)
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
        WhisperKernels.linear(col2, model.conv2, rows: positions, into: x, gelu: true)
        for i in 0..<(positions * d) { x[i] += model.encoderPositions[i] }

        for layer in model.encoderLayers {
            // Self-attention block.
            WhisperKernels.layerNorm(x, normed, layer.attentionNorm, rows: positions)
            WhisperKernels.linear(normed, layer.qkv, rows: positions, into: qkv)
            attention()
            WhisperKernels.linearAccumulate(context, layer.attentionOut, rows: positions, into: x)
            // Feed-forward block.
            WhisperKernels.layerNorm(x, normed, layer.ffnNorm, rows: positions)
            WhisperKernels.linear(normed, layer.ffnIn, rows: positions, into: wide, gelu: true)
            WhisperKernels.linearAccumulate(wide, layer.ffnOut, rows: positions, into: x)
        }
        WhisperKernels.layerNorm(x, x, model.encoderNorm, rows: positions)
    }

    /// Query rows per attention task.
    static let queryBlock = 250

    /// Full (non-causal) multi-head attention over `qkv` into `context`, as 6 heads × 6 blocks
    /// of 250 queries: each task computes its `[250, 1500]` scores, softmax and `· V` in a
    /// pooled buffer (1.5 MB), so memory stays small and tasks balance across loaded cores.
    /// The softmax is left unnormalised (`exp(s - max)`); each output row is divided by its
    /// sum after `· V`, 64 divisions per row instead of 1500.
    private func attention() {
        let n = positions, hd = WhisperModel.headDim, ld = 3 * d, d = self.d
        let scale = 1 / Float(hd).squareRoot()
        let block = Self.queryBlock, blocks = (n + block - 1) / block
        nonisolated(unsafe) let qkv = qkv, context = context
        let pool = scorePool
        WhisperKernels.forEachTask(WhisperModel.heads * blocks) { task in
            let h = task / blocks, r0 = (task % blocks) * block, m = min(block, n - r0)
            let s = pool.take()
            defer { pool.give(s) }
            BLAS.sgemm(m: m, n: n, k: hd, alpha: scale, a: qkv + r0 * ld + h * hd, lda: ld,
                       b: qkv + d + h * hd, ldb: ld, transB: true, c: s, ldc: n)
            let sums = s + block * n
            for r in 0..<m { sums[r] = 1 / VectorMath.expShifted(s + r * n, into: s + r * n, n) }
            let out = context + r0 * d + h * hd
            BLAS.sgemm(m: m, n: hd, k: n, a: s, lda: n, b: qkv + 2 * d + h * hd, ldb: ld, c: out, ldc: d)
            for r in 0..<m {
                let o = out + r * d
                let inv = VectorMath.V(repeating: sums[r])
                for c in stride(from: 0, to: hd, by: 8) {
                    let p = UnsafeMutableRawPointer(o + c)
                    p.storeBytes(of: p.loadUnaligned(as: VectorMath.V.self) * inv, as: VectorMath.V.self)
                }
            }
        }
    }
}
