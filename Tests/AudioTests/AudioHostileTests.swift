// Hostile and broken inputs: every one is a typed AudioError naming the file, never a crash or hang.

import Foundation
import XCTest
import LeptonAudio

final class AudioHostileTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try AudioFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// A valid 16-bit mono WAV of `frames` samples written by the module's encoder.
    private func validWAV(frames: Int = 1600) throws -> [UInt8] {
        [UInt8](try WAVEncoder.encode(Spectrum.sine(frequency: 440, rate: 16_000, seconds: Double(frames) / 16_000),
                                      sampleRate: 16_000))
    }

    private func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }

    func testMissingFileAndDirectory() {
        let missing = dir.appendingPathComponent("nope.wav")
        assertAudioError(try AudioReader(url: missing), "missing") { $0 == .fileNotFound(path: missing.path) }
        assertAudioError(try AudioDecoder.decode(url: dir), "directory") { $0 == .fileNotFound(path: self.dir.path) }
        XCTAssertTrue(AudioError.fileNotFound(path: missing.path).description.contains("nope.wav"))
    }

    func testZeroLengthFile() throws {
        let url = try file("empty.wav", [])
        assertAudioError(try AudioDecoder.decode(url: url, sampleRate: 16_000), "zero length") { $0 == .emptyFile(path: url.path) }
    }

    func testWrongMagicTextAndRandomBytes() throws {
        var wav = try validWAV()
        wav[0...3] = [0x52, 0x49, 0x46, 0x51]  // "RIFQ"
        let wrong = try file("wrongmagic.wav", wav)
        assertAudioError(try AudioReader(url: wrong), "wrong magic") { if case .notAudio(let p, _) = $0 { return p == wrong.path } else { return false } }
        let text = try file("notes.wav", Array("This is a text file, not audio.\n".utf8))
        assertAudioError(try AudioReader(url: text), "text") { if case .notAudio = $0 { return true } else { return false } }
        var rng = SystemRandomNumberGenerator()
        var seeded = UInt64(12345)
        for trial in 0..<50 {
            let count = [1, 3, 4, 12, 44, 100, 4096][trial % 7]
            let bytes = (0..<count).map { _ -> UInt8 in
                seeded = seeded &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: seeded >> 33)
            }
            let url = try file("random\(trial).bin", bytes)
            do {
                _ = try AudioDecoder.decode(url: url, sampleRate: 16_000)
                // A random prefix can in principle look like an MPEG frame; decoding must still not crash.
            } catch is AudioError {
            } catch {
                XCTFail("random bytes \(trial): \(error)")
            }
        }
        _ = rng.next()
    }

    func testTruncatedHeaderAndData() throws {
        let wav = try validWAV()
        for cut in [4, 11, 12, 20, 36, 43] {
            let url = try file("head\(cut).wav", Array(wav.prefix(cut)))
            assertAudioError(try AudioDecoder.decode(url: url), "header cut at \(cut)") {
                switch $0 {
                case .truncated(let p, _), .notAudio(let p, _): return p == url.path
                default: return false
                }
            }
        }
        let half = try file("half.wav", Array(wav.prefix(wav.count / 2)))
        assertAudioError(try AudioReader(url: half), "data cut in half") {
            if case .truncated(let p, let detail) = $0 { return p == half.path && detail.contains("data chunk") } else { return false }
        }
        // A compressed stream cut short: FLAC missing its second half.
        let flacURL = dir.appendingPathComponent("tone.flac")
        try AudioFileWriter.write(Spectrum.sine(frequency: 440, rate: 16_000, seconds: 2), sampleRate: 16_000, format: .flac16, to: flacURL)
        let flac = [UInt8](try Data(contentsOf: flacURL))
        let cutFLAC = try file("cut.flac", Array(flac.prefix(flac.count / 2)))
        assertAudioError(try AudioDecoder.decode(url: cutFLAC, sampleRate: 8_000), "FLAC cut in half") {
            switch $0 {
            case .truncated(let p, _), .readFailed(let p, _): return p == cutFLAC.path
            default: return false
            }
        }
    }

    func testHeaderClaimingBillionsOfFrames() throws {
        var wav = try validWAV()
        // data chunk size at offset 40: claim 4 294 967 040 bytes (about 37 hours at 16 kHz).
        wav[40...43] = le32(0xFFFF_FF00)[...]
        let url = try file("huge.wav", wav)
        assertAudioError(try AudioDecoder.decode(url: url, sampleRate: 16_000), "billions of frames") {
            if case .absurdLength(let p, let seconds, _) = $0 { return p == url.path && seconds > 100_000 } else { return false }
        }
        // The RIFF size field alone lying is harmless; a data size just over the file is "truncated".
        var over = try validWAV()
        over[40...43] = le32(UInt32(3200 + 2))[...]
        let overURL = try file("over.wav", over)
        assertAudioError(try AudioReader(url: overURL), "2 bytes missing") { if case .truncated = $0 { return true } else { return false } }
        // A custom limit turns a legitimate long file into absurdLength too.
        let ok = try file("ok.wav", try validWAV(frames: 16_000))
        assertAudioError(try AudioReader(url: ok, limits: AudioLimits(maxDurationSeconds: 0.5)), "limit") {
            if case .absurdLength = $0 { return true } else { return false }
        }
    }

    func testUnsupportedAndAbsurdHeaderFields() throws {
        // fmt chunk with format tag 0x1234 (unknown codec).
        var wav = try validWAV()
        wav[20...21] = [0x34, 0x12]
        let codec = try file("codec.wav", wav)
        assertAudioError(try AudioReader(url: codec), "unknown codec") {
            switch $0 {
            case .unsupported(let p, _), .malformed(let p, _): return p == codec.path
            default: return false
            }
        }
        // 65535 channels.
        var channels = try validWAV()
        channels[22...23] = [0xFF, 0xFF]
        let many = try file("channels.wav", channels)
        assertAudioError(try AudioReader(url: many), "65535 channels") {
            switch $0 {
            case .unsupported(let p, _): return p == many.path
            default: return false
            }
        }
        // Zero sample rate.
        var rate = try validWAV()
        rate[24...27] = [0, 0, 0, 0]
        let zero = try file("rate0.wav", rate)
        assertAudioError(try AudioReader(url: zero), "rate 0") {
            switch $0 {
            case .unsupported(let p, _), .malformed(let p, _): return p == zero.path
            default: return false
            }
        }
        // NaN and infinity in a float WAV.
        let poisoned = dir.appendingPathComponent("nan.wav")
        try WAVEncoder.write([0.1, .nan, 0.2], sampleRate: 8_000, format: .float32, to: poisoned)
        assertAudioError(try AudioDecoder.decode(url: poisoned, sampleRate: 16_000), "NaN sample") {
            if case .malformed(let p, let detail) = $0 { return p == poisoned.path && detail.contains("frame 1") } else { return false }
        }
        try WAVEncoder.write([0.1, 0.2, -.infinity], sampleRate: 8_000, format: .float32, to: poisoned)
        assertAudioError(try AudioDecoder.decode(url: poisoned), "infinite sample") { if case .malformed = $0 { return true } else { return false } }
        // A well-formed WAV with no frames.
        let none = try file("none.wav", [UInt8](try WAVEncoder.encode([], sampleRate: 16_000)))
        assertAudioError(try AudioReader(url: none), "no frames") { $0 == .noFrames(path: none.path) }
    }
}
