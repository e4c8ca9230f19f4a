import CZlib
import Foundation
import LeptonAudio
import LeptonEngine

/// One piece of transcript between two timestamp tokens.
public struct WhisperSegment: Codable, Sendable, Equatable {
    /// Seconds from the start of the file.
    public var start: Double
    public var end: Double
    /// Decoded text (usually with a leading space, as Whisper writes it).
    public var text: String
    /// Token ids, timestamps included.
    public var tokens: [Int]
    public var temperature: Double
    public var avgLogProb: Double
    public var compressionRatio: Double
    public var noSpeechProb: Double
    /// The segment's words with their times (``WhisperTranscribeOptions/wordTimestamps``), else nil.
    public var words: [WhisperWord]? = nil
    /// Who spoke it, for a recording transcribed channel by channel (``WhisperTranscription/interleaving(_:)``).
    public var speaker: String? = nil

    enum CodingKeys: String, CodingKey {
        case start, end, text, tokens, temperature, words, speaker
        case avgLogProb = "avg_logprob", compressionRatio = "compression_ratio", noSpeechProb = "no_speech_prob"
    }
}

/// The transcript of one file.
public struct WhisperTranscription: Codable, Sendable {
    /// All segment texts joined, trimmed.
    public var text: String
    /// Seconds of audio.
    public var duration: Double
    public var segments: [WhisperSegment]
    /// The recogniser's best whole-file texts, best first (the first is `text`), when
    /// ``WhisperTranscribeOptions/readings`` asked for more than one; nil otherwise.
    public var readings: [WhisperReading]?
    /// Where this call's time went and how much decoding it ran (not encoded: run data, not transcript).
    public var statistics = WhisperRunStatistics()

    enum CodingKeys: String, CodingKey { case text, duration, segments, readings }
}

/// What one transcription call spent, for benchmarks and logs. Each call counts its own work
/// (no process-wide counters), so concurrent calls do not disturb each other's figures.
public struct WhisperRunStatistics: Sendable, Equatable {
    /// Seconds in the front end (audio decoding and log-mel), the encoder, and decoding.
    public var featureSeconds = 0.0, encoderSeconds = 0.0, decoderSeconds = 0.0
    /// Decoder steps run (one per position, prompt tokens included) and rows advanced over all steps.
    public var decoderSteps = 0, decoderRows = 0
    public init() {}

    public static func += (a: inout WhisperRunStatistics, b: WhisperRunStatistics) {
        a.featureSeconds += b.featureSeconds; a.encoderSeconds += b.encoderSeconds; a.decoderSeconds += b.decoderSeconds
        a.decoderSteps += b.decoderSteps; a.decoderRows += b.decoderRows
    }
}

/// One whole-file reading of the audio from the n-best list.
public struct WhisperReading: Codable, Sendable, Equatable {
    public var text: String
    /// Sum over windows of the hypothesis' cumulative log-probability.
    public var logProbability: Double

    enum CodingKeys: String, CodingKey { case text, logProbability = "log_probability" }
}

