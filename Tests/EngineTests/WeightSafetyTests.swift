import Foundation
import XCTest
@testable import LeptonEngine

/// Loading refuses damaged weights, and a model's identity is the SHA-256 of its files.
final class WeightSafetyTests: XCTestCase {
    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// A safetensors file written byte by byte (independent of our writer): one F32 and one
    /// F16 tensor whose bytes are given.
    private func handWrittenSafetensors(f32: [UInt32], f16: [UInt16]) -> Data {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[\(f32.count)],\"data_offsets\":[0,\(4 * f32.count)]}," +
            "\"b\":{\"dtype\":\"F16\",\"shape\":[\(f16.count)],\"data_offsets\":[\(4 * f32.count),\(4 * f32.count + 2 * f16.count)]}}"
        var d = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(contentsOf: header.utf8)
        for var w in f32 { w = w.littleEndian; withUnsafeBytes(of: &w) { d.append(contentsOf: $0) } }
        for var h in f16 { h = h.littleEndian; withUnsafeBytes(of: &h) { d.append(contentsOf: $0) } }
        return d
    }

    func testNonFiniteWeightsAreRefusedNamingTheWeightAndElement() throws {
        // 0x7FC00000 is a float32 quiet NaN, 0x7F800000 +inf, 0x7C00 binary16 +inf, 0x7E00 a half NaN.
        let cases: [(f32: [UInt32], f16: [UInt16], bad: String, index: Int)] = [
            ([0x3F80_0000, 0x7FC0_0000, 0], [0x3C00], "a", 1),
            ([0x3F80_0000, 0xFF80_0000, 0], [0x3C00], "a", 1),     // -inf
            ([0, 0, 0x4000_0000], [0x3C00, 0x7C00], "b", 1),
            ([0, 0, 0], [0x7E00, 0], "b", 0),
        ]
        for c in cases {
            let store = try Safetensors.parse(handWrittenSafetensors(f32: c.f32, f16: c.f16), source: "poisoned.safetensors")
            XCTAssertThrowsError(try store.take(c.bad, shape: c.bad == "a" ? [c.f32.count] : [c.f16.count])) { e in
                XCTAssertEqual(e as? WeightFormatError, .nonFinite(file: "poisoned.safetensors", weight: c.bad, index: c.index))
                XCTAssertTrue("\(e)".contains("'\(c.bad)'") && "\(e)".contains("non-finite"), "\(e)")
            }
            XCTAssertThrowsError(try store.takeEntry(c.bad))
        }
        // Finite extremes load: float32 max (0x7F7FFFFF), binary16 max 65504 (0x7BFF), subnormals.
        let fine = try Safetensors.parse(handWrittenSafetensors(f32: [0x7F7F_FFFF, 1, 0x8000_0000], f16: [0x7BFF, 1]), source: "fine")
        XCTAssertEqual(try fine.take("a", shape: [3]).scalars[0], Float.greatestFiniteMagnitude)
        XCTAssertEqual(try fine.take("b", shape: [2]).scalars[0], 65504)
        try fine.finish()
    }

    func testModelIdentityIsSha256OfTheFilesAsSha256sumComputesIt() throws {
        let dir = try tempDir()
        let a = dir.appendingPathComponent("a.bin"), b = dir.appendingPathComponent("b.json")
        var big = Data(count: 3 << 20)                   // crosses the 1 MiB streaming pieces
        for i in stride(from: 0, to: big.count, by: 4093) { big[i] = UInt8(truncatingIfNeeded: i &* 31) }
        try big.write(to: a)
        try Data("{\"hidden\": 384}\n".utf8).write(to: b)
        let id = try ModelIdentity.of(name: "test-model", version: "7", files: [a, b])

        // Independent reference: coreutils' sha256sum over the concatenation.
        let both = dir.appendingPathComponent("both")
        try (big + Data("{\"hidden\": 384}\n".utf8)).write(to: both)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [both.path]
        let out = Pipe(); p.standardOutput = out
        try p.run(); p.waitUntilExit()
        let reference = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(12)
        XCTAssertEqual(id.sha256, String(reference))
        XCTAssertEqual(id.name, "test-model"); XCTAssertEqual(id.version, "7")
        // Order matters and a missing file is an error naming it.
        XCTAssertNotEqual(try ModelIdentity.of(name: "m", version: "1", files: [b, a]).sha256, id.sha256)
        XCTAssertThrowsError(try ModelIdentity.of(name: "m", version: "1", files: [dir.appendingPathComponent("nope")])) {
            XCTAssertTrue("\($0)".contains("nope"), "\($0)")
        }
    }
}
