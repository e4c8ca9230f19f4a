// Decoding real and generated files, checked against an independent parser and analytic signals.

import Foundation
import XCTest
import LeptonAudio

final class AudioDecodeTests: XCTestCase {
    /// Every 16-bit speech WAV decodes to exactly the samples a separate parser reads.
    func testRealPCM16FilesMatchIndependentParser() throws {
        let files = try AudioFixtures.files(in: AudioFixtures.dev, suffix: ".wav")
            + AudioFixtures.files(in: AudioFixtures.bankDev, suffix: ".wav").filter { !$0.lastPathComponent.contains("_tel8k") }
        XCTAssertGreaterThanOrEqual(files.count, 27)
        for url in files {
            let reference = try ReferenceWAV(contentsOf: url)
            XCTAssertEqual(reference.formatTag, 1)
            let expected = reference.samples()
            let decoded = try AudioDecoder.decode(url: url)
            XCTAssertEqual(decoded.sampleRate, 16_000, url.lastPathComponent)
            XCTAssertEqual(decoded.source.channels, 1)
            XCTAssertEqual(decoded.source.frames, expected.count, url.lastPathComponent)
            XCTAssertEqual(decoded.samples.count, expected.count, url.lastPathComponent)
            XCTAssertEqual(decoded.source.duration, Double(expected.count) / 16_000, accuracy: 1e-9)
            XCTAssertTrue(decoded.source.container.hasPrefix("WAV"), decoded.source.container)
            var worst: Float = 0
            for i in 0..<min(expected.count, decoded.samples.count) { worst = max(worst, abs(expected[i] - decoded.samples[i])) }
            XCTAssertEqual(worst, 0, "\(url.lastPathComponent): max deviation \(worst)")
        }
    }

    /// The telephone copies are G.711 µ-law at 8 kHz; libsndfile's expansion equals the textbook one,
    /// and after resampling to 16 kHz each has the same duration as its 16 kHz original.
    func testMuLawTelephoneFiles() throws {
        let files = try AudioFixtures.files(in: AudioFixtures.bankDev, suffix: "_tel8k.wav")
        XCTAssertEqual(files.count, 20)
        for url in files {
            let reference = try ReferenceWAV(contentsOf: url)
            XCTAssertEqual(reference.formatTag, 7)
            let expected = reference.samples()
            let native = try AudioDecoder.decode(url: url)
            XCTAssertEqual(native.sampleRate, 8_000)
            XCTAssertEqual(native.source.encoding, "U-Law")
            XCTAssertEqual(native.samples.count, expected.count)
            for i in stride(from: 0, to: expected.count, by: 1) where abs(expected[i] - native.samples[i]) > 1e-6 {
                XCTFail("\(url.lastPathComponent) sample \(i): \(native.samples[i]) vs G.711 \(expected[i])"); break
            }
            let upsampled = try AudioDecoder.decode(url: url, sampleRate: 16_000)
            XCTAssertEqual(upsampled.sampleRate, 16_000)
            XCTAssertEqual(upsampled.samples.count, expected.count * 2, accuracy: 2)
            let original = URL(fileURLWithPath: url.path.replacingOccurrences(of: "_tel8k.wav", with: ".wav"))
            let wide = try AudioReader(url: original).info
            XCTAssertEqual(upsampled.duration, wide.duration, accuracy: 0.01, url.lastPathComponent)
        }
    }

    /// Every format the module writes through libsndfile decodes back to the signal.
    func testRoundTripEveryWritableFormat() throws {
        let dir = try AudioFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rate = 16_000
        let signal = Spectrum.sine(frequency: 500, rate: rate, seconds: 1.0, amplitude: 0.5)
        for format in AudioFileFormat.allCases {
            let url = dir.appendingPathComponent("tone-\(format).\(format.fileExtension)")
            try AudioFileWriter.write(signal, sampleRate: rate, format: format, to: url)
            let decoded = try AudioDecoder.decode(url: url)
            XCTAssertEqual(decoded.sampleRate, rate, "\(format)")
            if format.isLossless {
                XCTAssertEqual(decoded.samples.count, signal.count, "\(format)")
                let step: Float
                switch format {
                case .wavPCMU8: step = 1.0 / 128
                case .wavULaw, .wavALaw: step = 0.5 * 0.07  // logarithmic: a few percent of the amplitude
                default: step = 1.0 / 32768
                }
                var worst: Float = 0
                for i in 0..<signal.count { worst = max(worst, abs(decoded.samples[i] - signal[i])) }
                XCTAssertLessThanOrEqual(worst, step, "\(format): max error \(worst)")
            } else {
                // Lossy codecs add delay/padding; the tone must survive at its frequency and level.
                XCTAssertEqual(decoded.duration, 1.0, accuracy: 0.1, "\(format)")
                let mid = Array(decoded.samples[4000..<(4000 + 8192)])
                let p = Spectrum.power(mid)
                XCTAssertEqual(Spectrum.peakFrequency(p, rate: rate), 500, accuracy: 2 * Double(rate) / 8192, "\(format)")
                let rms = sqrt(mid.map { Double($0 * $0) }.reduce(0, +) / Double(mid.count))
                XCTAssertEqual(rms, 0.5 / 2.0.squareRoot(), accuracy: 0.05, "\(format)")
            }
        }
    }