/// Transcription options; defaults are faster-whisper 1.2.1's `transcribe` defaults.
public struct WhisperTranscribeOptions: Sendable {
    public var beamSize = 5
    public var bestOf = 5
    public var patience: Float = 1
    public var lengthPenalty: Float = 1
    public var temperatures: [Float] = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    public var compressionRatioThreshold: Double? = 2.4
    public var logProbThreshold: Double? = -1
    public var noSpeechThreshold: Double? = 0.6
    public var conditionOnPreviousText = true
    public var promptResetOnTemperature: Double = 0.5
    public var suppressBlank = true
    public var maxInitialTimestamp: Double = 1
    public var seed: UInt64 = 0
    /// Lepton's addition (faster-whisper leaves this to an optional VAD): a window whose loudest
    /// 25 ms frame is below this level (dB full scale, RMS) is silence and is not decoded, so
    /// digital silence or faint hiss cannot make the model invent words. `nil` disables it.
    public var silenceThresholdDBFS: Double? = -60
    /// Text given to the decoder before the first window, after `<|startofprev|>`, as
    /// faster-whisper's `initial_prompt`: words the speaker is likely to use (a bank's
    /// vocabulary: "PIN", "balance", "loan") make the model prefer them when the audio is
    /// ambiguous. Encoded with the model's `tokenizer.json`; reset like previous text.
    public var initialPrompt: String?
    /// How many readings to return in ``WhisperTranscription/readings`` (1 = none): the
    /// best hypotheses of the kept decoding pass (at most `beamSize`, or `bestOf` after a
    /// temperature fallback). A caller that acts on the words (an intent classifier) can weigh
    /// them instead of trusting a garbled best reading. With several windows, reading `k`
    /// joins every window's `k`-th hypothesis (or its last one when it has fewer).
    public var readings = 1
    /// Lepton's addition for phone audio: when the file's sample rate is 8 kHz or less, its band
    /// (≤ 4 kHz) is mirrored into the empty 4–8 kHz band at this amplitude (see
    /// ``NarrowbandFoldSource``); 0 = off, the default. Measured on synthetic 8 kHz µ-law calls,
    /// it is not a reliable gain: on 92 calls word errors fell from 40.6% to 36.5–37.8% at gains
    /// 0.05–0.15 (faster-whisper, same audio), but on 72 fresh calls they rose from 37.1% to 38.4%
    /// at 0.1, and the bank agent routed 4 fewer of 432 fresh calls with it.
    public var narrowbandFoldGain: Float = 0
    /// Lepton's addition for phone audio: when the file's sample rate is 8 kHz or less, its
    /// features are mapped towards wideband ones before the encoder (``WhisperPhoneBandMap``);
    /// nil = off, the default.
    public var phoneBandMap: WhisperPhoneBandMap?
    /// Lepton's addition: a language model of the domain's sentences fused into beam search
    /// (``WhisperLanguageModel``); nil = Whisper alone, the default. Each text token's score
    /// gains `languageModelWeight · (log P(w | two tokens before) − languageModelUnigramShare · log P(w))`.
    /// With share 1 a token is rewarded for what its context predicts, not penalised for being
    /// rare in the corpus: on 288 synthetic bank calls (validation-calls.yml, seeds 12 and 13) word
    /// errors at 16 kHz fell from 18.2% to 13.9% at weight 0.3, share 1 (8 kHz: 36.3% → 35.6%),
    /// while share 0 gave 15.6% at weight 0.15 and made 8 kHz calls worse at 0.3.
    public var languageModel: WhisperLanguageModel?
    public var languageModelWeight: Float = 0.3
    public var languageModelUnigramShare: Float = 1
    /// Times each word from the cross-attention of the model's alignment heads, as
    /// faster-whisper's `word_timestamps=True` (segments then start and end with their words, and
    /// the next window starts after the last word, as there).
    public var wordTimestamps = false
    public init() {}
}

extension AudioStream: WhisperSampleSource {}

/// Spectral folding for narrowband audio upsampled to 16 kHz: `y[n] = x[n] · (1 + g·(−1)ⁿ)`.
///
/// Multiplying by `(−1)ⁿ` shifts the spectrum by half the sample rate, so a component at `f` Hz
/// reappears at `8000 − f`: the 0–4 kHz band is copied, mirrored and scaled by `g`, into the
/// 4–8 kHz band that an 8 kHz recording leaves empty (the classic cheap bandwidth extension of
/// telephony). The low band is untouched.
public final class NarrowbandFoldSource: WhisperSampleSource {
    private let source: WhisperSampleSource
    private let gain: Float
    private var position = 0

    public init(_ source: WhisperSampleSource, gain: Float) { self.source = source; self.gain = gain }

    public func read(maxFrames: Int) throws -> [Float] {
        var x = try source.read(maxFrames: maxFrames)
        let even = 1 + gain, odd = 1 - gain
        for i in x.indices { x[i] *= (position + i) & 1 == 0 ? even : odd }
        position += x.count
        return x
    }
}

