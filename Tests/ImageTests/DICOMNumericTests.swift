import Foundation
import XCTest
import LeptonImage

/// Builds small explicit-VR little-endian Part 10 files, so a test can set one header value.
enum TinyDICOM {
    /// A 2 x 2 MONOCHROME2 16-bit image (stored 0, 100, 200, 300) with `strings` as DS/IS elements
    /// (tag → value text; nil leaves the element out).
    static func build(_ strings: [DICOMTag: String?] = [:], rows: UInt16 = 2, columns: UInt16 = 2) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        func element(_ tag: DICOMTag, _ vr: String, _ value: [UInt8]) {
            var v = value
            if v.count % 2 == 1 { v.append(vr == "UI" ? 0 : 0x20) }
            out += [UInt8(tag.group & 0xFF), UInt8(tag.group >> 8), UInt8(tag.element & 0xFF), UInt8(tag.element >> 8)]
            out += Array(vr.utf8)
            if ["OB", "OW"].contains(vr) {
                out += [0, 0]
                let n = UInt32(v.count)
                out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
            } else {
                out += [UInt8(v.count & 0xFF), UInt8(v.count >> 8)]
            }
            out += v
        }
        func us(_ x: UInt16) -> [UInt8] { [UInt8(x & 0xFF), UInt8(x >> 8)] }
        element(.transferSyntaxUID, "UI", Array("1.2.840.10008.1.2.1".utf8))
        element(.modality, "CS", Array("CT".utf8))
        element(.samplesPerPixel, "US", us(1))
        element(.photometricInterpretation, "CS", Array("MONOCHROME2".utf8))
        element(.rows, "US", us(rows))
        element(.columns, "US", us(columns))
        element(.bitsAllocated, "US", us(16))
        element(.bitsStored, "US", us(12))
        element(.pixelRepresentation, "US", us(0))
        for (tag, value) in strings.sorted(by: { $0.key.raw < $1.key.raw }) {
            guard let value else { continue }
            element(tag, tag == .numberOfFrames ? "IS" : "DS", Array(value.utf8))
        }
        let stored: [UInt16] = [0, 100, 200, 300]
        element(.pixelData, "OW", stored.flatMap(us))
        return out
    }
}

/// Numeric header strings (DS/IS) are validated before use: non-finite or absurd values used to
/// trap in `Int(…)` / `UInt8(…)` (SIGILL) and kill a whole batch.
final class DICOMNumericTests: XCTestCase {
    func decode(_ bytes: [UInt8]) throws -> DICOMImage { try DICOMImage(dataSet: DICOMDataSet(bytes: bytes, file: "n.dcm")) }

    func testHostileNumericStringsAreTypedErrors() throws {
        let cases: [(DICOMTag, String, String)] = [
            (.windowCenter, "WindowCenter", "NaN"), (.windowCenter, "WindowCenter", "1e308"),
            (.windowCenter, "WindowCenter", "40\\nan"), (.windowWidth, "WindowWidth", "inf"),
            (.windowWidth, "WindowWidth", "-Infinity"), (.windowWidth, "WindowWidth", "1e999"),
            (.rescaleSlope, "RescaleSlope", "nan"), (.rescaleSlope, "RescaleSlope", "1e308"),
            (.rescaleSlope, "RescaleSlope", "1e-320"), (.rescaleIntercept, "RescaleIntercept", "-inf"),
            (.rescaleIntercept, "RescaleIntercept", "0x1p3"), (.numberOfFrames, "NumberOfFrames", "NaN"),
            (.numberOfFrames, "NumberOfFrames", "1e308"), (.numberOfFrames, "NumberOfFrames", "99999999999999999999"),
            (.numberOfFrames, "NumberOfFrames", "-3"), (.numberOfFrames, "NumberOfFrames", "2.5"),
        ]
        for (tag, name, value) in cases {
            // Both values of the window pair are present, so the bad one is the only problem.
            var strings: [DICOMTag: String?] = [.windowCenter: "150", .windowWidth: "100"]
            strings[tag] = value
            XCTAssertThrowsError(try decode(TinyDICOM.build(strings)).rendered(), "\(name)=\(value)") { e in
                guard case let DICOMError.badAttribute(file, attribute, reason)? = e as? DICOMError else {
                    return XCTFail("\(name)=\(value): \(e)")
                }
                XCTAssertEqual(file, "n.dcm")
                XCTAssertEqual(attribute, name)
                XCTAssertFalse(reason.isEmpty)
                XCTAssertFalse("\(e)".contains("\n"), "one line: \(e)")
            }
        }
    }

    /// Valid values still work, checked against PS3.3 C.11.2.1.2.1 worked by hand:
    /// modality = 2 * stored - 50 → -50, 150, 350, 550; window c=150 w=101 spans
    /// (c - 0.5) ± (w - 1)/2 = 99.5…199.5: -50 → 0, 150 → ((150 - 149.5)/100 + 0.5) * 255 = 128.775 → 129,
    /// 350 and 550 → 255.
    func testValidNumericStringsRender() throws {
        let img = try decode(TinyDICOM.build([.rescaleSlope: " 2.0 ", .rescaleIntercept: "-5E1", .windowCenter: "150\\40",
                                              .windowWidth: "+101\\400", .numberOfFrames: "1"]))
        XCTAssertEqual(img.rescaleSlope, 2)
        XCTAssertEqual(img.rescaleIntercept, -50)
        XCTAssertEqual(img.rendered().pixels, [0, 129, 255, 255])
        // Without a window: min-max stretch of -50…550 → 0, 85, 170, 255.
        XCTAssertEqual(try decode(TinyDICOM.build([.rescaleSlope: "2", .rescaleIntercept: "-50"])).rendered().pixels, [0, 85, 170, 255])
    }

    /// Rows x Columns far beyond what any file holds is refused before anything is allocated.
    func testAbsurdDimensionsAreRefused() {
        XCTAssertThrowsError(try decode(TinyDICOM.build(rows: 65535, columns: 65535))) { e in
            XCTAssertTrue("\(e)".contains("Rows x Columns"), "\(e)")
        }
    }
}
