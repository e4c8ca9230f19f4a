import Foundation

/// Fused, differentiable LSTM and GRU sequences (one layer, one direction).
///
/// Each runs a whole sequence as one autodiff node: the input projection of all steps is one GEMM,
/// each step is one `[batch, hidden] × [hidden, gates]` GEMM plus a pointwise pass, and the backward
/// is back-propagation through time written out by hand (gate derivatives from the saved
/// activations), ending in three GEMMs for the weight and input gradients. Gate order and
/// equations are PyTorch's (`torch.nn.LSTM`: i, f, g, o; `torch.nn.GRU`: r, z, n).
extension Variable {
    /// One LSTM layer over a sequence.
    ///
    /// `i, f, g, o = σ, σ, tanh, σ (x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`, `c' = f c + i g`, `h' = o tanh(c')`.
    ///
    /// - Parameters:
    ///   - x: `[time, batch, input]`.
    ///   - h0, c0: `[batch, hidden]` initial state.
    ///   - weightIH: `[4·hidden, input]`; `weightHH`: `[4·hidden, hidden]`; biases `[4·hidden]` (optional).
    ///   - reverse: run from the last step to the first (the backward direction of a bidirectional LSTM).
    /// - Returns: `[time, batch, 2·hidden]`: `h_t` in `[..., 0..<hidden]` and `c_t` in `[..., hidden...]`
    ///   for every step, in time order (so both final states are differentiable slices).
    public static func lstmSequence(_ x: Variable, h0: Variable, c0: Variable, weightIH: Variable, weightHH: Variable,
                                    biasIH: Variable?, biasHH: Variable?, reverse: Bool = false) -> Variable {
        let (T, B, I) = (x.shape[0], x.shape[1], x.shape[2])
        let H = weightHH.shape[1], G = 4 * H
        precondition(x.rank == 3 && weightIH.shape == [G, I] && weightHH.shape == [G, H], "lstmSequence: x \(x.shape), W_ih \(weightIH.shape), W_hh \(weightHH.shape)")
        precondition(h0.shape == [B, H] && c0.shape == [B, H], "lstmSequence: h0 \(h0.shape), c0 \(c0.shape) for batch \(B), hidden \(H)")
        let order = reverse ? Array((0..<T).reversed()) : Array(0..<T)
        // Pre-activations of every step from the input (one GEMM), then activated in place.
        var acts = RecurrentKernels.inputProjection(x.value, weightIH.value, biasIH?.value, biasHH?.value, gates: G)
        var packed = Tensor(shape: [T, B, 2 * H], repeating: 0)
        let whh = weightHH.value, h0v = h0.value, c0v = c0.value
        acts.withUnsafeMutableBufferPointer { ab in packed.withUnsafeMutableBufferPointer { pb in
        whh.withUnsafeBufferPointer { wb in h0v.withUnsafeBufferPointer { hb in c0v.withUnsafeBufferPointer { cb in
            let a = ab.baseAddress!, p = pb.baseAddress!
            var prevH = hb.baseAddress!, prevC = cb.baseAddress!, ld = H
            for t in order {
                let gt = a + t * B * G
                if H > 0 && B > 0 {
                    BLAS.sgemm(m: B, n: G, k: H, a: prevH, lda: ld, b: wb.baseAddress!, ldb: H, transB: true, beta: 1, c: gt, ldc: G)
                }
                let pt = p + t * B * 2 * H
                for b in 0..<B {
                    let g = gt + b * G, o = pt + b * 2 * H, hp = prevC + b * ld
                    for j in 0..<H {
                        let ig = RecurrentKernels.sigmoid(g[j]), fg = RecurrentKernels.sigmoid(g[H + j])
                        let gg = tanhf(g[2 * H + j]), og = RecurrentKernels.sigmoid(g[3 * H + j])
                        g[j] = ig; g[H + j] = fg; g[2 * H + j] = gg; g[3 * H + j] = og
                        let c = fg * hp[j] + ig * gg
                        o[H + j] = c
                        o[j] = og * tanhf(c)
                    }
                }
                prevH = UnsafePointer(pt); prevC = UnsafePointer(pt + H); ld = 2 * H
            }
        }}}}}
        let saved = (x: x.value, wih: weightIH.value, acts: acts, packed: packed)
        var inputs = [x, h0, c0, weightIH, weightHH]
        if let b = biasIH { inputs.append(b) }
        if let b = biasHH { inputs.append(b) }
        return Variable.result(packed, inputs) { dP in
            let (T, B, H, G) = (T, B, H, G)
            var dA = Tensor(shape: [T * B, G], repeating: 0)
            var dh = Tensor(shape: [B, H], repeating: 0), dc = Tensor(shape: [B, H], repeating: 0)
            var hPrevAll = Tensor(shape: [T * B, H], repeating: 0)   // the h each step read, for dW_hh
            dA.withUnsafeMutableBufferPointer { dab in dh.withUnsafeMutableBufferPointer { dhb in dc.withUnsafeMutableBufferPointer { dcb in
            hPrevAll.withUnsafeMutableBufferPointer { hpb in
            dP.withUnsafeBufferPointer { dpb in saved.acts.withUnsafeBufferPointer { ab in saved.packed.withUnsafeBufferPointer { pb in
            whh.withUnsafeBufferPointer { wb in h0v.withUnsafeBufferPointer { h0b in c0v.withUnsafeBufferPointer { c0b in
                let (da, dhp, dcp, dpp, a, p) = (dab.baseAddress!, dhb.baseAddress!, dcb.baseAddress!, dpb.baseAddress!, ab.baseAddress!, pb.baseAddress!)
                for (k, t) in order.enumerated().reversed() {
                    // The state this step started from: the previous step's output, or h0/c0.
                    let prev: (h: UnsafePointer<Float>, c: UnsafePointer<Float>, ld: Int) = k == 0
                        ? (h0b.baseAddress!, c0b.baseAddress!, H)
                        : (p + order[k - 1] * B * 2 * H, p + order[k - 1] * B * 2 * H + H, 2 * H)
                    for b in 0..<B { (hpb.baseAddress! + (t * B + b) * H).update(from: prev.h + b * prev.ld, count: H) }
                    for b in 0..<B {
                        let g = a + (t * B + b) * G, d = da + (t * B + b) * G
                        let st = p + (t * B + b) * 2 * H, gp = dpp + (t * B + b) * 2 * H
                        let cPrev = prev.c + b * prev.ld
                        for j in 0..<H {
                            let ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j]
                            let dhv = dhp[b * H + j] + gp[j]
                            let tc = tanhf(st[H + j])
                            var dcv = dcp[b * H + j] + gp[H + j] + dhv * og * (1 - tc * tc)
                            let dog = dhv * tc
                            let dig = dcv * gg, dgg = dcv * ig, dfg = dcv * cPrev[j]
                            dcv *= fg
                            dcp[b * H + j] = dcv
                            d[j] = dig * ig * (1 - ig)
                            d[H + j] = dfg * fg * (1 - fg)
                            d[2 * H + j] = dgg * (1 - gg * gg)
                            d[3 * H + j] = dog * og * (1 - og)
                        }
                    }
                    // dh_{prev} = dA_t · W_hh
                    if B > 0 && H > 0 {
                        BLAS.sgemm(m: B, n: H, k: G, a: da + t * B * G, lda: G, b: wb.baseAddress!, ldb: H, c: dhp, ldc: H)
                    }
                }
            }}}}}}}}}}
            h0.accumulate(dh)
            c0.accumulate(dc)
            RecurrentKernels.accumulateWeightGradients(dA: dA, x: saved.x, hPrev: hPrevAll, wih: saved.wih, whh: whh,
                                                       dHW: nil, xVar: x, wihVar: weightIH, whhVar: weightHH,
                                                       bihVar: biasIH, bhhVar: biasHH)
        }
    }

    /// One GRU layer over a sequence.
    ///
    /// `r, z = σ(x·W_ih + b_ih + h·W_hh + b_hh)` (r, z blocks), `n = tanh(x·W_in + b_in + r ⊙ (h·W_hn + b_hn))`,
    /// `h' = (1 − z) ⊙ n + z ⊙ h`.
    ///
    /// - Parameters:
    ///   - x: `[time, batch, input]`; `h0`: `[batch, hidden]`.
    ///   - weightIH: `[3·hidden, input]`; `weightHH`: `[3·hidden, hidden]`; biases `[3·hidden]` (optional).
    /// - Returns: `h_t` for every step, `[time, batch, hidden]`, in time order.
    public static func gruSequence(_ x: Variable, h0: Variable, weightIH: Variable, weightHH: Variable,
                                   biasIH: Variable?, biasHH: Variable?, reverse: Bool = false) -> Variable {
        let (T, B, I) = (x.shape[0], x.shape[1], x.shape[2])
        let H = weightHH.shape[1], G = 3 * H
        precondition(x.rank == 3 && weightIH.shape == [G, I] && weightHH.shape == [G, H], "gruSequence: x \(x.shape), W_ih \(weightIH.shape), W_hh \(weightHH.shape)")
        precondition(h0.shape == [B, H], "gruSequence: h0 \(h0.shape) for batch \(B), hidden \(H)")
        let order = reverse ? Array((0..<T).reversed()) : Array(0..<T)
        var acts = RecurrentKernels.inputProjection(x.value, weightIH.value, biasIH?.value, nil, gates: G)
        var hwn = Tensor(shape: [T * B, H], repeating: 0)     // h·W_hnᵀ + b_hn of every step (n's backward needs it)
        var out = Tensor(shape: [T, B, H], repeating: 0)
        var hw = Tensor(shape: [B, G], repeating: 0)
        let whh = weightHH.value, h0v = h0.value, bhh = biasHH?.value
        acts.withUnsafeMutableBufferPointer { ab in out.withUnsafeMutableBufferPointer { ob in hwn.withUnsafeMutableBufferPointer { nb in
        hw.withUnsafeMutableBufferPointer { hwb in whh.withUnsafeBufferPointer { wb in h0v.withUnsafeBufferPointer { hb in
            let a = ab.baseAddress!, o = ob.baseAddress!, hwp = hwb.baseAddress!
            var prevH = hb.baseAddress!
            for t in order {
                RecurrentKernels.fillRows(hwp, rows: B, bias: bhh, width: G)
                if H > 0 && B > 0 {
                    BLAS.sgemm(m: B, n: G, k: H, a: prevH, lda: H, b: wb.baseAddress!, ldb: H, transB: true, beta: 1, c: hwp, ldc: G)
                }
                for b in 0..<B {
                    let g = a + (t * B + b) * G, hr = hwp + b * G, hp = prevH + b * H
                    let ot = o + (t * B + b) * H, nt = nb.baseAddress! + (t * B + b) * H
                    for j in 0..<H {
                        let r = RecurrentKernels.sigmoid(g[j] + hr[j]), z = RecurrentKernels.sigmoid(g[H + j] + hr[H + j])
                        let n = tanhf(g[2 * H + j] + r * hr[2 * H + j])
                        g[j] = r; g[H + j] = z; g[2 * H + j] = n
                        nt[j] = hr[2 * H + j]
                        ot[j] = (1 - z) * n + z * hp[j]
                    }
                }
                prevH = UnsafePointer(o + t * B * H)
            }
        }}}}}}
        let saved = (x: x.value, wih: weightIH.value, acts: acts, out: out, hwn: hwn)
        var inputs = [x, h0, weightIH, weightHH]
        if let b = biasIH { inputs.append(b) }
        if let b = biasHH { inputs.append(b) }
        return Variable.result(out, inputs) { dOut in
            var dXW = Tensor(shape: [T * B, G], repeating: 0), dHW = Tensor(shape: [T * B, G], repeating: 0)
            var dh = Tensor(shape: [B, H], repeating: 0)
            var hPrevAll = Tensor(shape: [T * B, H], repeating: 0)
            dXW.withUnsafeMutableBufferPointer { dxb in dHW.withUnsafeMutableBufferPointer { dhwb in dh.withUnsafeMutableBufferPointer { dhb in
            hPrevAll.withUnsafeMutableBufferPointer { hpb in
            dOut.withUnsafeBufferPointer { gob in saved.acts.withUnsafeBufferPointer { ab in saved.out.withUnsafeBufferPointer { ob in
            saved.hwn.withUnsafeBufferPointer { nb in whh.withUnsafeBufferPointer { wb in h0v.withUnsafeBufferPointer { h0b in
                let dhp = dhb.baseAddress!
                for (k, t) in order.enumerated().reversed() {
                    let prev = k == 0 ? h0b.baseAddress! : ob.baseAddress! + order[k - 1] * B * H
                    (hpb.baseAddress! + t * B * H).update(from: prev, count: B * H)
                    for b in 0..<B {
                        let g = ab.baseAddress! + (t * B + b) * G
                        let dx = dxb.baseAddress! + (t * B + b) * G, dw = dhwb.baseAddress! + (t * B + b) * G
                        let hp = prev + b * H, go = gob.baseAddress! + (t * B + b) * H, hn = nb.baseAddress! + (t * B + b) * H
                        for j in 0..<H {
                            let r = g[j], z = g[H + j], n = g[2 * H + j]
                            let dhv = dhp[b * H + j] + go[j]
                            let dn = dhv * (1 - z), dz = dhv * (hp[j] - n)
                            let dan = dn * (1 - n * n)
                            let dar = dan * hn[j] * r * (1 - r)
                            let daz = dz * z * (1 - z)
                            dx[j] = dar; dx[H + j] = daz; dx[2 * H + j] = dan
                            dw[j] = dar; dw[H + j] = daz; dw[2 * H + j] = dan * r
                            dhp[b * H + j] = dhv * z            // the direct path h' = … + z ⊙ h
                        }
                    }
                    if B > 0 && H > 0 {
                        BLAS.sgemm(m: B, n: H, k: G, a: dhwb.baseAddress! + t * B * G, lda: G, b: wb.baseAddress!, ldb: H,
                                   beta: 1, c: dhp, ldc: H)
                    }
                }
            }}}}}}}}}}
            h0.accumulate(dh)
            RecurrentKernels.accumulateWeightGradients(dA: dXW, x: saved.x, hPrev: hPrevAll, wih: saved.wih, whh: whh,
                                                       dHW: dHW, xVar: x, wihVar: weightIH, whhVar: weightHH,
                                                       bihVar: biasIH, bhhVar: biasHH)
        }
    }
}

