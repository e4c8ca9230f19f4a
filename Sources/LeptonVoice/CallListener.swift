import Foundation
import LeptonDialog
import LeptonSpeech

/// What the agent heard in a caller's audio.
public struct HeardCall: Sendable {
    /// The transcript: the reading with the largest weight (entities are read from it).
    public var text: String
    /// The readings whose intent rankings ``ChatAgent/respond(text:session:allowEmpty:readings:)`` mixes.
    public var readings: [HeardReading]
    /// Whether the call was decoded a second time with the domain's language model.
    public var secondOpinion: Bool
    /// The segments of the decode `text` comes from, with their times in the recording.
    public var segments: [HeardSegment] = []
}

extension ChatAgent {
    /// Plays the turn a caller spoke (`heard`) in `session`: the reply, with the transcript's
    /// segments (an empty transcript is a turn the agent did not understand, not an error).
    public func respond(to heard: HeardCall, session: String, idempotency: TurnIdempotency? = nil) throws -> AgentReply {
        // The segments are part of the answer an Idempotency-Key stores, so a replay equals it.
        try respond(text: heard.text, session: session, allowEmpty: true, readings: heard.readings,
                    segments: heard.segments, idempotency: idempotency)
    }
}

/// Hears callers' audio for an agent with its domain's recognition settings (`settings.asr_*`).
///
/// Whisper tiny.en is loaded once and kept for the next turns of a shell session, and so is the
/// trigram language model counted from the agent's `asr-corpus.txt`.
///
/// **Second opinion.** With `asr_second_opinion_below` > 0, the call is first decoded by Whisper
/// alone. When the intent its readings point to has a confidence below that level, the call is
/// decoded again with the language model fused into the search (`asr_language_model_weight`),
/// and the two decodes' readings share the intent ranking half and half. Murky 8 kHz calls are
/// the ones the agent is unsure of, and the fused decode gets their words wrong in other ways
/// than the plain one; calls the agent is sure of are decoded once.
///
/// A listener keeps per-caller scratch (the transcriber's buffers, the counted language model):
/// use one per thread or session; the Whisper model itself is shared.
public final class CallListener {
    public let whisper: WhisperModel
    /// The agent's corpus and phone-band map.
    public let settings: CallSettings
    private var languageModel: WhisperLanguageModel?
    /// Kept between calls (its encoder and beam buffers); rebuilt when the beam width changes.
    private var transcriber: WhisperTranscriber?

    /// - Parameters:
    ///   - whisper: the recognizer (e.g. `WhisperModel()`, Whisper tiny.en from the model cache).
    ///   - settings: the agent's files for hearing (``CallSettings/load(domain:domainFile:model:)``).
    ///     Use one listener per agent: the language model is counted from these settings' corpus.
    public init(whisper: WhisperModel, settings: CallSettings) { self.whisper = whisper; self.settings = settings }

    /// Transcribes `url` for `agent` (see the type's description).
    ///
    /// - Throws: ``ChatError/badInput(_:)`` when the file does not exist; the audio decoder's and
    ///   the recognizer's errors; the classifier's.
    public func hear(_ url: URL, agent: ChatAgent) throws -> HeardCall {
        guard FileManager.default.fileExists(atPath: url.path) else { throw ChatError.badInput("no such audio file: \(url.path)") }
        let gate = agent.engine.domain.asrSecondOpinionBelow
        // Without a second opinion the one decode is fused (when the domain fuses at all).
        // The second decode hears the same audio with the same features: it reuses the encoder's work.
        let encoded = WhisperEncodedAudio()
        let first = try decode(url, for: agent, languageModel: gate == 0 ? try languageModel(for: agent) : nil, encoded: encoded)
        let once = HeardCall(text: first.text, readings: first.readings, secondOpinion: false, segments: first.segments)
        guard gate > 0, !first.text.isEmpty else { return once }
        // `decode` gives at least one reading for a non-empty transcript.
        if let top = try agent.intentRanking(readings: first.readings).first, top.confidence >= gate { return once }
        guard let model = try languageModel(for: agent) else { return once }
        let second = try decode(url, for: agent, languageModel: model, encoded: encoded)
        let pooled = HeardReading.pooled([first.readings, second.readings])
        let best = pooled.max { $0.logProbability < $1.logProbability }
        let text = best?.text.trimmingCharacters(in: .whitespacesAndNewlines) ?? first.text
        return HeardCall(text: text, readings: pooled, secondOpinion: true,
                         segments: text == second.text ? second.segments : first.segments)
    }

