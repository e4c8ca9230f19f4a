// PNG decoding: hand-built files in every colour type / bit depth / interlace, round trips, real files.

import Foundation
import XCTest
import LeptonImage
import LeptonTestSupport

final class PNGDecodeTests: XCTestCase {
    /// Every legal (colour type, bit depth), progressive and Adam7, all five filters, odd sizes:
    /// the decoded planes equal the samples the independent writer stored.
    func testHandBuiltFilesInEveryColourTypeAndDepth() throws {
        let combos: [(type: Int, depths: [Int])] = [(0, [1, 2, 4, 8, 16]), (2, [8, 16]), (3, [1, 2, 4, 8]), (4, [8, 16]), (6, [8, 16])]
        var rng = TestRNG(state: 7)
        var checked = 0
        for (type, depths) in combos {
            for depth in depths {
                for interlaced in [false, true] {
                    for (width, height) in [(1, 1), (7, 5), (13, 9)] {
                        let ch = HandPNG.channelsInFile(type)
                        let maxSample = type == 3 ? (1 << depth) - 1 : (1 << depth) - 1
                        let paletteSize = type == 3 ? min(256, 1 << depth) : 0
                        let palette = (0..<paletteSize).map { _ in (UInt8(rng.below(256)), UInt8(rng.below(256)), UInt8(rng.below(256))) }
                        let samples = (0..<(width * height * ch)).map { _ in rng.below(maxSample + 1) }
                        let png = HandPNG.build(width: width, height: height, colorType: type, bitDepth: depth, samples: samples,
                                                palette: palette, interlaced: interlaced, filterSeed: rng.below(5))
                        let what = "type \(type) depth \(depth) \(interlaced ? "Adam7" : "progressive") \(width)x\(height)"
                        let decoded = try PNGDecoder.decode(data: Data(png), name: what)
                        XCTAssertEqual(decoded.bitDepth, depth, what)
                        XCTAssertEqual(decoded.colorType.rawValue, type, what)
                        XCTAssertEqual(decoded.interlaced, interlaced, what)
                        XCTAssertEqual(decoded.width, width, what)
                        XCTAssertEqual(decoded.height, height, what)
                        let n = width * height
                        var expected: [Float]
                        if type == 3 {
                            XCTAssertEqual(decoded.channels, 3, what)
                            XCTAssertEqual(decoded.maxValue, 255, what)
                            expected = [Float](repeating: 0, count: 3 * n)
                            for i in 0..<n {
                                let entry = palette[samples[i]]
                                expected[i] = Float(entry.0); expected[n + i] = Float(entry.1); expected[2 * n + i] = Float(entry.2)
                            }
                        } else {
                            XCTAssertEqual(decoded.channels, ch, what)
                            XCTAssertEqual(decoded.maxValue, Float(maxSample), what)
                            expected = [Float](repeating: 0, count: ch * n)
                            for i in 0..<n { for c in 0..<ch { expected[c * n + i] = Float(samples[i * ch + c]) } }
                        }
                        XCTAssertEqual(decoded.image.pixels, expected, what)
                        let normalized = decoded.normalized
                        XCTAssertEqual(normalized.pixels.max() ?? 0, (expected.max() ?? 0) / decoded.maxValue, accuracy: 1e-6, what)
                        checked += 1
                    }
                }
            }
        }
        XCTAssertEqual(checked, 15 * 2 * 3)
    }

    /// tRNS: palette alpha, gray and RGB colour keys become an alpha channel.
    func testTransparencyChunkBecomesAlpha() throws {
        // Palette with 3 entries, alpha for the first two.
        let palette: [(UInt8, UInt8, UInt8)] = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
        let indices = [0, 1, 2, 1]
        let p = try PNGDecoder.decode(data: Data(HandPNG.build(width: 2, height: 2, colorType: 3, bitDepth: 8, samples: indices,
                                                                 palette: palette, trns: [0, 128])))
        XCTAssertEqual(p.channels, 4)
        XCTAssertTrue(p.hasTransparencyChunk)
        XCTAssertEqual(Array(p.image.plane(3)), [0, 128, 255, 128])
        XCTAssertEqual(Array(p.image.plane(0)), [255, 0, 0, 0])
        // 16-bit gray with key 1000.
        let g = try PNGDecoder.decode(data: Data(HandPNG.build(width: 3, height: 1, colorType: 0, bitDepth: 16, samples: [1000, 65535, 0],
                                                                 trns: [0x03, 0xE8])))
        XCTAssertEqual(g.channels, 2)
        XCTAssertEqual(Array(g.image.plane(0)), [1000, 65535, 0])
        XCTAssertEqual(Array(g.image.plane(1)), [0, 65535, 65535])
        // 8-bit RGB with key (10, 20, 30).
        let rgb = try PNGDecoder.decode(data: Data(HandPNG.build(width: 2, height: 1, colorType: 2, bitDepth: 8, samples: [10, 20, 30, 10, 20, 31],
                                                                   trns: [0, 10, 0, 20, 0, 30])))
        XCTAssertEqual(rgb.channels, 4)
        XCTAssertEqual(Array(rgb.image.plane(3)), [0, 255])
    }

