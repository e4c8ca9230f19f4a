import CZlib
import Foundation
import XCTest
import LeptonImage
import LeptonTestSupport

/// `PNGDecoder.decodeGray`: values against hand-computed gray box means, and peak memory on a
/// small file that declares a huge image.
final class PNGReducedDecodeTests: XCTestCase {
    /// Gray of every colour type, bit depth and interlacing, at factor 1 and reduced, against means
    /// computed here from the samples written into the file.
    func testGrayValuesMatchHandComputedBoxMeans() throws {
        var rng = TestRNG(state: 17)
        for (colorType, bitDepth) in [(0, 1), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (4, 8), (6, 16), (3, 8)] {
            for interlaced in [false, true] {
                let w = 13, h = 9, ch = HandPNG.channelsInFile(colorType)
                let maxV = colorType == 3 ? 3 : (1 << bitDepth) - 1
                let samples = (0..<(w * h * ch)).map { _ in rng.below(maxV + 1) }
                let palette: [(UInt8, UInt8, UInt8)] = colorType == 3 ? [(0, 0, 0), (255, 0, 0), (10, 200, 30), (255, 255, 255)] : []
                let png = HandPNG.build(width: w, height: h, colorType: colorType, bitDepth: bitDepth, samples: samples,
                                        palette: palette, interlaced: interlaced)
                // Reference gray per pixel in [0, 1]: the gray sample, or BT.601 luma of RGB.
                func gray(_ i: Int) -> Double {
                    if colorType == 3 {
                        let p = palette[samples[i]]
                        return (0.299 * Double(p.0) + 0.587 * Double(p.1) + 0.114 * Double(p.2)) / 255
                    }
                    let s = Array(samples[(i * ch)..<((i + 1) * ch)]).map { Double($0) / Double(maxV) }
                    return ch >= 3 ? 0.299 * s[0] + 0.587 * s[1] + 0.114 * s[2] : s[0]
                }
                let what = "type \(colorType) depth \(bitDepth) interlaced \(interlaced)"
                for maxSide in [100, 5, 2] {
                    let r = try PNGDecoder.decodeGray(data: Data(png), maxSide: maxSide)
                    let f = maxSide == 100 ? 1 : (max(w, h) + maxSide - 1) / maxSide
                    XCTAssertEqual(r.factor, f, what)
                    XCTAssertEqual([r.image.width, r.image.height, r.sourceWidth, r.sourceHeight],
                                   [(w + f - 1) / f, (h + f - 1) / f, w, h], what)
                    for oy in 0..<r.image.height {
                        for ox in 0..<r.image.width {
                            var sum = 0.0, n = 0
                            for y in (oy * f)..<min(h, oy * f + f) { for x in (ox * f)..<min(w, ox * f + f) { sum += gray(y * w + x); n += 1 } }
                            XCTAssertEqual(Double(r.image[0, oy, ox]), sum / Double(n), accuracy: 1e-5, "\(what) max \(maxSide) at \(ox),\(oy)")
                        }
                    }
                }
                // At factor 1 the values are the full decoder's, bit for bit.
                let full = try PNGDecoder.decode(data: Data(png)).normalized.grayscale()
                XCTAssertEqual(try PNGDecoder.decodeGray(data: Data(png), maxSide: 100).image.pixels, full.pixels, what)
            }
        }
        // Hostile input keeps its typed errors.
        XCTAssertThrowsError(try PNGDecoder.decodeGray(data: Data([1, 2, 3]), maxSide: 8))
        let png = HandPNG.build(width: 4, height: 4, colorType: 0, bitDepth: 8, samples: Array(repeating: 9, count: 16))
        XCTAssertThrowsError(try PNGDecoder.decodeGray(data: Data(png.prefix(png.count - 20)), maxSide: 8))
    }

    /// A PNG of 8192 x 8192 16-bit RGBA zeros: 512 MiB of samples in about half a megabyte of file,
    /// within the default limits. The full decoder's buffers total over 2 GB; decodeGray must stay
    /// within a small multiple of the output. Measured as the peak resident size of a child process
    /// (this test binary re-run on `testDecodeInChildProcess`), so other tests cannot blur it.
    /// Checked once with the full decoder in the child instead: over 2 GB peak.
    func testPeakMemoryOfAHugeCompressiblePNGIsBounded() throws {
        let dir = try ImageFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bomb.png")
        try Data(Self.zeroPNG(side: 8192)).write(to: url)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
        XCTAssertLessThan(size, 2 << 20, "the test file is small")

        let (text, peakKiB) = try ImageFixtures.runChild("ImageTests.PNGReducedDecodeTests/testDecodeInChildProcess",
                                                         environment: ["LEPTON_PNG_CHILD": url.path])
        XCTAssertTrue(text.contains("decoded 8192 x 8192 to 1024 x 1024"), text)
        let peakMB = Double(peakKiB) / 1024
        print("decodeGray child peak resident size: \(String(format: "%.0f", peakMB)) MB for a \(size)-byte PNG")
        // The test binary alone takes 50–150 MB resident; the full decoder took over 2 GB.
        XCTAssertLessThan(peakMB, 400, "peak resident \(peakMB) MB")
    }

    /// Runs only as the child of the test above (skipped otherwise).
    func testDecodeInChildProcess() throws {
        guard let path = ProcessInfo.processInfo.environment["LEPTON_PNG_CHILD"] else { throw XCTSkip("child of the memory test only") }
        let r = try PNGDecoder.decodeGray(data: Data(contentsOf: URL(fileURLWithPath: path)), maxSide: 1024)
        XCTAssertEqual(r.image.pixels.max(), 0)
        print("decoded \(r.sourceWidth) x \(r.sourceHeight) to \(r.image.width) x \(r.image.height), peak KiB \(ImageFixtures.peakResidentKiB())")
    }

    /// `side` x `side` RGBA 16-bit, all zero (filter bytes included), deflated row by row by zlib.
    static func zeroPNG(side: Int) -> [UInt8] {
        var stream = z_stream()
        deflateInit_(&stream, 9, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var idat: [UInt8] = []
        var row = [UInt8](repeating: 0, count: 1 + side * 8)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for y in 0..<side {
            let flush = y == side - 1 ? Z_FINISH : Z_NO_FLUSH
            row.withUnsafeMutableBufferPointer { r in
                stream.next_in = r.baseAddress
                stream.avail_in = UInt32(r.count)
                repeat {
                    buffer.withUnsafeMutableBufferPointer { b in
                        stream.next_out = b.baseAddress
                        stream.avail_out = UInt32(b.count)
                        deflate(&stream, flush)
                        idat += b[0..<(b.count - Int(stream.avail_out))]
                    }
                } while stream.avail_out == 0 || (flush == Z_FINISH && stream.avail_in > 0)
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += HandPNG.chunk("IHDR", HandPNG.be32(UInt32(side)) + HandPNG.be32(UInt32(side)) + [16, 6, 0, 0, 0])
        png += HandPNG.chunk("IDAT", idat)
        png += HandPNG.chunk("IEND", [])
        return png
    }
}