/// Speech to text with Whisper tiny.en, window by window (30 s) with timestamp seeking, as
/// faster-whisper's `WhisperModel.transcribe` does.
///
/// Memory is bounded by one window: the file is streamed twice (once for the log-mel maximum
/// that normalisation needs, once for the windows), never held whole.
///
/// A `Sendable` value: one transcriber may serve many threads at once. Each call works in its own
/// scratch (encoder, decoder and buffers, about 40 MB), taken from a pool that keeps the scratch of
/// finished calls for the next ones (allocating and faulting in 40 MB per file cost ~4% of the
/// time), so calls share only the read-only model and the pool's lock.
public struct WhisperTranscriber: Sendable {
    public let model: WhisperModel
    public var options: WhisperTranscribeOptions
    private let sessions = SessionPool()
    var tokenizer: WhisperTokenizer { model.tokenizer }

    /// Seconds per mel frame and per timestamp step.
    static let frameSeconds = 0.01
    static let timestampSeconds = 0.02

    public init(model: WhisperModel, options: WhisperTranscribeOptions = WhisperTranscribeOptions()) {
        self.model = model
        self.options = options
    }

    /// The scratch of one transcription call: the encoder's and decoder's buffers and a window of features.
    final class Session {
        let encoder: WhisperEncoder
        let generator: WhisperGenerator
        let features: UnsafeMutablePointer<Float>
        /// The most hypotheses the decoder holds.
        let rows: Int

        init(model: WhisperModel, rows: Int) {
            self.rows = rows
            encoder = WhisperEncoder(model: model)
            generator = WhisperGenerator(model: model, maxRows: rows)
            features = .allocate(capacity: WhisperModel.encoderFrames * WhisperModel.melBins)
        }

        deinit { features.deallocate() }
    }

    /// Scratch of finished calls, kept for the next ones (one per call running at once, at most).
    final class SessionPool: @unchecked Sendable {
        private let lock = NSLock()
        private var idle: [Session] = []

        /// A session for `model` with room for `rows` hypotheses (a kept one when one fits).
        func take(model: WhisperModel, rows: Int) -> Session {
            lock.lock()
            if let i = idle.firstIndex(where: { $0.rows == rows && $0.encoder.model === model }) {
                defer { lock.unlock() }
                return idle.remove(at: i)
            }
            lock.unlock()
            return Session(model: model, rows: rows)
        }

        func give(_ session: Session) {
            lock.lock(); defer { lock.unlock() }
            idle.append(session)
        }
    }

