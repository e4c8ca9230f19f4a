import Foundation
import XCTest
import LeptonImage

/// Every file of ../shared/data/medical/dicom against manifest.csv (pydicom 3.0.2 pixel statistics
/// and md5) and the reference renderings in expected/.
final class DICOMTests: XCTestCase {
    /// Stored values as the bytes of pydicom's `pixel_array` (uint8, or int16/uint16 little endian).
    func pixelBytes(_ img: DICOMImage) -> [UInt8] {
        if img.bitsAllocated == 8 { return img.samples.map { UInt8(truncatingIfNeeded: $0) } }
        var out: [UInt8] = []
        out.reserveCapacity(img.samples.count * 2)
        for v in img.samples {
            let u = UInt16(truncatingIfNeeded: v)
            out.append(UInt8(u & 0xFF)); out.append(UInt8(u >> 8))
        }
        return out
    }

    /// Lossy transfer syntaxes (JPEG baseline/extended, JPEG 2000 irreversible): the decoders
    /// (DCMTK's IJG here, pydicom's plugin for the manifest) may round the inverse DCT or wavelet
    /// differently, a level on a few pixels. Their min/max must still agree within one level and the
    /// mean within 0.05 (a one-level error on 5% of pixels); the renderings within ±1 as for all files.
    static let lossySyntaxes: Set<String> = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.91"]

    func testEveryManifestFile() throws {
        let rows = try DICOMFixtures.manifest()
        XCTAssertEqual(rows.count, 19)
        var decoded = 0, notImages = 0
        for row in rows {
            let file = row["file"] ?? ""
            let url = DICOMFixtures.dicomDir.appendingPathComponent(file)
            let ts = row["transfer_syntax_uid"] ?? ""
            do {
                let img = try DICOMImage(contentsOf: url)
                decoded += 1
                XCTAssertEqual(row["decoded_by_pydicom"], "yes", file)
                XCTAssertEqual(img.rows, Int(row["rows"] ?? ""), file)
                XCTAssertEqual(img.columns, Int(row["columns"] ?? ""), file)
                XCTAssertEqual(img.photometric, row["photometric"], file)
                XCTAssertEqual(img.samplesPerPixel, Int(row["samples_per_pixel"] ?? ""), file)
                // pydicom 3 converts YBR_FULL(_422) to RGB in pixel_array (as_rgb): compare our RGB rendering.
                let values: [Int32] = img.photometric.hasPrefix("YBR_FULL") ? img.rendered().pixels.map(Int32.init) : img.samples
                let bytes = img.photometric.hasPrefix("YBR_FULL") ? values.map { UInt8($0) } : pixelBytes(img)
                let mn = values.min().map(Double.init), mx = values.max().map(Double.init)
                let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
                if DICOMTests.lossySyntaxes.contains(ts) {
                    XCTAssertEqual(mn ?? .nan, Double(row["pixel_min"] ?? "") ?? .nan, accuracy: 1, file)
                    XCTAssertEqual(mx ?? .nan, Double(row["pixel_max"] ?? "") ?? .nan, accuracy: 1, file)
                    XCTAssertEqual(mean, Double(row["pixel_mean"] ?? "") ?? .nan, accuracy: 0.05, file)
                } else {
                    XCTAssertEqual(MD5.hex(bytes), row["pixel_md5"], "md5 of \(file)")
                    XCTAssertEqual(mn, Double(row["pixel_min"] ?? ""), file)
                    XCTAssertEqual(mx, Double(row["pixel_max"] ?? ""), file)
                    XCTAssertEqual(mean, Double(row["pixel_mean"] ?? "") ?? .nan, accuracy: 1e-3, file)
                }
            } catch let e as DICOMError {
                switch e {
                case .noPixelData:
                    notImages += 1
                    XCTAssertEqual(row["modality"], "SR", file)
                default:
                    XCTFail("\(file) (\(ts)): \(e)")
                }
            }
        }
        // Native LE/BE, implicit, deflated, RLE, palette, RGB and the JPEG family all decode.
        XCTAssertEqual(notImages, 2)
        XCTAssertEqual(decoded, 17)
        XCTAssertEqual(rows.filter { $0["decoded_by_pydicom"] == "yes" }.count, decoded)
    }

    /// A transfer syntax without a built-in codec (HTJ2K here) is still a typed error naming it.
    func testUnsupportedSyntaxIsNamed() throws {
        var bytes = TinyDICOM.build()
        let ts = Array("1.2.840.10008.1.2.1".utf8), htj2k = Array("1.2.840.10008.1.2.4.201".utf8)
        let at = try XCTUnwrap((0..<bytes.count - ts.count).first { Array(bytes[$0..<$0 + ts.count]) == ts })
        bytes.replaceSubrange(at - 2..<at + ts.count + 1, with: [UInt8(htj2k.count + 1), 0] + htj2k + [0])
        XCTAssertThrowsError(try DICOMImage(dataSet: DICOMDataSet(bytes: bytes, file: "h.dcm"))) { e in
            XCTAssertEqual(e as? DICOMError, .unsupportedTransferSyntax(file: "h.dcm", uid: "1.2.840.10008.1.2.4.201", name: "HTJ2K (Lossless Only)"))
        }
    }

