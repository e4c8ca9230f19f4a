import Foundation
import XCTest
@testable import LeptonSpeech

/// Spectral folding of narrowband audio: the band is mirrored about 4 kHz at the given gain.
final class NarrowbandFoldTests: XCTestCase {
    /// Amplitude of the `hz` component of a 16 kHz signal (DFT projection; `hz` on a bin).
    func amplitude(_ x: [Float], hz: Double) -> Double {
        var re = 0.0, im = 0.0
        for (n, v) in x.enumerated() {
            let a = 2 * Double.pi * hz * Double(n) / 16000
            re += Double(v) * cos(a); im += Double(v) * sin(a)
        }
        return 2 * (re * re + im * im).squareRoot() / Double(x.count)
    }

    func testToneIsMirroredAboutFourKilohertz() throws {
        let n = 1600   // 0.1 s: 1 kHz and 7 kHz fall on DFT bins
        let tone = (0..<n).map { Float(0.5 * sin(2 * Double.pi * 1000 * Double($0) / 16000)) }
        let source = NarrowbandFoldSource(WhisperArraySource(tone), gain: 0.1)
        var out: [Float] = []
        // Odd-sized reads: the sign pattern must continue across them.
        while true {
            let chunk = try source.read(maxFrames: 333)
            if chunk.isEmpty { break }
            out += chunk
        }
        XCTAssertEqual(out.count, n)
        XCTAssertEqual(amplitude(out, hz: 1000), 0.5, accuracy: 1e-4)
        XCTAssertEqual(amplitude(out, hz: 7000), 0.05, accuracy: 1e-4)
        for hz in [2000.0, 3000, 5000, 6000] { XCTAssertLessThan(amplitude(out, hz: hz), 1e-4, "\(hz) Hz") }
    }

    func testZeroGainIsIdentity() throws {
        let x: [Float] = [0.1, -0.2, 0.3, 0.4, -0.5]
        XCTAssertEqual(try NarrowbandFoldSource(WhisperArraySource(x), gain: 0).read(maxFrames: 10), x)
    }
}
