import Foundation

// Differentiable network operations: convolution, pooling, normalisation, dropout.

extension Variable {
    // MARK: Convolution

    /// 2-D convolution: `self` `[N, C, H, W]`, `weight` `[O, C/groups, kh, kw]`, `bias` `[O]` → `[N, O, oh, ow]`.
    public func conv2d(weight: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Variable {
        let x = value, w = weight.value
        let y = x.conv2d(weight: w, bias: bias?.value, stride: stride, padding: padding, dilation: dilation, groups: groups)
        let g = Conv2dGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                               outChannels: w.shape[0], kernelH: w.shape[2], kernelW: w.shape[3],
                               stride: stride, padding: padding, dilation: dilation, groups: groups)
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return Variable.result(y, inputs) { [self] gy in
            let (dx, dw) = conv2dBackward(x: x, w: w, gy: gy, g: g, needInput: requiresGrad, needWeight: weight.requiresGrad)
            if let dx { accumulate(dx) }
            if let dw { weight.accumulate(dw) }
            if let bias, bias.requiresGrad {
                let n = g.batch, o = g.outChannels
                bias.accumulate(gy.reshaped([n, o, -1]).sum(axis: 2).sum(axis: 0))
            }
        }
    }

    /// 1-D convolution: `self` `[N, C, L]`, `weight` `[O, C/groups, k]` → `[N, O, outL]`.
    public func conv1d(weight: Variable, bias: Variable? = nil, stride: Int = 1, padding: Int = 0,
                       dilation: Int = 1, groups: Int = 1) -> Variable {
        let y = reshaped([shape[0], shape[1], 1, shape[2]])
            .conv2d(weight: weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2]]), bias: bias,
                    stride: (1, stride), padding: (0, padding), dilation: (1, dilation), groups: groups)
        return y.reshaped([y.shape[0], y.shape[1], y.shape[3]])
    }

    // MARK: Pooling

    /// Max pooling over `[N, C, H, W]`; the gradient goes to the chosen input of each window.
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Variable {
        let (y, idx) = value.maxPool2dWithIndices(kernel: kernel, stride: stride ?? kernel, padding: padding)
        let s = shape, hw = s[2] * s[3], ohw = y.shape[2] * y.shape[3]
        return Variable.result(y, [self]) { [self] g in
            accumulate(Tensor(shape: s) { o in
                o.initialize(repeating: 0)
                g.withUnsafeBufferPointer { gb in
                    let po = o.baseAddress!, pg = gb.baseAddress!
                    for pl in 0..<(s[0] * s[1]) {
                        for j in 0..<ohw where idx[pl * ohw + j] >= 0 { po[pl * hw + Int(idx[pl * ohw + j])] += pg[pl * ohw + j] }
                    }
                }
            })
        }
    }

    /// Average pooling over `[N, C, H, W]` (padding counted as zeros).
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Variable {
        let st = stride ?? kernel
        let y = value.avgPool2d(kernel: kernel, stride: st, padding: padding)
        let geo = value.poolGeometry(kernel, st, padding)
        let s = shape
        return Variable.result(y, [self]) { [self] g in
            let oh = geo.outHeight, ow = geo.outWidth, inv = 1 / Float(kernel.0 * kernel.1)
            accumulate(Tensor(shape: s) { o in
                o.initialize(repeating: 0)
                g.withUnsafeBufferPointer { gb in
                    let po = o.baseAddress!, pg = gb.baseAddress!
                    for pl in 0..<(s[0] * s[1]) {
                        let dst = po + pl * geo.height * geo.width, src = pg + pl * oh * ow
                        for oy in 0..<oh { for ox in 0..<ow {
                            let v = src[oy * ow + ox] * inv
                            for ki in 0..<geo.kernelH {
                                let iy = oy * geo.strideH - geo.padH + ki
                                if iy < 0 || iy >= geo.height { continue }
                                for kj in 0..<geo.kernelW {
                                    let ix = ox * geo.strideW - geo.padW + kj
                                    if ix >= 0 && ix < geo.width { dst[iy * geo.width + ix] += v }
                                }
                            }
                        } }
                    }
                }
            })
        }
    }

    /// Mean over the spatial axes: `[N, C, H, W]` → `[N, C]`.
    public func globalAvgPool2d() -> Variable {
        reshaped([shape[0], shape[1], shape[2] * shape[3]]).mean(axis: 2)
    }

    // MARK: Normalisation

    /// Layer normalisation over the last axis with optional affine `weight`/`bias` `[d]`.
    public func layerNorm(weight: Variable?, bias: Variable?, eps: Float = 1e-5) -> Variable {
        let x = value, d = shape[rank - 1], rows = count / Swift.max(d, 1)
        // Normalised input x̂ and per-row 1/σ, kept for the backward pass.
        var xhat = Tensor(shape: x.shape, unsafeUninitialized: { _ in })
        var rstd = [Float](repeating: 0, count: rows)
        xhat.withUnsafeMutableBufferPointer { o in x.withUnsafeBufferPointer { a in
            for r in 0..<rows {
                let (m, rs) = rowMeanRstd(a.baseAddress! + r * d, d, eps)
                rstd[r] = rs
                for i in 0..<d { o[r * d + i] = (a[r * d + i] - m) * rs }
            }
        } }
        var y = xhat
        if let weight { y = y * weight.value }
        if let bias { y = y + bias.value }
        let inputs = [self] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
        let wv = weight?.value
        return Variable.result(y, inputs) { [self] g in
            if let weight, weight.requiresGrad { weight.accumulate((g * xhat).reshaped([rows, d]).sum(axis: 0)) }
            if let bias, bias.requiresGrad { bias.accumulate(g.reshaped([rows, d]).sum(axis: 0)) }
            guard requiresGrad else { return }
            let gh = wv.map { g * $0 } ?? g
            accumulate(Tensor(shape: x.shape) { o in
                gh.withUnsafeBufferPointer { gb in xhat.withUnsafeBufferPointer { hb in
                    for r in 0..<rows {
                        var sg: Float = 0, sgh: Float = 0
                        for i in 0..<d { sg += gb[r * d + i]; sgh += gb[r * d + i] * hb[r * d + i] }
                        let k = rstd[r] / Float(d)
                        for i in 0..<d { o[r * d + i] = k * (Float(d) * gb[r * d + i] - sg - hb[r * d + i] * sgh) }
                    }
                } }
            })
        }
    }

    /// Batch normalisation over channel axis 1 of `[N, C, ...]`.
    ///
    /// In training mode the batch statistics normalise the input and update the running
    /// statistics in place (`running = (1 − momentum)·running + momentum·batch`, unbiased variance,
    /// as PyTorch). In evaluation mode the running statistics are used and nothing is updated.
    public func batchNorm(runningMean: inout Tensor, runningVar: inout Tensor, weight: Variable?, bias: Variable?,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Variable {
        precondition(rank >= 2, "batchNorm expects [N, C, ...], got \(shape)")
        let x = value, n = shape[0], c = shape[1], sp = count / Swift.max(n * c, 1), m = n * sp
        var mean = [Float](repeating: 0, count: c), rstd = [Float](repeating: 0, count: c)
        if training {
            precondition(m > 1, "batchNorm in training needs more than one value per channel, got \(shape)")
            var batchVar = [Float](repeating: 0, count: c)
            x.withUnsafeBufferPointer { a in
                for ch in 0..<c {
                    var s = 0.0
                    for b in 0..<n { let p = a.baseAddress! + (b * c + ch) * sp; for i in 0..<sp { s += Double(p[i]) } }
                    let mu = s / Double(m)
                    var v = 0.0
                    for b in 0..<n { let p = a.baseAddress! + (b * c + ch) * sp; for i in 0..<sp { let d = Double(p[i]) - mu; v += d * d } }
                    mean[ch] = Float(mu); batchVar[ch] = Float(v / Double(m))
                    rstd[ch] = 1 / (batchVar[ch] + eps).squareRoot()
                }
            }
            runningMean.withUnsafeMutableBufferPointer { rm in runningVar.withUnsafeMutableBufferPointer { rv in
                for ch in 0..<c {
                    rm[ch] = (1 - momentum) * rm[ch] + momentum * mean[ch]
                    rv[ch] = (1 - momentum) * rv[ch] + momentum * batchVar[ch] * Float(m) / Float(m - 1)
                }
            } }
        } else {
            for ch in 0..<c { mean[ch] = runningMean[flat: ch]; rstd[ch] = 1 / (runningVar[flat: ch] + eps).squareRoot() }
        }
        let wv = weight?.value, bv = bias?.value
        var xhat = Tensor(shape: x.shape, unsafeUninitialized: { _ in })
        var y = Tensor(shape: x.shape, unsafeUninitialized: { _ in })
        xhat.withUnsafeMutableBufferPointer { h in y.withUnsafeMutableBufferPointer { o in x.withUnsafeBufferPointer { a in
            for b in 0..<n { for ch in 0..<c {
                let base = (b * c + ch) * sp, mu = mean[ch], rs = rstd[ch]
                let gamma = wv?[flat: ch] ?? 1, beta = bv?[flat: ch] ?? 0
                for i in 0..<sp { let v = (a[base + i] - mu) * rs; h[base + i] = v; o[base + i] = v * gamma + beta }
            } }
        } } }
        let inputs = [self] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
        return Variable.result(y, inputs) { [self] g in
            // Per-channel Σg and Σg·x̂ serve all three gradients.
            var sg = [Float](repeating: 0, count: c), sgh = [Float](repeating: 0, count: c)
            g.withUnsafeBufferPointer { gb in xhat.withUnsafeBufferPointer { hb in
                for b in 0..<n { for ch in 0..<c {
                    let base = (b * c + ch) * sp
                    var s: Float = 0, t: Float = 0
                    for i in 0..<sp { s += gb[base + i]; t += gb[base + i] * hb[base + i] }
                    sg[ch] += s; sgh[ch] += t
                } }
            } }
            if let weight, weight.requiresGrad { weight.accumulate(Tensor(shape: weight.shape, scalars: sgh)) }
            if let bias, bias.requiresGrad { bias.accumulate(Tensor(shape: bias.shape, scalars: sg)) }
            guard requiresGrad else { return }
            accumulate(Tensor(shape: x.shape) { o in
                g.withUnsafeBufferPointer { gb in xhat.withUnsafeBufferPointer { hb in
                    for b in 0..<n { for ch in 0..<c {
                        let base = (b * c + ch) * sp, gamma = wv?[flat: ch] ?? 1
                        if training {
                            let k = gamma * rstd[ch] / Float(m)
                            let s = sg[ch], t = sgh[ch], fm = Float(m)
                            for i in 0..<sp { o[base + i] = k * (fm * gb[base + i] - s - hb[base + i] * t) }
                        } else {
                            let k = gamma * rstd[ch]
                            for i in 0..<sp { o[base + i] = k * gb[base + i] }
                        }
                    } }
                } }
            })
        }
    }

    // MARK: Dropout

    /// Inverted dropout: in training, zeroes each element with probability `p` (drawn from `rng`)
    /// and scales the rest by `1/(1−p)`; otherwise the identity.
    public func dropout(_ p: Float, training: Bool, rng: inout SeededGenerator) -> Variable {
        guard training && p > 0 else { return self }
        precondition(p < 1, "dropout probability must be < 1, got \(p)")
        let keep = 1 / (1 - p)
        var mask = Tensor(shape: shape, unsafeUninitialized: { _ in })
        mask.withUnsafeMutableBufferPointer { mb in for i in 0..<mb.count { mb[i] = rng.nextUniform() < p ? 0 : keep } }
        return Variable.result(value * mask, [self]) { [self] g in accumulate(g * mask) }
    }
}