    /// Transcribes an audio file (any format LeptonAudio reads; resampled to 16 kHz mono).
    /// - Parameter encoded: encoder outputs kept from an earlier transcription of the same file
    ///   with the same feature options (see ``WhisperEncodedAudio``); windows it holds are not
    ///   encoded again, and windows encoded now are added to it.
    /// - Throws: ``SpeechError/audio(path:reason:)`` when the file cannot be decoded.
    /// - Parameter channel: the one channel to hear (0-based), or nil for all of them averaged.
    public func transcribe(url: URL, encoded: WhisperEncodedAudio? = nil, channel: Int? = nil) throws -> WhisperTranscription {
        do {
            let gain = options.narrowbandFoldGain
            var narrowband = false
            return try transcribe({
                let stream = try AudioStream(url: url, sampleRate: WhisperLogMel.sampleRate, channel: channel)
                narrowband = stream.info.sampleRate <= WhisperLogMel.sampleRate / 2
                guard gain > 0, narrowband else { return stream }
                return NarrowbandFoldSource(stream, gain: gain)
            }, phoneBand: { narrowband }, encoded: encoded)
        } catch let e as AudioError {
            // AudioError's text already starts with the path.
            let text = e.description
            let prefix = url.path + ": "
            throw SpeechError.audio(path: url.path, reason: text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        }
    }

    /// Transcribes 16 kHz mono samples.
    public func transcribe(samples: [Float]) throws -> WhisperTranscription {
        try transcribe { WhisperArraySource(samples) }
    }

    /// Transcribes a signal that `makeSource` can stream from the start (called twice).
    /// - Parameter phoneBand: asked after the first `makeSource`: whether the signal came from
    ///   phone-band audio, so that ``WhisperTranscribeOptions/phoneBandMap`` applies.
    public func transcribe(_ makeSource: () throws -> WhisperSampleSource,
                           phoneBand: () -> Bool = { false }, encoded: WhisperEncodedAudio? = nil) throws -> WhisperTranscription {
        // Parallelism comes from our own row/head splits; OpenBLAS's pool would only spin.
        try BLAS.withSingleThreadedBLAS { try transcribeSingleThreadedBLAS(makeSource, phoneBand: phoneBand, encoded: encoded) }
    }

    private func transcribeSingleThreadedBLAS(_ makeSource: () throws -> WhisperSampleSource,
                                              phoneBand: () -> Bool, encoded: WhisperEncodedAudio?) throws -> WhisperTranscription {
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { clock = now }
            return Double(now - clock) / 1e9
        }
        let session = sessions.take(model: model, rows: max(options.beamSize, options.bestOf, 1))
        defer { sessions.give(session) }
        session.generator.reseed(options.seed)
        var statistics = WhisperRunStatistics()
        let stepsBefore = session.generator.decoder.stepsRun, rowsBefore = session.generator.decoder.rowsRun
        let encoder = session.encoder, features = session.features
        let scan = WhisperLogMel(source: try makeSource())
        let maximum = try scan.scanMaximum()
        let bandMap = phoneBand() ? options.phoneBandMap : nil
        statistics.featureSeconds += lap()
        let sampleCount = scan.sampleCount ?? 0
        let contentFrames = sampleCount / WhisperLogMel.hop
        let mel = WhisperLogMel(source: try makeSource())

        var segments: [WhisperSegment] = []
        var windowReadings: [[(text: String, logProbability: Double)]] = []
        var allTokens = try initialPromptTokens()
        var promptResetSince = 0
        var seek = 0
        var lastSpeech = 0.0
        while seek < contentFrames {
            let timeOffset = Double(seek) * Self.frameSeconds
            let segmentSize = min(WhisperModel.encoderFrames, contentFrames - seek)
            let segmentDuration = Double(segmentSize) * Self.frameSeconds
            try mel.window(start: seek, frames: segmentSize, maximum: maximum, into: features)
            bandMap?.apply(to: features, frames: segmentSize)
            statistics.featureSeconds += lap()
            if let floor = options.silenceThresholdDBFS,
               10 * log10(max(Double(mel.windowPeakMeanSquare), 1e-20)) < floor {
                seek += segmentSize
                continue
            }
            if let kept = encoded?.windows[seek] {
                kept.withUnsafeBufferPointer { session.generator.decoder.setEncoderOutput($0.baseAddress!) }
            } else {
                encoder.encode(features)
                session.generator.decoder.setEncoderOutput(encoder.output)
                encoded?.windows[seek] = Array(UnsafeBufferPointer(start: encoder.output, count: WhisperEncodedAudio.windowCount))
            }
            statistics.encoderSeconds += lap()

            let previous = Array(allTokens[promptResetSince...])
            var prompt: [Int] = []
            if !previous.isEmpty {
                prompt.append(tokenizer.startOfPrevious)
                prompt += previous.suffix(WhisperModel.decoderPositions / 2 - 1)
            }
            prompt.append(tokenizer.startOfTranscript)

            let decoded = decodeWithFallback(prompt: prompt, generator: session.generator)
            statistics.decoderSeconds += lap()
            if let threshold = options.noSpeechThreshold {
                var skip = Double(decoded.result.noSpeechProbability) > threshold
                if let lp = options.logProbThreshold, decoded.avgLogProb > lp { skip = false }
                if skip { seek += segmentSize; continue }
            }
            if options.readings > 1 {
                windowReadings.append(decoded.result.hypotheses.prefix(options.readings).map {
                    (tokenizer.decode($0.tokens).trimmingCharacters(in: .whitespacesAndNewlines), Double($0.logProbability))
                })
            }
            let cut = split(decoded.result.tokens, timeOffset: timeOffset, segmentSize: segmentSize,
                            segmentDuration: segmentDuration, seek: seek)
            var pieces = cut.pieces, nextSeek = cut.seek
            var pieceWords: [[WhisperWord]]?
            if options.wordTimestamps {
                let timed = addWordTimestamps(&pieces, decoder: session.generator.decoder, seek: seek, segmentSize: segmentSize,
                                              lastSpeech: lastSpeech)
                pieceWords = timed.words
                // faster-whisper's `get_end`: the last word's end, else the last piece's.
                let lastWordEnd = timed.words.reversed().lazy.compactMap(\.last?.end).first ?? pieces.last?.end
                if !cut.singleTimestampEnding, let lastWordEnd, lastWordEnd > timeOffset {
                    nextSeek = Int((lastWordEnd * 100).rounded(.toNearestOrEven))
                }
                if let lastWordEnd { lastSpeech = lastWordEnd }
            }
            // A window must always move forward (a `<|0.00|><|0.00|>` output would otherwise loop).
            seek = nextSeek > seek ? nextSeek : seek + segmentSize
            for (p, piece) in pieces.enumerated() {
                let text = tokenizer.decode(piece.tokens)
                if piece.start == piece.end || text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                allTokens += piece.tokens
                segments.append(WhisperSegment(start: piece.start, end: piece.end, text: text, tokens: piece.tokens,
                                               temperature: Double(decoded.temperature), avgLogProb: decoded.avgLogProb,
                                               compressionRatio: decoded.compressionRatio,
                                               noSpeechProb: Double(decoded.result.noSpeechProbability), words: pieceWords?[p]))
            }
            if !options.conditionOnPreviousText || Double(decoded.temperature) > options.promptResetOnTemperature {
                promptResetSince = allTokens.count
            }
        }
        let text = segments.map(\.text).joined().trimmingCharacters(in: .whitespacesAndNewlines)
        var transcription = WhisperTranscription(text: text, duration: Double(sampleCount) / Double(WhisperLogMel.sampleRate),
                                                 segments: segments)
        if options.readings > 1 { transcription.readings = Self.join(windowReadings, best: text) }
        statistics.decoderSteps = session.generator.decoder.stepsRun - stepsBefore
        statistics.decoderRows = session.generator.decoder.rowsRun - rowsBefore
        transcription.statistics = statistics
        return transcription
    }

