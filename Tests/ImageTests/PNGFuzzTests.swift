// Bounded mutation fuzzing of the PNG decoder, with and without repaired CRCs (so mutations reach
// libpng's inflate and unfiltering instead of stopping at the checksum).

import Foundation
import XCTest
import LeptonImage
import LeptonTestSupport

final class PNGFuzzTests: XCTestCase {
    /// Recomputes every chunk CRC it can walk to.
    private func repairCRCs(_ input: [UInt8]) -> [UInt8] {
        var b = input
        var o = 8
        while o + 12 <= b.count {
            let len = Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
            guard len >= 0, o + 12 + len <= b.count else { break }
            let crc = HandPNG.crc32(Array(b[(o + 4)..<(o + 8 + len)]))
            b.replaceSubrange((o + 8 + len)..<(o + 12 + len), with: HandPNG.be32(crc))
            o += 12 + len
        }
        return b
    }

    func testMutatedPNGsNeverCrash() throws {
        var seeds: [[UInt8]] = []
        var rng = TestRNG(state: 0xF022)
        let rgba = (0..<(9 * 7 * 4)).map { _ in rng.below(65_536) }
        seeds.append(HandPNG.build(width: 9, height: 7, colorType: 6, bitDepth: 16, samples: rgba, interlaced: true, filterSeed: 1))
        let palette = (0..<16).map { _ in (UInt8(rng.below(256)), UInt8(rng.below(256)), UInt8(rng.below(256))) }
        seeds.append(HandPNG.build(width: 11, height: 5, colorType: 3, bitDepth: 4, samples: (0..<55).map { _ in rng.below(16) },
                                   palette: palette, trns: [0, 50, 100]))
        let image = try PlanarImage(width: 20, height: 20, channels: 3, pixels: (0..<1200).map { _ in Float(rng.below(256)) / 255 })
        seeds.append([UInt8](try PNGEncoder.encode(image)))  // zlib-compressed, so mutations hit inflate
        let real = ImageFixtures.medical.appendingPathComponent("pneumoniamnist/train/train_00000.png")
        if let data = try? Data(contentsOf: real) { seeds.append([UInt8](data)) }
        var decoded = 0, refused = 0
        let iterations = 400
        for (s, seed) in seeds.enumerated() {
            for i in 0..<iterations {
                var bytes = seed
                for _ in 0..<(1 + rng.below(6)) {
                    let at = 8 + rng.below(bytes.count - 8)
                    bytes[at] = UInt8(rng.below(256))
                }
                if rng.below(4) == 0 { bytes = Array(bytes.prefix(8 + rng.below(bytes.count - 8))) }
                if i % 2 == 0 { bytes = repairCRCs(bytes) }
                do {
                    let png = try PNGDecoder.decode(data: Data(bytes), name: "seed\(s)-\(i)",
                                                    limits: PNGLimits(maxWidth: 4096, maxHeight: 4096, maxPixels: 1 << 22))
                    XCTAssertEqual(png.image.pixels.count, png.width * png.height * png.channels)
                    XCTAssertLessThanOrEqual(png.image.pixels.max() ?? 0, png.maxValue)
                    decoded += 1
                } catch is ImageError {
                    refused += 1
                } catch {
                    XCTFail("seed \(s) #\(i): non-ImageError \(error)")
                }
            }
        }
        XCTAssertEqual(decoded + refused, seeds.count * iterations)
        print("png fuzz: \(seeds.count * iterations) mutated files, \(decoded) decoded, \(refused) typed errors")
    }
}
