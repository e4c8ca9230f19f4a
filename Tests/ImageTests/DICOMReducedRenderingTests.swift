import CZlib
import Foundation
import XCTest
import LeptonImage

/// `DICOMImage.grayscaleReduced`: the same values as the full rendering, and bounded memory on a
/// deflated data set that inflates to a huge frame.
final class DICOMReducedRenderingTests: XCTestCase {
    /// Against the full rendering (itself checked against pydicom references in DICOMTests): equal
    /// at factor 1, box means of it when reduced.
    func testMatchesTheFullRendering() throws {
        for file in ["MR_small.dcm", "CT_small.dcm", "examples_palette.dcm", "examples_rgb_color.dcm", "dicomdirtests_77654033_CR1_6154.dcm"] {
            let img = try DICOMImage(contentsOf: DICOMFixtures.dicomDir.appendingPathComponent("files/\(file)"))
            // The rendering in 0…1, colour as BT.601 luma of the 0…1 channels (PlanarImage.grayscale()).
            let (px, ch) = img.rendered()
            let full: [Float] = (0..<(img.rows * img.columns)).map { i in
                if ch == 1 { return Float(px[i]) / 255 }
                let r = Float(px[3 * i]) / 255, g = Float(px[3 * i + 1]) / 255, b = Float(px[3 * i + 2]) / 255
                return 0.299 * r + 0.587 * g + 0.114 * b
            }
            let w = img.columns, h = img.rows
            let same = zip(img.grayscaleReduced(maxSide: 100_000).pixels, full).filter { $0 == $1 }.count
            XCTAssertEqual(same, full.count, "\(file): factor 1 equals the full rendering")
            for maxSide in [37, 8] {
                let r = img.grayscaleReduced(maxSide: maxSide)
                let f = (max(w, h) + maxSide - 1) / maxSide
                XCTAssertEqual([r.width, r.height], [(w + f - 1) / f, (h + f - 1) / f], file)
                for oy in 0..<r.height {
                    for ox in 0..<r.width {
                        var sum = 0.0, n = 0
                        for y in (oy * f)..<min(h, oy * f + f) { for x in (ox * f)..<min(w, ox * f + f) { sum += Double(full[y * w + x]); n += 1 } }
                        XCTAssertEqual(Double(r.pixels[oy * r.width + ox]), sum / Double(n), accuracy: 1e-5, "\(file) \(maxSide) at \(ox),\(oy)")
                    }
                }
            }
        }
    }

    /// 8192 x 8192 16-bit zeros, deflated to about 130 KB. Rendering it in full took over 1 GB
    /// (stored values, modality values as Double, bytes, a float image); reduced rendering keeps
    /// the stored values and the output only. Peak resident size of a child process, as for PNG.
    func testPeakMemoryOfADeflatedBombIsBounded() throws {
        let dir = try ImageFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bomb.dcm")
        try Data(Self.deflatedZeros(side: 8192)).write(to: url)
        let (text, peakKiB) = try ImageFixtures.runChild("ImageTests.DICOMReducedRenderingTests/testRenderInChildProcess",
                                                         environment: ["LEPTON_DICOM_CHILD": url.path])
        XCTAssertTrue(text.contains("rendered 8192 x 8192 to 1024 x 1024"), text)
        print("grayscaleReduced child peak resident size: \(peakKiB / 1024) MB")
        // Inflated data set (128 MiB, grown by doubling) + stored values (256 MiB) + the test binary.
        XCTAssertLessThan(peakKiB / 1024, 700)
    }

    func testRenderInChildProcess() throws {
        guard let path = ProcessInfo.processInfo.environment["LEPTON_DICOM_CHILD"] else { throw XCTSkip("child of the memory test only") }
        let img = try DICOMImage(contentsOf: URL(fileURLWithPath: path))
        let r = img.grayscaleReduced(maxSide: 1024)
        XCTAssertEqual(r.pixels.max(), 0)
        print("rendered \(img.columns) x \(img.rows) to \(r.width) x \(r.height), peak KiB \(ImageFixtures.peakResidentKiB())")
    }

    /// A Part 10 file in Deflated Explicit VR Little Endian: MONOCHROME2, 16-bit, all zero.
    static func deflatedZeros(side: Int) -> [UInt8] {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16(v >> 16) }
        func element(_ g: Int, _ e: Int, _ vr: String, _ value: [UInt8]) -> [UInt8] {
            le16(g) + le16(e) + Array(vr.utf8) + (vr == "OW" ? [0, 0] + le32(value.count) : le16(value.count)) + value
        }
        let meta = element(0x0002, 0x0010, "UI", Array("1.2.840.10008.1.2.1.99".utf8))
        let header = element(0x0028, 0x0002, "US", le16(1)) + element(0x0028, 0x0004, "CS", Array("MONOCHROME2 ".utf8))
            + element(0x0028, 0x0010, "US", le16(side)) + element(0x0028, 0x0011, "US", le16(side))
            + element(0x0028, 0x0100, "US", le16(16)) + element(0x0028, 0x0101, "US", le16(16)) + element(0x0028, 0x0103, "US", le16(0))
            + le16(0x7FE0) + le16(0x0010) + Array("OW".utf8) + [0, 0] + le32(side * side * 2)
        var stream = z_stream()
        deflateInit2_(&stream, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var body: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let zeros = [UInt8](repeating: 0, count: side * 2)
        func feed(_ input: [UInt8], _ flush: Int32) {
            var input = input
            input.withUnsafeMutableBufferPointer { i in
                stream.next_in = i.baseAddress
                stream.avail_in = UInt32(i.count)
                repeat {
                    buffer.withUnsafeMutableBufferPointer { b in
                        stream.next_out = b.baseAddress
                        stream.avail_out = UInt32(b.count)
                        deflate(&stream, flush)
                        body += b[0..<(b.count - Int(stream.avail_out))]
                    }
                } while stream.avail_out == 0
            }
        }
        feed(header, Z_NO_FLUSH)
        for row in 0..<side { feed(zeros, row == side - 1 ? Z_FINISH : Z_NO_FLUSH) }
        return [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) + meta + body
    }
}
