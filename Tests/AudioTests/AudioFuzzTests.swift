// Bounded mutation fuzzing: damaged copies of real and generated files decode or throw AudioError.

import Foundation
import XCTest
import LeptonAudio
import LeptonTestSupport

final class AudioFuzzTests: XCTestCase {
    /// Flips bytes (biased towards the header), truncates, or duplicates a span.
    private func mutate(_ input: [UInt8], _ rng: inout TestRNG) -> [UInt8] {
        var bytes = input
        switch rng.below(4) {
        case 0, 1:
            for _ in 0..<(1 + rng.below(8)) {
                let i = rng.below(2) == 0 ? rng.below(min(bytes.count, 128)) : rng.below(bytes.count)
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
        case 2:
            bytes = Array(bytes.prefix(rng.below(bytes.count)))
        default:
            let start = rng.below(bytes.count), length = rng.below(64)
            let span = bytes[start..<min(bytes.count, start + length)]
            bytes.insert(contentsOf: span, at: rng.below(bytes.count))
        }
        return bytes
    }

    func testMutatedFilesNeverCrash() throws {
        let dir = try AudioFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var seeds: [(String, [UInt8])] = []
        let tone = Spectrum.sine(frequency: 440, rate: 8_000, seconds: 0.3)
        for format in [AudioFileFormat.flac16, .oggVorbis, .mp3, .wavFloat, .wavALaw, .aiff16] {
            let url = dir.appendingPathComponent("seed.\(format.fileExtension)")
            try AudioFileWriter.write(tone, sampleRate: 8_000, format: format, to: url)
            seeds.append(("\(format)", [UInt8](try Data(contentsOf: url))))
        }
        if let tel = try? AudioFixtures.files(in: AudioFixtures.bankDev, suffix: "_tel8k.wav").first {
            seeds.append(("tel8k", Array([UInt8](try Data(contentsOf: tel)).prefix(6000))))
        }
        var rng = TestRNG(state: 0xA11D10)
        var decoded = 0, refused = 0
        let iterations = 60
        for (name, seed) in seeds {
            for i in 0..<iterations {
                let bytes = mutate(seed, &rng)
                let url = dir.appendingPathComponent("fuzz-\(name)-\(i)")
                try Data(bytes).write(to: url)
                do {
                    let audio = try AudioDecoder.decode(url: url, sampleRate: 16_000, limits: AudioLimits(maxDurationSeconds: 60))
                    XCTAssertTrue(audio.samples.allSatisfy { $0.isFinite }, "\(name) #\(i)")
                    decoded += 1
                } catch is AudioError {
                    refused += 1
                } catch {
                    XCTFail("\(name) #\(i): non-AudioError \(error)")
                }
                try? FileManager.default.removeItem(at: url)
            }
        }
        XCTAssertEqual(decoded + refused, seeds.count * iterations)
        print("audio fuzz: \(seeds.count * iterations) mutated files, \(decoded) decoded, \(refused) typed errors")
    }
}
