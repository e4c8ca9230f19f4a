import Foundation
import LeptonAudio

/// The voice-activity filter: Silero VAD and the settings that turn its probabilities into
/// stretches of speech.
public struct VoiceActivityFilter: Sendable {
    public let detector: SileroVAD
    public var options: VADOptions

    public init(detector: SileroVAD, options: VADOptions = VADOptions()) {
        self.detector = detector
        self.options = options
    }

    /// The padded stretches of speech of 16 kHz `audio` (faster-whisper's `get_speech_timestamps`).
    public func speechChunks(_ audio: [Float]) throws -> [SpeechChunk] {
        let probabilities = try detector.probabilities(audio)
        return SpeechSegmenter.speechTimestamps(probabilities: probabilities, sampleCount: audio.count, options: options)
    }

    /// The stretches of `audio` back to back (faster-whisper's `collect_chunks` with no length limit).
    public static func collect(_ audio: [Float], _ chunks: [SpeechChunk]) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(chunks.reduce(0) { $0 + $1.end - $1.start })
        for c in chunks { out += audio[c.start..<c.end] }
        return out
    }
}

/// A transcript made through the voice-activity filter, and what the filter kept.
public struct FilteredTranscription: Sendable {
    public var transcription: WhisperTranscription
    /// The stretches of speech decoded (samples of the original at 16 kHz).
    public var speech: [SpeechChunk]
    /// Seconds of audio decoded (the stretches' total), against `transcription.duration`.
    public var speechDuration: Double
    /// Seconds spent finding speech.
    public var vadSeconds: Double
}

extension WhisperTranscriber {
    /// Transcribes only the speech in a file, as faster-whisper's `transcribe(vad_filter=True)`
    /// does: the whole signal (16 kHz mono, or one channel) goes through Silero VAD, its stretches
    /// of speech are decoded back to back as one signal, and segment (and word) times are moved
    /// back to the original's.
    ///
    /// Unlike ``transcribe(url:encoded:channel:)`` the decoded signal is held in memory whole
    /// (4 bytes a sample: 230 MB an hour), as faster-whisper holds it.
    public func transcribe(url: URL, channel: Int? = nil, filter: VoiceActivityFilter) throws -> FilteredTranscription {
        let audio: [Float], narrowband: Bool
        do {
            let stream = try AudioStream(url: url, sampleRate: WhisperLogMel.sampleRate, channel: channel)
            narrowband = stream.info.sampleRate <= WhisperLogMel.sampleRate / 2
            var all: [Float] = []
            while true {
                let block = try stream.read(maxFrames: 1 << 16)
                if block.isEmpty { break }
                all += block
            }
            audio = all
        } catch let e as AudioError {
            let text = e.description, prefix = url.path + ": "
            throw SpeechError.audio(path: url.path, reason: text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        }
        return try transcribe(samples: audio, narrowband: narrowband, filter: filter)
    }

    /// Transcribes only the speech in 16 kHz mono `samples` (see ``transcribe(url:channel:filter:)``).
    /// - Parameter narrowband: the samples came from phone-band audio (the phone-band map and
    ///   the narrowband fold apply, as for a file).
    public func transcribe(samples: [Float], narrowband: Bool = false, filter: VoiceActivityFilter) throws -> FilteredTranscription {
        let started = DispatchTime.now().uptimeNanoseconds
        let chunks = try filter.speechChunks(samples)
        let vadSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let speech = VoiceActivityFilter.collect(samples, chunks)
        let gain = options.narrowbandFoldGain
        var result = try transcribe({
            let source: WhisperSampleSource = WhisperArraySource(speech)
            return gain > 0 && narrowband ? NarrowbandFoldSource(source, gain: gain) : source
        }, phoneBand: { narrowband })
        result.segments = SpeechTimestampMap(chunks: chunks).restoring(result.segments)
        result.duration = Double(samples.count) / Double(WhisperLogMel.sampleRate)
        return FilteredTranscription(transcription: result, speech: chunks,
                                     speechDuration: Double(speech.count) / Double(WhisperLogMel.sampleRate), vadSeconds: vadSeconds)
    }
}
