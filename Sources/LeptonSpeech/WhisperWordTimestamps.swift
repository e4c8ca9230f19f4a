import Foundation

/// A word with its time in the recording, as faster-whisper's `word_timestamps=True` gives it.
public struct WhisperWord: Codable, Sendable, Equatable {
    /// Seconds from the start of the file (two decimals, as faster-whisper rounds them).
    public var start: Double
    public var end: Double
    /// The word as decoded, with its leading space and the punctuation merged into it.
    public var word: String
    /// Mean probability of its tokens.
    public var probability: Double
}

/// One word as aligned in a window, before it is placed in its segment.
struct AlignedWord {
    var word: String
    var tokens: [Int]
    var start: Double
    var end: Double
    var probability: Double
}

extension WhisperTranscriber {
    /// faster-whisper's default punctuation merged into the following / previous word.
    static let prependPunctuations = "\"'“¿([{-"
    static let appendPunctuations = "\"'.。,，!！?？:：”)]}、"

    /// The words of one window's pieces, timed by cross-attention (faster-whisper's
    /// `add_word_timestamps` for one window), with each piece's start and end moved to its words
    /// as faster-whisper moves them. `lastSpeech` is the end of the last word heard before.
    ///
    /// - Returns: the words of each piece (same order), and the new last-speech time.
    func addWordTimestamps(_ pieces: inout [Piece], decoder: WhisperDecoder, seek: Int, segmentSize: Int,
                           lastSpeech: Double) -> (words: [[WhisperWord]], lastSpeech: Double) {
        let eot = tokenizer.endOfText
        let pieceTokens = pieces.map { $0.tokens.filter { $0 < eot } }
        let text = pieceTokens.flatMap { $0 }
        var words = [[WhisperWord]](repeating: [], count: pieces.count)
        guard !text.isEmpty, let heads = model.config.alignmentHeads?.compactMap({ $0.count == 2 ? (layer: $0[0], head: $0[1]) : nil }),
              !heads.isEmpty else { return (words, lastSpeech) }
        let start = [tokenizer.startOfTranscript, tokenizer.noTimestamps]
        let pass = decoder.alignment(tokens: start + text + [eot], heads: heads, textVocabulary: eot)
        let path = WhisperWordAligner.path(pass, frames: segmentSize / 2, skip: 1)
        // The time (20 ms positions) where each row of the path starts: tokens, then <|endoftext|>.
        var jumpTimes: [Double] = []
        var previous = -1
        for step in path where step.row != previous {
            jumpTimes.append(Double(step.frame) / 50)
            previous = step.row
        }
        // Text token t's probability: position 1 + t predicts it (after <|notimestamps|>).
        let probabilities = (0..<text.count).map { Double(pass.nextTokenProbabilities[1 + $0]) }
        let (wordTexts, wordTokens) = splitToWords(text + [eot])
        guard wordTokens.count > 1, jumpTimes.count == text.count + 1 else { return (words, lastSpeech) }
        var boundaries = [0]
        for t in wordTokens.dropLast() { boundaries.append(boundaries.last! + t.count) }
        var aligned: [AlignedWord] = []
        for k in 0..<(boundaries.count - 1) {
            let i = boundaries[k], j = boundaries[k + 1]
            let p = probabilities[i..<j].reduce(0, +) / Double(max(1, j - i))
            aligned.append(AlignedWord(word: wordTexts[k], tokens: wordTokens[k], start: jumpTimes[i], end: jumpTimes[j], probability: p))
        }

        // Median word duration; long words at sentence ends are cut to twice it.
        let durations = aligned.map { $0.end - $0.start }.filter { $0 != 0 }.sorted()
        var median = 0.0
        if !durations.isEmpty {
            let c = durations.count
            median = c % 2 == 1 ? durations[c / 2] : (durations[c / 2 - 1] + durations[c / 2]) / 2
        }
        median = min(0.7, median)
        let maxDuration = median * 2
        if !durations.isEmpty {
            let sentenceEnds: Set<String> = [".", "。", "!", "！", "?", "？"]
            for i in 1..<max(1, aligned.count) where aligned[i].end - aligned[i].start > maxDuration {
                if sentenceEnds.contains(aligned[i].word) {
                    aligned[i].end = aligned[i].start + maxDuration
                } else if sentenceEnds.contains(aligned[i - 1].word) {
                    aligned[i].start = aligned[i].end - maxDuration
                }
            }
        }
        Self.mergePunctuations(&aligned)

        // Hand the words to the pieces they came from, by token count.
        let offset = Double(seek) / 100
        var index = 0
        var last = lastSpeech
        func round2(_ x: Double) -> Double { (x * 100).rounded(.toNearestOrEven) / 100 }
        for (p, tokens) in pieceTokens.enumerated() {
            var saved = 0
            var list: [WhisperWord] = []
            while index < aligned.count, saved < tokens.count {
                let timing = aligned[index]
                if !timing.word.isEmpty {
                    list.append(WhisperWord(start: round2(offset + timing.start), end: round2(offset + timing.end),
                                            word: timing.word, probability: timing.probability))
                }
                saved += timing.tokens.count
                index += 1
            }
            if !list.isEmpty {
                // The first words after a pause are no longer than twice the median.
                if list[0].end - last > median * 4,
                   list[0].end - list[0].start > maxDuration || (list.count > 1 && list[1].end - list[0].start > maxDuration * 2) {
                    if list.count > 1, list[1].end - list[1].start > maxDuration {
                        let boundary = max(list[1].end / 2, list[1].end - maxDuration)
                        list[0].end = boundary
                        list[1].start = boundary
                    }
                    list[0].start = max(0, list[0].end - maxDuration)
                }
                // The piece's own start and end win over a first or last word that runs long.
                if pieces[p].start < list[0].end, pieces[p].start - 0.5 > list[0].start {
                    list[0].start = max(0, min(list[0].end - median, pieces[p].start))
                } else {
                    pieces[p].start = list[0].start
                }
                if pieces[p].end > list[list.count - 1].start, pieces[p].end + 0.5 < list[list.count - 1].end {
                    list[list.count - 1].end = max(list[list.count - 1].start + median, pieces[p].end)
                } else {
                    pieces[p].end = list[list.count - 1].end
                }
                last = pieces[p].end
            }
            words[p] = list
        }
        return (words, last)
    }

