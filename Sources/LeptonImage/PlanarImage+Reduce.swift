// PlanarImage+Reduce.swift: integer box reduction (the Swift twin of lepton_png_decode_gray's).

extension PlanarImage {
    /// The smallest integer factor that brings both sides to at most `maxSide`.
    public static func reductionFactor(width: Int, height: Int, maxSide: Int) -> Int {
        let side = max(width, height), m = max(1, maxSide)
        return max(1, (side + m - 1) / m)
    }

    /// Every channel reduced by `factor`: each output pixel is the mean of a `factor` x `factor`
    /// block; blocks at the right and bottom edges average the pixels they hold. Output sides are
    /// `ceil(side / factor)`.
    public func boxReduced(factor: Int) throws -> PlanarImage {
        guard factor >= 1 else { throw ImageError.invalidArgument(detail: "reduction factor \(factor)") }
        if factor == 1 { return self }
        let ow = (width + factor - 1) / factor, oh = (height + factor - 1) / factor
        var out = [Float](repeating: 0, count: ow * oh * channels)
        var sums = [Double](repeating: 0, count: ow), counts = [Int](repeating: 0, count: ow)
        for c in 0..<channels {
            for oy in 0..<oh {
                for i in 0..<ow { sums[i] = 0; counts[i] = 0 }
                for y in (oy * factor)..<min(height, (oy + 1) * factor) {
                    let row = (c * height + y) * width
                    for x in 0..<width {
                        sums[x / factor] += Double(pixels[row + x])
                        counts[x / factor] += 1
                    }
                }
                for i in 0..<ow { out[(c * oh + oy) * ow + i] = Float(sums[i] / Double(counts[i])) }
            }
        }
        return PlanarImage(unchecked: ow, height: oh, channels: channels, pixels: out)
    }
}