    /// Reference 8-bit renderings (modality LUT, VOI window or min-max, MONOCHROME1 inverted), ±1.
    func testRenderingsMatchExpected() throws {
        var compared = 0
        for row in try DICOMFixtures.manifest() {
            guard let ref = row["reference_png"], !ref.isEmpty, let file = row["file"] else { continue }
            let img = try DICOMImage(contentsOf: DICOMFixtures.dicomDir.appendingPathComponent(file))
            let expected = try TestPNG.gray8(DICOMFixtures.dicomDir.appendingPathComponent(ref))
            XCTAssertEqual(expected.width, img.columns, file)
            XCTAssertEqual(expected.height, img.rows, file)
            let (px, ch) = img.rendered()
            XCTAssertEqual(ch, 1)
            var worst = 0
            for i in 0..<min(px.count, expected.pixels.count) { worst = max(worst, abs(Int(px[i]) - Int(expected.pixels[i]))) }
            XCTAssertLessThanOrEqual(worst, 1, "\(file) rendering differs by \(worst)")
            compared += 1
        }
        XCTAssertEqual(compared, 13)
    }

    func testColourRenderings() throws {
        let pal = try DICOMImage(contentsOf: DICOMFixtures.dicomDir.appendingPathComponent("files/examples_palette.dcm"))
        let (px, ch) = pal.rendered()
        XCTAssertEqual(ch, 3)
        XCTAssertEqual(px.count, 350 * 800 * 3)
        // The palette maps grey indices to colours: some pixels must have r ≠ g or g ≠ b.
        var coloured = 0
        for i in 0..<(350 * 800) where px[3 * i] != px[3 * i + 1] || px[3 * i + 1] != px[3 * i + 2] { coloured += 1 }
        XCTAssertGreaterThan(coloured, 1000)
        let rgb = try DICOMImage(contentsOf: DICOMFixtures.dicomDir.appendingPathComponent("files/examples_rgb_color.dcm"))
        let (rpx, rch) = rgb.rendered()
        XCTAssertEqual(rch, 3)
        XCTAssertEqual(rpx.map(Int32.init), rgb.samples, "RGB renders as stored")
    }

    // MARK: Hostile input

    func hostile(_ bytes: [UInt8]) -> DICOMError? {
        do { _ = try DICOMImage(dataSet: DICOMDataSet(bytes: bytes, file: "x.dcm")); return nil } catch let e as DICOMError { return e } catch {
            XCTFail("untyped error \(error)"); return nil
        }
    }

    func testTruncatedAndAbsurdLengthsFailCleanly() throws {
        let good = [UInt8](try Data(contentsOf: DICOMFixtures.dicomDir.appendingPathComponent("files/MR_small.dcm")))
        // Every truncation point yields a typed error (or, rarely, a valid smaller set without pixels).
        for cut in stride(from: 0, to: good.count, by: 97) {
            XCTAssertNotNil(hostile(Array(good[0..<cut])), "cut at \(cut)")
        }
        // A 4 GB length on the first data-set element.
        var bad = good
        let start = 132 + 12  // inside the meta group: corrupt the group-length value's length field
        bad[start - 6] = 0xFF; bad[start - 5] = 0xFF
        XCTAssertNotNil(hostile(bad))
        // Random garbage after a valid preamble.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var g = [UInt8](repeating: 0, count: 132) + (0..<400).map { _ in UInt8.random(in: 0...255, using: &rng) }
            g[128] = 0x44; g[129] = 0x49; g[130] = 0x43; g[131] = 0x4D
            _ = hostile(g)  // must not crash or hang
        }
        XCTAssertEqual(hostile([1, 2, 3]), .notDICOM(file: "x.dcm"))
    }

    func testDeflateBombIsBounded() throws {
        // A valid header announcing the deflated syntax followed by garbage: a typed error, no crash.
        let good = [UInt8](try Data(contentsOf: DICOMFixtures.dicomDir.appendingPathComponent("files/image_dfl.dcm")))
        let ds = try DICOMDataSet(bytes: good)
        XCTAssertEqual(ds.transferSyntax, .deflatedExplicitLittle)
        var bad = good
        for i in stride(from: bad.count - 400, to: bad.count, by: 1) { bad[i] ^= 0x5A }
        _ = hostile(bad)
    }
}