/// Shared pieces of the fused recurrent ops.
enum RecurrentKernels {
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// Sets each of `rows` rows of `width` to `bias` (or 0).
    static func fillRows(_ p: UnsafeMutablePointer<Float>, rows: Int, bias: Tensor?, width: Int) {
        guard let bias else { p.update(repeating: 0, count: rows * width); return }
        bias.withUnsafeBufferPointer { bb in for r in 0..<rows { (p + r * width).update(from: bb.baseAddress!, count: width) } }
    }

    /// `x·W_ihᵀ + b1 + b2` for all steps at once: `x` `[T, B, I]` → `[T·B, gates]`.
    static func inputProjection(_ x: Tensor, _ wih: Tensor, _ b1: Tensor?, _ b2: Tensor?, gates G: Int) -> Tensor {
        let rows = x.shape[0] * x.shape[1], I = x.shape[2]
        var bias: Tensor? = b1
        if let b2 { bias = bias.map { $0 + b2 } ?? b2 }
        var out = Tensor(shape: [rows, G], repeating: 0)
        out.withUnsafeMutableBufferPointer { ob in
            fillRows(ob.baseAddress!, rows: rows, bias: bias, width: G)
            guard rows > 0, I > 0 else { return }
            x.withUnsafeBufferPointer { xb in wih.withUnsafeBufferPointer { wb in
                BLAS.sgemm(m: rows, n: G, k: I, a: xb.baseAddress!, lda: I, b: wb.baseAddress!, ldb: I, transB: true,
                           beta: 1, c: ob.baseAddress!, ldc: G)
            }}
        }
        return out
    }

