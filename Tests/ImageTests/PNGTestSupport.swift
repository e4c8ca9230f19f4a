// Test helpers: an independent PNG writer (stored deflate, own CRC/Adler, all filters, Adam7)
// and an independent reader for 8-bit gray files (zlib's inflate, own unfiltering).

import CZlib
import Foundation
import XCTest
import LeptonImage

enum ImageFixtures {
    /// This process's peak resident size in KiB since it exec'd (`VmHWM` of /proc/self/status).
    /// Not getrusage's ru_maxrss: Linux carries the parent's peak over into a spawned child's
    /// (at exec it keeps the larger of the two), so a child of a test process that once held
    /// the Whisper and MiniLM weights would report the parent's peak, not its own.
    static func peakResidentKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? -1
    }

    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static var medical: URL { repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/medical") }

    /// Runs one test of this bundle (`Target.Class/test`) in a child process with `environment`
    /// added, and returns what it printed and the peak resident size (KiB) it reported as
    /// `peak KiB N` (its own ``peakResidentKiB()``). Fails the calling test when the child fails.
    static func runChild(_ test: String, environment: [String: String],
                         file: StaticString = #filePath, line: UInt = #line) throws -> (text: String, peakKiB: Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = [test]
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text, file: file, line: line)
        let peak = try XCTUnwrap(text.components(separatedBy: "peak KiB ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) },
                                 text, file: file, line: line)
        return (text, peak)
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Builds PNG byte streams without libpng or zlib: stored (uncompressed) deflate blocks, a
/// table-free CRC-32 and Adler-32, every filter type in turn, optional Adam7 interlacing.
enum HandPNG {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    /// zlib stream made of stored blocks.
    static func zlibStored(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65_535, raw.count - i)
            let final: UInt8 = i + n == raw.count ? 1 : 0
            out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += raw[i..<(i + n)]
            i += n
        } while i < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
        return out + be32(b << 16 | a)
    }

    static func channelsInFile(_ colorType: Int) -> Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]! }

    /// Packs one row of samples (values < 2^bitDepth) MSB first.
    static func packRow(_ samples: ArraySlice<Int>, bitDepth: Int) -> [UInt8] {
        switch bitDepth {
        case 16: return samples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        case 8: return samples.map { UInt8($0) }
        default:
            var out: [UInt8] = []
            var acc = 0, bits = 0
            for s in samples {
                acc = acc << bitDepth | s
                bits += bitDepth
                if bits == 8 { out.append(UInt8(acc)); acc = 0; bits = 0 }
            }
            if bits > 0 { out.append(UInt8(acc << (8 - bits))) }
            return out
        }
    }

    /// Filters packed rows; row r uses filter type (r + seed) % 5.
    static func filterRows(_ rows: [[UInt8]], bpp: Int, seed: Int) -> [UInt8] {
        var out: [UInt8] = []
        var prev = [UInt8](repeating: 0, count: rows.first?.count ?? 0)
        for (r, row) in rows.enumerated() {
            let type = (r + seed) % 5
            out.append(UInt8(type))
            for i in 0..<row.count {
                let a = i >= bpp ? Int(row[i - bpp]) : 0, b = Int(prev[i]), c = i >= bpp ? Int(prev[i - bpp]) : 0
                let predictor: Int
                switch type {
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: predictor = 0
                }
                out.append(UInt8((Int(row[i]) - predictor) & 0xFF))
            }
            prev = row
        }
        return out
    }

    /// A complete PNG. `samples` is `[height][width][channelsInFile]` flattened (palette: indices).
    static func build(width: Int, height: Int, colorType: Int, bitDepth: Int, samples: [Int],
                      palette: [(UInt8, UInt8, UInt8)] = [], trns: [UInt8] = [], interlaced: Bool = false,
                      filterSeed: Int = 0) -> [UInt8] {
        let ch = channelsInFile(colorType)
        let bpp = max(1, ch * bitDepth / 8)
        var raw: [UInt8] = []
        if interlaced {
            let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            for (p, (x0, y0, dx, dy)) in passes.enumerated() {
                var rows: [[UInt8]] = []
                for y in stride(from: y0, to: height, by: dy) {
                    var line: [Int] = []
                    for x in stride(from: x0, to: width, by: dx) { line += samples[((y * width + x) * ch)..<((y * width + x + 1) * ch)] }
                    if !line.isEmpty { rows.append(packRow(line[...], bitDepth: bitDepth)) }
                }
                if !rows.isEmpty { raw += filterRows(rows, bpp: bpp, seed: filterSeed + p) }
            }
        } else {
            let rows = (0..<height).map { y in packRow(samples[(y * width * ch)..<((y + 1) * width * ch)], bitDepth: bitDepth) }
            raw = filterRows(rows, bpp: bpp, seed: filterSeed)
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [UInt8(bitDepth), UInt8(colorType), 0, 0, interlaced ? 1 : 0])
        if !palette.isEmpty { png += chunk("PLTE", palette.flatMap { [$0.0, $0.1, $0.2] }) }
        if !trns.isEmpty { png += chunk("tRNS", trns) }
        png += chunk("IDAT", zlibStored(raw))
        png += chunk("IEND", [])
        return png
    }
}

