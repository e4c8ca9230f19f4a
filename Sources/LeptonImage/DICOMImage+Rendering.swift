import Foundation

extension DICOMImage {
    /// True for single-sample grayscale images (MONOCHROME1/2).
    public var isMonochrome: Bool { samplesPerPixel == 1 && photometric.hasPrefix("MONOCHROME") }

    /// Modality values of frame 0 (`stored * RescaleSlope + RescaleIntercept`), `[rows, columns]`.
    /// Only meaningful for monochrome images.
    public func modalityValues() -> [Double] {
        samples.map { Double($0) * rescaleSlope + rescaleIntercept }
    }

    /// An 8-bit display rendering of frame 0.
    ///
    /// Monochrome: Modality LUT, then the linear VOI function of PS3.3 C.11.2.1.2.1 with the first
    /// window (or a min…max stretch without one), rounded to nearest, inverted for MONOCHROME1.
    /// Colour: RGB as stored, YBR_FULL / YBR_FULL_422 converted to RGB (full-range BT.601),
    /// PALETTE COLOR through its lookup tables.
    /// - Returns: pixels `[rows, columns, channels]` and `channels` (1 or 3).
    public func rendered() -> (pixels: [UInt8], channels: Int) {
        let renderer = pixelRenderer()
        let ch = renderer.channels
        var out = [UInt8](repeating: 0, count: rows * columns * ch)
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<(rows * columns) { renderer.render(i, o.baseAddress! + ch * i) }
        }
        return (out, ch)
    }

    /// The display rendering in gray 0…1 (BT.601 luma for colour, as `PlanarImage.grayscale()` of the
    /// rendering divided by 255), reduced by an integer box filter to at most `maxSide` per side
    /// while rendering: memory follows the output, not the frame (no full-size rendering is made).
    /// At factor 1 the values equal those of the full rendering exactly.
    /// - Returns: `[height, width]` gray values and the output size.
    public func grayscaleReduced(maxSide: Int) -> (pixels: [Float], width: Int, height: Int) {
        let side = max(rows, columns), m = max(1, maxSide)
        let f = max(1, (side + m - 1) / m)
        let ow = (columns + f - 1) / f, oh = (rows + f - 1) / f
        let renderer = pixelRenderer()
        var sums = [Double](repeating: 0, count: ow * oh), counts = [Int32](repeating: 0, count: ow * oh)
        var px: (UInt8, UInt8, UInt8) = (0, 0, 0)
        withUnsafeMutableBytes(of: &px) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for y in 0..<rows {
                let orow = (y / f) * ow
                for x in 0..<columns {
                    renderer.render(y * columns + x, p)
                    let g: Float
                    if renderer.channels == 1 { g = Float(p[0]) / 255 } else {
                        let r = Float(p[0]) / 255, gg = Float(p[1]) / 255, b = Float(p[2]) / 255
                        g = 0.299 * r + 0.587 * gg + 0.114 * b
                    }
                    sums[orow + x / f] += Double(g)
                    counts[orow + x / f] += 1
                }
            }
        }
        var out = [Float](repeating: 0, count: ow * oh)
        for i in 0..<out.count where counts[i] > 0 { out[i] = counts[i] == 1 ? Float(sums[i]) : Float(sums[i] / Double(counts[i])) }
        return (out, ow, oh)
    }

    /// Renders pixel `i` into 1 or 3 bytes at a pointer; the per-image set-up (window, min…max of
    /// the modality values) is done once here, and no per-pixel array is kept.
    func pixelRenderer() -> (channels: Int, render: (Int, UnsafeMutablePointer<UInt8>) -> Void) {
        if let pal = palette {
            let last = pal.red.count - 1
            return (3, { i, o in
                let idx = min(max(Int(samples[i]) - pal.first, 0), last)
                o[0] = pal.red[idx]
                o[1] = pal.green[min(idx, pal.green.count - 1)]
                o[2] = pal.blue[min(idx, pal.blue.count - 1)]
            })
        }
        if samplesPerPixel == 3 {
            let maxV = Double((1 << bitsStored) - 1)
            let ybr = photometric.hasPrefix("YBR_FULL"), wide = bitsStored > 8
            return (3, { i, o in
                var r = Double(samples[3 * i]), g = Double(samples[3 * i + 1]), b = Double(samples[3 * i + 2])
                if wide { r = r / maxV * 255; g = g / maxV * 255; b = b / maxV * 255 }
                if ybr {
                    let y = r, cb = g - 128, cr = b - 128
                    r = y + 1.402 * cr
                    g = y - 0.344136 * cb - 0.714136 * cr
                    b = y + 1.772 * cb
                }
                o[0] = DICOMImage.byte(r); o[1] = DICOMImage.byte(g); o[2] = DICOMImage.byte(b)
            })
        }
        let slope = rescaleSlope, intercept = rescaleIntercept
        let invert = photometric == "MONOCHROME1"
        if let w = window {
            // PS3.3 C.11.2.1.2.1, output range 0…255.
            let c = w.center, width = w.width
            let lo = c - 0.5 - (width - 1) / 2, hi = c - 0.5 + (width - 1) / 2
            return (1, { i, o in
                let x = Double(samples[i]) * slope + intercept
                let y: Double
                if x <= lo { y = 0 } else if x > hi { y = 255 } else {
                    y = width > 1 ? ((x - (c - 0.5)) / (width - 1) + 0.5) * 255 : 255
                }
                let v = DICOMImage.byte(y)
                o[0] = invert ? 255 - v : v
            })
        }
        // Min…max stretch: the extremes of the stored values give those of the modality values
        // (the mapping is monotonic; a negative slope swaps them).
        let sMin = Double(samples.min() ?? 0), sMax = Double(samples.max() ?? 0)
        let a = sMin * slope + intercept, b = sMax * slope + intercept
        let lo = min(a, b), hi = max(a, b)
        let range = hi - lo, scale = range > 0 && (255 / range).isFinite ? 255 / range : 0
        return (1, { i, o in
            let v = DICOMImage.byte((Double(samples[i]) * slope + intercept - lo) * scale)
            o[0] = invert ? 255 - v : v
        })
    }

    /// `y` rounded and clamped to 0…255; NaN (which `UInt8(_:)` traps on) gives 0. The header
    /// checks in `init` keep values finite: this is the second line of defence.
    static func byte(_ y: Double) -> UInt8 {
        y.isNaN ? 0 : UInt8(min(max(y.rounded(), 0), 255))
    }

    /// A grayscale rendering in 0…1 for a model: the display rendering, colour reduced by
    /// BT.601 luma. `[rows, columns]`.
    public func grayscale() -> [Float] {
        let (px, ch) = rendered()
        if ch == 1 { return px.map { Float($0) / 255 } }
        let n = rows * columns
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            out[i] = (0.299 * Float(px[3 * i]) + 0.587 * Float(px[3 * i + 1]) + 0.114 * Float(px[3 * i + 2])) / 255
        }
        return out
    }
}
