import CZlib
import Foundation
import XCTest
import LeptonFiles

/// The one inflate against zlib's own deflate (the independent reference: what comes out must be
/// what went in), and its bounds against hostile streams.
final class InflateTests: XCTestCase {
    /// `bytes` deflated by zlib at level 9, raw (windowBits -15) or zlib-wrapped (15).
    static func deflate(_ bytes: [UInt8], zlibWrapped: Bool = false) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, 9, Z_DEFLATED, zlibWrapped ? 15 : -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))))
        var input = bytes
        let produced = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = inp.baseAddress; stream.avail_in = UInt32(inp.count)
                stream.next_out = o.baseAddress; stream.avail_out = UInt32(o.count)
                precondition(CZlib.deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return o.count - Int(stream.avail_out)
            }
        }
        return Array(out[0..<produced])
    }

    /// Text-like bytes from a fixed linear congruential generator (compressible, not trivial).
    static func sample(_ n: Int) -> [UInt8] {
        var x: UInt32 = 12345
        return (0..<n).map { _ in x = x &* 1_103_515_245 &+ 12345; return UInt8(97 + (x >> 16) % 7) }
    }

    func testRoundTripsZlibDeflateRawAndWrapped() throws {
        for n in [0, 1, 1000, 200_000] {
            let original = Self.sample(n)
            XCTAssertEqual(try Inflate.exact(Self.deflate(original), expected: n), original, "raw \(n)")
            XCTAssertEqual(try Inflate.bounded(Self.deflate(original), limit: n), original, "raw bounded \(n)")
            XCTAssertEqual(try Inflate.bounded(Self.deflate(original, zlibWrapped: true), limit: n, zlibWrapped: true), original, "zlib \(n)")
        }
    }

    /// 64 MiB of zeros deflate to about 64 KB: above the limit it stops with an error, having
    /// held at most the limit plus one 64 KiB chunk.
    func testBombStopsAtTheLimit() {
        let bomb = Self.deflate([UInt8](repeating: 0, count: 64 << 20))
        XCTAssertLessThan(bomb.count, 100_000)
        XCTAssertThrowsError(try Inflate.bounded(bomb, limit: 1 << 20)) { XCTAssertEqual($0 as? InflateError, .tooLarge(limit: 1 << 20)) }
    }

    /// A declared size deflate cannot reach from the compressed length is refused before any
    /// allocation (the npz fuzz finding: 16 bytes claiming 2 GiB), and a size that differs from
    /// the stream's is an error both ways.
    func testDeclaredSizeIsChecked() {
        XCTAssertFalse(Inflate.isPossible(expected: 0x7FFF_FFFF, compressed: 16))
        XCTAssertTrue(Inflate.isPossible(expected: 16 * 1032 + 64, compressed: 16))
        XCTAssertThrowsError(try Inflate.exact([UInt8](repeating: 0, count: 16), expected: 0x7FFF_FFFF)) {
            guard case .sizeMismatch? = $0 as? InflateError else { return XCTFail("\($0)") }
        }
        let original = Self.sample(5000), deflated = Self.deflate(original)
        XCTAssertThrowsError(try Inflate.exact(deflated, expected: 4999))
        XCTAssertThrowsError(try Inflate.exact(deflated, expected: 5001)) { XCTAssertEqual($0 as? InflateError, .sizeMismatch(expected: 5001, found: 5000)) }
    }

    /// Cut-off and damaged streams: `exact` (a ZIP entry) refuses a stream without its end
    /// marker; `bounded` (DICOM's deflated syntax) keeps what a cut-off stream produced; garbage
    /// is refused by both.
    func testCutOffAndDamagedStreams() throws {
        let original = Self.sample(100_000), deflated = Self.deflate(original)
        let cut = Array(deflated.prefix(deflated.count / 2))
        XCTAssertThrowsError(try Inflate.exact(cut, expected: original.count))
        let partial = try Inflate.bounded(cut, limit: 1 << 20)
        XCTAssertGreaterThan(partial.count, 0)
        XCTAssertEqual(partial, Array(original.prefix(partial.count)))
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        XCTAssertThrowsError(try Inflate.bounded(garbage, limit: 1 << 20)) {
            guard case .corrupt? = $0 as? InflateError else { return XCTFail("\($0)") }
        }
    }
}
