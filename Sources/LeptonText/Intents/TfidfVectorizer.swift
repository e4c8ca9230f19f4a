import Foundation

/// A sparse row: feature indices (ascending) and their values.
public struct SparseVector: Sendable, Equatable {
    public var indices: [Int32]
    public var values: [Float]
    public init(indices: [Int32] = [], values: [Float] = []) { self.indices = indices; self.values = values }
}

/// TF-IDF features of a sentence, as scikit-learn's `TfidfVectorizer(sublinear_tf=True)` computes them,
/// in two blocks side by side: words (unigrams and bigrams of `\w\w+` tokens, lowercased) and
/// characters (`char_wb` 2–5-grams: n-grams inside each space-padded word).
///
/// Each block is L2-normalised on its own (as two vectorizers stacked with `hstack`), so a sentence
/// with terms in both blocks has norm √2. Term weight: `(1 + ln tf) · idf`, with the smoothed
/// `idf = ln((1 + n) / (1 + df)) + 1` over the `n` training sentences.
///
/// Why: the sentence encoder and a bag of n-grams make different mistakes. Mixing their
/// probabilities is a classic intent-detection ensemble (see ``IntentModelConfig/lexicalWeight``).
public struct TfidfVectorizer: Codable, Sendable, Equatable {
    /// Word terms ("lost", "lost my") and their idf, same order; feature `i` is `wordTerms[i]`.
    public var wordTerms: [String]
    public var wordIDF: [Float]
    /// Character terms (" lo", "ost ") and their idf; feature `wordTerms.count + j` is `charTerms[j]`.
    public var charTerms: [String]
    public var charIDF: [Float]

    /// Feature count (both blocks).
    public var count: Int { wordTerms.count + charTerms.count }

    /// Builds the vocabulary from `texts`: every word term, and character terms found in at least
    /// `minCharDocuments` sentences (rare character n-grams are mostly typos and noise).
    public init(fitting texts: [String], minCharDocuments: Int = 2) {
        func vocabulary(_ termsOf: (String) -> [String], minDocuments: Int) -> ([String], [Float]) {
            var df: [String: Int] = [:]
            for t in texts { for term in Set(termsOf(t)) { df[term, default: 0] += 1 } }
            let kept = df.filter { $0.value >= minDocuments }.keys.sorted()
            let n = Float(texts.count)
            return (kept, kept.map { Float(log((1 + Double(n)) / (1 + Double(df[$0]!)))) + 1 })
        }
        (wordTerms, wordIDF) = vocabulary(Self.wordTerms, minDocuments: 1)
        (charTerms, charIDF) = vocabulary(Self.charTerms, minDocuments: max(1, minCharDocuments))
    }

    /// Term → feature lookup tables for ``transform(_:index:)``, made once by ``makeIndex()`` and kept by the holder.
    public struct Index: Sendable {
        let words: [String: Int32], chars: [String: Int32]
        let wordIDF: [Float], charIDF: [Float], charOffset: Int32
    }

    public func makeIndex() -> Index {
        Index(words: Dictionary(uniqueKeysWithValues: wordTerms.enumerated().map { ($1, Int32($0)) }),
              chars: Dictionary(uniqueKeysWithValues: charTerms.enumerated().map { ($1, Int32($0)) }),
              wordIDF: wordIDF, charIDF: charIDF, charOffset: Int32(wordTerms.count))
    }

    /// The TF-IDF row of each text; terms outside the vocabulary are ignored.
    public static func transform(_ texts: [String], index: Index) -> [SparseVector] {
        texts.map { text in
            var row = SparseVector()
            func block(_ terms: [String], _ vocab: [String: Int32], _ idf: [Float], offset: Int32) {
                var tf: [Int32: Int] = [:]
                for t in terms { if let i = vocab[t] { tf[i, default: 0] += 1 } }
                let ids = tf.keys.sorted()
                var values = ids.map { (1 + Float(log(Double(tf[$0]!)))) * idf[Int($0)] }
                let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if norm > 0 { values = values.map { $0 / norm } }
                row.indices += ids.map { $0 + offset }
                row.values += values
            }
            block(wordTerms(text), index.words, index.wordIDF, offset: 0)
            block(charTerms(text), index.chars, index.charIDF, offset: index.charOffset)
            return row
        }
    }

    // MARK: Analyzers (scikit-learn's defaults, on Unicode scalars as Python indexes strings)

    /// Unigrams and bigrams of the lowercased `\w\w+` tokens.
    static func wordTerms(_ text: String) -> [String] {
        var tokens: [String] = [], current = String.UnicodeScalarView()
        func flush() {
            if current.count >= 2 { tokens.append(String(current)) }
            current = String.UnicodeScalarView()
        }
        for s in text.lowercased().unicodeScalars {
            if isWordCharacter(s) {
                current.append(s)
            } else {
                flush()
            }
        }
        flush()
        var terms = tokens
        if tokens.count > 1 { for i in 1..<tokens.count { terms.append(tokens[i - 1] + " " + tokens[i]) } }
        return terms
    }

    /// Python's `\w`: letters (L*), numerals and the underscore.
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return s == "_" || s.properties.numericType != nil
        }
    }

    /// `char_wb` n-grams, n = 2...5: each whitespace-separated word is padded with one space on each
    /// side; a word shorter than n yields itself once (padded) and stops the longer n-grams.
    static func charTerms(_ text: String) -> [String] {
        var terms: [String] = []
        for word in text.lowercased().split(whereSeparator: { $0.isWhitespace }) {
            let w = [" "] + Array(word.unicodeScalars) + [" "]
            for n in 2...5 {
                var offset = 0
                terms.append(String(String.UnicodeScalarView(w[0..<min(n, w.count)])))
                while offset + n < w.count {
                    offset += 1
                    terms.append(String(String.UnicodeScalarView(w[offset..<(offset + n)])))
                }
                if offset == 0 { break }
            }
        }
        return terms
    }
}
