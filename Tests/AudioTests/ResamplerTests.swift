// Measured resampler quality: frequency kept, images and aliases below -60 dB.

import Foundation
import XCTest
import LeptonAudio

final class ResamplerTests: XCTestCase {
    /// Resamples `signal` in uneven blocks (exercising the streaming state) and returns a
    /// 4096-sample window from the steady-state middle of the output.
    private func resampleMiddle(_ signal: [Float], from: Int, to: Int, quality: ResamplerQuality = .best) throws -> (all: [Float], window: [Float]) {
        let resampler = try Resampler(inputRate: from, outputRate: to, quality: quality)
        var out: [Float] = []
        var i = 0
        var block = 1000
        while i < signal.count {
            let end = min(signal.count, i + block)
            out += try resampler.process(Array(signal[i..<end]))
            i = end
            block = block == 1000 ? 1537 : 1000
        }
        out += try resampler.process([], endOfInput: true)
        let start = out.count / 2 - 2048
        return (out, Array(out[start..<(start + 4096)]))
    }

    func testUpsample8kTo16kKeepsToneWithoutImages() throws {
        let tone = Spectrum.sine(frequency: 1000, rate: 8_000, seconds: 1.0)
        let (all, window) = try resampleMiddle(tone, from: 8_000, to: 16_000)
        XCTAssertEqual(all.count, 16_000, accuracy: 1)
        let p = Spectrum.power(window)
        XCTAssertEqual(Spectrum.peakFrequency(p, rate: 16_000), 1000, accuracy: 1e-9)  // bin 256 exactly
        // A naive upsampler leaves an image at 8000 - 1000 = 7000 Hz.
        let spur = Spectrum.strongestSpurDB(p, rate: 16_000, exclude: [1000])
        XCTAssertLessThan(spur, -60, "strongest component away from 1 kHz: \(spur) dB")
        print("resampler 8k->16k: strongest component away from 1 kHz at \(spur) dB")
        // Amplitude kept: RMS of a 0.5 sine is 0.3536.
        let rms = sqrt(window.map { Double($0 * $0) }.reduce(0, +) / Double(window.count))
        XCTAssertEqual(rms, 0.5 / 2.0.squareRoot(), accuracy: 0.005)
    }

    func testDownsample44kTo16kKeepsToneAndRejectsAliases() throws {
        // 1 kHz plus a 13 kHz tone above the new Nyquist (8 kHz): unfiltered, it would fold to 3 kHz.
        let low = Spectrum.sine(frequency: 1000, rate: 44_100, seconds: 1.0)
        let high = Spectrum.sine(frequency: 13_000, rate: 44_100, seconds: 1.0)
        let mixed = zip(low, high).map { $0 + $1 }
        let (all, window) = try resampleMiddle(mixed, from: 44_100, to: 16_000)
        XCTAssertEqual(all.count, 16_000, accuracy: 1)
        let p = Spectrum.power(window)
        XCTAssertEqual(Spectrum.peakFrequency(p, rate: 16_000), 1000, accuracy: 1e-9)
        let spur = Spectrum.strongestSpurDB(p, rate: 16_000, exclude: [1000])
        XCTAssertLessThan(spur, -60, "strongest alias/spur: \(spur) dB")
        print("resampler 44.1k->16k (1 kHz + 13 kHz): strongest component away from 1 kHz at \(spur) dB")
        // The measurement can fail: a deliberately bad "resampler" (dropping samples) shows the alias.
        let naive = stride(from: 0, to: mixed.count, by: 1).compactMap { i -> Float? in
            let j = Int(Double(i) * 44_100 / 16_000)
            return j < mixed.count ? mixed[j] : nil
        }
        let naiveP = Spectrum.power(Array(naive[4000..<(4000 + 4096)]))
        XCTAssertGreaterThan(Spectrum.strongestSpurDB(naiveP, rate: 16_000, exclude: [1000]), -10)
    }

    /// The medium sinc converter (about 4x faster) and FFmpeg's filter (the default) also meet the
    /// -60 dB bar on both conversions.
    func testMediumQualityAndSwresampleAlsoMeetTheBar() throws {
        try meetsTheBar(.medium)
        try meetsTheBar(.swresample)
    }

    private func meetsTheBar(_ quality: ResamplerQuality) throws {
        let tone8k = Spectrum.sine(frequency: 1000, rate: 8_000, seconds: 1.0)
        let up = Spectrum.power(try resampleMiddle(tone8k, from: 8_000, to: 16_000, quality: quality).window)
        let mixed = zip(Spectrum.sine(frequency: 1000, rate: 44_100, seconds: 1.0), Spectrum.sine(frequency: 13_000, rate: 44_100, seconds: 1.0)).map { $0 + $1 }
        let down = Spectrum.power(try resampleMiddle(mixed, from: 44_100, to: 16_000, quality: quality).window)
        for (name, p) in [("8k->16k", up), ("44.1k->16k", down)] {
            XCTAssertEqual(Spectrum.peakFrequency(p, rate: 16_000), 1000, accuracy: 1e-9, name)
            let spur = Spectrum.strongestSpurDB(p, rate: 16_000, exclude: [1000])
            XCTAssertLessThan(spur, -60, name)
            print("resampler \(quality) \(name): strongest component away from 1 kHz at \(spur) dB")
        }
    }

    func testEqualRateStreamIsIdentityAndBadRatesAreTyped() throws {
        let dir = try AudioFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tone = Spectrum.sine(frequency: 1000, rate: 16_000, seconds: 0.1)
        let url = dir.appendingPathComponent("t.wav")
        try WAVEncoder.write(tone, sampleRate: 16_000, format: .float32, to: url)
        XCTAssertEqual(try AudioDecoder.decode(url: url, sampleRate: 16_000).samples, tone)
        assertAudioError(try Resampler(inputRate: 0, outputRate: 16_000), "zero rate") {
            if case .invalidArgument = $0 { return true } else { return false }
        }
        assertAudioError(try Resampler(inputRate: 1, outputRate: 1_000_000), "ratio beyond 256") {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }
}
