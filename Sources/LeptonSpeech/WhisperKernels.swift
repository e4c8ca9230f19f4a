import Foundation
import LeptonEngine

/// The Whisper-specific kernels of the forward pass on raw pointers: GEMMs split into tasks,
/// few-row panel products, and a pool of scratch buffers. The row operations (exp, GELU,
/// softmax, layer norm) and the parallel-for are the engine's (``VectorMath``, ``parallelChunks``).
///
/// The engine's tensor ops allocate their outputs; the per-token decoder loop cannot afford that,
/// so these write into preallocated buffers.
enum WhisperKernels {
    /// Runs `body(task)` for `task` in `0..<tasks`, tasks taken dynamically by the worker threads:
    /// more tasks than cores keeps both cores busy on a loaded machine (see ``parallelChunks``).
    @inline(__always)
    static func forEachTask(_ tasks: Int, _ body: @Sendable (Int) -> Void) {
        parallelChunks(tasks, chunk: 1) { lo, hi in for t in lo..<hi { body(t) } }
    }

    /// A small pool of scratch buffers for tasks that each need one at a time.
    final class BufferPool: @unchecked Sendable {
        private var free: [UnsafeMutablePointer<Float>]
        private let all: [UnsafeMutablePointer<Float>]
        private let lock = NSLock()
        init(count: Int, capacity: Int) {
            all = (0..<count).map { _ in .allocate(capacity: capacity) }
            free = all
        }
        deinit { for p in all { p.deallocate() } }
        func take() -> UnsafeMutablePointer<Float> {
            lock.lock(); defer { lock.unlock() }
            return free.removeLast()
        }
        func give(_ p: UnsafeMutablePointer<Float>) {
            lock.lock(); defer { lock.unlock() }
            free.append(p)
        }
    }

    /// `x[i] += bias[i % width]`.
    static func addBias(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let row = x + r * width
            for j in 0..<width { row[j] += bias[j] }
        }
    }

    /// Whisper's layer norm (epsilon 1e-5) of `rows × 384` from `x` into `y` (`y` may be `x`).
    @inline(__always)
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ norm: WhisperModel.Norm, rows: Int) {
        VectorMath.layerNorm(x, rows: rows, width: WhisperModel.dModel, gamma: norm.gamma, beta: norm.beta, eps: 1e-5, into: y)
    }

    /// `y[rows, out] = x[rows, in] · Wᵀ (+ b)`.
    ///
    /// The weights are float32, float16 or int8 (``LinearWeights``). OpenBLAS runs single-threaded during transcription (its idle workers spin in
    /// `sched_yield` between the many small products and burn a core); large products are
    /// split by rows into tasks (``forEachTask(_:_:)``) instead, one single-threaded GEMM per chunk.
    static func linear(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                       into y: UnsafeMutablePointer<Float>, ldx: Int? = nil, addBias: Bool = true, accumulate: Bool = false,
                       gelu: Bool = false) {
        let lda = ldx ?? layer.inputs
        nonisolated(unsafe) let x = x, y = y
        let layer = layer
        // 500-row chunks: packing the weights once per chunk costs ~8% at 256 rows, while 3+
        // chunks still let a core that is running take over the work of a descheduled one.
        let chunk = rows >= 1000 ? 500 : rows
        forEachTask((rows + chunk - 1) / chunk) { task in
            let lo = task * chunk, hi = min(rows, lo + chunk)
            let out = y + lo * layer.outputs
            // Without accumulation, start from the bias rows and let the GEMM add (beta = 1):
            // one pass over the output instead of a zero fill and a bias pass.
            let prefill = addBias && !accumulate
            if prefill {
                for r in 0..<(hi - lo) { (out + r * layer.outputs).update(from: layer.bias, count: layer.outputs) }
            }
            layer.weights.multiply(x + lo * lda, rows: hi - lo, ldx: lda, into: out, ldy: layer.outputs,
                                   beta: accumulate || prefill ? 1 : 0)
            if addBias && accumulate { Self.addBias(out, bias: layer.bias, rows: hi - lo, width: layer.outputs) }
            // GELU on the chunk while it is still in cache.
            if gelu { VectorMath.gelu(out, into: out, count: (hi - lo) * layer.outputs) }
        }
    }

    /// `y[rows, out] (+)= x[rows, in] · Wᵀ + b` for a few rows (decoder hypotheses), `W` in
    /// float16 panels: every weight is read once for all rows (see ``PanelMatrix``).
    /// With `gelu`, GELU is applied after the bias.
    static func halfLinear(_ x: UnsafePointer<Float>, _ layer: WhisperModel.PanelLinear, rows: Int,
                           into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, gelu: Bool = false) {
        panelProduct(x, layer.weight, rows: rows, into: y, bias: layer.bias, accumulate: accumulate, tasks: nil)
        if gelu { VectorMath.gelu(y, into: y, count: rows * layer.outputs) }
    }

    /// `y[rows, W.outputs] (+)= x[rows, W.inputs] · Wᵀ (+ bias)`, panels shared out over the workers
    /// in about `tasks` tasks (default: ~200 KB of weights per task).
    static func panelProduct(_ x: UnsafePointer<Float>, _ w: WhisperPanelWeights, rows: Int, into y: UnsafeMutablePointer<Float>,
                             bias: UnsafePointer<Float>?, accumulate: Bool, tasks: Int?) {
        nonisolated(unsafe) let x = x, y = y, bias = bias
        // Default: ≥ 256 K weights per task (a task is then ≳ 30 µs; below that, waking the
        // other worker costs more than it saves).
        let per = tasks.map { max(1, (w.panels + $0 - 1) / $0) } ?? max(2, 262_144 / (w.inputs * PanelMatrix<Float16>.width))
        let count = (w.panels + per - 1) / per
        forEachTask(count) { task in
            let lo = task * per, hi = min(w.panels, lo + per)
            w.multiply(x, rows: rows, ldx: w.inputs, panelRange: lo..<hi, into: y, ldy: w.outputs, bias: bias, accumulate: accumulate)
        }
    }

    /// `y += x · Wᵀ + b` (residual connection fused into the GEMM with beta = 1).
    static func linearAccumulate(_ x: UnsafePointer<Float>, _ layer: WhisperModel.Linear, rows: Int,
                                 into y: UnsafeMutablePointer<Float>) {
        linear(x, layer, rows: rows, into: y, accumulate: true)
    }
}
