// PNGEncoder.swift: PlanarImage → PNG (8- or 16-bit gray, gray+alpha, RGB, RGBA).

import CPNGShim
import Foundation
import LeptonFiles

/// Encodes images as PNG with libpng (for heatmaps, overlays, plots).
public enum PNGEncoder {
    /// Encodes `image` whose samples are in [0, 1] (values outside are clamped).
    /// - Parameters:
    ///   - image: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels, `[channels, height, width]`.
    ///   - bitDepth: 8 or 16.
    ///   - compressionLevel: zlib level 0 ... 9.
    /// - Returns: the PNG file's bytes.
    public static func encode(_ image: PlanarImage, bitDepth: Int = 8, compressionLevel: Int = 6) throws -> Data {
        guard bitDepth == 8 || bitDepth == 16 else { throw ImageError.invalidArgument(detail: "PNG bit depth \(bitDepth); use 8 or 16") }
        let n = image.width * image.height
        let c = image.channels
        let maxValue = Float(bitDepth == 8 ? 255 : 65535)
        var bytes = [UInt8](repeating: 0, count: n * c * (bitDepth / 8))
        image.pixels.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    for ch in 0..<c {
                        let v = src[ch * n + i]
                        let clamped = v.isNaN ? 0 : max(0, min(1, v))
                        let q = Int((clamped * maxValue).rounded())
                        if bitDepth == 8 {
                            dst[i * c + ch] = UInt8(q)
                        } else {
                            dst[2 * (i * c + ch)] = UInt8(q >> 8)
                            dst[2 * (i * c + ch) + 1] = UInt8(q & 0xFF)
                        }
                    }
                }
            }
        }
        return try encode(samples: bytes, width: image.width, height: image.height, channels: c,
                          bitDepth: bitDepth, compressionLevel: compressionLevel)
    }

    /// Encodes interleaved samples as stored in a PNG row: `[height, width, channels]` bytes
    /// (16-bit samples big-endian, two bytes each).
    public static func encode(samples: [UInt8], width: Int, height: Int, channels: Int, bitDepth: Int = 8,
                              compressionLevel: Int = 6) throws -> Data {
        guard width > 0, height > 0, width < Int(Int32.max), height < Int(Int32.max), (1...4).contains(channels),
              bitDepth == 8 || bitDepth == 16, samples.count == width * height * channels * (bitDepth / 8) else {
            throw ImageError.invalidArgument(detail: "\(samples.count) bytes for \(width) x \(height) x \(channels) at \(bitDepth) bits")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = samples.withUnsafeBufferPointer { p in
            message.withUnsafeMutableBufferPointer { m in
                lepton_png_encode(p.baseAddress, UInt32(width), UInt32(height), Int32(channels), Int32(bitDepth),
                                  Int32(compressionLevel), &out, &size, m.baseAddress)
            }
        }
        defer { lepton_png_free_buffer(out) }
        guard status == Int32(LEPTON_PNG_OK), let out else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError.invalidArgument(detail: "libpng could not encode: \(text)")
        }
        return Data(bytes: out, count: size)
    }

    /// Encodes and writes atomically (``AtomicFile``: temporary file in the same folder, then rename).
    public static func write(_ image: PlanarImage, to url: URL, bitDepth: Int = 8) throws {
        let data = try encode(image, bitDepth: bitDepth)
        do { try AtomicFile.write(data, to: url) } catch { throw ImageError.writeFailed(path: url.path, detail: error.reason) }
    }
}
