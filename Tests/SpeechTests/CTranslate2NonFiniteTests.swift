import Foundation
import LeptonEngine
import XCTest

/// A CTranslate2 checkpoint whose floats hold NaN or inf is refused when the weight is read.
final class CTranslate2NonFiniteTests: XCTestCase {
    private func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    private func str(_ s: String) -> [UInt8] {
        let b = Array(s.utf8) + [0]
        return [UInt8(b.count & 0xff), UInt8(b.count >> 8)] + b
    }

    /// A v6 file (layout: ../shared/specs/ctranslate2-whisper.md) with a float32 [2] and a float16 [2] weight.
    private func file(f32: [UInt32], f16: [UInt16]) throws -> URL {
        var b = u32(6) + str("TestSpec") + u32(1) + u32(2)
        b += str("a/weight") + [1] + u32(2) + [0] + u32(8) + f32.flatMap(u32)
        b += str("b/weight") + [1] + u32(2) + [4] + u32(4) + f16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        b += u32(0)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ct2-nan-\(UUID().uuidString).bin")
        try Data(b).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testNonFiniteFloat32AndFloat16WeightsAreRefused() throws {
        let nan32 = try CTranslate2File(contentsOf: file(f32: [Float(1).bitPattern, 0x7FC0_0000], f16: [0x3C00, 0x3C00]))
        XCTAssertThrowsError(try nan32.floats("a/weight", expectedShape: [2])) { XCTAssertTrue("\($0)".contains("a/weight") && "\($0)".contains("non-finite"), "\($0)") }
        XCTAssertEqual(try nan32.floats("b/weight", expectedShape: [2]), [1, 1])

        let inf16 = try CTranslate2File(contentsOf: file(f32: [0, 0], f16: [0x3C00, 0xFC00]))   // 0xFC00: binary16 -inf
        XCTAssertThrowsError(try inf16.floats("b/weight", expectedShape: [2]))
        var halves = [Float16](repeating: 0, count: 2)
        XCTAssertThrowsError(try halves.withUnsafeMutableBufferPointer { try inf16.readHalves("b/weight", expectedShape: [2], into: $0.baseAddress!) }) {
            XCTAssertTrue("\($0)".contains("b/weight"), "\($0)")
        }
    }
}
