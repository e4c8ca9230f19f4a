import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonSpeech

/// faster-whisper's voice-activity filter (`vad_filter=True`, `VadOptions`) as options, with its
/// names and defaults: Silero VAD v6 finds the speech, and only the speech is decoded.
struct VoiceActivityOptions: ParsableArguments {
    @Flag(name: .long, help: "Decode only the speech: Silero VAD finds it and silence, music and noise between are skipped (faster-whisper's vad_filter=True; times stay those of the file).")
    var vad = false

    @Option(name: .long, help: ArgumentHelp("A 32 ms window whose speech probability is at or above this is speech (threshold).", valueName: "p"))
    var vadThreshold: Double = 0.5

    @Option(name: .long, help: ArgumentHelp("Below this a window is silence; between the two it continues what came before (neg_threshold; default threshold - 0.15).", valueName: "p"))
    var vadNegThreshold: Double?

    @Option(name: .long, help: ArgumentHelp("Speech shorter than this is dropped (min_speech_duration_ms).", valueName: "ms"))
    var vadMinSpeechMs: Int = 0

    @Option(name: .long, help: ArgumentHelp("Longer speech is split, at a pause if there was one (max_speech_duration_s; default: no limit).", valueName: "s"))
    var vadMaxSpeechS: Double?

    @Option(name: .long, help: ArgumentHelp("Silence that ends a stretch of speech (min_silence_duration_ms).", valueName: "ms"))
    var vadMinSilenceMs: Int = 2000

    @Option(name: .long, help: ArgumentHelp("Audio kept either side of each stretch of speech (speech_pad_ms).", valueName: "ms"))
    var vadSpeechPadMs: Int = 400

    @Option(name: .long, help: ArgumentHelp("Silero VAD v6 ONNX file (default: the one scripts/bootstrap.sh put in ~/.cache/lepton/models/silero-vad).", valueName: "file"))
    var vadModel: String?

    func validate() throws {
        if let problem = settings.problem(naming: { Self.flags[$0] ?? $0 }) { throw ValidationError(problem) }
    }

    /// Each option by faster-whisper's name (``VADOptions/problem(naming:)`` names them so).
    static let flags = ["threshold": "--vad-threshold", "neg_threshold": "--vad-neg-threshold",
                        "min_speech_duration_ms": "--vad-min-speech-ms", "max_speech_duration_s": "--vad-max-speech-s",
                        "min_silence_duration_ms": "--vad-min-silence-ms", "speech_pad_ms": "--vad-speech-pad-ms"]

    /// Whether a --vad-… option was given (they need --vad, or --stream, which checks).
    var tuned: Bool {
        vadThreshold != 0.5 || vadNegThreshold != nil || vadMinSpeechMs != 0 || vadMaxSpeechS != nil
            || vadMinSilenceMs != 2000 || vadSpeechPadMs != 400 || vadModel != nil
    }

    /// The settings under faster-whisper's names.
    var settings: VADOptions {
        var o = VADOptions()
        o.threshold = vadThreshold
        o.negThreshold = vadNegThreshold
        o.minSpeechDurationMs = vadMinSpeechMs
        o.maxSpeechDurationS = vadMaxSpeechS ?? .infinity
        o.minSilenceDurationMs = vadMinSilenceMs
        o.speechPadMs = vadSpeechPadMs
        return o
    }

    /// The filter, or nil without --vad (unless `always`). A model that cannot be loaded is a
    /// one-line input error.
    func filter(always: Bool = false) throws -> VoiceActivityFilter? {
        guard vad || always else { return nil }
        do {
            let detector = try SileroVAD(contentsOf: vadModel.map { URL(fileURLWithPath: $0) } ?? ModelCache.sileroVAD)
            return VoiceActivityFilter(detector: detector, options: settings)
        } catch {
            throw CLIFailure.input("--vad: \(error)" + (vadModel == nil ? " (run scripts/bootstrap.sh, or pass --vad-model)" : ""))
        }
    }
}
