// Colormap.swift: scalar → RGB colour maps and the heatmap overlay used for saliency maps.

/// Colour maps for heatmaps (inputs in [0, 1], clamped).
public enum Colormap: Sendable {
    /// jet as in matplotlib: dark blue → blue → cyan → yellow → red → dark red (piecewise linear).
    case jet
    /// Matplotlib's viridis, linearly interpolated between 17 of its 256 entries (every 16th;
    /// within 0.01 of the full table); perceptually ordered, monotonic in lightness.
    case viridis
    /// Black → white.
    case gray

    /// The colour for `value`, each component in [0, 1].
    public func rgb(_ value: Float) -> (r: Float, g: Float, b: Float) {
        let t = value.isNaN ? 0 : max(0, min(1, value))
        switch self {
        case .gray:
            return (t, t, t)
        case .jet:
            return (Colormap.piecewise(Colormap.jetRed, t), Colormap.piecewise(Colormap.jetGreen, t),
                    Colormap.piecewise(Colormap.jetBlue, t))
        case .viridis:
            let anchors = Colormap.viridisAnchors
            let x = t * Float(anchors.count - 1)
            let i = min(Int(x), anchors.count - 2)
            let f = x - Float(i)
            let a = anchors[i], b = anchors[i + 1]
            return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
        }
    }

    /// viridis at t = 0, 1/16, ..., 1 (matplotlib's 256-entry table sampled every 16 entries).
    static let viridisAnchors: [(Float, Float, Float)] = [
        (0.267004, 0.004874, 0.329415), (0.282327, 0.094955, 0.417331), (0.278826, 0.175490, 0.483397),
        (0.258965, 0.251537, 0.524736), (0.229739, 0.322361, 0.545706), (0.199430, 0.387607, 0.554642),
        (0.172719, 0.448791, 0.557885), (0.149039, 0.508051, 0.557250), (0.127568, 0.566949, 0.550556),
        (0.120638, 0.625828, 0.533488), (0.157851, 0.683765, 0.501686), (0.246070, 0.738910, 0.452024),
        (0.369214, 0.788888, 0.382914), (0.515992, 0.831158, 0.294279), (0.678489, 0.863742, 0.189503),
        (0.845561, 0.887322, 0.099702), (0.993248, 0.906157, 0.143936),
    ]

    /// matplotlib's `jet` segment data: (x, value) breakpoints per channel, linear in between.
    static let jetRed: [(Float, Float)] = [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)]
    static let jetGreen: [(Float, Float)] = [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)]
    static let jetBlue: [(Float, Float)] = [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)]

    static func piecewise(_ points: [(Float, Float)], _ t: Float) -> Float {
        for i in 1..<points.count where t <= points[i].0 {
            let (x0, y0) = points[i - 1], (x1, y1) = points[i]
            return x1 > x0 ? y0 + (y1 - y0) * (t - x0) / (x1 - x0) : y1
        }
        return points[points.count - 1].1
    }

    /// Colours a one-channel map: `[1, h, w]` in → `[3, h, w]` RGB out.
    public func apply(to map: PlanarImage) throws -> PlanarImage {
        guard map.channels == 1 else { throw ImageError.invalidArgument(detail: "colormap needs 1 channel, got \(map.channels)") }
        let n = map.width * map.height
        var out = [Float](repeating: 0, count: 3 * n)
        for i in 0..<n {
            let (r, g, b) = rgb(map.pixels[i])
            out[i] = r; out[n + i] = g; out[2 * n + i] = b
        }
        return PlanarImage(unchecked: map.width, height: map.height, channels: 3, pixels: out)
    }
}

extension PlanarImage {
    /// Blends a heatmap over this image (Grad-CAM style).
    ///
    /// The heatmap (one channel, any size) is resized bilinearly to this image, optionally min–max
    /// normalised to [0, 1], coloured with `colormap`, and mixed as
    /// `out = (1 − alpha·w) · base + alpha·w · colour`, where `w = heat` when `weightByValue`
    /// (cold regions stay transparent) and 1 otherwise.
    /// - Parameters:
    ///   - heatmap: `[1, h, w]` scores.
    ///   - alpha: opacity of the colour layer, 0 ... 1.
    /// - Returns: `[3, height, width]` RGB in [0, 1] (this image must be in [0, 1]; gray is replicated,
    ///   alpha channels are dropped).
    public func overlay(heatmap: PlanarImage, colormap: Colormap = .jet, alpha: Float = 0.5,
                        normalize: Bool = true, weightByValue: Bool = false) throws -> PlanarImage {
        guard heatmap.channels == 1 else { throw ImageError.invalidArgument(detail: "heatmap needs 1 channel, got \(heatmap.channels)") }
        guard alpha >= 0, alpha <= 1 else { throw ImageError.invalidArgument(detail: "alpha \(alpha) outside [0, 1]") }
        var heat = try heatmap.resizedBilinear(width: width, height: height)
        if normalize {
            let lo = heat.pixels.min() ?? 0, hi = heat.pixels.max() ?? 0
            let span = hi - lo
            for i in heat.pixels.indices { heat.pixels[i] = span > 0 ? (heat.pixels[i] - lo) / span : 0 }
        }
        let colour = try colormap.apply(to: heat)
        let n = width * height
        let base: [Float]
        switch channels {
        case 1, 2: base = Array(pixels[0..<n]) + Array(pixels[0..<n]) + Array(pixels[0..<n])
        default: base = Array(pixels[0..<(3 * n)])
        }
        var out = [Float](repeating: 0, count: 3 * n)
        for c in 0..<3 {
            for i in 0..<n {
                let h = max(0, min(1, heat.pixels[i]))
                let w = alpha * (weightByValue ? h : 1)
                out[c * n + i] = (1 - w) * base[c * n + i] + w * colour.pixels[c * n + i]
            }
        }
        return PlanarImage(unchecked: width, height: height, channels: 3, pixels: out)
    }
}
