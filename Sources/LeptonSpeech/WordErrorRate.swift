import Foundation

/// Word error rate with the normaliser of `../shared/bench/asr_peer.py`, so figures compare
/// with faster-whisper's: lowercase; every character that is not a letter, digit, apostrophe or
/// space becomes a space; runs of spaces collapse. No number rewriting.
public enum WordErrorRate {
    /// The normalised text.
    public static func normalize(_ text: String) -> String {
        let mapped = text.lowercased().map { c -> Character in
            (c.isLetter || c.isNumber || c == "'" || c == " ") ? c : " "
        }
        return String(mapped).split(separator: " ").joined(separator: " ")
    }

    /// Word-level Levenshtein distance (substitutions + deletions + insertions) and the number
    /// of reference words, after normalisation.
    public static func errors(reference: String, hypothesis: String) -> (errors: Int, words: Int) {
        let r = normalize(reference).split(separator: " ").map(String.init)
        let h = normalize(hypothesis).split(separator: " ").map(String.init)
        var d = Array(0...h.count)
        if !r.isEmpty {
            for i in 1...r.count {
                var previous = d[0]
                d[0] = i
                if !h.isEmpty {
                    for j in 1...h.count {
                        let current = d[j]
                        d[j] = min(d[j] + 1, d[j - 1] + 1, previous + (r[i - 1] == h[j - 1] ? 0 : 1))
                        previous = current
                    }
                }
            }
        }
        return (d[h.count], r.count)
    }
}
