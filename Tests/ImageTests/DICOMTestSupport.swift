import Foundation
@testable import LeptonImage

/// Locations of the shared medical data, found from this file's path (repo/Tests/ImageTests/…).
enum DICOMFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let dicomDir = repo.appendingPathComponent("../shared/data/medical/dicom").standardized

    /// manifest.csv rows as column → value dictionaries (handles quoted fields with commas).
    static func manifest() throws -> [[String: String]] {
        let text = try String(contentsOf: dicomDir.appendingPathComponent("manifest.csv"), encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
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

/// A minimal reader for the reference PNGs (8-bit grayscale, non-interlaced), independent of the
/// module's PNG decoder so that a bug there cannot hide a DICOM rendering bug.
enum TestPNG {
    struct Failure: Error { let reason: String }

    static func gray8(_ url: URL) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let b = [UInt8](try Data(contentsOf: url))
        guard b.count > 8, b[1] == 0x50, b[2] == 0x4E, b[3] == 0x47 else { throw Failure(reason: "not PNG") }
        var o = 8, width = 0, height = 0, idat: [UInt8] = []
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        while o + 8 <= b.count {
            let len = be32(o), type = String(decoding: b[o + 4..<o + 8], as: UTF8.self)
            let data = Array(b[o + 8..<o + 8 + len])
            if type == "IHDR" {
                width = be32(o + 8); height = be32(o + 12)
                guard data[8] == 8, data[9] == 0, data[12] == 0 else { throw Failure(reason: "not 8-bit gray non-interlaced") }
            } else if type == "IDAT" { idat += data }
            o += 12 + len
        }
        let raw = try DICOMDataSet.inflateRaw(idat, file: url.path, zlibWrapped: true)
        var out = [UInt8](repeating: 0, count: width * height)
        var prev = [UInt8](repeating: 0, count: width)
        for y in 0..<height {
            let f = raw[y * (width + 1)]
            var line = Array(raw[(y * (width + 1) + 1)..<((y + 1) * (width + 1))])
            for x in 0..<width {
                let a = x > 0 ? Int(line[x - 1]) : 0, up = Int(prev[x]), c = x > 0 ? Int(prev[x - 1]) : 0
                let pred: Int
                switch f {
                case 1: pred = a
                case 2: pred = up
                case 3: pred = (a + up) / 2
                case 4:
                    let est: Int = a + up - c
                    let da: Int = Swift.abs(est - a), db: Int = Swift.abs(est - up), dc: Int = Swift.abs(est - c)
                    pred = da <= db && da <= dc ? a : (db <= dc ? up : c)
                default: pred = 0
                }
                line[x] = UInt8(truncatingIfNeeded: Int(line[x]) + pred)
            }
            out.replaceSubrange(y * width..<(y + 1) * width, with: line)
            prev = line
        }
        return (width, height, out)
    }
}
