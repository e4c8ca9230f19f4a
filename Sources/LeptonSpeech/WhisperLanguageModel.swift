import Foundation

/// A trigram language model over Whisper's text tokens, for *shallow fusion*: beam search adds
/// `weight · (log P(token | the two text tokens before it) − γ · log P(token))` to Whisper's own
/// log-probabilities, so that among hypotheses the audio supports about equally well, the one
/// that reads like the domain's sentences wins ("balance of my savings" over "melon on my
/// savings"). With `γ = 1` (the transcriber's default) only what the context adds counts: a word
/// the corpus never saw is not pushed out for being rare.
///
/// Smoothing is interpolated absolute discounting (Ney, Essen & Kneser 1994) with one discount
/// `D` at every order:
///
///     P(w | u v) = max(c(u v w) − D, 0) / c(u v ·) + D · N(u v ·) / c(u v ·) · P(w | v)
///     P(w | v)   = max(c(v w) − D, 0) / c(v ·)     + D · N(v ·) / c(v ·)     · P(w)
///     P(w)       = max(c(w) − D, 0) / c(·)         + D · N(·) / c(·)         · 1 / V
///
/// where `N(h ·)` counts the distinct tokens seen after `h` and `V` is every text token plus
/// `<|endoftext|>`, which ends each sentence (and stands for the sentence start in contexts).
/// An unseen context backs off with weight 1. Every token keeps a probability above zero, so
/// words the corpus never saw (a street name) stay possible, only less likely.
public struct WhisperLanguageModel: Sendable {
    /// Tokens this model scores: ids `0...endOfText` (Whisper's text tokens and `<|endoftext|>`).
    public let endOfText: Int
    /// Sentences (token sequences) it was counted from.
    public let sentenceCount: Int
    public let discount: Double
    /// `log P(w)`, indexed by token id.
    let logUnigram: [Float]
    let unigram: [Float]
    let bigrams: [Int: Successors]
    let trigrams: [Int: Successors]

    /// The tokens seen after one context, with the discounted part of their probability.
    struct Successors: Sendable {
        var tokens: [Int32] = []
        var discounted: [Float] = []
        /// `D · N(h ·) / c(h ·)`: the weight of the lower order.
        var backoff: Float = 1
    }

    /// Counts a model from tokenized sentences (each without `<|endoftext|>`: it is added).
    /// - Parameters:
    ///   - sentences: token ids, each below `endOfText` (others are dropped).
    ///   - endOfText: Whisper's `<|endoftext|>` id (50256 for tiny.en).
    ///   - discount: `D`, in (0, 1).
    public init(sentences: [[Int]], endOfText: Int, discount: Double = 0.75) {
        precondition(discount > 0 && discount < 1 && endOfText > 0)
        self.endOfText = endOfText
        self.discount = discount
        let vocabulary = endOfText + 1
        var unigramCounts = [Int](repeating: 0, count: vocabulary)
        var bigramCounts: [Int: [Int: Int]] = [:]
        var trigramCounts: [Int: [Int: Int]] = [:]
        var kept = 0
        for sentence in sentences {
            let text = sentence.filter { $0 >= 0 && $0 < endOfText }
            guard !text.isEmpty else { continue }
            kept += 1
            var u = endOfText, v = endOfText
            for w in text + [endOfText] {
                unigramCounts[w] += 1
                bigramCounts[v, default: [:]][w, default: 0] += 1
                trigramCounts[Self.key(u, v, vocabulary), default: [:]][w, default: 0] += 1
                u = v
                v = w
            }
        }
        sentenceCount = kept
        let total = Double(unigramCounts.reduce(0, +))
        let distinct = Double(unigramCounts.filter { $0 > 0 }.count)
        var p = [Float](repeating: 1 / Float(vocabulary), count: vocabulary)
        if total > 0 {
            let floor = discount * distinct / total / Double(vocabulary)
            for w in 0..<vocabulary { p[w] = Float(max(Double(unigramCounts[w]) - discount, 0) / total + floor) }
        }
        unigram = p
        logUnigram = p.map { Foundation.log($0) }
        func successors(_ counts: [Int: Int]) -> Successors {
            let total = Double(counts.values.reduce(0, +))
            var s = Successors()
            for (w, c) in counts.sorted(by: { $0.key < $1.key }) {
                s.tokens.append(Int32(w))
                s.discounted.append(Float(max(Double(c) - discount, 0) / total))
            }
            s.backoff = Float(discount * Double(counts.count) / total)
            return s
        }
        bigrams = bigramCounts.mapValues(successors)
        trigrams = trigramCounts.mapValues(successors)
    }

