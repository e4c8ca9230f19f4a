import Foundation
import LeptonEngine

/// Output formats of a transcript, written as the whisper command-line tools write them.
public enum TranscriptFormat: String, CaseIterable, Sendable {
    case txt, json, srt, vtt, tsv

    public var fileExtension: String { rawValue }
}

extension WhisperTranscription {
    /// The transcript in `format`. `file` and `model` (the weights that made it) are recorded in JSON only.
    /// - Parameter maxWordsPerLine: for srt and vtt of a transcript with word times: cues of at
    ///   most this many words, timed by their words (as whisper's `--max_words_per_line`).
    public func rendered(as format: TranscriptFormat, file: String? = nil, model: ModelIdentity? = nil,
                         maxWordsPerLine: Int? = nil) -> String {
        switch format {
        case .txt: return text + "\n"
        case .json: return jsonLine(file: file, model: model) + "\n"
        case .srt: return srt(maxWordsPerLine: maxWordsPerLine)
        case .vtt: return vtt(maxWordsPerLine: maxWordsPerLine)
        case .tsv: return tsv()
        }
    }

    /// One JSON object on one line: `file`, `model` {name, version, sha256}, `text`, `duration`, `segments[{id, start, end, text, tokens, …}]`,
    /// and `readings[{text, log_probability}]` when several readings were asked for.
    public func jsonLine(file: String?, model: ModelIdentity? = nil) -> String {
        struct Row: Encodable {
            var file: String?
            var model: ModelIdentity?
            var text: String
            var duration: Double
            var segments: [Segment]
            var readings: [WhisperReading]?
        }
        struct Segment: Encodable {
            var id: Int
            var start: Double, end: Double
            var text: String
            var tokens: [Int]
            var temperature: Double, avg_logprob: Double, compression_ratio: Double, no_speech_prob: Double
            var words: [WhisperWord]?
            var speaker: String?
        }
        let row = Row(file: file, model: model, text: text, duration: Self.rounded(duration), segments: segments.enumerated().map { i, s in
            Segment(id: i, start: Self.rounded(s.start), end: Self.rounded(s.end), text: s.text, tokens: s.tokens,
                    temperature: s.temperature, avg_logprob: Self.rounded(s.avgLogProb, 5),
                    compression_ratio: Self.rounded(s.compressionRatio, 5), no_speech_prob: Self.rounded(s.noSpeechProb, 5),
                    words: s.words?.map { WhisperWord(start: Self.rounded($0.start), end: Self.rounded($0.end), word: $0.word,
                                                      probability: Self.rounded($0.probability, 5)) }, speaker: s.speaker)
        }, readings: readings?.map { WhisperReading(text: $0.text, logProbability: Self.rounded($0.logProbability, 5)) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(row), let s = String(data: data, encoding: .utf8) else { return "{}" }
        return s
    }

    /// The subtitle cues: one per segment, or with `maxWords` and word times, runs of at most
    /// that many words of a segment, each timed from its first word's start to its last word's end.
    func cues(maxWords: Int?) -> [(start: Double, end: Double, text: String)] {
        segments.flatMap { s -> [(start: Double, end: Double, text: String)] in
            // A segment of a split-channel call says who spoke: `[label] text`.
            let who = s.speaker.map { "[\($0)] " } ?? ""
            guard let maxWords, maxWords > 0, let words = s.words, !words.isEmpty else {
                return [(s.start, s.end, who + s.text.trimmingCharacters(in: .whitespaces))]
            }
            return stride(from: 0, to: words.count, by: maxWords).map { i in
                let run = words[i..<min(words.count, i + maxWords)]
                return (run.first!.start, run.last!.end, who + run.map(\.word).joined().trimmingCharacters(in: .whitespaces))
            }
        }
    }

    /// SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each.
    public func srt(maxWordsPerLine: Int? = nil) -> String {
        var out = ""
        for (i, s) in cues(maxWords: maxWordsPerLine).enumerated() {
            out += "\(i + 1)\n\(Self.timestamp(s.start, comma: true, hours: true)) --> \(Self.timestamp(s.end, comma: true, hours: true))\n"
            out += Self.cueText(s.text) + "\n\n"
        }
        return out
    }

    /// WebVTT: `WEBVTT` header, `MM:SS.mmm --> MM:SS.mmm` cues (hours only when needed).
    public func vtt(maxWordsPerLine: Int? = nil) -> String {
        var out = "WEBVTT\n\n"
        let cues = cues(maxWords: maxWordsPerLine)
        let hours = cues.contains { $0.end >= 3600 }
        for s in cues {
            out += "\(Self.timestamp(s.start, comma: false, hours: hours)) --> \(Self.timestamp(s.end, comma: false, hours: hours))\n"
            out += Self.cueText(s.text) + "\n\n"
        }
        return out
    }

    /// Tab-separated, as the whisper CLI writes it: a `start`, `end`, `text` header, then one row
    /// per segment with times in whole milliseconds (tabs and line breaks in the text become spaces).
    /// A split-channel call adds a fourth column, `speaker`.
    public func tsv() -> String {
        let speakers = segments.contains { $0.speaker != nil }
        var out = "start\tend\ttext" + (speakers ? "\tspeaker" : "") + "\n"
        func clean(_ s: String) -> String {
            s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
        }
        for s in segments {
            out += "\(Int((s.start * 1000).rounded()))\t\(Int((s.end * 1000).rounded()))\t\(clean(s.text))"
            out += (speakers ? "\t" + clean(s.speaker ?? "") : "") + "\n"
        }
        return out
    }

    /// Trimmed cue text; `-->` would end a cue early, so it is written `->` (as whisper does).
    static func cueText(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-->", with: "->")
    }

    /// `[HH:]MM:SS.mmm` (or with a comma).
    static func timestamp(_ seconds: Double, comma: Bool, hours: Bool) -> String {
        let ms = Int((max(0, seconds) * 1000).rounded())
        let h = ms / 3_600_000, m = (ms / 60_000) % 60, s = (ms / 1000) % 60, f = ms % 1000
        let tail = String(format: "%02d:%02d", m, s) + (comma ? "," : ".") + String(format: "%03d", f)
        return hours ? String(format: "%02d:", h) + tail : tail
    }

    static func rounded(_ x: Double, _ digits: Int = 3) -> Double {
        let p = Foundation.pow(10.0, Double(digits))
        return (x * p).rounded() / p
    }
}