    /// Stereo is averaged to mono; the module's own WAV writer (16-bit and float) is read back exactly.
    func testDownmixAndWAVEncoder() throws {
        let dir = try AudioFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let left = Spectrum.sine(frequency: 300, rate: 8_000, seconds: 0.25, amplitude: 0.8)
        var stereo = [Float](repeating: 0, count: left.count * 2)
        for i in 0..<left.count { stereo[2 * i] = left[i]; stereo[2 * i + 1] = 0.25 }
        for format in [WAVSampleFormat.pcm16, .float32] {
            let url = dir.appendingPathComponent("stereo-\(format).wav")
            try WAVEncoder.write(stereo, sampleRate: 8_000, channels: 2, format: format, to: url)
            let reader = try AudioReader(url: url)
            XCTAssertEqual(reader.info.channels, 2)
            XCTAssertEqual(reader.info.frames, left.count)
            XCTAssertEqual(reader.info.encoding, format == .pcm16 ? "Signed 16 bit PCM" : "32 bit float")
            let mono = try AudioDecoder.decode(url: url).samples
            XCTAssertEqual(mono.count, left.count)
            let tolerance: Float = format == .pcm16 ? 1.0 / 32768 : 1e-7
            for i in 0..<left.count where abs(mono[i] - (left[i] + 0.25) / 2) > tolerance {
                XCTFail("\(format) frame \(i): \(mono[i]) vs \((left[i] + 0.25) / 2)"); break
            }
        }
        // Float WAV keeps values beyond full scale; 16-bit clamps them.
        let loud: [Float] = [1.5, -2, 0.25]
        let floatURL = dir.appendingPathComponent("loud.wav")
        try WAVEncoder.write(loud, sampleRate: 8_000, format: .float32, to: floatURL)
        XCTAssertEqual(try AudioDecoder.decode(url: floatURL).samples, loud)
        let clamped = try WAVEncoder.encode(loud, sampleRate: 8_000, format: .pcm16)
        XCTAssertEqual(clamped.count, 44 + 6)
        XCTAssertEqual(Array(clamped.suffix(6)), [0xFF, 0x7F, 0x01, 0x80, 0x00, 0x20])  // 32767, -32767, 8192
        XCTAssertThrowsError(try WAVEncoder.encode([1, 2, 3], sampleRate: 8_000, channels: 2))
    }

    /// Streaming in odd-sized blocks gives exactly the blocks asked for and the same samples as one pass.
    func testStreamingMatchesWholeFileDecode() throws {
        let url = try AudioFixtures.files(in: AudioFixtures.bankDev, suffix: "_tel8k.wav")[0]
        let whole = try AudioDecoder.decode(url: url, sampleRate: 16_000).samples
        for blockSize in [1, 777, 4096, 100_000] {
            let stream = try AudioStream(url: url, sampleRate: 16_000, inputBlockFrames: 1000)
            var joined: [Float] = []
            while true {
                let block = try stream.read(maxFrames: blockSize)
                if block.isEmpty { break }
                if block.count < blockSize {
                    XCTAssertEqual(joined.count + block.count, whole.count, "short block only at the end")
                }
                joined.append(contentsOf: block)
                if blockSize == 1 && joined.count > 20_000 { break }  // enough for the 1-frame case
            }
            XCTAssertEqual(stream.expectedFrames, whole.count)
            let n = min(joined.count, whole.count)
            if blockSize != 1 { XCTAssertEqual(joined.count, whole.count, "block \(blockSize)") }
            var worst: Float = 0
            for i in 0..<n { worst = max(worst, abs(joined[i] - whole[i])) }
            XCTAssertLessThan(worst, 1e-6, "block \(blockSize)")
        }
        // The plain reader, without resampling, in blocks.
        let reader = try AudioReader(url: url)
        var count = 0
        while case let block = try reader.read(maxFrames: 333), !block.isEmpty { count += block.count }
        XCTAssertEqual(count, reader.info.frames)
        XCTAssertEqual(reader.framesRead, count)
        XCTAssertEqual(try reader.read(maxFrames: 10), [])
    }
}
