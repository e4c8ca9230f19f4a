import Foundation

// Convolution as im2col + one OpenBLAS GEMM per group (measured fastest on this machine class,
// see ../shared/specs/swift-performance.md). The batch is folded into the GEMM's N dimension so a
// batch of small images is one large product rather than many small ones.

/// The geometry of a 2-D convolution (also used for pooling and by the backward pass).
public struct Conv2dGeometry: Sendable, Equatable {
    public var batch, inChannels, height, width: Int
    public var outChannels, kernelH, kernelW: Int
    public var strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int, kernelH: Int, kernelW: Int,
                stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; self.kernelH = kernelH; self.kernelW = kernelW
        (strideH, strideW) = stride; (padH, padW) = padding; (dilationH, dilationW) = dilation
        self.groups = groups
    }

    public var outHeight: Int { (height + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1 }
    public var outWidth: Int { (width + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1 }
    /// Rows of one group's im2col matrix: `inChannels/groups · kernelH · kernelW`.
    public var colRows: Int { inChannels / groups * kernelH * kernelW }
    var isPointwise: Bool { kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0 }
}

/// Copies `n` floats. Image rows are short (14–56), where a `memmove` call per row costs more
/// than the copy itself, so short rows go through SIMD8 registers.
@inline(__always)
func copyRow(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    if n >= 128 { dst.update(from: src, count: n); return }
    let rs = UnsafeRawPointer(src), rd = UnsafeMutableRawPointer(dst)
    var j = 0
    while j + 8 <= n { rd.storeBytes(of: rs.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self), toByteOffset: j * 4, as: SIMD8<Float>.self); j += 8 }
    while j < n { dst[j] = src[j]; j += 1 }
}

/// Writes im2col of images `b0..<b1` of `x` ([N, C, H, W]) for input channels `c0..<c1` into
/// `cols` laid out `[(c - c0)·kh·kw + ki·kw + kj, (b - b0)·ohw + oy·ow + ox]`.
@usableFromInline
func im2col(_ x: UnsafePointer<Float>, _ g: Conv2dGeometry, b0: Int, b1: Int, c0: Int, c1: Int,
            _ cols: UnsafeMutablePointer<Float>) {
    let oh = g.outHeight, ow = g.outWidth, ohw = oh * ow, nb = b1 - b0
    let rowLen = nb * ohw, kk = g.kernelH * g.kernelW
    let rows = (c1 - c0) * kk
    nonisolated(unsafe) let (px, pc) = (x, cols)
    parallelChunks(rows, grain: Swift.max(1, 32_768 / Swift.max(rowLen, 1))) { lo, hi in
        for row in lo..<hi {
            let c = c0 + row / kk, ki = (row % kk) / g.kernelW, kj = row % g.kernelW
            for b in 0..<nb {
                let plane = px + ((b0 + b) * g.inChannels + c) * g.height * g.width
                let dstBase = pc + row * rowLen + b * ohw
                for oy in 0..<oh {
                    let iy = oy * g.strideH - g.padH + ki * g.dilationH
                    let dst = dstBase + oy * ow
                    if iy < 0 || iy >= g.height { for ox in 0..<ow { dst[ox] = 0 }; continue }
                    let src = plane + iy * g.width
                    let xoff = kj * g.dilationW - g.padW
                    if g.strideW == 1 {
                        // Valid ox range: 0 <= ox + xoff < width.
                        let lo = Swift.max(0, -xoff), hi = Swift.min(ow, g.width - xoff)
                        if hi <= lo { for ox in 0..<ow { dst[ox] = 0 }; continue }
                        for ox in 0..<lo { dst[ox] = 0 }
                        copyRow(dst + lo, src + lo + xoff, hi - lo)
                        for ox in hi..<ow { dst[ox] = 0 }
                    } else {
                        for ox in 0..<ow {
                            let ix = ox * g.strideW + xoff
                            dst[ox] = (ix >= 0 && ix < g.width) ? src[ix] : 0
                        }
                    }
                }
            }
        }
    }
}

