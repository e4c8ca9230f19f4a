import Foundation

/// Text → Whisper token ids: GPT-2's byte-level BPE with the merges of the model's
/// `tokenizer.json`.
///
/// Transcription only decodes; encoding is needed for an *initial prompt* (words the caller is
/// likely to say, given to the decoder after `<|startofprev|>`, as faster-whisper's
/// `initial_prompt` does). The steps are those of the `tokenizers` library's ByteLevel
/// pre-tokenizer and BPE model:
/// 1. split the text with GPT-2's pattern
///    `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
/// 2. write each piece's UTF-8 bytes in the byte alphabet (`Ġ` = space);
/// 3. merge adjacent symbols, always the pair with the lowest merge rank first;
/// 4. look the resulting symbols up in the vocabulary.
public struct WhisperBPEEncoder: Sendable {
    private let ranks: [String: Int]      // "a b" → merge rank
    private let ids: [String: Int]        // token string → id

    /// Reads the merges from `tokenizer.json` (its `model.merges`, strings `"a b"` or pairs).
    /// - Parameters:
    ///   - tokenizerJSON: the model folder's `tokenizer.json`.
    ///   - vocabulary: the model's tokenizer (ids of the token strings).
    public init(tokenizerJSON url: URL, vocabulary: WhisperTokenizer) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SpeechError.model(path: url.path, reason: "cannot read tokenizer: \(error.localizedDescription)")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any], let merges = model["merges"] as? [Any] else {
            throw SpeechError.model(path: url.path, reason: "no model.merges list (not a BPE tokenizer.json)")
        }
        var ranks: [String: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            if let s = merge as? String { ranks[s] = rank }
            else if let pair = merge as? [String], pair.count == 2 { ranks[pair[0] + " " + pair[1]] = rank }
            else { throw SpeechError.model(path: url.path, reason: "merge \(rank) is neither \"a b\" nor [a, b]") }
        }
        self.ranks = ranks
        var ids: [String: Int] = [:]
        for (i, t) in vocabulary.tokens.enumerated() where i < vocabulary.endOfText { ids[t] = i }
        self.ids = ids
    }

    /// Token ids of `text` (no special tokens added).
    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        for piece in Self.pretokenize(text) {
            let symbols = Array(piece.utf8).map { String(Character(WhisperTokenizer.byteAlphabet[Int($0)])) }
            for symbol in merge(symbols) {
                if let id = ids[symbol] { out.append(id); continue }
                // Every byte is a token, so an unmerged symbol always splits into known ones.
                for ch in symbol { if let id = ids[String(ch)] { out.append(id) } }
            }
        }
        return out
    }

    private func merge(_ start: [String]) -> [String] {
        var symbols = start
        while symbols.count > 1 {
            var best = -1, bestRank = Int.max
            for i in 0..<(symbols.count - 1) {
                if let r = ranks[symbols[i] + " " + symbols[i + 1]], r < bestRank { bestRank = r; best = i }
            }
            if best < 0 { break }
            let a = symbols[best], b = symbols[best + 1]
            // Merge every occurrence of the pair, left to right, as the reference BPE does.
            var merged: [String] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i < symbols.count - 1, symbols[i] == a, symbols[i + 1] == b { merged.append(a + b); i += 2 }
                else { merged.append(symbols[i]); i += 1 }
            }
            symbols = merged
        }
        return symbols
    }

    // MARK: - GPT-2 pre-tokenization

    private enum Kind { case letter, number, space, other }

    private static func kind(_ u: Unicode.Scalar) -> Kind {
        let p = u.properties
        if p.isWhitespace { return .space }
        if p.generalCategory.isLetter { return .letter }
        switch p.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Splits `text` as GPT-2's regular expression does (see the type's documentation).
    static func pretokenize(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var pieces: [String] = []
        var i = 0
        func run(from j: Int, while k: Kind) -> Int {
            var e = j
            while e < s.count, kind(s[e]) == k { e += 1 }
            return e
        }
        while i < s.count {
            // Contractions ('s 't 're 've 'm 'll 'd), lowercase only, as in the pattern.
            if s[i] == "'" {
                let rest = String(String.UnicodeScalarView(s[(i + 1)..<min(s.count, i + 3)]))
                if let c = ["re", "ve", "ll"].first(where: { rest.hasPrefix($0) }) ?? ["s", "t", "m", "d"].first(where: { rest.hasPrefix($0) }) {
                    let end = i + 1 + c.unicodeScalars.count
                    pieces.append(String(String.UnicodeScalarView(s[i..<end]))); i = end; continue
                }
            }
            // ` ?X+` for letters, numbers, other: an optional single space then a run.
            let hasSpace = s[i] == " " && i + 1 < s.count && kind(s[i + 1]) != .space
            let j = hasSpace ? i + 1 : i
            let k = kind(s[j])
            if k != .space {
                let end = run(from: j, while: k)
                pieces.append(String(String.UnicodeScalarView(s[i..<end]))); i = end; continue
            }
            // Whitespace: `\s+(?!\S)` leaves the last space to the next word; else `\s+`.
            var end = run(from: i, while: .space)
            if end < s.count, end - i > 1 { end -= 1 }
            pieces.append(String(String.UnicodeScalarView(s[i..<end]))); i = end
        }
        return pieces
    }
}

private extension Unicode.GeneralCategory {
    var isLetter: Bool {
        switch self {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
}