    /// The domain language model, counted on first need (half a second for the bank agent's
    /// 10,000 sentences, so a confident single call does not pay it); nil when the domain has none.
    private func languageModel(for agent: ChatAgent) throws -> WhisperLanguageModel? {
        guard agent.engine.domain.asrLanguageModelWeight > 0, let corpus = settings.recognizerCorpus else { return nil }
        if languageModel == nil { languageModel = try RecognizerCorpus.languageModel(corpus, whisper: whisper) }
        return languageModel
    }

    /// One decode of `url` with the agent's domain settings and phone-band map, `languageModel`
    /// (if any) fused.
    private func decode(_ url: URL, for agent: ChatAgent, languageModel: WhisperLanguageModel?,
                        encoded: WhisperEncodedAudio) throws -> (text: String, readings: [HeardReading], segments: [HeardSegment]) {
        let domain = agent.engine.domain
        var options = WhisperTranscribeOptions()
        options.beamSize = domain.asrBeamSize
        options.initialPrompt = domain.asrPrompt
        options.readings = domain.asrReadings
        options.narrowbandFoldGain = domain.asrNarrowbandFold
        options.phoneBandMap = settings.phoneBandMap
        if let languageModel {
            options.languageModel = languageModel
            options.languageModelWeight = domain.asrLanguageModelWeight
        }
        if transcriber?.options.beamSize != options.beamSize {
            transcriber = WhisperTranscriber(model: whisper, options: options)
        }
        transcriber!.options = options
        let result = try transcriber!.transcribe(url: url, encoded: encoded)
        var readings = (result.readings ?? []).map { HeardReading(text: $0.text, logProbability: $0.logProbability) }
        let text = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if readings.isEmpty, !text.isEmpty { readings = [HeardReading(text: text, logProbability: 0)] }
        // Milliseconds, as `transcribe -f json` writes them.
        func ms(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
        let segments = result.segments.map { HeardSegment(start: ms($0.start), end: ms($0.end), text: $0.text.trimmingCharacters(in: .whitespaces)) }
        return (text, readings, segments)
    }
}

extension HeardReading {
    /// Readings of several decodes of the same audio, pooled so that each decode keeps an equal
    /// share of the posterior weight however confident it is: reading `i` of decode `d` (of `n`)
    /// gets log-probability `log(1/n) + logP_i − log Σ_j exp(logP_j)`, so a softmax over the
    /// pooled list (as ``ChatAgent`` takes) gives it `1/n · softmax_d(i)`. Empty decodes are left out.
    public static func pooled(_ decodes: [[HeardReading]]) -> [HeardReading] {
        let kept = decodes.filter { !$0.isEmpty }
        guard !kept.isEmpty else { return [] }
        let share = Foundation.log(1 / Double(kept.count))
        return kept.flatMap { list -> [HeardReading] in
            let top = list.map(\.logProbability).max()!
            let finite = top.isFinite ? top : 0
            let total = list.reduce(0) { $0 + ($1.logProbability.isFinite ? Foundation.exp($1.logProbability - finite) : 0) }
            let norm = total > 0 ? finite + Foundation.log(total) : 0
            return list.map { HeardReading(text: $0.text, logProbability: share + ($0.logProbability - norm)) }
        }
    }
}