/// im2col of output pixels `p0..<p1` (row-major over `[oh, ow]`) of image `b`, input channels
/// `c0..<c1`, into `cols` laid out `[(c - c0)·kh·kw + ki·kw + kj, p - p0]`.
@usableFromInline
func im2colTile(_ x: UnsafePointer<Float>, _ g: Conv2dGeometry, b: Int, c0: Int, c1: Int, p0: Int, p1: Int,
                _ cols: UnsafeMutablePointer<Float>) {
    let ow = g.outWidth, len = p1 - p0, kk = g.kernelH * g.kernelW
    let rows = (c1 - c0) * kk
    nonisolated(unsafe) let (px, pc) = (x, cols)
    parallelChunks(rows, grain: Swift.max(1, 32_768 / Swift.max(len, 1))) { lo, hi in
        for row in lo..<hi {
            let c = c0 + row / kk, ki = (row % kk) / g.kernelW, kj = row % g.kernelW
            let plane = px + (b * g.inChannels + c) * g.height * g.width
            let dst = pc + row * len
            let xoff = kj * g.dilationW - g.padW
            var p = p0
            while p < p1 {
                let oy = p / ow, oxStart = p % ow, oxEnd = Swift.min(ow, oxStart + (p1 - p))
                let out = dst + (p - p0) - oxStart   // indexed by ox
                let iy = oy * g.strideH - g.padH + ki * g.dilationH
                if iy < 0 || iy >= g.height {
                    for ox in oxStart..<oxEnd { out[ox] = 0 }
                } else {
                    let src = plane + iy * g.width
                    if g.strideW == 1 {
                        let lo = Swift.min(Swift.max(oxStart, -xoff), oxEnd), hi = Swift.max(Swift.min(oxEnd, g.width - xoff), lo)
                        for ox in oxStart..<lo { out[ox] = 0 }
                        if hi > lo { copyRow(out + lo, src + lo + xoff, hi - lo) }
                        for ox in hi..<oxEnd { out[ox] = 0 }
                    } else {
                        for ox in oxStart..<oxEnd {
                            let ix = ox * g.strideW + xoff
                            out[ox] = (ix >= 0 && ix < g.width) ? src[ix] : 0
                        }
                    }
                }
                p += oxEnd - oxStart
            }
        }
    }
}

/// The adjoint of ``im2col``: accumulates `cols` back into `dx` ([N, C, H, W], pre-zeroed).
@usableFromInline
func col2im(_ cols: UnsafePointer<Float>, _ g: Conv2dGeometry, b0: Int, b1: Int, c0: Int, c1: Int,
            _ dx: UnsafeMutablePointer<Float>) {
    let oh = g.outHeight, ow = g.outWidth, ohw = oh * ow, nb = b1 - b0
    let rowLen = nb * ohw, kk = g.kernelH * g.kernelW
    nonisolated(unsafe) let (pc, pd) = (cols, dx)
    // Parallel over channels: each channel's plane is written by one worker only.
    parallelChunks(c1 - c0) { lo, hi in
        for cc in lo..<hi {
            let c = c0 + cc
            for k in 0..<kk {
                let ki = k / g.kernelW, kj = k % g.kernelW, row = cc * kk + k
                for b in 0..<nb {
                    let plane = pd + ((b0 + b) * g.inChannels + c) * g.height * g.width
                    let srcBase = pc + row * rowLen + b * ohw
                    for oy in 0..<oh {
                        let iy = oy * g.strideH - g.padH + ki * g.dilationH
                        if iy < 0 || iy >= g.height { continue }
                        let dstRow = plane + iy * g.width, src = srcBase + oy * ow
                        for ox in 0..<ow {
                            let ix = ox * g.strideW - g.padW + kj * g.dilationW
                            if ix >= 0 && ix < g.width { dstRow[ix] += src[ox] }
                        }
                    }
                }
            }
        }
    }
}

/// Floats of im2col buffer the forward pass fills at a time (1 MB: stays in L2 next to the GEMM's
/// packed panels). Tests pass smaller budgets to ``Tensor/conv2d(weight:bias:stride:padding:dilation:groups:columnBudget:)``
/// to force the tiled and chunked paths.
let convColumnBudget = 262_144

