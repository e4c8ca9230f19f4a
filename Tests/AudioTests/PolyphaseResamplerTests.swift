// The default resampler against faster-whisper's own decoder (PyAV → libswresample), sample for sample.

import Foundation
import XCTest
@testable import LeptonAudio

final class PolyphaseResamplerTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Case: Decodable {
            var name: String
            var rate: Int
            var channels: Int
            var encoding: String
            var wav: String
            var s16: String
        }
        var cases: [Case]
    }

    /// Made by `Tests/AudioTests/Fixtures/make_resample_fixture.py` (faster-whisper's `decode_audio`).
    private func fixture() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/resample_pyav.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// Decodes a case's WAV at 16 kHz with the default resampler; returns ours and the reference as 16-bit values.
    private func decode(_ c: Fixture.Case) throws -> (ours: [Int], reference: [Int]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polyphase-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("\(c.name).wav")
        try Data(base64Encoded: c.wav)!.write(to: url)
        let ours = try AudioDecoder.decode(url: url, sampleRate: 16_000).samples.map { Int(($0 * 32768).rounded()) }
        let bytes = Data(base64Encoded: c.s16)!
        let reference = bytes.withUnsafeBytes { raw in
            (0..<(bytes.count / 2)).map { Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
        }
        return (ours, reference)
    }

    /// Every mono case: PCM 8/16/24, float, µ-law and A-law at every rate, interpolated ratios
    /// (44,056 and 16,001 Hz), files shorter than the filter, and a real phone call. Same length,
    /// and the 16-bit samples equal; FFmpeg sums in float with SIMD (another order), so a sum that
    /// lands on a rounding boundary may differ by one, and no more. 8-bit PCM is the exception:
    /// FFmpeg sums it in 16-bit fixed point (its pass-through tap is 32767/32768), we in float, so
    /// a third of the samples differ by one or two (−84 dB); it is left out of the share.
    func testMonoSourcesEqualFasterWhispersDecoder() throws {
        let cases = try fixture().cases.filter { $0.channels == 1 }
        XCTAssertEqual(cases.count, 21)
        var total = 0, differing = 0
        for c in cases {
            let (ours, reference) = try decode(c)
            XCTAssertEqual(ours.count, reference.count, "\(c.name): length")
            let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, c.encoding == "pcm8" ? 2 : 1, "\(c.name): largest difference \(worst)")
            let d = zip(ours, reference).filter { $0 != $1 }.count
            if d > 0 { print("\(c.name): \(d) of \(reference.count) differ, largest \(worst)") }
            if c.encoding != "pcm8" {
                total += reference.count
                differing += d
            }
        }
        print("resampler against faster-whisper's decoder: \(differing) of \(total) samples differ (by one)")
        XCTAssertLessThanOrEqual(differing * 1000, total, "more than 0.1% of samples differ")
    }

    /// Stereo files are averaged to mono before resampling, as FFmpeg's matrix does.
    func testStereoDownmixEqualsFasterWhispersDecoder() throws {
        let c = try XCTUnwrap(try fixture().cases.first { $0.channels == 2 })
        let (ours, reference) = try decode(c)
        XCTAssertEqual(ours.count, reference.count)
        let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1, "largest difference \(worst)")
    }

    /// Blocks of any size give the one-shot result (the streaming state carries over).
    func testBlockwiseEqualsOneShot() throws {
        var rng = SystemRandomNumberGenerator()
        let signal = (0..<5000).map { _ in Float(Int.random(in: -20000...20000, using: &rng)) / 32768 }
        for (from, to) in [(8_000, 16_000), (44_100, 16_000), (44_056, 16_000)] {
            let whole = try PolyphaseResampler(inputRate: from, outputRate: to).process(signal, endOfInput: true)
            let r = try PolyphaseResampler(inputRate: from, outputRate: to)
            var parts: [Float] = []
            var i = 0, block = 3
            while i < signal.count {
                let end = min(signal.count, i + block)
                parts += try r.process(Array(signal[i..<end]))
                i = end
                block = block * 2 + 1
            }
            parts += try r.process([], endOfInput: true)
            XCTAssertEqual(parts.count, whole.count, "\(from) -> \(to)")
            XCTAssertTrue(parts == whole, "\(from) -> \(to): blockwise output differs from one-shot")
        }
    }

    /// The filter bank's taps, checked independently of FFmpeg: phase 0 of an integer upsampling
    /// passes samples through, every phase sums to about one, and the Bessel function is right.
    func testFilterBankProperties() throws {
        let (bank, norm) = PolyphaseResampler.filterBank(taps: 32, phases: 2, factor: 1, beta: 9)
        XCTAssertEqual(bank[0][15] / norm, 1, accuracy: 1e-12)
        XCTAssertEqual(bank[0].enumerated().filter { $0.offset != 15 }.map { abs($0.element) }.max()! / norm, 0, accuracy: 1e-12)
        XCTAssertEqual(bank[1].reduce(0, +) / norm, 1, accuracy: 0.01)
        XCTAssertEqual(PolyphaseResampler.besselI0(0), 1)
        XCTAssertEqual(PolyphaseResampler.besselI0(9), 1093.5883545113745, accuracy: 1e-9)  // scipy.special.i0(9)
        XCTAssertThrowsError(try PolyphaseResampler(inputRate: 0, outputRate: 16_000))
        XCTAssertThrowsError(try PolyphaseResampler(inputRate: 1, outputRate: 1_000_000))
    }
}
