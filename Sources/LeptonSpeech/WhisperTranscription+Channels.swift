import Foundation

extension WhisperTranscription {
    /// One transcript of a recording whose channels were transcribed separately (a call with the
    /// agent on one channel and the caller on the other): every channel's segments, labelled
    /// with their speaker, in order of their start time (ties keep the channels' order).
    ///
    /// `text` is the turns as `label: text` lines; `duration` the longest channel's; readings are
    /// not kept (they belong to one channel's decoding).
    public static func interleaving(_ channels: [(label: String, transcript: WhisperTranscription)]) -> WhisperTranscription {
        var turns: [(order: Int, segment: WhisperSegment)] = []
        for (c, channel) in channels.enumerated() {
            for var segment in channel.transcript.segments {
                segment.speaker = channel.label
                turns.append((c, segment))
            }
        }
        turns.sort { a, b in a.segment.start != b.segment.start ? a.segment.start < b.segment.start : a.order < b.order }
        let segments = turns.map(\.segment)
        let text = segments.map { "\($0.speaker ?? ""): \($0.text.trimmingCharacters(in: .whitespacesAndNewlines))" }.joined(separator: "\n")
        var merged = WhisperTranscription(text: text, duration: channels.map(\.transcript.duration).max() ?? 0, segments: segments)
        for channel in channels { merged.statistics += channel.transcript.statistics }
        return merged
    }
}
