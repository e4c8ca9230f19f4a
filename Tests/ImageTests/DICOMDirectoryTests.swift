import Foundation
import XCTest
import LeptonImage

/// DICOMDIR reading (Fixtures/DICOMDIR, made by DCMTK's dcmmkdir over four shared files) and its
/// hardening: loops, offsets that name no record, file IDs leaving the folder, truncation.
final class DICOMDirectoryTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/DICOMDIR")

    func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: DICOMDirectoryTests.fixture)) }

    /// Byte offsets of the 4-byte values of every `tag` UL element in the file (explicit VR LE).
    func ulValues(_ b: [UInt8], group: UInt16, element: UInt16) -> [Int] {
        let pattern: [UInt8] = [UInt8(group & 0xFF), UInt8(group >> 8), UInt8(element & 0xFF), UInt8(element >> 8), 0x55, 0x4C, 4, 0]
        return (0...(b.count - pattern.count)).filter { Array(b[$0..<$0 + pattern.count]) == pattern }.map { $0 + 8 }
    }

    func testListsTheFilesWithTheirStudyAndSeries() throws {
        let dir = try DICOMDirectory(contentsOf: DICOMDirectoryTests.fixture)
        XCTAssertEqual(Set(dir.entries.map { $0.path.joined(separator: "/") }), ["MR/IM1", "NM/IM3", "NM/IM5", "CT/IM1"])
        XCTAssertTrue(dir.entries.allSatisfy { $0.recordType == "IMAGE" })
        // The UIDs the DICOMDIR gives are those in the listed files' own headers.
        for (path, source) in [("MR/IM1", "MR_small.dcm"), ("NM/IM3", "JPEG2000.dcm"), ("NM/IM5", "JPGExtended.dcm"), ("CT/IM1", "CT_small.dcm")] {
            let ds = try DICOMDataSet(contentsOf: DICOMFixtures.dicomDir.appendingPathComponent("files/\(source)"), headerOnly: true)
            let e = try XCTUnwrap(dir.entries.first { $0.path.joined(separator: "/") == path })
            XCTAssertEqual(e.studyUID, ds.string(.studyInstanceUID), path)
            XCTAssertEqual(e.seriesUID, ds.string(.seriesInstanceUID), path)
            XCTAssertEqual(e.instanceNumber, ds.number(.instanceNumber).map { Int($0) }, path)
            XCTAssertNil(ds.elements[.pixelData], "headerOnly stops before the pixel data")
        }
        let nm = dir.entries.filter { $0.path.first == "NM" }
        XCTAssertEqual(Set(nm.map(\.seriesUID)).count, 1)
        XCTAssertEqual(Set(nm.compactMap(\.instanceNumber)), [3, 5])
    }

    func testRecordLoopsAndBadOffsetsAreTypedErrors() throws {
        let good = try bytes()
        let root = try XCTUnwrap(ulValues(good, group: 0x0004, element: 0x1200).first)
        let rootValue = Int(good[root]) | Int(good[root + 1]) << 8 | Int(good[root + 2]) << 16 | Int(good[root + 3]) << 24
        let nexts = ulValues(good, group: 0x0004, element: 0x1400)
        XCTAssertGreaterThan(nexts.count, 3)
        func with(_ at: Int, _ value: Int) -> [UInt8] {
            var b = good
            for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
            return b
        }
        func error(_ b: [UInt8]) -> String {
            do { _ = try DICOMDirectory(bytes: b, file: "DICOMDIR"); return "no error" } catch { return "\(error)" }
        }
        // Every next-record pointer aimed back at the root record: a loop, named.
        for at in nexts {
            XCTAssertTrue(error(with(at, rootValue)).contains("directory records loop"), error(with(at, rootValue)))
        }
        XCTAssertTrue(error(with(nexts[0], rootValue + 1)).contains("not to a directory record"))
        XCTAssertTrue(error(with(root, 0x7FFF_FFFF)).contains("not to a directory record"))
        // A lower-level pointer back to the root: also a loop.
        let lower = try XCTUnwrap(ulValues(good, group: 0x0004, element: 0x1420).first)
        XCTAssertTrue(error(with(lower, rootValue)).contains("directory records loop"))
    }

    func testFileIDsCannotLeaveTheFolder() throws {
        var b = try bytes()
        let id = Array("MR\\IM1".utf8)
        let at = try XCTUnwrap((0...(b.count - id.count)).first { Array(b[$0..<$0 + id.count]) == id })
        b.replaceSubrange(at..<at + id.count, with: Array("..\\IM1".utf8))
        XCTAssertThrowsError(try DICOMDirectory(bytes: b)) { e in
            XCTAssertTrue("\(e)".contains("is not a relative path of plain names"), "\(e)")
        }
    }

    func testTruncationsAreTypedErrors() throws {
        let good = try bytes()
        for cut in stride(from: 0, to: good.count, by: 37) {
            do { _ = try DICOMDirectory(bytes: Array(good[0..<cut])) } catch { XCTAssertTrue(error is DICOMError, "cut \(cut): \(error)") }
        }
    }
}
