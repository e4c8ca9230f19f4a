import Foundation

/// The voice-activity filter's settings, under faster-whisper 1.2.1's `VadOptions` names and
/// with its defaults.
public struct VADOptions: Sendable, Equatable {
    /// A window whose speech probability is at or above this is speech.
    public var threshold: Double = 0.5
    /// Below this a window is silence; between the two it continues what came before
    /// (nil: `max(threshold − 0.15, 0.01)`).
    public var negThreshold: Double? = nil
    /// Speech shorter than this is dropped.
    public var minSpeechDurationMs: Int = 0
    /// Longer speech is split (at a silence of more than 98 ms when there was one).
    public var maxSpeechDurationS: Double = .infinity
    /// Silence that ends a stretch of speech.
    public var minSilenceDurationMs: Int = 2000
    /// Kept around each stretch of speech.
    public var speechPadMs: Int = 400

    public init() {}

    /// The silence threshold in use.
    public var effectiveNegThreshold: Double { negThreshold ?? max(threshold - 0.15, 0.01) }

    /// The first setting out of range, in one line, or nil; each setting is named by
    /// `name(faster-whisper's name)` (a program's option or a route's query parameter).
    public func problem(naming name: (String) -> String = { $0 }) -> String? {
        guard (0...1).contains(threshold) else { return "\(name("threshold")) must be in [0, 1]" }
        if let n = negThreshold, !(0...1).contains(n) || n > threshold {
            return "\(name("neg_threshold")) must be in [0, \(name("threshold"))]"
        }
        guard (0...600_000).contains(minSpeechDurationMs) else { return "\(name("min_speech_duration_ms")) must be 0...600000" }
        guard (0...600_000).contains(minSilenceDurationMs) else { return "\(name("min_silence_duration_ms")) must be 0...600000" }
        guard (0...60_000).contains(speechPadMs) else { return "\(name("speech_pad_ms")) must be 0...60000" }
        if maxSpeechDurationS != .infinity {
            // faster-whisper subtracts a window and both pads: a limit below that would split every window.
            let floor = 0.032 + 2 * Double(speechPadMs) / 1000
            guard maxSpeechDurationS > floor, maxSpeechDurationS <= 86_400 else {
                return "\(name("max_speech_duration_s")) must be above \(floor) s (a window and twice \(name("speech_pad_ms"))) and at most 86400"
            }
        }
        return nil
    }
}

/// A stretch of speech, in samples of the 16 kHz signal (`end` exclusive).
public struct SpeechChunk: Sendable, Equatable, Codable {
    public var start: Int
    public var end: Int
    public init(start: Int, end: Int) { self.start = start; self.end = end }
}

/// faster-whisper's `get_speech_timestamps` as a machine fed one window probability at a time:
/// stretches of speech close as the silence after them reaches `min_silence_duration_ms` (or as
/// they reach `max_speech_duration_s`), so a stream can act on each as soon as it is known.
public struct SpeechSegmenter: Sendable {
    public let options: VADOptions
    let sampleRate: Int
    let window = SileroVAD.windowSamples
    let minSpeechSamples, speechPadSamples, maxSpeechSamples, minSilenceSamples: Double
    let minSilenceSamplesAtMaxSpeech: Double

    var triggered = false
    var currentStart: Int?
    var tempEnd = 0, prevEnd = 0, nextStart = 0
    /// Windows seen.
    public private(set) var index = 0
    /// Closed stretches, before padding.
    public private(set) var closed: [SpeechChunk] = []

    public init(options: VADOptions = VADOptions(), sampleRate: Int = SileroVAD.sampleRate) {
        self.options = options
        self.sampleRate = sampleRate
        let sr = Double(sampleRate)
        minSpeechSamples = sr * Double(options.minSpeechDurationMs) / 1000
        speechPadSamples = sr * Double(options.speechPadMs) / 1000
        maxSpeechSamples = sr * options.maxSpeechDurationS - Double(SileroVAD.windowSamples) - 2 * speechPadSamples
        minSilenceSamples = sr * Double(options.minSilenceDurationMs) / 1000
        minSilenceSamplesAtMaxSpeech = sr * 98 / 1000
    }

    /// Whether a stretch of speech is open (started, not yet closed).
    public var inSpeech: Bool { currentStart != nil }

    /// The next window's speech probability.
    public mutating func push(_ probability: Float) {
        defer { index += 1 }
        let p = Double(probability), at = window * index
        let threshold = options.threshold, neg = options.effectiveNegThreshold
        if p >= threshold && tempEnd != 0 {
            tempEnd = 0
            if nextStart < prevEnd { nextStart = at }
        }
        if p >= threshold && !triggered {
            triggered = true
            currentStart = at
            return
        }
        if triggered, let start = currentStart, Double(at - start) > maxSpeechSamples {
            if prevEnd != 0 {
                closed.append(SpeechChunk(start: start, end: prevEnd))
                currentStart = nil
                // Silence reached before (below neg) and not speech since: wait for speech again.
                if nextStart < prevEnd { triggered = false } else { currentStart = nextStart }
                prevEnd = 0; nextStart = 0; tempEnd = 0
            } else {
                closed.append(SpeechChunk(start: start, end: at))
                currentStart = nil
                prevEnd = 0; nextStart = 0; tempEnd = 0
                triggered = false
                return
            }
        }
        if p < neg && triggered {
            if tempEnd == 0 { tempEnd = at }
            // Remember a silence long enough to split at should the stretch grow too long.
            if Double(at - tempEnd) > minSilenceSamplesAtMaxSpeech { prevEnd = tempEnd }
            if Double(at - tempEnd) < minSilenceSamples { return }
            if let start = currentStart, Double(tempEnd - start) > minSpeechSamples {
                closed.append(SpeechChunk(start: start, end: tempEnd))
            }
            currentStart = nil
            prevEnd = 0; nextStart = 0; tempEnd = 0
            triggered = false
        }
    }

