// PlanarImage+Resize.swift: bilinear resampling of every channel.

extension PlanarImage {
    /// Resizes every channel with bilinear interpolation.
    ///
    /// Pixel centres are aligned (half-pixel convention, as OpenCV `INTER_LINEAR` and
    /// `torch.nn.functional.interpolate(mode: "bilinear", align_corners: false)`): output pixel `x`
    /// samples the input at `(x + 0.5) * inWidth / outWidth - 0.5`, clamped to the border. No
    /// anti-aliasing filter is applied when shrinking.
    /// - Returns: an image of `[channels, height, width]`.
    public func resizedBilinear(width newWidth: Int, height newHeight: Int) throws -> PlanarImage {
        guard newWidth > 0, newHeight > 0, newWidth <= 1 << 16, newHeight <= 1 << 16 else {
            throw ImageError.invalidArgument(detail: "resize to \(newWidth) x \(newHeight)")
        }
        if newWidth == width && newHeight == height { return self }
        // Per-column and per-row source indices and weights, computed once.
        func axis(_ outCount: Int, _ inCount: Int) -> (lo: [Int], hi: [Int], t: [Float]) {
            var lo = [Int](repeating: 0, count: outCount), hi = lo
            var t = [Float](repeating: 0, count: outCount)
            let scale = Double(inCount) / Double(outCount)
            for i in 0..<outCount {
                let s = min(max((Double(i) + 0.5) * scale - 0.5, 0), Double(inCount - 1))
                let l = Int(s)
                lo[i] = l
                hi[i] = min(l + 1, inCount - 1)
                t[i] = Float(s - Double(l))
            }
            return (lo, hi, t)
        }
        let xs = axis(newWidth, width), ys = axis(newHeight, height)
        var out = [Float](repeating: 0, count: newWidth * newHeight * channels)
        let inPlane = width * height, outPlane = newWidth * newHeight, w = width
        pixels.withUnsafeBufferPointer { srcAll in
            out.withUnsafeMutableBufferPointer { dstAll in
                xs.lo.withUnsafeBufferPointer { x0 in
                    xs.hi.withUnsafeBufferPointer { x1 in
                        xs.t.withUnsafeBufferPointer { tx in
                            let src = srcAll.baseAddress!, dst = dstAll.baseAddress!
                            for c in 0..<channels {
                                let plane = src + c * inPlane
                                for y in 0..<newHeight {
                                    let row0 = plane + ys.lo[y] * w, row1 = plane + ys.hi[y] * w
                                    let ty = ys.t[y]
                                    let o = dst + c * outPlane + y * newWidth
                                    for x in 0..<newWidth {
                                        let a = row0[x0[x]] + (row0[x1[x]] - row0[x0[x]]) * tx[x]
                                        let b = row1[x0[x]] + (row1[x1[x]] - row1[x0[x]]) * tx[x]
                                        o[x] = a + (b - a) * ty
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return PlanarImage(unchecked: newWidth, height: newHeight, channels: channels, pixels: out)
    }
}
