// PNGDecoder+Gray.swift: PNG → one gray plane, reduced while decoding (bounded memory).

import CPNGShim
import Foundation

/// A PNG decoded to gray in [0, 1] and reduced by an integer box filter while it was read.
public struct ReducedGrayPNG: Sendable {
    /// `[1, height, width]` gray values in [0, 1]: each the mean of a `factor` x `factor` block.
    public var image: PlanarImage
    /// The file's dimensions.
    public var sourceWidth: Int
    public var sourceHeight: Int
    /// 1 when the image was small enough to keep every pixel.
    public var factor: Int
}

extension PNGDecoder {
    /// Decodes to gray, never holding more than one row of the file plus the output: a 522 KB PNG
    /// declaring 64 Mi 16-bit RGBA pixels used to take 2 GB resident through the full decoder.
    ///
    /// Gray is the gray sample (alpha dropped) or BT.601 luma of RGB, divided by the largest sample
    /// value, as `decode(...).normalized.grayscale()`; the output is reduced by the smallest integer
    /// factor that brings both sides to at most `maxSide` (block means; edge blocks average what they
    /// hold). At factor 1 the values equal the full decoder's exactly.
    /// - Throws: ``ImageError`` as ``decode(data:name:limits:)``.
    public static func decodeGray(data: Data, name: String = "<memory>", maxSide: Int,
                                  limits: PNGLimits = .default) throws -> ReducedGrayPNG {
        if data.isEmpty { throw ImageError.emptyFile(path: name) }
        guard maxSide >= 1 else { throw ImageError.invalidArgument(detail: "maxSide \(maxSide)") }
        var cLimits = lepton_png_limits(max_width: UInt32(clamping: limits.maxWidth), max_height: UInt32(clamping: limits.maxHeight),
                                        max_pixels: UInt64(clamping: limits.maxPixels),
                                        max_chunk_bytes: UInt64(clamping: limits.maxChunkBytes))
        var decoded = lepton_png_gray()
        let status = data.withUnsafeBytes { raw -> Int32 in
            lepton_png_decode_gray(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &cLimits,
                                   UInt32(clamping: maxSide), &decoded)
        }
        defer { lepton_png_free_gray(&decoded) }
        try PNGDecoder.check(status: status, message: decoded.message, width: decoded.width, height: decoded.height, name: name)
        guard let source = decoded.pixels else { throw ImageError.corrupt(path: name, detail: "libpng returned no pixels") }
        let w = Int(decoded.out_width), h = Int(decoded.out_height)
        let pixels = Array(UnsafeBufferPointer(start: source, count: w * h))
        return ReducedGrayPNG(image: PlanarImage(unchecked: w, height: h, channels: 1, pixels: pixels),
                              sourceWidth: Int(decoded.width), sourceHeight: Int(decoded.height), factor: Int(decoded.factor))
    }
}

extension PNGDecoder {
    /// Turns the C shim's result into a typed error (both decoders report the same way): the
    /// message buffer is read up to its NUL, and libpng's own size-limit error counts as too large.
    static func check<Message>(status: Int32, message buffer: Message, width: UInt32, height: UInt32, name: String) throws {
        guard Int(status) != Int(LEPTON_PNG_OK) else { return }
        let message = withUnsafeBytes(of: buffer) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        switch Int(status) {
        case Int(LEPTON_PNG_ERR_SIGNATURE): throw ImageError.notPNG(path: name, detail: message)
        case Int(LEPTON_PNG_ERR_TOO_LARGE):
            throw ImageError.tooLarge(path: name, width: Int(width), height: Int(height), detail: message)
        case Int(LEPTON_PNG_ERR_NOMEM): throw ImageError.outOfMemory(path: name)
        case Int(LEPTON_PNG_ERR_TRUNCATED): throw ImageError.truncated(path: name, detail: message)
        default:
            // libpng's own limit check (kept as a second line of defence) reports through the same path.
            if message.contains("exceeds user limit") {
                throw ImageError.tooLarge(path: name, width: Int(width), height: Int(height), detail: message)
            }
            throw ImageError.corrupt(path: name, detail: message)
        }
    }
}
