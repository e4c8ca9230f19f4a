import Foundation
import LeptonImage

/// Locations of the shared medical data, found from this file's path (repo/Tests/ImageTests/…).
enum DICOMFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let dicomDir = repo.appendingPathComponent("../shared/data/medical/dicom").standardized

    /// manifest.csv rows as column → value dictionaries (handles quoted fields with commas).
    static func manifest() throws -> [[String: String]] {
        let text = try String(contentsOf: dicomDir.appendingPathComponent("manifest.csv"), encoding: .utf8)
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { return [] }
        let header = csvFields(lines.removeFirst())
        return lines.map { line in
            let f = csvFields(line)
            var row: [String: String] = [:]
            for (i, h) in header.enumerated() { row[h] = i < f.count ? f[i] : "" }
            return row
        }
    }

    static func csvFields(_ line: String) -> [String] {
        var out: [String] = [], cur = "", quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle() } else if ch == "," && !quoted { out.append(cur); cur = "" } else { cur.append(ch) }
        }
        out.append(cur)
        return out
    }
}

/// MD5 (RFC 1321), for comparing decoded pixel bytes with the manifest's pydicom checksums.
enum MD5 {
    static func hex(_ message: [UInt8]) -> String {
        let s: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
        let k: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4294967296.0)) }
        var a0: UInt32 = 0x67452301, b0: UInt32 = 0xefcdab89, c0: UInt32 = 0x98badcfe, d0: UInt32 = 0x10325476
        var msg = message
        let bitLen = UInt64(message.count) * 8
        msg.append(0x80)
        while msg.count % 64 != 56 { msg.append(0) }
        for i in 0..<8 { msg.append(UInt8(truncatingIfNeeded: bitLen >> (8 * UInt64(i)))) }
        for chunk in stride(from: 0, to: msg.count, by: 64) {
            var m = [UInt32](repeating: 0, count: 16)
            for i in 0..<16 {
                let o = chunk + 4 * i
                m[i] = UInt32(msg[o]) | UInt32(msg[o + 1]) << 8 | UInt32(msg[o + 2]) << 16 | UInt32(msg[o + 3]) << 24
            }
            var a = a0, b = b0, c = c0, d = d0
            for i in 0..<64 {
                var f: UInt32, g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ k[i] &+ m[g]
                a = d; d = c; c = b
                b = b &+ ((f << s[i]) | (f >> (32 - s[i])))
            }
            a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
        }
        return [a0, b0, c0, d0].map { v in
            (0..<4).map { String(format: "%02x", (v >> (8 * UInt32($0))) & 0xff) }.joined()
        }.joined()
    }
}

/// The reference PNGs through the module's libpng decoder (8-bit grayscale expected).
enum TestPNG {
    struct Failure: Error { let reason: String }

    static func gray8(_ url: URL) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let png = try PNGDecoder.decode(contentsOf: url)
        guard png.channels == 1, png.bitDepth == 8 else { throw Failure(reason: "\(url.lastPathComponent) is not 8-bit gray") }
        return (png.width, png.height, png.image.pixels.map { UInt8(min(max($0.rounded(), 0), 255)) })
    }
}