    /// The stretch still open at the end of a signal of `sampleCount` samples, closed there (if
    /// long enough), after the others.
    public func finished(sampleCount: Int) -> [SpeechChunk] {
        var all = closed
        if let start = currentStart, Double(sampleCount - start) > minSpeechSamples {
            all.append(SpeechChunk(start: start, end: sampleCount))
        }
        return all
    }

    /// `speech_pad_ms` added around each stretch as faster-whisper does: the first starts earlier,
    /// each ends later; two closer than twice the pad share the silence between them.
    public func padded(_ speeches: [SpeechChunk], sampleCount: Int) -> [SpeechChunk] {
        var s = speeches
        let pad = speechPadSamples
        for i in s.indices {
            if i == 0 { s[i].start = Int(max(0, Double(s[i].start) - pad)) }
            if i != s.count - 1 {
                let silence = s[i + 1].start - s[i].end
                if Double(silence) < 2 * pad {
                    s[i].end += silence / 2
                    s[i + 1].start = max(0, s[i + 1].start - silence / 2)
                } else {
                    s[i].end = Int(min(Double(sampleCount), Double(s[i].end) + pad))
                    s[i + 1].start = Int(max(0, Double(s[i + 1].start) - pad))
                }
            } else {
                s[i].end = Int(min(Double(sampleCount), Double(s[i].end) + pad))
            }
        }
        return s
    }

    /// faster-whisper's `get_speech_timestamps`: the padded stretches of speech of a signal of
    /// `sampleCount` samples whose windows have these probabilities.
    public static func speechTimestamps(probabilities: [Float], sampleCount: Int, options: VADOptions = VADOptions()) -> [SpeechChunk] {
        var segmenter = SpeechSegmenter(options: options)
        for p in probabilities { segmenter.push(p) }
        return segmenter.padded(segmenter.finished(sampleCount: sampleCount), sampleCount: sampleCount)
    }
}

/// From times in the speech-only signal (the chunks back to back) to times in the original, as
/// faster-whisper's `SpeechTimestampsMap` does (two decimals).
public struct SpeechTimestampMap: Sendable {
    let sampleRate: Int
    /// Each chunk's end in the speech-only signal.
    let chunkEndSample: [Int]
    /// Seconds of silence removed before each chunk.
    let totalSilenceBefore: [Double]

    public init(chunks: [SpeechChunk], sampleRate: Int = SileroVAD.sampleRate) {
        self.sampleRate = sampleRate
        var previousEnd = 0, silent = 0
        var ends: [Int] = [], before: [Double] = []
        for chunk in chunks {
            silent += chunk.start - previousEnd
            previousEnd = chunk.end
            ends.append(chunk.end - silent)
            before.append(Double(silent) / Double(sampleRate))
        }
        chunkEndSample = ends
        totalSilenceBefore = before
    }

    /// The chunk a speech-only time falls in (an end exactly at a chunk's end stays in it).
    public func chunkIndex(_ time: Double, isEnd: Bool = false) -> Int {
        let sample = Int(time * Double(sampleRate))
        if isEnd, let i = chunkEndSample.firstIndex(of: sample) { return i }
        // bisect_right: the number of chunk ends at or before the sample.
        var lo = 0, hi = chunkEndSample.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sample < chunkEndSample[mid] { hi = mid } else { lo = mid + 1 }
        }
        return min(lo, chunkEndSample.count - 1)
    }

    /// The original time of a speech-only time.
    public func originalTime(_ time: Double, chunk: Int? = nil, isEnd: Bool = false) -> Double {
        guard !chunkEndSample.isEmpty else { return time }
        let i = chunk ?? chunkIndex(time, isEnd: isEnd)
        return ((totalSilenceBefore[i] + time) * 100).rounded(.toNearestOrEven) / 100
    }

    /// Segment (and word) times moved from the speech-only signal to the original, as
    /// faster-whisper's `restore_speech_timestamps` does: words stay in the chunk of their middle
    /// and a segment spans its words.
    public func restoring(_ segments: [WhisperSegment]) -> [WhisperSegment] {
        segments.map { s in
            var s = s
            if var words = s.words, !words.isEmpty {
                for k in words.indices {
                    let chunk = chunkIndex((words[k].start + words[k].end) / 2)
                    words[k].start = originalTime(words[k].start, chunk: chunk)
                    words[k].end = originalTime(words[k].end, chunk: chunk)
                }
                s.words = words
                s.start = words[0].start
                s.end = words[words.count - 1].end
            } else {
                s.start = originalTime(s.start)
                s.end = originalTime(s.end, isEnd: true)
            }
            return s
        }
    }
}
