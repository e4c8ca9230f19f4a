import Foundation

/// Where a report mentions a finding (or another abnormality): the sentence, as the reader's
/// normalised words, and the words the lexicon matched. The Transformer reader classifies each
/// mention in its context; the rule reader decides the same mentions with NegEx cues.
public struct FindingMention: Sendable, Equatable {
    /// Index into ``ReportMentions/concepts``: a finding of `FindingLexicon.allFindings`, or
    /// `other` (the lexicon's other abnormalities, which make a report abnormal).
    public let concept: Int
    /// Index into ``ReportMentions/sentences``.
    public let sentence: Int
    /// The matched words of that sentence (indices into its `words`).
    public let words: Range<Int>
}

/// The mentions of one report, with its sentences.
public struct ReportMentions: Sendable {
    /// What a mention can be about: the ten findings, then `other`.
    public static let concepts = FindingLexicon.allFindings + [otherConcept]
    public static let otherConcept = "other"

    /// Sentences as written (the evidence an output quotes).
    public var sentences: [String] = []
    /// Each sentence as the lexicon sees it: lower-case words (``FindingExtractor/tokens(_:)``).
    public var words: [[String]] = []
    /// Every lexicon match; one per pattern match, so a finding may be mentioned several times.
    public var mentions: [FindingMention] = []
}

extension FindingExtractor {
    /// Every mention of a finding or other abnormality in `text`, sentence by sentence, using the
    /// same sentence splitting, normalisation and patterns as ``analyze(_:)``.
    public func mentions(_ text: String) -> ReportMentions {
        var out = ReportMentions()
        let patterns = concepts.map(\.1) + [other]
        for sentence in FindingExtractor.sentences(text) {
            let words = FindingExtractor.tokens(sentence)
            if words.isEmpty { continue }
            let joined = words.joined(separator: " ")
            // The UTF-16 offset where each word starts in `joined` (words are ASCII, one space apart).
            var wordStart: [Int] = []
            var offset = 0
            for w in words { wordStart.append(offset); offset += w.utf16.count + 1 }
            func wordIndex(atOffset o: Int) -> Int {
                var lo = 0, hi = wordStart.count - 1
                while lo < hi {
                    let mid = (lo + hi + 1) / 2
                    if wordStart[mid] <= o { lo = mid } else { hi = mid - 1 }
                }
                return lo
            }
            let index = out.sentences.count
            var found: [FindingMention] = []
            let all = NSRange(location: 0, length: (joined as NSString).length)
            for (concept, regexes) in patterns.enumerated() {
                for re in regexes {
                    for m in re.matches(in: joined, range: all) where m.range.length > 0 {
                        let first = wordIndex(atOffset: m.range.location)
                        let last = wordIndex(atOffset: m.range.location + m.range.length - 1)
                        let mention = FindingMention(concept: concept, sentence: index, words: first..<(last + 1))
                        if !found.contains(mention) { found.append(mention) }
                    }
                }
            }
            if found.isEmpty { continue }   // sentences without a mention are not needed
            out.sentences.append(sentence)
            out.words.append(words)
            out.mentions += found
        }
        return out
    }
}