    /// Whole-file readings from each window's hypotheses (reading `k` = every window's
    /// `k`-th reading, or its last); the first is the transcript itself.
    static func join(_ windows: [[(text: String, logProbability: Double)]], best: String) -> [WhisperReading] {
        let windows = windows.filter { !$0.isEmpty }
        let count = windows.map(\.count).max() ?? 0
        var result = [WhisperReading(text: best, logProbability: windows.reduce(0) { $0 + $1[0].logProbability })]
        for k in stride(from: 1, to: count, by: 1) {
            let parts = windows.map { $0[min(k, $0.count - 1)] }
            let text = parts.map(\.text).filter { !$0.isEmpty }.joined(separator: " ")
            result.append(WhisperReading(text: text, logProbability: parts.reduce(0) { $0 + $1.logProbability }))
        }
        return result
    }

    /// Ids of `options.initialPrompt` (with the leading space faster-whisper adds), or none.
    public func initialPromptTokens() throws -> [Int] {
        guard let text = options.initialPrompt?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return [] }
        return try model.bpeEncoder().encode(" " + text)
    }

    struct Decoded {
        var result: WhisperDecodingResult
        var avgLogProb: Double
        var temperature: Float
        var compressionRatio: Double
    }

    /// Decodes at each temperature in turn until the text is neither too repetitive (zlib
    /// compression ratio) nor too unlikely (average log-probability).
    func decodeWithFallback(prompt: [Int], generator: WhisperGenerator) -> Decoded {
        var all: [Decoded] = []
        var belowCompressionThreshold: [Decoded] = []
        for temperature in options.temperatures {
            var o = WhisperDecodingOptions()
            o.beamSize = options.beamSize
            o.bestOf = options.bestOf
            o.patience = options.patience
            o.lengthPenalty = options.lengthPenalty
            o.temperature = temperature
            o.suppressBlank = options.suppressBlank
            o.maxInitialTimestampIndex = Int((options.maxInitialTimestamp / Self.timestampSeconds).rounded())
            o.languageModelWeight = options.languageModel == nil ? 0 : options.languageModelWeight
            o.languageModelUnigramShare = options.languageModelUnigramShare
            generator.languageModel = options.languageModel
            let result = generator.generate(prompt: prompt, options: o)
            // Judged on Whisper's own log-probability: a fused language model does not make
            // the audio clearer or murkier.
            let avg = Double(result.acousticLogProbability) / (Double(result.tokens.count) + 1)
            let text = tokenizer.decode(result.tokens).trimmingCharacters(in: .whitespacesAndNewlines)
            let ratio = Self.compressionRatio(text)
            let decoded = Decoded(result: result, avgLogProb: avg, temperature: temperature, compressionRatio: ratio)
            all.append(decoded)
            var needsFallback = false
            if let t = options.compressionRatioThreshold, ratio > t { needsFallback = true }
            if let lp = options.logProbThreshold, avg < lp { needsFallback = true }
            if let ns = options.noSpeechThreshold, let lp = options.logProbThreshold,
               Double(result.noSpeechProbability) > ns, avg < lp { needsFallback = false }
            if !needsFallback { return decoded }
            if let t = options.compressionRatioThreshold, ratio <= t { belowCompressionThreshold.append(decoded) }
        }
        let pool = belowCompressionThreshold.isEmpty ? all : belowCompressionThreshold
        var best = pool[0]
        for d in pool.dropFirst() where d.avgLogProb > best.avgLogProb { best = d }
        return best
    }

    /// `len(utf8) / len(zlib.compress(utf8))` (zlib's default level, as Python's `zlib.compress`).
    public static func compressionRatio(_ text: String) -> Double {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return 0 }
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress!, &size, i.baseAddress!, uLong(bytes.count), Z_DEFAULT_COMPRESSION) }
        }
        guard status == Z_OK, size > 0 else { return 0 }
        return Double(bytes.count) / Double(size)
    }

    struct Piece { var start: Double; var end: Double; var tokens: [Int] }

    /// Cuts a window's tokens at consecutive timestamp pairs; returns the pieces and the next seek.
    func split(_ tokens: [Int], timeOffset: Double, segmentSize: Int, segmentDuration: Double, seek: Int)
        -> (pieces: [Piece], seek: Int, singleTimestampEnding: Bool) {
        let tsBegin = tokenizer.timestampBegin
        var pieces: [Piece] = []
        var seek = seek
        let singleTimestampEnding = tokens.count >= 2 && tokens[tokens.count - 2] < tsBegin && tokens[tokens.count - 1] >= tsBegin
        let consecutive = tokens.indices.filter { $0 > 0 && tokens[$0] >= tsBegin && tokens[$0 - 1] >= tsBegin }
        if !consecutive.isEmpty {
            var slices = consecutive
            if singleTimestampEnding { slices.append(tokens.count) }
            var last = 0
            for current in slices {
                let sliced = Array(tokens[last..<current])
                let start = timeOffset + Double(sliced[0] - tsBegin) * Self.timestampSeconds
                let end = timeOffset + Double(sliced[sliced.count - 1] - tsBegin) * Self.timestampSeconds
                pieces.append(Piece(start: start, end: end, tokens: sliced))
                last = current
            }
            if singleTimestampEnding {
                seek += segmentSize
            } else {
                // Timestamps are 0.02 s = 2 mel frames.
                seek += (tokens[last - 1] - tsBegin) * 2
            }
        } else {
            var duration = segmentDuration
            let stamps = tokens.filter { $0 >= tsBegin }
            if let lastStamp = stamps.last, lastStamp != tsBegin {
                duration = Double(lastStamp - tsBegin) * Self.timestampSeconds
            }
            pieces.append(Piece(start: timeOffset, end: timeOffset + duration, tokens: tokens))
            seek += segmentSize
        }
        return (pieces, seek, singleTimestampEnding)
    }
}

/// The encoder's outputs for the windows of one recording, kept so that decoding the same audio
/// again (another beam setting, a language model fused in) skips the encoder: for a short call it
/// is most of a decode's work (a 30 s window always costs the whole encoder, ~18 GMAC for tiny.en).
///
/// Outputs are keyed by the window's start frame, so a second decode that seeks differently
/// encodes the windows it does not find. The caller must keep the audio and every option that
/// shapes the features (phone-band map, narrowband fold, silence threshold) the same between the
/// decodes that share one; ``WhisperTranscriber`` cannot tell. Not thread-safe: one per call.
public final class WhisperEncodedAudio {
    /// Window start frame → encoder output `[1500, 384]`.
    var windows: [Int: [Float]] = [:]
    static let windowCount = WhisperModel.encoderPositions * WhisperModel.dModel
    /// Windows held.
    public var count: Int { windows.count }
    public init() {}
}