    /// Encoder → decoder round trip in 1-4 channels at 8 and 16 bits.
    func testEncodeDecodeRoundTrip() throws {
        var rng = TestRNG(state: 99)
        for channels in 1...4 {
            for depth in [8, 16] {
                let (w, h) = (17, 11)
                let maxValue = Float(depth == 8 ? 255 : 65535)
                let levels = (0..<(w * h * channels)).map { _ in Float(rng.below(Int(maxValue) + 1)) }
                let image = try PlanarImage(width: w, height: h, channels: channels, pixels: levels.map { $0 / maxValue })
                let png = try PNGEncoder.encode(image, bitDepth: depth)
                XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                let decoded = try PNGDecoder.decode(data: png)
                XCTAssertEqual(decoded.bitDepth, depth)
                XCTAssertEqual(decoded.colorType, [PNGColorType.gray, .grayAlpha, .rgb, .rgba][channels - 1])
                XCTAssertEqual(decoded.image.pixels, levels, "\(channels) channels, \(depth) bits")
            }
        }
        // Out-of-range and NaN values are clamped, not wrapped.
        let wild = try PlanarImage(width: 3, height: 1, channels: 1, pixels: [-1, 2, .nan])
        XCTAssertEqual(try PNGDecoder.decode(data: PNGEncoder.encode(wild)).image.pixels, [0, 255, 0])
        // Writing goes through a temporary file and leaves nothing else behind.
        let dir = try ImageFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("heat.png")
        try PNGEncoder.write(wild, to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["heat.png"])
        XCTAssertEqual(try PNGDecoder.decode(contentsOf: url).width, 3)
        assertImageError(try PNGEncoder.encode(wild, bitDepth: 4), "bit depth 4") { if case .invalidArgument = $0 { return true } else { return false } }
        assertImageError(try PNGEncoder.encode(samples: [1, 2], width: 2, height: 2, channels: 1), "short buffer") {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }

    /// PneumoniaMNIST: every PNG is 28x28 8-bit gray and equals what zlib + our own unfiltering read.
    func testPneumoniaMNISTMatchesIndependentReader() throws {
        let root = ImageFixtures.medical.appendingPathComponent("pneumoniamnist")
        guard let labels = try? String(contentsOf: root.appendingPathComponent("labels.csv"), encoding: .utf8) else {
            throw XCTSkip("PneumoniaMNIST not found at \(root.path)")
        }
        let files = labels.split(whereSeparator: \.isNewline).dropFirst().compactMap { $0.split(separator: ",").first.map(String.init) }
        XCTAssertEqual(files.count, 4708 + 524)
        var compared = 0
        for (i, name) in files.enumerated() {
            let url = root.appendingPathComponent(name)
            let png = try PNGDecoder.decode(contentsOf: url)
            XCTAssertEqual(png.width, 28, name)
            XCTAssertEqual(png.height, 28, name)
            XCTAssertEqual(png.channels, 1, name)
            XCTAssertEqual(png.bitDepth, 8, name)
            if i % 7 == 0 {  // the reference reader is slow-ish; a seventh of the files is plenty
                let reference = try ReferenceGrayPNG.decode(url)
                XCTAssertEqual(png.image.pixels, reference.pixels.map(Float.init), name)
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 700)
    }

    /// The DICOM reference renderings: sizes agree with manifest.csv (rows/columns), pixels with the reference reader.
    func testDICOMReferenceRenderings() throws {
        let dicom = ImageFixtures.medical.appendingPathComponent("dicom")
        guard let manifest = try? String(contentsOf: dicom.appendingPathComponent("manifest.csv"), encoding: .utf8) else {
            throw XCTSkip("DICOM data not found")
        }
        let lines = manifest.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        guard let refColumn = header.firstIndex(of: "reference_png"), let rowsColumn = header.firstIndex(of: "rows"),
              let colsColumn = header.firstIndex(of: "columns") else { return XCTFail("manifest columns") }
        var checked = 0
        for row in lines.dropFirst() where row.count == header.count && !row[refColumn].isEmpty {
            let url = dicom.appendingPathComponent(row[refColumn])
            let png = try PNGDecoder.decode(contentsOf: url)
            let reference = try ReferenceGrayPNG.decode(url)
            XCTAssertEqual(png.height, Int(row[rowsColumn]), row[refColumn])
            XCTAssertEqual(png.width, reference.width)
            XCTAssertEqual(png.image.pixels, reference.pixels.map(Float.init), row[refColumn])
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 10)
        _ = colsColumn
    }
}
