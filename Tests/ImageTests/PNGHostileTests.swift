// Hostile PNGs: every one is a typed ImageError, decoded without crashing (libpng's longjmp stays in C).

import Foundation
import XCTest
import LeptonImage
import LeptonTestSupport

final class PNGHostileTests: XCTestCase {
    /// A small valid gray PNG written by the independent builder.
    private func sample(width: Int = 16, height: Int = 16) -> [UInt8] {
        var rng = TestRNG(state: 3)
        return HandPNG.build(width: width, height: height, colorType: 0, bitDepth: 8,
                             samples: (0..<(width * height)).map { _ in rng.below(256) })
    }

    private func isTruncated(_ e: ImageError) -> Bool { if case .truncated = e { return true } else { return false } }
    private func isCorrupt(_ e: ImageError) -> Bool { if case .corrupt = e { return true } else { return false } }
    private func isTooLarge(_ e: ImageError) -> Bool { if case .tooLarge = e { return true } else { return false } }

    func testMissingEmptyAndWrongMagic() throws {
        let dir = try ImageFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("none.png")
        assertImageError(try PNGDecoder.decode(contentsOf: missing), "missing") { $0 == .fileNotFound(path: missing.path) }
        let empty = dir.appendingPathComponent("empty.png")
        try Data().write(to: empty)
        assertImageError(try PNGDecoder.decode(contentsOf: empty), "empty") { $0 == .emptyFile(path: empty.path) }
        var png = sample()
        png[1] = UInt8(ascii: "Q")
        assertImageError(try PNGDecoder.decode(data: Data(png), name: "magic.png"), "wrong magic") {
            if case .notPNG(let p, _) = $0 { return p == "magic.png" } else { return false }
        }
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + Array("JFIF".utf8) + [0, 1, 1, 0]
        assertImageError(try PNGDecoder.decode(data: Data(jpeg)), "JPEG bytes") { if case .notPNG = $0 { return true } else { return false } }
    }

    /// Every prefix of a valid file fails cleanly as truncated (or, before the signature ends, not-PNG).
    func testEveryTruncationPoint() {
        let png = sample()
        for cut in 1..<png.count {
            assertImageError(try PNGDecoder.decode(data: Data(png.prefix(cut)), name: "cut\(cut)"), "cut at \(cut) of \(png.count)") {
                switch $0 {
                case .notPNG: return cut < 8
                case .truncated: return cut >= 8
                case .corrupt: return cut >= 8  // a cut inside a chunk's CRC can read as a CRC error
                default: return false
                }
            }
        }
    }

    func testCRCErrorsAndBadHeaders() {
        let png = sample()
        // Flip a byte inside IDAT's data: its CRC no longer matches.
        var idatCRC = png
        let idat = idatCRC.indices.first { i in i + 4 <= idatCRC.count && Array(idatCRC[i..<(i + 4)]) == Array("IDAT".utf8) }!
        idatCRC[idat + 40] ^= 0x55  // a pixel byte inside the stored deflate block
        assertImageError(try PNGDecoder.decode(data: Data(idatCRC)), "IDAT data changed") { self.isCorrupt($0) }
        // Data intact, only IDAT's stored CRC wrong (the 4 bytes before IEND's 12).
        var crcOnly = png
        crcOnly[crcOnly.count - 13] ^= 0x01
        assertImageError(try PNGDecoder.decode(data: Data(crcOnly)), "IDAT CRC") {
            if case .corrupt(_, let detail) = $0 { return detail.contains("CRC") } else { return false }
        }
        // IHDR CRC wrong.
        var ihdrCRC = png
        ihdrCRC[29] ^= 0xFF
        assertImageError(try PNGDecoder.decode(data: Data(ihdrCRC)), "IHDR CRC") { self.isCorrupt($0) }
        // Illegal bit depth 3 (with a correct CRC).
        var depth = Array(png[0..<8]) + HandPNG.chunk("IHDR", HandPNG.be32(16) + HandPNG.be32(16) + [3, 0, 0, 0, 0])
        depth += png[33...]
        assertImageError(try PNGDecoder.decode(data: Data(depth)), "bit depth 3") { self.isCorrupt($0) }
        // Zero width.
        var zero = Array(png[0..<8]) + HandPNG.chunk("IHDR", HandPNG.be32(0) + HandPNG.be32(16) + [8, 0, 0, 0, 0])
        zero += png[33...]
        assertImageError(try PNGDecoder.decode(data: Data(zero)), "zero width") { self.isCorrupt($0) }
        // IDAT whose zlib stream is garbage (valid CRC).
        let garbage = Array(png[0..<33]) + HandPNG.chunk("IDAT", [0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0x00, 0x12]) + HandPNG.chunk("IEND", [])
        assertImageError(try PNGDecoder.decode(data: Data(garbage)), "bad zlib") {
            switch $0 {
            case .corrupt, .truncated: return true
            default: return false
            }
        }
        // A scanline with filter type 9 (only 0-4 exist), in a valid zlib stream with valid CRCs.
        let badFilter = Array(png[0..<8]) + HandPNG.chunk("IHDR", HandPNG.be32(2) + HandPNG.be32(2) + [8, 0, 0, 0, 0])
            + HandPNG.chunk("IDAT", HandPNG.zlibStored([0, 1, 2, 9, 3, 4])) + HandPNG.chunk("IEND", [])
        assertImageError(try PNGDecoder.decode(data: Data(badFilter)), "filter type 9") { self.isCorrupt($0) }
        // Palette image without PLTE.
        let noPalette = HandPNG.build(width: 2, height: 2, colorType: 3, bitDepth: 8, samples: [0, 0, 0, 0])
        assertImageError(try PNGDecoder.decode(data: Data(noPalette)), "missing PLTE") { self.isCorrupt($0) }
        // Too little image data for the declared size.
        let short = Array(png[0..<33]) + HandPNG.chunk("IDAT", HandPNG.zlibStored([0, 1, 2, 3])) + HandPNG.chunk("IEND", [])
        assertImageError(try PNGDecoder.decode(data: Data(short)), "not enough image data") {
            switch $0 {
            case .corrupt, .truncated: return true
            default: return false
            }
        }
    }