    /// Column sums of `[rows, width]`.
    static func columnSums(_ t: Tensor) -> Tensor {
        let w = t.shape[1], rows = t.shape[0]
        return Tensor(shape: [w]) { o in
            o.initialize(repeating: 0)
            t.withUnsafeBufferPointer { tb in for r in 0..<rows { for c in 0..<w { o[c] += tb[r * w + c] } } }
        }
    }

    /// Weight, bias and input gradients from the pre-activation gradients of all steps.
    ///
    /// `dA` `[T·B, G]` is the gradient of the input-side pre-activations (it also flows to `W_hh` and
    /// `b_hh` unless `dHW` gives the hidden-side one, as for the GRU's `n` gate).
    static func accumulateWeightGradients(dA: Tensor, x: Tensor, hPrev: Tensor, wih: Tensor, whh: Tensor, dHW: Tensor?,
                                          xVar: Variable, wihVar: Variable, whhVar: Variable, bihVar: Variable?, bhhVar: Variable?) {
        let hidden = dHW ?? dA
        if wihVar.requiresGrad { wihVar.accumulate(dA.matmul(x.reshaped([-1, x.shape[2]]), transposeSelf: true)) }
        if whhVar.requiresGrad { whhVar.accumulate(hidden.matmul(hPrev, transposeSelf: true)) }
        if let b = bihVar, b.requiresGrad { b.accumulate(columnSums(dA)) }
        if let b = bhhVar, b.requiresGrad { b.accumulate(columnSums(hidden)) }
        if xVar.requiresGrad { xVar.accumulate(dA.matmul(wih).reshaped(x.shape)) }
    }
}