/// Reads 8-bit gray, non-interlaced PNGs with zlib's `uncompress` and its own unfiltering.
enum ReferenceGrayPNG {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func decode(_ url: URL) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let b = [UInt8](try Data(contentsOf: url))
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        guard b.count > 33, Array(b[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { throw Failure(description: "signature") }
        var o = 8, width = 0, height = 0
        var idat: [UInt8] = []
        while o + 12 <= b.count {
            let len = be32(o)
            let type = String(decoding: b[(o + 4)..<(o + 8)], as: UTF8.self)
            if type == "IHDR" {
                width = be32(o + 8); height = be32(o + 12)
                guard b[o + 16] == 8, b[o + 17] == 0, b[o + 20] == 0 else { throw Failure(description: "not 8-bit gray progressive") }
            }
            if type == "IDAT" { idat += b[(o + 8)..<(o + 8 + len)] }
            o += 12 + len
        }
        var raw = [UInt8](repeating: 0, count: height * (width + 1))
        var rawLength = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { dst in
            idat.withUnsafeBufferPointer { src in uncompress(dst.baseAddress, &rawLength, src.baseAddress, uLong(src.count)) }
        }
        guard status == Z_OK, Int(rawLength) == raw.count else { throw Failure(description: "zlib status \(status)") }
        var out = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            let type = raw[y * (width + 1)]
            for x in 0..<width {
                let v = Int(raw[y * (width + 1) + 1 + x])
                let a = x > 0 ? Int(out[y * width + x - 1]) : 0
                let up = y > 0 ? Int(out[(y - 1) * width + x]) : 0
                let c = x > 0 && y > 0 ? Int(out[(y - 1) * width + x - 1]) : 0
                let predictor: Int
                switch type {
                case 1: predictor = a
                case 2: predictor = up
                case 3: predictor = (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: predictor = 0
                }
                out[y * width + x] = UInt8((v + predictor) & 0xFF)
            }
        }
        return (width, height, out)
    }
}

/// Asserts `body` throws an ``ImageError`` accepted by `matches`.
func assertImageError<T>(_ body: @autoclosure () throws -> T, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                         _ matches: (ImageError) -> Bool) {
    do {
        _ = try body()
        XCTFail("\(what): expected an ImageError, got success", file: file, line: line)
    } catch let error as ImageError {
        XCTAssertTrue(matches(error), "\(what): unexpected \(error)", file: file, line: line)
        print("[\(what)] \(error)")
    } catch {
        XCTFail("\(what): expected an ImageError, got \(error)", file: file, line: line)
    }
}