    /// A bad CRC on an ancillary chunk is skipped by libpng (with a silenced warning): the image still decodes.
    func testAncillaryCRCIsTolerated() throws {
        let png = sample(width: 4, height: 4)
        var text = HandPNG.chunk("tEXt", Array("Comment\u{0}hello".utf8))
        text[text.count - 1] ^= 0xFF
        let patched = Array(png[0..<33]) + text + Array(png[33...])
        let decoded = try PNGDecoder.decode(data: Data(patched))
        XCTAssertEqual(decoded.image, try PNGDecoder.decode(data: Data(png)).image)
    }

    /// IHDR claiming 100000 x 100000 (a decompression bomb's header) is refused before allocation.
    func testHugeDimensionsAreRefused() throws {
        let bomb = Array(sample()[0..<8]) + HandPNG.chunk("IHDR", HandPNG.be32(100_000) + HandPNG.be32(100_000) + [8, 6, 0, 0, 0])
            + HandPNG.chunk("IDAT", HandPNG.zlibStored([0])) + HandPNG.chunk("IEND", [])
        assertImageError(try PNGDecoder.decode(data: Data(bomb), name: "bomb.png"), "100000 x 100000") {
            if case .tooLarge(let p, let w, let h, _) = $0 { return p == "bomb.png" && w == 100_000 && h == 100_000 } else { return false }
        }
        // Within the per-side limit but over the pixel budget.
        let wide = Array(sample()[0..<8]) + HandPNG.chunk("IHDR", HandPNG.be32(16_000) + HandPNG.be32(16_000) + [16, 6, 0, 0, 0])
            + HandPNG.chunk("IEND", [])
        assertImageError(try PNGDecoder.decode(data: Data(wide)), "16000 x 16000") { self.isTooLarge($0) }
        // A real, small-on-disk bomb: 4000 x 4000 zeros compress to a few KB; a tight limit refuses it.
        let zeros = try PNGEncoder.encode(PlanarImage(width: 4000, height: 4000, channels: 1), compressionLevel: 9)
        XCTAssertLessThan(zeros.count, 100_000)
        assertImageError(try PNGDecoder.decode(data: zeros, limits: PNGLimits(maxPixels: 1_000_000)), "bomb under limit") { self.isTooLarge($0) }
        XCTAssertEqual(try PNGDecoder.decode(data: zeros).width, 4000)
        // A 2^31-1 dimension (the PNG maximum) is refused too.
        let max = Array(sample()[0..<8]) + HandPNG.chunk("IHDR", HandPNG.be32(0x7FFF_FFFF) + HandPNG.be32(1) + [8, 0, 0, 0, 0])
        assertImageError(try PNGDecoder.decode(data: Data(max)), "2^31-1 wide") { self.isTooLarge($0) }
    }

    func testRandomBytesAfterSignature() {
        var rng = TestRNG(state: 2024)
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        for trial in 0..<200 {
            let tail = (0..<rng.below(300)).map { _ in UInt8(rng.below(256)) }
            assertImageError(try PNGDecoder.decode(data: Data(signature + tail)), "random \(trial)") { _ in true }
        }
    }
}
