import Foundation

/// One line of a live transcript: the text so far of an utterance still being spoken
/// (`partial`), or a segment of a finished one (`final`). Times are seconds of the stream.
public struct StreamEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case partial, final }
    public var type: Kind
    public var start: Double
    public var end: Double
    public var text: String

    public init(type: Kind, start: Double, end: Double, text: String) {
        self.type = type; self.start = start; self.end = end; self.text = text
    }

    /// One JSON object on one line, keys in the order `type`, `start`, `end`, `text`.
    public var jsonLine: String {
        let quoted = (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
        return "{\"type\":\"\(type.rawValue)\",\"start\":\(start),\"end\":\(end),\"text\":\(quoted)}"
    }
}

/// Live transcription: audio arrives in pieces, Silero VAD finds where utterances end, and each
/// finished utterance is decoded once and given as `final` segments; while one is being spoken
/// its text so far is given as a `partial` every ``partialInterval`` samples (less often when
/// decoding one takes more than half that long, so that a live stream keeps up).
///
/// Utterances are the voice-activity filter's stretches of speech, with its padding, found
/// window by window as faster-whisper's `get_speech_timestamps` finds them on the whole signal:
/// an utterance is final once `min_silence_duration_ms` of silence follows it and its padding is
/// known (no later speech can start within twice `speech_pad_ms`). So the stretches are those
/// of a `--vad` run on the same audio; each is decoded on its own (a `--vad` run decodes them
/// back to back, so a segment can differ where the decoder would have run across two of them).
///
/// One streamer per stream (not thread-safe); the transcriber and detector it uses may be shared.
public final class WhisperStreamer {
    public let transcriber: WhisperTranscriber
    public let filter: VoiceActivityFilter
    /// Samples of new audio between two partials of an open utterance (0: no partials).
    public let partialInterval: Int

    private var vad: SileroVAD.Stream
    private var segmenter: SpeechSegmenter
    /// Audio from `bufferStart` on (what an utterance not yet final may still need).
    private var buffer: [Float] = []
    private var bufferStart = 0
    /// Samples received.
    public private(set) var sampleCount = 0
    /// Closed stretches already given as finals, and where the last one ended (padded).
    private var finalized = 0
    private var lastEnd = 0
    private var lastPartial = 0
    /// New audio before the next partial: the interval, or more when decoding one took longer
    /// than half of it.
    private var partialGap = 0
    private var finished = false
    /// Seconds spent decoding (finals and partials) and in the VAD.
    public private(set) var decodeSeconds = 0.0, vadSeconds = 0.0

    static let rate = Double(SileroVAD.sampleRate)

    public init(transcriber: WhisperTranscriber, filter: VoiceActivityFilter, partialInterval: Int = 0) {
        self.transcriber = transcriber
        self.filter = filter
        self.partialInterval = max(0, partialInterval)
        partialGap = self.partialInterval
        vad = SileroVAD.Stream(detector: filter.detector)
        segmenter = SpeechSegmenter(options: filter.options)
    }

    /// Adds 16 kHz mono samples; returns what they made known.
    public func append(_ samples: [Float]) throws -> [StreamEvent] {
        precondition(!finished, "append after finish")
        sampleCount += samples.count
        buffer += samples
        let t0 = DispatchTime.now().uptimeNanoseconds
        let probabilities = try vad.append(samples)
        vadSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        var events: [StreamEvent] = []
        for p in probabilities {
            segmenter.push(p)
            events += try readyFinals()
        }
        if partialInterval > 0, let start = segmenter.openStart, sampleCount - lastPartial >= partialGap {
            lastPartial = sampleCount
            let from = max(lastEnd, Int(max(0, Double(start) - segmenter.speechPadSamples)), bufferStart)
            let before = decodeSeconds
            let text = try decode(from: from, to: sampleCount).map(\.text).joined().trimmingCharacters(in: .whitespaces)
            // A live stream must not fall behind: partials may take at most half of the audio's time.
            partialGap = max(partialInterval, Int(2 * (decodeSeconds - before) * Self.rate))
            if !text.isEmpty {
                events.append(StreamEvent(type: .partial, start: Self.seconds(from), end: Self.seconds(sampleCount), text: text))
            }
        }
        trim()
        return events
    }

    /// Ends the stream: the finals of every utterance left (the last one closed at the end).
    public func finish() throws -> [StreamEvent] {
        guard !finished else { return [] }
        finished = true
        for p in try vad.finish() { segmenter.push(p) }
        let all = segmenter.padded(segmenter.finished(sampleCount: sampleCount), sampleCount: sampleCount)
        var events: [StreamEvent] = []
        for k in finalized..<all.count { events += try final(all[k]) }
        finalized = all.count
        return events
    }

    /// Finals of closed stretches whose padding can no longer change.
    private func readyFinals() throws -> [StreamEvent] {
        let closed = segmenter.closed
        guard finalized < closed.count else { return [] }
        // The open stretch's start bounds the last closed one's padding; so does the position
        // (any later speech starts at or after the next window).
        var known = closed
        if let open = segmenter.openStart { known.append(SpeechChunk(start: open, end: open)) }
        let padded = segmenter.padded(known, sampleCount: Int.max / 2)
        let position = segmenter.index * SileroVAD.windowSamples
        var events: [StreamEvent] = []
        while finalized < closed.count {
            let k = finalized
            let hasNext = k + 1 < known.count
            guard hasNext || Double(position - closed[k].end) >= 2 * segmenter.speechPadSamples else { break }
            events += try final(padded[k])
            finalized += 1
        }
        return events
    }

    /// Decodes one padded stretch; its segments as finals.
    private func final(_ chunk: SpeechChunk) throws -> [StreamEvent] {
        let end = min(chunk.end, sampleCount)
        let segments = try decode(from: chunk.start, to: end)
        lastEnd = max(lastEnd, end)
        lastPartial = max(lastPartial, end)
        let offset = Double(chunk.start) / Self.rate
        return segments.map {
            StreamEvent(type: .final, start: Self.rounded(offset + $0.start), end: Self.rounded(offset + $0.end), text: $0.text)
        }
    }

    private func decode(from: Int, to: Int) throws -> [WhisperSegment] {
        let lo = max(from, bufferStart) - bufferStart, hi = max(to - bufferStart, lo)
        guard hi > lo else { return [] }
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { decodeSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
        return try transcriber.transcribe(samples: Array(buffer[lo..<hi])).segments
    }

    /// Drops audio no utterance can need any more: before the last final's end, and before the
    /// earliest padded start of speech not yet final.
    private func trim() {
        var keep = max(lastEnd, segmenter.index * SileroVAD.windowSamples - Int(segmenter.speechPadSamples) - SileroVAD.windowSamples)
        if finalized < segmenter.closed.count { keep = min(keep, max(lastEnd, segmenter.closed[finalized].start - Int(segmenter.speechPadSamples))) }
        if let open = segmenter.openStart { keep = min(keep, max(lastEnd, open - Int(segmenter.speechPadSamples))) }
        keep = min(keep, sampleCount)
        guard keep > bufferStart else { return }
        buffer.removeFirst(keep - bufferStart)
        bufferStart = keep
    }

    static func seconds(_ samples: Int) -> Double { rounded(Double(samples) / rate) }
    static func rounded(_ t: Double) -> Double { (t * 100).rounded(.toNearestOrEven) / 100 }
}

extension SpeechSegmenter {
    /// Where the open stretch of speech started (samples), if one is open.
    public var openStart: Int? { currentStart }
}