    static func key(_ u: Int, _ v: Int, _ vocabulary: Int) -> Int { u * vocabulary + v }

    /// The two text tokens before the next one in `generated` (timestamps and other special
    /// tokens skipped; `<|endoftext|>` stands for "sentence start" when there are fewer).
    func context(_ generated: [Int]) -> (Int, Int) {
        var u = endOfText, v = endOfText
        for t in generated where t < endOfText { u = v; v = t }
        return (u, v)
    }

    /// `log P(w | context)` for one token (tests and diagnostics; search uses ``addWeightedLogProbabilities``).
    public func logProbability(of w: Int, after generated: [Int]) -> Double {
        precondition(w >= 0 && w <= endOfText)
        let (u, v) = context(generated)
        var p = Double(unigram[w])
        if let bi = bigrams[v] {
            p *= Double(bi.backoff)
            if let i = bi.tokens.firstIndex(of: Int32(w)) { p += Double(bi.discounted[i]) }
        }
        if let tri = trigrams[Self.key(u, v, endOfText + 1)] {
            p *= Double(tri.backoff)
            if let i = tri.tokens.firstIndex(of: Int32(w)) { p += Double(tri.discounted[i]) }
        }
        return Foundation.log(p)
    }

    /// Adds `weight · log P(w | context)` to `row[w]` for every `w` in `0...endOfText` (entries
    /// at `-inf` stay there); tokens after `endOfText` (timestamps, specials) are left alone.
    ///
    /// Most tokens were never seen after this context, so their probability is `c · P(w)` with
    /// one back-off product `c`: one vector pass adds `weight · (log c + log P(w))`, and only the
    /// few seen successors are corrected.
    /// - Parameters:
    ///   - row: a decoder row of log-probabilities, `[vocabulary]`.
    ///   - generated: the row's tokens so far (this window, prompt excluded).
    ///   - scratch: `endOfText + 1` floats, all zero (left zero).
    ///   - unigramShare: `γ` in `weight · (log P(w | u v) − γ · log P(w))`: 0 = the language
    ///     model's probability; 1 = only what the context adds to the token's base rate (a rare
    ///     word is then not penalised for being rare, only rewarded when the context predicts it).
    func addWeightedLogProbabilities(to row: UnsafeMutablePointer<Float>, generated: [Int], weight: Float,
                                     unigramShare: Float = 0, scratch: UnsafeMutablePointer<Float>) {
        let (u, v) = context(generated)
        let bi = bigrams[v]
        let tri = trigrams[Self.key(u, v, endOfText + 1)]
        let biBackoff = bi?.backoff ?? 1, triBackoff = tri?.backoff ?? 1
        let logScale = Foundation.log(biBackoff * triBackoff)
        let unigramWeight = weight * (1 - unigramShare), scaleTerm = weight * logScale
        logUnigram.withUnsafeBufferPointer { lp in
            for w in 0...endOfText { row[w] += scaleTerm + unigramWeight * lp[w] }
        }
        // scratch[w] = the seen part of P(w | u v), on top of c · P(w).
        if let bi {
            for (i, w) in bi.tokens.enumerated() { scratch[Int(w)] += triBackoff * bi.discounted[i] }
        }
        if let tri {
            for (i, w) in tri.tokens.enumerated() { scratch[Int(w)] += tri.discounted[i] }
        }
        func correct(_ w: Int) {
            guard scratch[w] != 0 else { return }
            let dense = biBackoff * triBackoff * unigram[w]
            row[w] += weight * (Foundation.log(dense + scratch[w]) - Foundation.log(dense))
            scratch[w] = 0
        }
        if let bi { for w in bi.tokens { correct(Int(w)) } }
        if let tri { for w in tri.tokens { correct(Int(w)) } }
    }
}

extension WhisperLanguageModel {
    /// Counts a model from text, one sentence per element, tokenized as Whisper writes text
    /// after a timestamp (with a leading space).
    public init(texts: [String], encoder: WhisperBPEEncoder, endOfText: Int, discount: Double = 0.75) {
        let sentences = texts.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            .map { encoder.encode(" " + $0) }
        self.init(sentences: sentences, endOfText: endOfText, discount: discount)
    }
}