/// How many images go into one im2col buffer (keeps it under ~32 MB).
@usableFromInline
func convBatchChunk(_ g: Conv2dGeometry) -> Int {
    let perImage = g.inChannels * g.kernelH * g.kernelW * g.outHeight * g.outWidth
    return Swift.max(1, Swift.min(g.batch, (8 << 20) / Swift.max(perImage, 1)))
}

extension Tensor {
    /// 2-D convolution (cross-correlation, as PyTorch `conv2d`).
    ///
    /// - Parameters:
    ///   - weight: `[outChannels, inChannels/groups, kh, kw]`.
    ///   - bias: `[outChannels]` or nil.
    /// - Returns: `[N, outChannels, outH, outW]` for `self` = `[N, C, H, W]`.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
               columnBudget: convColumnBudget)
    }

    /// ``conv2d(weight:bias:stride:padding:dilation:groups:)`` with an im2col budget of `columnBudget`
    /// floats (per call, so that tests can force the tiled and chunked paths without shared state).
    func conv2d(weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
                dilation: (Int, Int), groups: Int, columnBudget: Int) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, "conv2d expects [N,C,H,W] and [O,C/g,kh,kw], got \(shape), \(weight.shape)")
        precondition(shape[1] % groups == 0 && weight.shape[0] % groups == 0 && weight.shape[1] * groups == shape[1],
                     "conv2d channels: input \(shape), weight \(weight.shape), groups \(groups)")
        if let b = bias { precondition(b.count == weight.shape[0], "conv2d bias \(b.shape) for \(weight.shape[0]) outputs") }
        let g = Conv2dGeometry(batch: shape[0], inChannels: shape[1], height: shape[2], width: shape[3],
                               outChannels: weight.shape[0], kernelH: weight.shape[2], kernelW: weight.shape[3],
                               stride: stride, padding: padding, dilation: dilation, groups: groups)
        precondition(g.outHeight > 0 && g.outWidth > 0, "conv2d output would be empty for \(shape) with \(weight.shape)")
        return Tensor.conv2dForward(self, weight, bias, g, columnBudget: columnBudget)
    }

    static func conv2dForward(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, _ g: Conv2dGeometry, columnBudget: Int) -> Tensor {
        let oh = g.outHeight, ow = g.outWidth, ohw = oh * ow
        let og = g.outChannels / g.groups, cg = g.inChannels / g.groups, kRows = g.colRows
        // Large images: one image at a time, in column tiles whose im2col block stays in L2.
        if !g.isPointwise && kRows * ohw > columnBudget / 2 {
            return conv2dTiled(x, w, bias, g, columnBudget: columnBudget)
        }
        let chunk = Swift.max(1, Swift.min(g.batch, columnBudget / Swift.max(kRows * ohw, 1)))
        var out = Tensor(shape: [g.batch, g.outChannels, oh, ow], unsafeUninitialized: { _ in })
        out.withUnsafeMutableBufferPointer { o in
            x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in
                let px = xb.baseAddress!, pw = wb.baseAddress!, po = o.baseAddress!
                let colsCount = (g.isPointwise && chunk == 1) ? 0 : kRows * chunk * ohw
                let cols = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(colsCount, 1))
                let tmp = UnsafeMutablePointer<Float>.allocate(capacity: chunk > 1 ? og * chunk * ohw : 1)
                defer { cols.deallocate(); tmp.deallocate() }
                var b0 = 0
                while b0 < g.batch {
                    let b1 = Swift.min(g.batch, b0 + chunk), nb = b1 - b0
                    for grp in 0..<g.groups {
                        let wg = pw + grp * og * kRows
                        if nb == 1 {
                            let src: UnsafePointer<Float>
                            if g.isPointwise { src = px + (b0 * g.inChannels + grp * cg) * ohw }
                            else { im2col(px, g, b0: b0, b1: b1, c0: grp * cg, c1: (grp + 1) * cg, cols); src = UnsafePointer(cols) }
                            BLAS.sgemm(m: og, n: ohw, k: kRows, a: wg, lda: kRows, b: src, ldb: ohw,
                                       c: po + (b0 * g.outChannels + grp * og) * ohw, ldc: ohw)
                        } else {
                            if g.isPointwise {
                                // Gather the batch's channel planes into one [cg, nb·ohw] matrix.
                                for c in 0..<cg { for b in 0..<nb {
                                    (cols + c * nb * ohw + b * ohw).update(from: px + ((b0 + b) * g.inChannels + grp * cg + c) * ohw, count: ohw)
                                } }
                            } else {
                                im2col(px, g, b0: b0, b1: b1, c0: grp * cg, c1: (grp + 1) * cg, cols)
                            }
                            BLAS.sgemm(m: og, n: nb * ohw, k: kRows, a: wg, lda: kRows, b: cols, ldb: nb * ohw, c: tmp, ldc: nb * ohw)
                            for oc in 0..<og { for b in 0..<nb {
                                (po + ((b0 + b) * g.outChannels + grp * og + oc) * ohw).update(from: tmp + oc * nb * ohw + b * ohw, count: ohw)
                            } }
                        }
                    }
                    b0 = b1
                }
            } }
            if let bias { addChannelBias(bias, to: o.baseAddress!, g) }
        }
        return out
    }

    /// Per-image, column-tiled im2col + GEMM (the output tile is written in place: `ldc = oh·ow`).
    static func conv2dTiled(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, _ g: Conv2dGeometry, columnBudget: Int) -> Tensor {
        let ohw = g.outHeight * g.outWidth
        let og = g.outChannels / g.groups, cg = g.inChannels / g.groups, kRows = g.colRows
        let tile = Swift.min(ohw, Swift.max(g.outWidth, columnBudget / kRows))
        var out = Tensor(shape: [g.batch, g.outChannels, g.outHeight, g.outWidth], unsafeUninitialized: { _ in })
        out.withUnsafeMutableBufferPointer { o in
            x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in
                let px = xb.baseAddress!, pw = wb.baseAddress!, po = o.baseAddress!
                let cols = UnsafeMutablePointer<Float>.allocate(capacity: kRows * tile)
                defer { cols.deallocate() }
                for b in 0..<g.batch { for grp in 0..<g.groups {
                    var p0 = 0
                    while p0 < ohw {
                        let p1 = Swift.min(ohw, p0 + tile)
                        im2colTile(px, g, b: b, c0: grp * cg, c1: (grp + 1) * cg, p0: p0, p1: p1, cols)
                        BLAS.sgemm(m: og, n: p1 - p0, k: kRows, a: pw + grp * og * kRows, lda: kRows, b: cols, ldb: p1 - p0,
                                   c: po + (b * g.outChannels + grp * og) * ohw + p0, ldc: ohw)
                        p0 = p1
                    }
                } }
            } }
            if let bias { addChannelBias(bias, to: o.baseAddress!, g) }
        }
        return out
    }

    /// `out[b, c, :, :] += bias[c]` over a `[N, outChannels, outH, outW]` output.
    static func addChannelBias(_ bias: Tensor, to po: UnsafeMutablePointer<Float>, _ g: Conv2dGeometry) {
        let ohw = g.outHeight * g.outWidth
        bias.withUnsafeBufferPointer { bb in
            let pb = bb.baseAddress!
            for b in 0..<g.batch { for oc in 0..<g.outChannels {
                let p = po + (b * g.outChannels + oc) * ohw, v = pb[oc]
                for i in 0..<ohw { p[i] += v }
            } }
        }
    }

    /// 1-D convolution: `self` = `[N, C, L]`, `weight` = `[O, C/groups, k]` → `[N, O, outL]`.
    public func conv1d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                       dilation: Int = 1, groups: Int = 1) -> Tensor {
        precondition(rank == 3 && weight.rank == 3, "conv1d expects [N,C,L] and [O,C/g,k], got \(shape), \(weight.shape)")
        let y = reshaped([shape[0], shape[1], 1, shape[2]])
            .conv2d(weight: weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2]]), bias: bias,
                    stride: (1, stride), padding: (0, padding), dilation: (1, dilation), groups: groups)
        return y.reshaped([y.shape[0], y.shape[1], y.shape[3]])
    }
}
