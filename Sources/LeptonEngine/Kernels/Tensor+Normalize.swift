import Foundation

// Normalisation kernels (inference forms; the training forms with statistics live in Autodiff).

extension Tensor {
    /// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`
    /// (biased variance, as PyTorch `LayerNorm`).
    ///
    /// - Parameters:
    ///   - weight: `[d]` scale, or nil for 1.
    ///   - bias: `[d]` shift, or nil for 0.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let d = shape[rank - 1], rows = count / Swift.max(d, 1)
        if let w = weight { precondition(w.count == d, "layerNorm weight \(w.shape) for last axis \(d)") }
        if let b = bias { precondition(b.count == d, "layerNorm bias \(b.shape) for last axis \(d)") }
        let ones = Tensor(shape: [d], repeating: 1), zeros = Tensor(shape: [d], repeating: 0)
        let w = weight ?? ones, b = bias ?? zeros
        return Tensor(shape: shape) { o in
            withUnsafeBufferPointer { a in w.withUnsafeBufferPointer { wb in b.withUnsafeBufferPointer { bb in
                nonisolated(unsafe) let (pa, po, pw, pb) = (a.baseAddress!, o.baseAddress!, wb.baseAddress!, bb.baseAddress!)
                parallelChunks(rows, grain: Swift.max(1, 8192 / Swift.max(d, 1))) { lo, hi in
                    VectorMath.layerNorm(UnsafeMutablePointer(mutating: pa + lo * d), rows: hi - lo, width: d,
                                         gamma: pw, beta: pb, eps: eps, into: po + lo * d)
                }
            } } }
        }
    }

    /// Batch normalisation with fixed statistics (inference): channel axis 1 of `[N, C, ...]`
    /// (or the last axis of a `[N, C]` tensor).
    public func batchNorm(mean: Tensor, variance: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 2, "batchNorm expects [N, C, ...], got \(shape)")
        let c = shape[1], spatial = count / (shape[0] * c), n = shape[0]
        precondition(mean.count == c && variance.count == c, "batchNorm statistics need \(c) channels")
        // Fold into per-channel scale/shift once.
        var scale = [Float](repeating: 1, count: c), shift = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let s = (weight?[flat: ch] ?? 1) / (variance[flat: ch] + eps).squareRoot()
            scale[ch] = s
            shift[ch] = (bias?[flat: ch] ?? 0) - mean[flat: ch] * s
        }
        return Tensor(shape: shape) { o in
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * spatial, s = scale[ch], t = shift[ch]
                        for i in 0..<spatial { po[base + i] = pa[base + i] * s + t }
                    }
                }
            }
        }
    }
}

/// Mean and 1/sqrt(var + eps) of `n` floats (two-pass, stable): ``VectorMath/meanAndInverseDeviation(_:_:eps:)``,
/// so that the training form of layer norm normalises exactly as the inference form.
@inline(__always)
func rowMeanRstd(_ x: UnsafePointer<Float>, _ n: Int, _ eps: Float) -> (Float, Float) {
    let (mean, inverse) = VectorMath.meanAndInverseDeviation(x, n, eps: eps)
    return (mean, inverse)
}
