import Foundation
import LeptonEngine
import LeptonSpeech
import XCTest

/// vad_fw.json (Fixtures/make_vad_fixture.py: faster-whisper 1.2.1's voice-activity filter,
/// independent of this code) and the recordings it describes, rebuilt from their recipes.
struct VADFixture: Decodable {
    struct Stamp: Decodable { let start: Int; let end: Int }
    struct Segment: Decodable { let start: Double; let end: Double; let text: String; let tokens: [Int] }
    struct Transcript: Decodable { let segments: [Segment]; let duration_after_vad: Double }
    struct Clip: Decodable { let samples: Int; let probabilities: [Float]; let timestamps: [Stamp]; let timestamps_tuned: [Stamp] }
    struct Part: Decodable {
        let clip: String?, silence: Int?, noise: Int?, seed: Int?, amplitude: Int?, tones: Int?, periods: [Int]?
    }
    struct Recording: Decodable {
        let recipe: [Part]
        let samples: Int
        let timestamps: [Stamp]
        let timestamps_tuned: [Stamp]
        let transcribe: Transcript
        let transcribe_tuned: Transcript?
        let probabilities: [Float]?
    }
    struct Tuned: Decodable { let threshold: Double; let min_silence_duration_ms: Int; let speech_pad_ms: Int; let min_speech_duration_ms: Int }

    let tuned: Tuned
    let clips: [String: Clip]
    let long: Recording
    let short: Recording

    static func load() throws -> VADFixture {
        let url = SpeechFixtures.repoRoot.appendingPathComponent("Tests/SpeechTests/Fixtures/vad_fw.json")
        return try JSONDecoder().decode(VADFixture.self, from: Data(contentsOf: url))
    }

    /// The "tuned" settings under our names.
    var tunedOptions: VADOptions {
        var o = VADOptions()
        o.threshold = tuned.threshold
        o.minSilenceDurationMs = tuned.min_silence_duration_ms
        o.speechPadMs = tuned.speech_pad_ms
        o.minSpeechDurationMs = tuned.min_speech_duration_ms
        return o
    }

    /// A recording's 16-bit samples, built as the fixture script builds them (clips read from
    /// their WAV `data` chunks here, not by our decoder).
    static func pcm(_ recipe: [Part]) throws -> [Int16] {
        var out: [Int16] = []
        for p in recipe {
            if let name = p.clip {
                out += try dataChunk(SpeechFixtures.dev.appendingPathComponent(name))
            } else if let n = p.silence {
                out += [Int16](repeating: 0, count: n)
            } else if let n = p.noise, let seed = p.seed, let a = p.amplitude {
                var x = seed
                for _ in 0..<n {
                    x = (1_103_515_245 * x + 12345) % (1 << 31)
                    out.append(Int16(((x >> 16) % (2 * a + 1)) - a))
                }
            } else if let n = p.tones, let periods = p.periods, let a = p.amplitude {
                for i in 0..<n {
                    var total = 0
                    for period in periods {
                        let v = i % period
                        let num = a * (4 * min(v, period - v) - period)
                        total += num >= 0 ? num / period : -((-num + period - 1) / period)   // floor division
                    }
                    out.append(Int16(total))
                }
            }
        }
        return out
    }

    /// The recording as floats (int16 / 32768, as the script has them).
    static func samples(_ recipe: [Part]) throws -> [Float] { try pcm(recipe).map { Float($0) / 32768 } }

    /// The samples of a 16-bit mono WAV file's `data` chunk.
    static func dataChunk(_ url: URL) throws -> [Int16] {
        let bytes = [UInt8](try Data(contentsOf: url))
        var at = 12
        while at + 8 <= bytes.count {
            let size = Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            if bytes[at..<at + 4].elementsEqual("data".utf8) {
                let body = bytes[(at + 8)..<min(bytes.count, at + 8 + size)]
                return stride(from: body.startIndex, to: body.endIndex - 1, by: 2).map { Int16(bitPattern: UInt16(body[$0]) | UInt16(body[$0 + 1]) << 8) }
            }
            at += 8 + size + (size & 1)
        }
        throw XCTSkip("no data chunk in \(url.path)")
    }

    /// A 16 kHz mono 16-bit WAV file of `pcm` (written here, not by our encoder).
    static func wav(_ pcm: [Int16]) -> Data {
        var wav = Data("RIFF".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { wav.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { wav.append(contentsOf: $0) } }
        u32(36 + 2 * pcm.count); wav += Data("WAVEfmt ".utf8)
        u32(16); u16(1); u16(1); u32(16000); u32(32000); u16(2); u16(16)
        wav += Data("data".utf8); u32(2 * pcm.count)
        for s in pcm { withUnsafeBytes(of: s.littleEndian) { wav.append(contentsOf: $0) } }
        return wav
    }
}

extension SileroVAD {
    /// The detector from the cache; a missing model fails the test naming the script that fetches it.
    static func forTests(file: StaticString = #filePath, line: UInt = #line) throws -> SileroVAD {
        guard FileManager.default.fileExists(atPath: ModelCache.sileroVAD.path) else {
            XCTFail("missing \(ModelCache.sileroVAD.path): run scripts/bootstrap.sh", file: file, line: line)
            throw CocoaError(.fileNoSuchFile)
        }
        return try SileroVAD()
    }
}
