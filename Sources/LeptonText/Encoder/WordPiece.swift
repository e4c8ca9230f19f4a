import Foundation

/// Errors of the sentence encoder: the tokenizer vocabulary, the model folder and its weights.
public enum EncoderError: Error, CustomStringConvertible {
    case unreadableFile(path: String, reason: String)
    case badVocabulary(path: String, reason: String)
    case badConfig(path: String, reason: String)
    case badWeights(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "cannot read \(path): \(reason)"
        case let .badVocabulary(path, reason): return "bad WordPiece vocabulary \(path): \(reason)"
        case let .badConfig(path, reason): return "bad encoder config \(path): \(reason)"
        case let .badWeights(path, reason): return "bad encoder weights \(path): \(reason)"
        }
    }
}

/// The uncased BERT WordPiece tokenizer of all-MiniLM-L6-v2, as `tokenizers`' `BertNormalizer`,
/// `BertPreTokenizer`, `WordPiece` and the `[CLS] … [SEP]` template implement it
/// (executable spec: `shared/specs/wordpiece_spec.py`).
///
/// Lookups compare Unicode scalars, never Swift `String` equality: Swift compares strings by
/// canonical equivalence, Python (and the reference) by code points, and the vocabulary holds a
/// few entries that only differ that way.
public struct WordPieceTokenizer: Sendable {
    /// Token text by id (`vocab.txt` line number, 0-based).
    public let tokens: [String]
    public let clsID: Int32, sepID: Int32, unkID: Int32, padID: Int32
    /// Ids including `[CLS]` and `[SEP]`; longer inputs keep their first `maxLength - 2` pieces.
    public let maxLength: Int
    /// Words longer than this many Unicode scalars become a single `[UNK]`.
    public let maxWordScalars = 100

    /// Prefix tries over Unicode scalars: one for word-initial pieces, one for `##` continuations
    /// (stored without the `##`). An edge is the key `parent << 21 | scalar` (scalars are < 2²¹).
    private let edges: [UInt64: Int32]
    /// Token id ending at each trie node, or -1.
    private let terminal: [Int32]
    private static let initialRoot: Int32 = 0, continuationRoot: Int32 = 1

    /// Loads `vocab.txt` (one token a line, id = line number).
    public init(vocabularyFile url: URL, maxLength: Int = 256) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EncoderError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EncoderError.badVocabulary(path: url.path, reason: "not UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines, maxLength: maxLength, source: url.path)
    }

    /// Builds the tokenizer from the token list (id = index).
    public init(tokens: [String], maxLength: Int = 256, source: String = "<memory>") throws {
        guard maxLength >= 2 else { throw EncoderError.badVocabulary(path: source, reason: "maxLength \(maxLength) < 2") }
        self.tokens = tokens
        self.maxLength = maxLength
        var edges = [UInt64: Int32](minimumCapacity: tokens.count * 4)
        var terminal: [Int32] = [-1, -1]
        for (id, token) in tokens.enumerated() {
            var scalars = Array(token.unicodeScalars)
            var node = Self.initialRoot
            if scalars.count > 2, scalars[0] == "#", scalars[1] == "#" {
                scalars.removeFirst(2)
                node = Self.continuationRoot
            }
            for s in scalars {
                let key = UInt64(UInt32(node)) << 21 | UInt64(s.value)
                if let next = edges[key] { node = next } else {
                    let next = Int32(terminal.count)
                    terminal.append(-1)
                    edges[key] = next
                    node = next
                }
            }
            // A later duplicate line wins, as in the reference's dict comprehension.
            if node > Self.continuationRoot { terminal[Int(node)] = Int32(id) }
        }
        self.edges = edges
        self.terminal = terminal
        func id(_ t: String) throws -> Int32 {
            guard let i = tokens.lastIndex(where: { $0.unicodeScalars.elementsEqual(t.unicodeScalars) }) else {
                throw EncoderError.badVocabulary(path: source, reason: "missing special token \(t)")
            }
            return Int32(i)
        }
        clsID = try id("[CLS]"); sepID = try id("[SEP]"); unkID = try id("[UNK]"); padID = try id("[PAD]")
    }

