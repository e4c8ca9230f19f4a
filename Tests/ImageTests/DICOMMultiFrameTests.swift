import Foundation
import XCTest
import LeptonImage

/// Rewrites a parsed file as explicit-VR little-endian Part 10 with new pixel data: the other
/// top-level elements are copied as they are (sequences are left out), so geometry, photometric and
/// window stay those of the source file.
enum DICOMRewriter {
    static let longVRs: Set<String> = ["OB", "OW", "OF", "OD", "OL", "OV", "UT", "UN", "UC", "UR", "SV", "UV"]

    static func element(_ tag: DICOMTag, _ vr: String, _ value: [UInt8], into out: inout [UInt8]) {
        var v = value
        if v.count % 2 == 1 { v.append(vr == "UI" || vr == "OB" ? 0 : 0x20) }
        out += le16(tag.group) + le16(tag.element) + Array(vr.utf8)
        if longVRs.contains(vr) { out += [0, 0] + le32(UInt32(v.count)) } else { out += le16(UInt16(v.count)) }
        out += v
    }
    static func le16(_ x: UInt16) -> [UInt8] { [UInt8(x & 0xFF), UInt8(x >> 8)] }
    static func le32(_ x: UInt32) -> [UInt8] { [UInt8(x & 0xFF), UInt8(x >> 8 & 0xFF), UInt8(x >> 16 & 0xFF), UInt8(x >> 24)] }

    /// The header elements of `ds` (no meta group, no pixel data, no sequences), `NumberOfFrames`
    /// set to `frames`, after a meta group naming `transferSyntax`.
    static func header(_ ds: DICOMDataSet, transferSyntax: String, frames: Int, replacing: [DICOMTag: (String, [UInt8])] = [:]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        element(.transferSyntaxUID, "UI", Array(transferSyntax.utf8), into: &out)
        var elements: [DICOMTag: (String, [UInt8])] = [:]
        for (tag, e) in ds.elements where tag.group != 0x0002 && tag != .pixelData && e.vr != "SQ" && e.vr.count == 2 {
            elements[tag] = (e.vr, e.value)
        }
        elements[.numberOfFrames] = ("IS", Array(String(frames).utf8))
        for (tag, value) in replacing { elements[tag] = value }
        for (tag, (vr, value)) in elements.sorted(by: { $0.key.raw < $1.key.raw }) { element(tag, vr, value, into: &out) }
        return out
    }

    /// Encapsulated pixel data: a Basic Offset Table (the frames' item offsets, or empty) and each
    /// frame's codestream cut into `fragmentsPerFrame` fragments of even length.
    static func encapsulated(_ frames: [[UInt8]], withTable: Bool, fragmentsPerFrame: Int = 1) -> [UInt8] {
        var items: [[UInt8]] = [], table: [UInt32] = [], offset: UInt32 = 0
        for f in frames {
            var data = f
            if data.count % 2 == 1 { data.append(0) }
            table.append(offset)
            let cut = (data.count / fragmentsPerFrame) & ~1
            var start = 0
            for k in 0..<fragmentsPerFrame {
                let end = k == fragmentsPerFrame - 1 ? data.count : start + cut
                items.append(Array(data[start..<end]))
                offset += UInt32(end - start + 8)
                start = end
            }
        }
        var out = le16(0x7FE0) + le16(0x0010) + Array("OB".utf8) + [0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        let bot = withTable ? table.flatMap(le32) : []
        out += le16(0xFFFE) + le16(0xE000) + le32(UInt32(bot.count)) + bot
        for item in items { out += le16(0xFFFE) + le16(0xE000) + le32(UInt32(item.count)) + item }
        out += le16(0xFFFE) + le16(0xE0DD) + le32(0)
        return out
    }
}

/// Frame selection (`DICOMImage(…, frame:)`) in native and encapsulated multi-frame files built
/// from the shared single-frame files, and the offset-table and fragment checks.
final class DICOMMultiFrameTests: XCTestCase {
    func url(_ name: String) -> URL { DICOMFixtures.dicomDir.appendingPathComponent("files/\(name)") }
    func md5(_ img: DICOMImage) -> String { MD5.hex(img.samples.flatMap { DICOMRewriter.le16(UInt16(truncatingIfNeeded: $0)) }) }
    func manifestMD5(_ file: String) throws -> String {
        try XCTUnwrap(DICOMFixtures.manifest().first { $0["file"] == "files/\(file)" }?["pixel_md5"])
    }

