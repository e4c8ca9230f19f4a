// PNGDecoder.swift: PNG → PlanarImage via libpng (through the CPNGShim longjmp firewall).

import CPNGShim
import Foundation

/// PNG colour types (IHDR byte 9).
public enum PNGColorType: Int, Sendable {
    case gray = 0, rgb = 2, palette = 3, grayAlpha = 4, rgba = 6
}

/// Bounds checked against IHDR before any pixel memory is allocated.
public struct PNGLimits: Sendable, Equatable {
    /// Widest accepted image (default 16384).
    public var maxWidth: Int
    /// Tallest accepted image (default 16384).
    public var maxHeight: Int
    /// Most pixels (width × height) accepted (default 64 Mi).
    public var maxPixels: Int
    /// Largest ancillary chunk or decompressed text chunk libpng may allocate (default 8 MiB).
    public var maxChunkBytes: Int
    /// Largest file read from disk (default 512 MiB).
    public var maxFileBytes: Int

    public init(maxWidth: Int = 16_384, maxHeight: Int = 16_384, maxPixels: Int = 64 << 20,
                maxChunkBytes: Int = 8 << 20, maxFileBytes: Int = 512 << 20) {
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.maxPixels = maxPixels
        self.maxChunkBytes = maxChunkBytes
        self.maxFileBytes = maxFileBytes
    }

    public static let `default` = PNGLimits()
}

/// A decoded PNG: raw sample values as Float32 planes, with what the file said about them.
///
/// Transforms applied: palette → RGB (8-bit), a `tRNS` chunk → an alpha channel, sub-byte gray
/// unpacked to one sample per value without rescaling. Gamma and colour profiles are ignored
/// (values are the stored numbers). 16-bit samples stay 16-bit (0 ... 65535).
public struct PNGImage: Sendable {
    /// Raw samples, `[channels, height, width]`, in 0 ... ``maxValue``.
    public var image: PlanarImage
    /// Bits per sample stored in the file (1, 2, 4, 8 or 16; palette indices for palette images).
    public var bitDepth: Int
    /// Colour type stored in the file.
    public var colorType: PNGColorType
    /// Whether the file is Adam7-interlaced.
    public var interlaced: Bool
    /// Whether a `tRNS` chunk was expanded into the alpha channel.
    public var hasTransparencyChunk: Bool
    /// Largest value a delivered sample can take: 2^bits − 1 (1, 3, 15, 255 or 65535).
    public var maxValue: Float

    public var width: Int { image.width }
    public var height: Int { image.height }
    public var channels: Int { image.channels }

    /// Samples scaled to [0, 1] (divided by ``maxValue``).
    public var normalized: PlanarImage {
        var out = image
        let scale = 1 / maxValue
        out.pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] *= scale }
        }
        return out
    }
}

/// Decodes PNG files with libpng. Safe on hostile input: every failure is an ``ImageError``.
public enum PNGDecoder {
    /// Reads and decodes a PNG file.
    /// - Throws: ``ImageError`` naming the file (`fileNotFound`, `emptyFile`, `notPNG`, `truncated`,
    ///   `corrupt`, `tooLarge`, `outOfMemory`).
    public static func decode(contentsOf url: URL, limits: PNGLimits = .default) throws -> PNGImage {
        let path = url.path
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw ImageError.fileNotFound(path: path) }
        if st.st_size == 0 { throw ImageError.emptyFile(path: path) }
        if Int(st.st_size) > limits.maxFileBytes {
            throw ImageError.tooLarge(path: path, width: 0, height: 0,
                                      detail: "the file has \(st.st_size) bytes (limit \(limits.maxFileBytes))")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ImageError.fileNotFound(path: path) }
        return try decode(data: data, name: path, limits: limits)
    }

    /// Decodes a PNG held in memory; `name` labels errors.
    public static func decode(data: Data, name: String = "<memory>", limits: PNGLimits = .default) throws -> PNGImage {
        if data.isEmpty { throw ImageError.emptyFile(path: name) }
        var cLimits = lepton_png_limits(max_width: UInt32(clamping: limits.maxWidth), max_height: UInt32(clamping: limits.maxHeight),
                                        max_pixels: UInt64(clamping: limits.maxPixels),
                                        max_chunk_bytes: UInt64(clamping: limits.maxChunkBytes))
        var decoded = lepton_png_image()
        let status = data.withUnsafeBytes { raw -> Int32 in
            lepton_png_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &cLimits, &decoded)
        }
        defer { lepton_png_free(&decoded) }
        try PNGDecoder.check(status: status, message: decoded.message, width: decoded.width, height: decoded.height, name: name)
        guard let source = decoded.pixels, let colorType = PNGColorType(rawValue: Int(decoded.color_type)) else {
            throw ImageError.corrupt(path: name, detail: "libpng returned no pixels")
        }
        let width = Int(decoded.width), height = Int(decoded.height), channels = Int(decoded.channels)
        let planeSize = width * height
        var pixels = [Float](repeating: 0, count: planeSize * channels)
        pixels.withUnsafeMutableBufferPointer { out in
            let dst = out.baseAddress!
            if decoded.sample_bytes == 2 {
                for i in 0..<planeSize {
                    for c in 0..<channels {
                        let s = source + 2 * (i * channels + c)
                        dst[c * planeSize + i] = Float(UInt16(s[0]) << 8 | UInt16(s[1]))
                    }
                }
            } else if channels == 1 {
                for i in 0..<planeSize { dst[i] = Float(source[i]) }
            } else {
                for i in 0..<planeSize {
                    for c in 0..<channels { dst[c * planeSize + i] = Float(source[i * channels + c]) }
                }
            }
        }
        let image = PlanarImage(unchecked: width, height: height, channels: channels, pixels: pixels)
        return PNGImage(image: image, bitDepth: Int(decoded.bit_depth), colorType: colorType,
                        interlaced: decoded.interlaced != 0, hasTransparencyChunk: decoded.has_trns != 0,
                        maxValue: Float((1 << Int(decoded.value_bits)) - 1))
    }
}
