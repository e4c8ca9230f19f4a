import Foundation

// 2-D pooling over `[N, C, H, W]`. Padding counts as -inf for max and (PyTorch default,
// count_include_pad = true) as zeros in the average.

extension Tensor {
    func poolGeometry(_ k: (Int, Int), _ s: (Int, Int), _ p: (Int, Int)) -> Conv2dGeometry {
        precondition(rank == 4, "pooling expects [N, C, H, W], got \(shape)")
        let g = Conv2dGeometry(batch: shape[0], inChannels: shape[1], height: shape[2], width: shape[3],
                               outChannels: shape[1], kernelH: k.0, kernelW: k.1, stride: s, padding: p)
        precondition(g.outHeight > 0 && g.outWidth > 0, "pooling output would be empty for \(shape)")
        return g
    }

    /// Max pooling; `stride` defaults to the kernel size.
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        maxPool2dWithIndices(kernel: kernel, stride: stride ?? kernel, padding: padding).0
    }

    /// Max pooling plus, for each output, the flat index (within its `H·W` plane) of the chosen input.
    func maxPool2dWithIndices(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) -> (Tensor, [Int32]) {
        let g = poolGeometry(kernel, stride, padding)
        let oh = g.outHeight, ow = g.outWidth, planes = g.batch * g.inChannels, hw = g.height * g.width
        var indices = [Int32](repeating: 0, count: planes * oh * ow)
        let out = indices.withUnsafeMutableBufferPointer { ib in
            Tensor(shape: [g.batch, g.inChannels, oh, ow]) { o in
                withUnsafeBufferPointer { a in
                    nonisolated(unsafe) let (pa, po, pi) = (a.baseAddress!, o.baseAddress!, ib.baseAddress!)
                    parallelChunks(planes, grain: Swift.max(1, 4096 / Swift.max(oh * ow * g.kernelH * g.kernelW, 1))) { lo, hi in
                        for pl in lo..<hi {
                            let src = pa + pl * hw, dst = po + pl * oh * ow, idx = pi + pl * oh * ow
                            for oy in 0..<oh { for ox in 0..<ow {
                                var best = -Float.infinity, bi: Int32 = -1
                                for ki in 0..<g.kernelH {
                                    let iy = oy * g.strideH - g.padH + ki
                                    if iy < 0 || iy >= g.height { continue }
                                    for kj in 0..<g.kernelW {
                                        let ix = ox * g.strideW - g.padW + kj
                                        if ix < 0 || ix >= g.width { continue }
                                        let v = src[iy * g.width + ix]
                                        if v > best || bi < 0 { best = v; bi = Int32(iy * g.width + ix) }
                                    }
                                }
                                dst[oy * ow + ox] = best; idx[oy * ow + ox] = bi
                            } }
                        }
                    }
                }
            }
        }
        return (out, indices)
    }

    /// Average pooling (padding counted as zeros); `stride` defaults to the kernel size.
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let g = poolGeometry(kernel, stride ?? kernel, padding)
        let oh = g.outHeight, ow = g.outWidth, planes = g.batch * g.inChannels, hw = g.height * g.width
        let inv = 1 / Float(g.kernelH * g.kernelW)
        return Tensor(shape: [g.batch, g.inChannels, oh, ow]) { o in
            withUnsafeBufferPointer { a in
                let pa = a.baseAddress!, po = o.baseAddress!
                for pl in 0..<planes {
                    let src = pa + pl * hw, dst = po + pl * oh * ow
                    for oy in 0..<oh { for ox in 0..<ow {
                        var s: Float = 0
                        for ki in 0..<g.kernelH {
                            let iy = oy * g.strideH - g.padH + ki
                            if iy < 0 || iy >= g.height { continue }
                            for kj in 0..<g.kernelW {
                                let ix = ox * g.strideW - g.padW + kj
                                if ix >= 0 && ix < g.width { s += src[iy * g.width + ix] }
                            }
                        }
                        dst[oy * ow + ox] = s * inv
                    } }
                }
            }
        }
    }

    /// Mean over the spatial axes: `[N, C, H, W]` → `[N, C]`.
    public func globalAvgPool2d() -> Tensor {
        precondition(rank == 4, "globalAvgPool2d expects [N, C, H, W], got \(shape)")
        return reshaped([shape[0], shape[1], shape[2] * shape[3]]).mean(axis: 2)
    }

    /// Maximum over the spatial axes: `[N, C, H, W]` → `[N, C]`.
    public func globalMaxPool2d() -> Tensor {
        precondition(rank == 4, "globalMaxPool2d expects [N, C, H, W], got \(shape)")
        return reshaped([shape[0], shape[1], shape[2] * shape[3]]).max(axis: 2)
    }
}