    // MARK: Encoding

    /// Token ids of `text`: `[CLS]`, the WordPiece pieces (at most `maxLength - 2`), `[SEP]`.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [clsID]
        appendPieces(of: text, to: &ids, limit: maxLength - 2)
        ids.append(sepID)
        return ids
    }

    /// Number of ids `text` gives without truncation (with `[CLS]`/`[SEP]`).
    public func untruncatedLength(_ text: String) -> Int {
        var ids: [Int32] = []
        appendPieces(of: text, to: &ids, limit: .max)
        return ids.count + 2
    }

    private func appendPieces(of text: String, to ids: inout [Int32], limit: Int) {
        var added = 0
        for word in Self.preTokenize(Self.normalize(text)) {
            if added >= limit { return }
            let before = ids.count
            wordPiece(word, into: &ids)
            added += ids.count - before
            if added > limit { ids.removeLast(added - limit); return }
        }
    }

    /// Greedy longest-match-first over the tries; a word with an unmatched position becomes one `[UNK]`.
    private func wordPiece(_ word: [Unicode.Scalar], into ids: inout [Int32]) {
        if word.count > maxWordScalars { ids.append(unkID); return }
        let before = ids.count
        var start = 0
        while start < word.count {
            var node = start == 0 ? Self.initialRoot : Self.continuationRoot
            var bestEnd = -1, bestID: Int32 = -1
            var i = start
            while i < word.count, let next = edges[UInt64(UInt32(node)) << 21 | UInt64(word[i].value)] {
                node = next
                i += 1
                let t = terminal[Int(node)]
                if t >= 0 { bestEnd = i; bestID = t }
            }
            if bestEnd < 0 {
                ids.removeLast(ids.count - before)
                ids.append(unkID)
                return
            }
            ids.append(bestID)
            start = bestEnd
        }
    }

    // MARK: Normalisation (BertNormalizer) and pre-tokenisation (BertPreTokenizer)

    /// The Unicode White_Space property, as Rust's `char::is_whitespace` (and so `tokenizers`) uses it.
    @inline(__always)
    static func isWhitespace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Categories Cc, Cf, Co, Cs, except tab, newline and carriage return (unassigned Cn is kept).
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isCJK(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    /// ASCII punctuation or any Unicode P* category (currency and other symbols are not punctuation).
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// Clean text, space out CJK ideographs, strip accents (NFD, drop Mn), lowercase per scalar.
    static func normalize(_ text: String) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        var asciiOnly = true
        for s in text.unicodeScalars {
            let v = s.value
            if v == 0 || v == 0xFFFD || isControl(s) { continue }
            if isWhitespace(v) { cleaned.append(" "); continue }
            if v >= 0x80 { asciiOnly = false }
            if isCJK(v) { cleaned.append(" "); cleaned.append(s); cleaned.append(" ") } else { cleaned.append(s) }
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(cleaned.count)
        if asciiOnly {
            for s in cleaned {
                let v = s.value
                out.append((65...90).contains(v) ? Unicode.Scalar(v + 32)! : s)
            }
            return out
        }
        let decomposed = String(cleaned).decomposedStringWithCanonicalMapping
        for s in decomposed.unicodeScalars where s.properties.generalCategory != .nonspacingMark {
            if s.value < 0x80 {
                let v = s.value
                out.append((65...90).contains(v) ? Unicode.Scalar(v + 32)! : s)
            } else if s.value == 0x3A3 {
                out.append("\u{3C3}")   // Σ → σ everywhere: no final-sigma rule
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// Splits on whitespace (dropped) and makes every punctuation scalar its own word.
    static func preTokenize(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in scalars {
            if isWhitespace(s.value) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if isPunctuation(s) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
