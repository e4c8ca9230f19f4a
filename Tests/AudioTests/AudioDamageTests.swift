// Damaged compressed audio: a cut-off Ogg or MP3, or random bytes with MP3 frame headers, is an
// error naming the file, never decoded "as if whole" (half the words and success).

import Foundation
import XCTest
import LeptonAudio

final class AudioDamageTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try AudioFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Four seconds of pink noise made by sox (independent of libsndfile's encoders): noise keeps
    /// the encoder busy, so the file has many pages.
    private func soxTone(_ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sox", "-n", "-r", "16000", "-c", "1", url.path, "synth", "4", "pinknoise", "vol", "0.3"]
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("sox is not installed") }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("sox cannot write \(name)") }
        return url
    }

    /// `url`'s first `count` bytes as a new file.
    private func cut(_ url: URL, to count: Int, _ name: String) throws -> URL {
        let out = dir.appendingPathComponent(name)
        try Data(try Data(contentsOf: url).prefix(count)).write(to: out)
        return out
    }

    /// Byte offsets where Ogg pages start (the capture pattern "OggS" and version 0).
    private func oggPageStarts(_ data: Data) -> [Int] {
        let b = [UInt8](data)
        return (0..<(b.count - 5)).filter { b[$0] == 0x4F && b[$0 + 1] == 0x67 && b[$0 + 2] == 0x67 && b[$0 + 3] == 0x53 && b[$0 + 4] == 0 }
    }

    func testWholeOggDecodesAndCutOggIsTruncated() throws {
        let ogg = try soxTone("noise.ogg")
        let whole = try AudioDecoder.decode(url: ogg)
        XCTAssertEqual(whole.samples.count, 64_000)
        let data = try Data(contentsOf: ogg)
        for fraction in [0.02, 0.5, 0.75, 0.97] {
            let half = try cut(ogg, to: Int(Double(data.count) * fraction), "cut-\(fraction).ogg")
            assertAudioError(try AudioDecoder.decode(url: half), "Ogg cut at \(fraction)") {
                if case .truncated(let path, _) = $0 { return path == half.path }
                return false
            }
        }
        // Cut exactly between pages: every remaining page is whole, but the end-of-stream page is gone.
        let pages = oggPageStarts(data)
        XCTAssertGreaterThan(pages.count, 3)
        let boundary = try cut(ogg, to: pages[pages.count - 1], "boundary.ogg")
        assertAudioError(try AudioDecoder.decode(url: boundary, sampleRate: 16_000), "Ogg without its last page") {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testCutOpusIsTruncated() throws {
        let opus = dir.appendingPathComponent("tone.opus")
        try AudioFileWriter.write(Spectrum.sine(frequency: 440, rate: 48_000, seconds: 2), sampleRate: 48_000, format: .oggOpus, to: opus)
        XCTAssertNoThrow(try AudioDecoder.decode(url: opus))
        let half = try cut(opus, to: try Data(contentsOf: opus).count / 2, "half.opus")
        assertAudioError(try AudioDecoder.decode(url: half), "Opus cut in half") {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testWholeMP3DecodesAndCutMP3IsTruncated() throws {
        let mp3 = dir.appendingPathComponent("tone.mp3")
        try AudioFileWriter.write(Spectrum.sine(frequency: 440, rate: 16_000, seconds: 3), sampleRate: 16_000, format: .mp3, to: mp3)
        let whole = try AudioDecoder.decode(url: mp3)
        XCTAssertEqual(Double(whole.samples.count), 48_000, accuracy: 48_000 * 0.02)
        let half = try cut(mp3, to: try Data(contentsOf: mp3).count / 2, "half.mp3")
        assertAudioError(try AudioDecoder.decode(url: half), "MP3 cut in half") {
            if case .truncated(let path, _) = $0 { return path == half.path }
            return false
        }
    }

    /// 300 MPEG-1 layer III frame headers (128 kbit/s, 44.1 kHz: 417-byte frames) with random
    /// bodies, as a hostile tester made them: mpg123 finds every frame and most are damaged.
    func testRandomBytesBehindMP3FrameHeadersAreMalformed() throws {
        var rng = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<300 {
            bytes += [0xFF, 0xFB, 0x90, 0x64]
            bytes += (0..<413).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        let url = dir.appendingPathComponent("noise.mp3")
        try Data(bytes).write(to: url)
        assertAudioError(try AudioDecoder.decode(url: url, sampleRate: 16_000), "random MP3 frames") {
            if case .malformed(let path, let detail) = $0 { return path == url.path && detail.contains("damaged frames") }
            return false
        }
    }
}
