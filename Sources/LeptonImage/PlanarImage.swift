// PlanarImage.swift: the image value type of LeptonImage.

/// A Float32 image stored plane by plane: `pixels` has shape `[channels, height, width]`, row-major
/// (the layout a CNN wants, and `Tensor(shape: [channels, height, width])` can wrap it directly).
///
/// Channels: 1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA. The value range depends on the producer:
/// ``PNGImage/image`` holds raw sample values (0 ... ``PNGImage/maxValue``), ``PNGImage/normalized``
/// and the helpers use [0, 1].
public struct PlanarImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// `[channels, height, width]` samples.
    public var pixels: [Float]

    /// Wraps `pixels` (`channels * height * width` values, planar).
    public init(width: Int, height: Int, channels: Int, pixels: [Float]) throws {
        guard width > 0, height > 0, channels >= 1, channels <= 4, pixels.count == width * height * channels else {
            throw ImageError.invalidArgument(detail: "\(pixels.count) values for \(channels) x \(height) x \(width)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image filled with `value`.
    public init(width: Int, height: Int, channels: Int, repeating value: Float = 0) throws {
        try self.init(width: width, height: height, channels: channels,
                      pixels: [Float](repeating: value, count: max(0, width * height * channels)))
    }

    init(unchecked width: Int, height: Int, channels: Int, pixels: [Float]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The sample of `channel` at row `y`, column `x`.
    public subscript(channel: Int, y: Int, x: Int) -> Float {
        get { pixels[(channel * height + y) * width + x] }
        set { pixels[(channel * height + y) * width + x] = newValue }
    }

    /// `[height, width]` samples of one channel.
    public func plane(_ channel: Int) -> ArraySlice<Float> {
        let n = width * height
        return pixels[(channel * n)..<((channel + 1) * n)]
    }

    /// Gray version (ITU-R BT.601 luma for colour; alpha dropped): one channel.
    public func grayscale() -> PlanarImage {
        let n = width * height
        switch channels {
        case 1: return self
        case 2: return PlanarImage(unchecked: width, height: height, channels: 1, pixels: Array(pixels[0..<n]))
        default:
            var out = [Float](repeating: 0, count: n)
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<n { out[i] = 0.299 * p[i] + 0.587 * p[n + i] + 0.114 * p[2 * n + i] }
            }
            return PlanarImage(unchecked: width, height: height, channels: 1, pixels: out)
        }
    }
}
