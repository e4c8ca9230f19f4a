import Foundation
import XCTest
import LeptonImage
import LeptonTestSupport

/// JPEG Lossless (no shared file has it) and hostile codestreams in the JPEG family.
final class DICOMCodecTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    func shared(_ name: String) -> URL { DICOMFixtures.dicomDir.appendingPathComponent("files/\(name)") }
    func md5(_ img: DICOMImage) -> String { MD5.hex(img.samples.flatMap { DICOMRewriter.le16(UInt16(truncatingIfNeeded: $0)) }) }
    func manifestRow(_ file: String) throws -> [String: String] {
        try XCTUnwrap(DICOMFixtures.manifest().first { $0["file"] == "files/\(file)" })
    }

    /// Lossless JPEG (process 14 and its SV1 selection) reproduces the uncompressed source exactly.
    func testJPEGLosslessMatchesTheUncompressedSource() throws {
        for (fixture, source, uid) in [("MR_small_jpeg_lossless_sv1.dcm", "MR_small.dcm", "1.2.840.10008.1.2.4.70"),
                                       ("MR_small_jpeg_lossless_p14.dcm", "MR_small.dcm", "1.2.840.10008.1.2.4.57"),
                                       ("CT_small_jpeg_lossless_sv1.dcm", "CT_small.dcm", "1.2.840.10008.1.2.4.70")] {
            let img = try DICOMImage(contentsOf: DICOMCodecTests.fixtures.appendingPathComponent(fixture))
            XCTAssertEqual(img.transferSyntaxUID, uid, fixture)
            let row = try manifestRow(source)
            XCTAssertEqual(md5(img), row["pixel_md5"], fixture)
            XCTAssertEqual(img.samples.min().map(Double.init), Double(row["pixel_min"] ?? ""), fixture)
            XCTAssertEqual(img.isSigned, row["pixel_representation"] == "1", fixture)
        }
    }

    /// Each JPEG-family file rewritten with its codestream damaged: a typed DICOMError or a decoded
    /// image, never a crash; mismatching geometry is refused before the library decodes.
    func testHostileCodestreams() throws {
        let files = [("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50"), ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),
                     ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"), ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"),
                     ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91")]
        var rng = TestRNG(state: 22)
        for (file, uid) in files {
            let ds = try DICOMDataSet(contentsOf: shared(file))
            let codestream = try XCTUnwrap(ds.elements[.pixelData]?.fragments).reduce([], +)
            func decode(_ cs: [UInt8], _ replacing: [DICOMTag: (String, [UInt8])] = [:]) -> Error? {
                let bytes = DICOMRewriter.header(ds, transferSyntax: uid, frames: 1, replacing: replacing)
                    + DICOMRewriter.encapsulated([cs], withTable: false)
                do { _ = try DICOMImage(dataSet: DICOMDataSet(bytes: bytes, file: "h.dcm")); return nil } catch { return error }
            }
            XCTAssertNil(decode(codestream), "\(file) rewritten decodes")
            // Truncations: a typed error or (libjpeg pads a short scan) an image.
            for cut in [0, 2, 4, 20, 100, codestream.count / 3, codestream.count / 2, codestream.count - 2] where cut < codestream.count {
                if let e = decode(Array(codestream[0..<cut])) { XCTAssertTrue(e is DICOMError, "\(file) cut \(cut): \(e)") }
            }
            // Random bytes flipped after the first 16 bytes.
            for _ in 0..<40 {
                var cs = codestream
                for _ in 0..<8 { cs[16 + Int(rng.next() % UInt64(cs.count - 16))] = UInt8(truncatingIfNeeded: rng.next()) }
                if let e = decode(cs) { XCTAssertTrue(e is DICOMError, "\(file): \(e)") }
            }
            // The DICOM header claims other dimensions than the codestream: refused, naming both.
            let rows = try XCTUnwrap(ds.uint16(.rows)), cols = try XCTUnwrap(ds.uint16(.columns))
            let e = decode(codestream, [.rows: ("US", DICOMRewriter.le16(rows / 2))])
            XCTAssertTrue("\(e.map { "\($0)" } ?? "nil")".contains("the DICOM header says \(cols) x \(rows / 2)"), "\(file): \(String(describing: e))")
            // Absurd dimensions in the header are refused before any decoder runs.
            let big = decode(codestream, [.rows: ("US", DICOMRewriter.le16(65535)), .columns: ("US", DICOMRewriter.le16(65535))])
            XCTAssertTrue("\(big.map { "\($0)" } ?? "nil")".contains("over the limit"), "\(file): \(String(describing: big))")
        }
    }

    /// A JPEG 2000 header claiming 1 x 1 tiles over a 256 x 1024 image (262144 tiles, each with its
    /// own allocations in OpenJPEG) is refused from the SIZ marker.
    func testAbsurdTileGridIsRefused() throws {
        let ds = try DICOMDataSet(contentsOf: shared("JPEG2000.dcm"))
        var cs = try XCTUnwrap(ds.elements[.pixelData]?.fragments).reduce([], +)
        let siz = try XCTUnwrap((0..<cs.count - 1).first { cs[$0] == 0xFF && cs[$0 + 1] == 0x51 })
        cs.replaceSubrange(siz + 22..<siz + 30, with: [0, 0, 0, 1, 0, 0, 0, 1])  // XTsiz = YTsiz = 1
        let bytes = DICOMRewriter.header(ds, transferSyntax: "1.2.840.10008.1.2.4.91", frames: 1) + DICOMRewriter.encapsulated([cs], withTable: false)
        XCTAssertThrowsError(try DICOMImage(dataSet: DICOMDataSet(bytes: bytes, file: "t.dcm"))) { e in
            XCTAssertTrue("\(e)".contains("262144 tiles, over the limit of 4096"), "\(e)")
        }
    }
}
