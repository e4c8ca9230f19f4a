// Inputs found by `lepton-fuzz npz` (scripts/fuzz.sh), rebuilt here by hand so each test says
// what the defect was. Before the fixes in NumpyArchive.swift (now in LeptonEngine/Formats) each of these trapped the whole
// process (a reversed range, an Int overflow, a negative range) instead of throwing.

import Foundation
import XCTest
import LeptonEngine

final class NumpyArchiveFuzzTests: XCTestCase {
    /// A `.npy` file: magic, version 1.0, little-endian header length, header, data.
    private func npy(header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + data
    }

    /// A ZIP holding one entry (stored, or marked deflated with a declared size), laid out as
    /// APPNOTE.TXT 4.3 describes: local header, data, central directory, end record. The reader
    /// does not check CRCs, so they are zero.
    private func zip(name: String, payload: [UInt8], method: UInt16 = 0, declaredSize: UInt32? = nil) -> [UInt8] {
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func le32(_ v: UInt32) -> [UInt8] { le16(UInt16(v & 0xFFFF)) + le16(UInt16(v >> 16)) }
        let n = Array(name.utf8), csize = UInt32(payload.count), usize = declaredSize ?? csize
        let local = le32(0x0403_4B50) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(0)
            + le32(csize) + le32(usize) + le16(UInt16(n.count)) + le16(0) + n + payload
        let central = le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(0)
            + le32(csize) + le32(usize) + le16(UInt16(n.count)) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0)
            + le32(0) + n
        let end = le32(0x0605_4B50) + le16(0) + le16(0) + le16(1) + le16(1) + le32(UInt32(central.count))
            + le32(UInt32(local.count)) + le16(0)
        return local + central + end
    }

    private func read(_ bytes: [UInt8]) throws -> [String: NumpyArray] {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString).npz")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try NumpyArchive.read(url)
    }

    private func assertRefused(_ bytes: [UInt8], mentioning words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try read(bytes), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
        }
    }

    func testTheBuilderMakesAnArchiveTheReaderAccepts() throws {
        // Guards the helpers: a well-formed 2×1 float array reads back, so the refusals below
        // come from the malformed field and not from a broken ZIP.
        let data: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]   // 1.0, 2.0 as little-endian Float32
        let arrays = try read(zip(name: "w.npy", payload: npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }", data: data)))
        XCTAssertEqual(arrays["w"]?.shape, [2, 1])
        XCTAssertEqual(arrays["w"]?.floats, [1, 2])
    }

    func testShapeWithTheClosingParenthesisFirstIsAnError() {
        // The fuzzer's input had ")" before "(" in the shape field: `sf[o..<c]` trapped.
        assertRefused(zip(name: "w.npy", payload: npy(header: "{'descr': '<f4', 'shape': ) (2, 3, }")), mentioning: "no shape")
    }

    func testShapeWhoseElementCountOverflowsIsAnError() {
        // Each dimension passes the `< 2^31` check; their product overflowed Int and trapped.
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647), }"
        assertRefused(zip(name: "w.npy", payload: npy(header: header)), mentioning: "larger than the file")
    }

    func testNegativeStringWidthIsAnError() {
        // `<U-1` made the byte check pass and `0..<width` trap.
        let header = "{'descr': '<U-1', 'fortran_order': False, 'shape': (1,), }"
        assertRefused(zip(name: "names.npy", payload: npy(header: header, data: [0, 0, 0, 0])), mentioning: "not supported")
    }

    func testDeflatedEntryDeclaringAnImpossibleSizeIsRefusedBeforeAllocating() {
        // 16 compressed bytes claiming 2 GiB - 1 uncompressed: inflate() allocated the full
        // declared size first. Deflate cannot expand more than 1032:1.
        let bytes = zip(name: "w.npy", payload: [UInt8](repeating: 0, count: 16), method: 8, declaredSize: 0x7FFF_FFFF)
        assertRefused(bytes, mentioning: "impossible")
    }
}
