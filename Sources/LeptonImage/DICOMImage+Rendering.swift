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
        let n = rows * columns
        if let pal = palette {
            var out = [UInt8](repeating: 0, count: n * 3)
            let last = pal.red.count - 1
            for i in 0..<n {
                let idx = min(max(Int(samples[i]) - pal.first, 0), last)
                out[3 * i] = pal.red[idx]
                out[3 * i + 1] = pal.green[min(idx, pal.green.count - 1)]
                out[3 * i + 2] = pal.blue[min(idx, pal.blue.count - 1)]
            }
            return (out, 3)
        }
        if samplesPerPixel == 3 {
            var out = [UInt8](repeating: 0, count: n * 3)
            let maxV = Double((1 << bitsStored) - 1)
            let ybr = photometric.hasPrefix("YBR_FULL")
            for i in 0..<n {
                var r = Double(samples[3 * i]), g = Double(samples[3 * i + 1]), b = Double(samples[3 * i + 2])
                if bitsStored > 8 { r = r / maxV * 255; g = g / maxV * 255; b = b / maxV * 255 }
                if ybr {
                    let y = r, cb = g - 128, cr = b - 128
                    r = y + 1.402 * cr
                    g = y - 0.344136 * cb - 0.714136 * cr
                    b = y + 1.772 * cb
                }
                out[3 * i] = DICOMImage.byte(r)
                out[3 * i + 1] = DICOMImage.byte(g)
                out[3 * i + 2] = DICOMImage.byte(b)
            }
            return (out, 3)
        }
        let v = modalityValues()
        var out = [UInt8](repeating: 0, count: n)
        if let w = window {
            // PS3.3 C.11.2.1.2.1, output range 0…255.
            let c = w.center, width = w.width
            let lo = c - 0.5 - (width - 1) / 2, hi = c - 0.5 + (width - 1) / 2
            for i in 0..<n {
                let x = v[i]
                let y: Double
                if x <= lo { y = 0 } else if x > hi { y = 255 } else {
                    y = width > 1 ? ((x - (c - 0.5)) / (width - 1) + 0.5) * 255 : 255
                }
                out[i] = DICOMImage.byte(y)
            }
        } else {
            let lo = v.min() ?? 0, hi = v.max() ?? 0
            let range = hi - lo, scale = range > 0 && (255 / range).isFinite ? 255 / range : 0
            for i in 0..<n { out[i] = DICOMImage.byte((v[i] - lo) * scale) }
        }
        if photometric == "MONOCHROME1" { for i in 0..<n { out[i] = 255 - out[i] } }
        return (out, 1)
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
