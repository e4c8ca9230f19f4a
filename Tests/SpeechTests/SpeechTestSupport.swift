import Foundation
import LeptonAudio
import LeptonEngine
import LeptonSpeech

/// Paths and shared fixtures of the speech tests.
enum SpeechFixtures {
    /// The repository root (this file is Tests/SpeechTests/…).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let dev = shared.appendingPathComponent("data/speech/dev")
    static let bankDev = shared.appendingPathComponent("data/speech/bank-dev")
    static let modelBin = ModelCache.whisperTinyEn.appendingPathComponent("model.bin")

    /// The model, loaded once for the whole test process.
    /// (A `static let` is initialised once, thread-safely.)
    static let cachedModel = Result { try WhisperModel() }
    static func model() throws -> WhisperModel { try cachedModel.get() }

    /// glibc's `malloc_trim(0)` (looked up at run time: the Glibc module does not export it):
    /// returns freed heap memory, e.g. of finished threads' arenas, to the system.
    static func returnFreedMemory() {
        typealias Trim = @convention(c) (Int) -> Int32
        if let trim = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") { _ = unsafeBitCast(trim, to: Trim.self)(0) }
    }

    /// 16 kHz mono samples of a file (LeptonAudio decodes and resamples).
    static func samples(_ url: URL) throws -> [Float] {
        try AudioDecoder.decode(url: url, sampleRate: 16_000).samples
    }

    /// golden-fw.json (written by faster-whisper 1.2.1 from the dev clips; independent of this code).
    struct Golden: Decodable {
        struct Segment: Decodable { let start: Double; let end: Double; let text: String; let tokens: [Int]
            let avg_logprob: Double; let no_speech_prob: Double }
        struct File: Decodable {
            let file: String; let samples: Int; let mel_frames: Int
            let mel_min: Double; let mel_max: Double; let mel_mean: Double; let mel_head: [[Double]]
            let enc_mean: Double; let enc_std: Double; let enc_head: [[Double]]
            let beam1: [Segment]; let beam5: [Segment]
        }
        let files: [File]
    }

    static func golden() throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: dev.appendingPathComponent("golden-fw.json")))
    }
}
