import Foundation
import Hummingbird
import LeptonAudio
import LeptonSpeech
import NIOWebSocket
import Synchronization

/// A stream's audio decoder and streamer. Used by one step at a time (the route awaits each), on
/// whichever worker runs it, hence unchecked.
final class StreamState: @unchecked Sendable {
    private let decoder: RawAudioDecoder
    private let streamer: WhisperStreamer
    /// Seconds of audio received and finals given, read by the route while a step may run.
    private let counts = Mutex<(seconds: Double, finals: Int)>((0, 0))

    /// The stream the query asks for (see ``StreamQuery``).
    init(query: Parameters, models: ServeCommand.Loaded) throws {
        let q = try StreamQuery(query)
        guard let vad = models.vad else {
            throw StreamFailure(.unexpectedServerError, "live transcription needs Silero VAD, which this service could not load (scripts/bootstrap.sh)")
        }
        decoder = try RawAudioDecoder(encoding: q.encoding, inputRate: q.sampleRate, outputRate: SileroVAD.sampleRate)
        streamer = WhisperStreamer(transcriber: models.transcriber, filter: VoiceActivityFilter(detector: vad, options: q.vad),
                                   partialInterval: q.partialIntervalMs * SileroVAD.sampleRate / 1000)
    }

    var totals: (seconds: Double, finals: Int) { counts.withLock { $0 } }

    func append(_ bytes: ByteBuffer) throws -> [StreamEvent] {
        let samples = try bytes.withUnsafeReadableBytes { try decoder.decode($0) }
        StreamMetrics.audio.increment(by: Double(samples.count) / Double(SileroVAD.sampleRate))
        return try counted(streamer.append(samples))
    }

    func finish() throws -> [StreamEvent] {
        try counted(streamer.append(decoder.finish()) + streamer.finish())
    }

    private func counted(_ events: [StreamEvent]) -> [StreamEvent] {
        let seconds = Double(decoder.inputSamples) / Double(decoder.inputRate)
        counts.withLock { $0 = (seconds, $0.finals + events.count(where: { $0.type == .final })) }
        return events
    }
}


/// The stream's query parameters: `sample_rate` (Hz, 8000...48000, default 16000), `encoding`
/// (`pcm_s16le`, the default, or `pcm_mulaw`), `partial_interval_ms` (as --partial-interval-ms,
/// default 1000, 0: finals only) and faster-whisper's VadOptions names (`threshold`,
/// `neg_threshold`, `min_speech_duration_ms`, `max_speech_duration_s`, `min_silence_duration_ms`,
/// `speech_pad_ms`; the defaults of `transcribe --stream`). Anything else is refused, so that a
/// misspelt name is not silently ignored.
struct StreamQuery {
    var sampleRate = 16_000
    var encoding = RawAudioEncoding.pcmS16LE
    var partialIntervalMs = 1000
    var vad = VADOptions()

    static let names = ["sample_rate", "encoding", "partial_interval_ms", "threshold", "neg_threshold", "min_speech_duration_ms",
                        "max_speech_duration_s", "min_silence_duration_ms", "speech_pad_ms"]

    init(_ query: Parameters) throws {
        for (key, value) in query {
            let v = String(value)
            func int() throws -> Int {
                guard let n = Int(v) else { throw Self.bad("\(key) must be an integer, got \(v.prefix(20))") }
                return n
            }
            func number() throws -> Double {
                guard let x = Double(v), x.isFinite else { throw Self.bad("\(key) must be a number, got \(v.prefix(20))") }
                return x
            }
            switch key {
            case "sample_rate": sampleRate = try int()
            case "encoding":
                guard let e = RawAudioEncoding(rawValue: v) else {
                    throw Self.bad("encoding must be \(RawAudioEncoding.allCases.map(\.rawValue).joined(separator: " or ")), got \(v.prefix(20))")
                }
                encoding = e
            case "partial_interval_ms": partialIntervalMs = try int()
            case "threshold": vad.threshold = try number()
            case "neg_threshold": vad.negThreshold = try number()
            case "min_speech_duration_ms": vad.minSpeechDurationMs = try int()
            case "max_speech_duration_s": vad.maxSpeechDurationS = try number()
            case "min_silence_duration_ms": vad.minSilenceDurationMs = try int()
            case "speech_pad_ms": vad.speechPadMs = try int()
            default: throw Self.bad("unknown query parameter \(key.prefix(40)); known: \(Self.names.joined(separator: ", "))")
            }
        }
        guard RawAudioDecoder.sampleRates.contains(sampleRate) else {
            throw Self.bad("sample_rate must be \(RawAudioDecoder.sampleRates.lowerBound)...\(RawAudioDecoder.sampleRates.upperBound) Hz, got \(sampleRate)")
        }
        guard (0...60_000).contains(partialIntervalMs) else { throw Self.bad("partial_interval_ms must be 0...60000") }
        if let problem = vad.problem() { throw Self.bad(problem) }
    }

    private static func bad(_ message: String) -> StreamFailure { StreamFailure(.policyViolation, message) }
}
