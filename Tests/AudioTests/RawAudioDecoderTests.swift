// RawAudioDecoder (the live route's audio) against libsndfile reading the same samples from a file.

import Foundation
import XCTest
import LeptonAudio

final class RawAudioDecoderTests: XCTestCase {
    /// Every µ-law byte and a spread of 16-bit values decode as libsndfile decodes them from a WAV
    /// file holding the same bytes (written here with a hand-made header).
    func testSamplesDecodeAsLibsndfileReadsThem() throws {
        let dir = try AudioFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mulaw = (0..<256).map(UInt8.init)
        let pcm: [UInt8] = stride(from: -32768, to: 32768, by: 97).flatMap { v -> [UInt8] in
            let u = UInt16(bitPattern: Int16(v))
            return [UInt8(u & 0xFF), UInt8(u >> 8)]
        }
        for (encoding, tag, bits, bytes) in [(RawAudioEncoding.pcmMuLaw, 7, 8, mulaw), (.pcmS16LE, 1, 16, pcm)] {
            let url = dir.appendingPathComponent("\(encoding.rawValue).wav")
            try Self.wav(tag: tag, bits: bits, rate: 8000, data: bytes).write(to: url)
            let file = try Self.readAll(AudioStream(url: url))
            let decoder = try RawAudioDecoder(encoding: encoding, inputRate: 8000, outputRate: 8000)
            let raw = try bytes.withUnsafeBytes { try decoder.decode($0) } + decoder.finish()
            XCTAssertEqual(raw.count, bytes.count / encoding.bytesPerSample)
            XCTAssertEqual(raw, file, encoding.rawValue)
        }
    }

    /// The 8 kHz µ-law phone copy sent in uneven pieces comes out at 16 kHz as the file reader
    /// resamples the whole file: the same samples, whatever the pieces.
    func testPiecesGiveTheFileReadersSamples() throws {
        let url = AudioFixtures.repoRoot.appendingPathComponent("samples/chat/jfk_tel8k.wav")
        let file = try Self.readAll(AudioStream(url: url, sampleRate: 16_000))
        let bytes = try ReferenceWAV(contentsOf: url).data
        let decoder = try RawAudioDecoder(encoding: .pcmMuLaw, inputRate: 8000, outputRate: 16_000)
        var out: [Float] = []
        var at = 0, k = 0
        let sizes = [1, 160, 7, 333, 4096, 2]
        while at < bytes.count {
            let n = min(sizes[k % sizes.count], bytes.count - at)
            out += try bytes[at..<at + n].withUnsafeBytes { try decoder.decode($0) }
            at += n; k += 1
        }
        out += try decoder.finish()
        XCTAssertEqual(out.count, file.count)
        XCTAssertEqual(out, file)
    }

    func testSplitSamplesAndRatesOutOfRangeAreRefused() throws {
        let decoder = try RawAudioDecoder(encoding: .pcmS16LE, inputRate: 16_000, outputRate: 16_000)
        assertAudioError(try [UInt8](repeating: 0, count: 641).withUnsafeBytes { try decoder.decode($0) }, "odd byte count") {
            if case .invalidArgument(let d) = $0 { return d.contains("641 bytes") }
            return false
        }
        for rate in [0, 7999, 48_001, 1_000_000] {
            assertAudioError(try RawAudioDecoder(encoding: .pcmMuLaw, inputRate: rate, outputRate: 16_000), "rate \(rate)") {
                if case .invalidArgument = $0 { return true }
                return false
            }
        }
    }

    static func readAll(_ stream: AudioStream) throws -> [Float] {
        var all: [Float] = []
        while true {
            let block = try stream.read(maxFrames: 4096)
            if block.isEmpty { return all }
            all += block
        }
    }

    /// A mono WAV file: RIFF header, fmt chunk (format `tag`), data.
    static func wav(tag: Int, bits: Int, rate: Int, data: [UInt8]) -> Data {
        func le(_ v: Int, _ n: Int) -> [UInt8] { (0..<n).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        let fmt = le(tag, 2) + le(1, 2) + le(rate, 4) + le(rate * bits / 8, 4) + le(bits / 8, 2) + le(bits, 2)
        let body = Array("WAVE".utf8) + Array("fmt ".utf8) + le(fmt.count, 4) + fmt + Array("data".utf8) + le(data.count, 4) + data
        return Data(Array("RIFF".utf8) + le(body.count, 4) + body)
    }
}