/// Gradients of a convolution with respect to its input and weight.
func conv2dBackward(x: Tensor, w: Tensor, gy: Tensor, g: Conv2dGeometry, needInput: Bool, needWeight: Bool) -> (Tensor?, Tensor?) {
    let ohw = g.outHeight * g.outWidth, og = g.outChannels / g.groups, cg = g.inChannels / g.groups, kRows = g.colRows
    let chunk = convBatchChunk(g)
    var dx: Tensor? = needInput ? Tensor.zeros(x.shape) : nil
    var dw: Tensor? = needWeight ? Tensor.zeros(w.shape) : nil
    let cols = UnsafeMutablePointer<Float>.allocate(capacity: kRows * chunk * ohw)
    let gmat = UnsafeMutablePointer<Float>.allocate(capacity: og * chunk * ohw)
    defer { cols.deallocate(); gmat.deallocate() }
    x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in gy.withUnsafeBufferPointer { gb in
        let px = xb.baseAddress!, pw = wb.baseAddress!, pg = gb.baseAddress!
        var b0 = 0
        while b0 < g.batch {
            let b1 = Swift.min(g.batch, b0 + chunk), nb = b1 - b0, ncol = nb * ohw
            for grp in 0..<g.groups {
                // This group's output gradient as [og, nb·ohw].
                for oc in 0..<og { for b in 0..<nb {
                    (gmat + oc * ncol + b * ohw).update(from: pg + ((b0 + b) * g.outChannels + grp * og + oc) * ohw, count: ohw)
                } }
                if needWeight {
                    im2col(px, g, b0: b0, b1: b1, c0: grp * cg, c1: (grp + 1) * cg, cols)
                    dw!.withUnsafeMutableBufferPointer { dwb in
                        BLAS.sgemm(m: og, n: kRows, k: ncol, a: gmat, lda: ncol, b: cols, ldb: ncol, transB: true,
                                   beta: 1, c: dwb.baseAddress! + grp * og * kRows, ldc: kRows)
                    }
                }
                if needInput {
                    BLAS.sgemm(m: kRows, n: ncol, k: og, a: pw + grp * og * kRows, lda: kRows, transA: true,
                               b: gmat, ldb: ncol, c: cols, ldc: ncol)
                    dx!.withUnsafeMutableBufferPointer { dxb in
                        col2im(cols, g, b0: b0, b1: b1, c0: grp * cg, c1: (grp + 1) * cg, dxb.baseAddress!)
                    }
                }
            }
            b0 = b1
        }
    } } }
    return (dx, dw)
}