    /// Native: three frames (MR_small, its pixels in reverse order, MR_small again); each frame
    /// decodes to what was put there, and a fourth is a typed error.
    func testNativeFrames() throws {
        let ds = try DICOMDataSet(contentsOf: url("MR_small.dcm"))
        let frame0 = try XCTUnwrap(ds.elements[.pixelData]?.value)
        var reversed: [UInt8] = []
        for i in stride(from: frame0.count - 2, through: 0, by: -2) { reversed += [frame0[i], frame0[i + 1]] }
        var bytes = DICOMRewriter.header(ds, transferSyntax: "1.2.840.10008.1.2.1", frames: 3)
        DICOMRewriter.element(.pixelData, "OW", frame0 + reversed + frame0, into: &bytes)
        let multi = try DICOMDataSet(bytes: bytes, file: "multi.dcm")
        let first = try DICOMImage(dataSet: multi)
        XCTAssertEqual(first.frames, 3)
        XCTAssertEqual(first.frameIndex, 0)
        XCTAssertEqual(md5(first), try manifestMD5("MR_small.dcm"))
        let second = try DICOMImage(dataSet: multi, frame: 1)
        XCTAssertEqual(second.samples, first.samples.reversed())
        XCTAssertEqual(try DICOMImage(dataSet: multi, frame: 2).samples, first.samples)
        XCTAssertThrowsError(try DICOMImage(dataSet: multi, frame: 3)) { e in
            XCTAssertEqual(e as? DICOMError, .frameOutOfRange(file: "multi.dcm", frame: 3, frames: 3))
            XCTAssertTrue("\(e)".contains("frame 4 does not exist; the file has 3 frames"), "\(e)")
        }
        // Pixel data shorter than the frames it announces.
        var short = DICOMRewriter.header(ds, transferSyntax: "1.2.840.10008.1.2.1", frames: 3)
        DICOMRewriter.element(.pixelData, "OW", frame0 + reversed, into: &short)
        XCTAssertThrowsError(try DICOMImage(dataSet: DICOMDataSet(bytes: short, file: "s.dcm"), frame: 2)) { e in
            guard case .badPixelData = e as? DICOMError else { return XCTFail("\(e)") }
        }
    }

    /// Encapsulated JPEG-LS and JPEG 2000: frame 0 is the shared file's codestream, frame 1 a copy
    /// whose frame header disagrees with the DICOM header. Selecting frame 0 must give the manifest's pixels (by
    /// the offset table, one fragment per frame, or fragments grouped at codestream starts), and
    /// frame 1 must fail: proof that the frames are told apart.
    func testEncapsulatedFrames() throws {
        for (file, uid) in [("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"), ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90")] {
            let ds = try DICOMDataSet(contentsOf: url(file))
            let codestream = try XCTUnwrap(ds.elements[.pixelData]?.fragments).reduce([], +)
            // Frame 1 claims one more column than the DICOM header (JPEG-LS SOF55 width, or SIZ Xsiz).
            var damaged = codestream
            let marker: UInt8 = uid.hasSuffix(".80") ? 0xF7 : 0x51
            let at = try XCTUnwrap((0..<damaged.count - 1).first { damaged[$0] == 0xFF && damaged[$0 + 1] == marker })
            damaged[marker == 0xF7 ? at + 8 : at + 9] &+= 1
            for (withTable, perFrame) in [(true, 1), (false, 1), (true, 3), (false, 3)] {
                var bytes = DICOMRewriter.header(ds, transferSyntax: uid, frames: 2)
                bytes += DICOMRewriter.encapsulated([codestream, damaged], withTable: withTable, fragmentsPerFrame: perFrame)
                let multi = try DICOMDataSet(bytes: bytes, file: "m.dcm")
                let what = "\(file) table \(withTable) fragments/frame \(perFrame)"
                XCTAssertEqual(md5(try DICOMImage(dataSet: multi, frame: 0)), try manifestMD5(file), what)
                XCTAssertThrowsError(try DICOMImage(dataSet: multi, frame: 1), what) { e in
                    XCTAssertTrue("\(e)".contains("the DICOM header says 64 x 64"), "\(what): \(e)")
                }
                XCTAssertThrowsError(try DICOMImage(dataSet: multi, frame: -1), what)
            }
        }
    }

    /// An offset table that lies (wrong count, not at a fragment, decreasing) is a typed error naming it.
    func testLyingOffsetTable() throws {
        let ds = try DICOMDataSet(contentsOf: url("MR_small_jpeg_ls_lossless.dcm"))
        let codestream = try XCTUnwrap(ds.elements[.pixelData]?.fragments).reduce([], +)
        let good = DICOMRewriter.encapsulated([codestream, codestream], withTable: true)
        let frameItem = UInt32(codestream.count + codestream.count % 2 + 8)
        for (table, expected) in [([0], "1 entries for 2 frames"), ([0, frameItem + 2], "is not the start of a fragment"),
                                  ([frameItem, 0], "not at the first fragment")] as [([UInt32], String)] {
            var pixel = good
            // Rewrite the table in place (same length): the item value starts 12 + 8 bytes in.
            let t = table.flatMap(DICOMRewriter.le32)
            if t.count == 8 { pixel.replaceSubrange(20..<28, with: t) } else {
                pixel.replaceSubrange(16..<28, with: DICOMRewriter.le32(4) + t)
            }
            let bytes = DICOMRewriter.header(ds, transferSyntax: "1.2.840.10008.1.2.4.80", frames: 2) + pixel
            XCTAssertThrowsError(try DICOMImage(dataSet: DICOMDataSet(bytes: bytes, file: "t.dcm"), frame: 1)) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(table): \(e)")
            }
        }
    }
}