    /// Splits tokens into words: subwords are the shortest runs that decode to whole UTF-8
    /// characters; a subword starting with a space, a punctuation mark or a special token begins
    /// a new word (faster-whisper's `split_tokens_on_spaces`).
    func splitToWords(_ tokens: [Int]) -> (words: [String], tokens: [[Int]]) {
        var words: [String] = [], wordTokens: [[Int]] = []
        var pending: [Int] = []
        for token in tokens {
            pending.append(token)
            let isSpecial = pending[0] >= tokenizer.endOfText
            let text = isSpecial ? tokenizer.tokens[pending[0]] : tokenizer.decode(pending)
            // An incomplete UTF-8 sequence decodes with U+FFFD: wait for the rest of it.
            if !isSpecial, text.contains("\u{FFFD}"), pending.count < 4 { continue }
            let stripped = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let punctuation = Self.asciiPunctuation.contains(stripped) || stripped.isEmpty
            if isSpecial || text.hasPrefix(" ") || punctuation || words.isEmpty {
                words.append(text); wordTokens.append(pending)
            } else {
                words[words.count - 1] += text; wordTokens[wordTokens.count - 1] += pending
            }
            pending = []
        }
        return (words, wordTokens)
    }

    /// Python's `string.punctuation`; a stripped subword that occurs in it counts as punctuation.
    static let asciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

    /// faster-whisper's `merge_punctuations`: opening marks join the next word, closing marks the previous one.
    static func mergePunctuations(_ words: inout [AlignedWord]) {
        guard words.count > 1 else { return }
        var i = words.count - 2, j = words.count - 1
        while i >= 0 {
            let stripped = words[i].word.trimmingCharacters(in: .whitespaces)
            // Python's `in` on strings: the empty string occurs in any string.
            if words[i].word.hasPrefix(" "), stripped.isEmpty || prependPunctuations.contains(stripped) {
                words[j].word = words[i].word + words[j].word
                words[j].tokens = words[i].tokens + words[j].tokens
                words[i].word = ""; words[i].tokens = []
            } else {
                j = i
            }
            i -= 1
        }
        i = 0; j = 1
        while j < words.count {
            if !words[i].word.hasSuffix(" "), words[j].word.isEmpty || appendPunctuations.contains(words[j].word) {
                words[i].word += words[j].word
                words[i].tokens += words[j].tokens
                words[j].word = ""; words[j].tokens = []
            } else {
                i = j
            }
            j += 1
        }
    }
}
