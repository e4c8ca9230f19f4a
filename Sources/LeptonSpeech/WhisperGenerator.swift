import Foundation
import LeptonEngine

/// Options of one decoding pass (CTranslate2 `WhisperModel.generate` as faster-whisper calls it).
public struct WhisperDecodingOptions: Sendable {
    /// Beam width at temperature 0 (1 = greedy).
    public var beamSize = 5
    /// Beam search stops after `round(beamSize · patience)` finished hypotheses.
    public var patience: Float = 1
    /// Scores are divided by `length ^ lengthPenalty`.
    public var lengthPenalty: Float = 1
    /// 0 = deterministic search; > 0 = sampling from `softmax(logits / temperature)`.
    public var temperature: Float = 0
    /// Hypotheses sampled at temperature > 0 (the best-scored one is kept).
    public var bestOf = 5
    /// Forbid `" "` and `<|endoftext|>` at the first step.
    public var suppressBlank = true
    /// `<|0.00|>…<|1.00|>`: latest allowed first timestamp (index in 0.02 s steps).
    public var maxInitialTimestampIndex = 50
    /// Weight of the generator's ``WhisperGenerator/languageModel`` in beam search (shallow
    /// fusion); 0 or no model = Whisper alone. Greedy and sampling passes never use it.
    public var languageModelWeight: Float = 0
    /// `γ`: the share of the language model's unigram log-probability taken back out (see
    /// ``WhisperLanguageModel/addWeightedLogProbabilities(to:generated:weight:unigramShare:scratch:)``).
    public var languageModelUnigramShare: Float = 1
    public init() {}
}

/// The outcome of one decoding pass over one window.
public struct WhisperDecodingResult: Sendable {
    /// Generated ids without the prompt and without `<|endoftext|>`.
    public var tokens: [Int]
    /// Length-normalised cumulative log-probability (CTranslate2's score).
    public var score: Float
    /// Whisper's own cumulative log-probability of `tokens` (without a language model's share).
    public var acousticLogProbability: Float
    /// Probability of `<|nocaptions|>` at the first step (raw logits).
    public var noSpeechProbability: Float
    /// Every hypothesis the pass finished, best first (`tokens`/`score` are the first one):
    /// beam search's finished beams, sampling's `bestOf` rows, greedy's single line.
    public var hypotheses: [WhisperHypothesis]

    init(hypotheses: [WhisperHypothesis], noSpeechProbability: Float) {
        let best = hypotheses.first ?? WhisperHypothesis(tokens: [], score: -.infinity, logProbability: -.infinity,
                                                         acousticLogProbability: -.infinity)
        tokens = best.tokens
        score = best.score
        acousticLogProbability = best.acousticLogProbability
        self.noSpeechProbability = noSpeechProbability
        self.hypotheses = hypotheses
    }
}

/// One finished decoding hypothesis.
public struct WhisperHypothesis: Sendable {
    /// Generated ids without the prompt and without `<|endoftext|>`.
    public var tokens: [Int]
    /// `logProbability / length ^ lengthPenalty`, what hypotheses are ranked by.
    public var score: Float
    /// Cumulative log-probability of the tokens (and of `<|endoftext|>` when it ended them): the
    /// search's, Whisper's own plus the weighted language model's when one was fused.
    public var logProbability: Float
    /// Whisper's own share of `logProbability` (equal to it without a language model); the
    /// temperature-fallback rules judge the audio by this.
    public var acousticLogProbability: Float

    /// Hypotheses from (tokens, cumulative log-probability, Whisper's share), ranked best first.
    static func ranked(_ finished: [([Int], Float, Float)], lengthPenalty: Float) -> [WhisperHypothesis] {
        let all = finished.map { tokens, logp, acoustic in
            WhisperHypothesis(tokens: tokens, score: logp / Foundation.pow(Float(tokens.count), lengthPenalty), logProbability: logp,
                              acousticLogProbability: acoustic)
        }
        // Stable: on equal scores the earlier finished one stays first (CTranslate2 keeps the first).
        return all.enumerated().sorted { a, b in a.element.score != b.element.score ? a.element.score > b.element.score : a.offset < b.offset }
            .map(\.element)
    }
}

/// Runs the decoder on a window's encoder output: greedy, beam search or sampling, with
/// Whisper's logit rules (suppressed tokens, suppress-blank, timestamp rules, no-speech probability).
public final class WhisperGenerator {
    public let model: WhisperModel
    public let decoder: WhisperDecoder
    private let vocab = WhisperModel.vocabularySize
    private let logits: UnsafeMutablePointer<Float>
    /// Whisper's own log-probabilities of the rows, kept while a language model is fused.
    private let acousticLogits: UnsafeMutablePointer<Float>
    /// `endOfText + 1` zeros for ``WhisperLanguageModel/addWeightedLogProbabilities``.
    private let languageModelScratch: UnsafeMutablePointer<Float>
    /// A domain's language model for beam search, used when the options give it a weight.
    public var languageModel: WhisperLanguageModel?
    private let tokenizer: WhisperTokenizer
    private let suppress: [Int]
    private var generator: SeededGenerator

    /// - Parameter maxRows: the largest beam or best-of count to be used.
    public init(model: WhisperModel, maxRows: Int = 5, seed: UInt64 = 0) {
        self.model = model
        decoder = WhisperDecoder(model: model, maxRows: maxRows)
        logits = .allocate(capacity: maxRows * WhisperModel.vocabularySize)
        acousticLogits = .allocate(capacity: maxRows * WhisperModel.vocabularySize)
        languageModelScratch = .allocate(capacity: WhisperModel.vocabularySize)
        languageModelScratch.initialize(repeating: 0, count: WhisperModel.vocabularySize)
        tokenizer = model.tokenizer
        suppress = model.config.suppressIDs.filter { $0 >= 0 && $0 < WhisperModel.vocabularySize }
        generator = SeededGenerator(seed: seed)
    }

    /// Restarts the sampling generator from `seed` (each transcription call samples from the same start).
    func reseed(_ seed: UInt64) { generator = SeededGenerator(seed: seed) }

    deinit {
        logits.deallocate()
        acousticLogits.deallocate()
        languageModelScratch.deallocate()
    }

    /// Decodes after `prompt` (ending with `<|startoftranscript|>`) for the window whose encoder
    /// output was given to `decoder.setEncoderOutput`.
    public func generate(prompt: [Int], options: WhisperDecodingOptions) -> WhisperDecodingResult {
        precondition(!prompt.isEmpty && prompt.count < WhisperModel.decoderPositions)
        // Prompt tokens before the last only fill the cache (row 0).
        for (i, t) in prompt.dropLast().enumerated() { decoder.step(tokens: [t], position: i, logits: nil) }
        let startStep = prompt.count - 1
        let maxLength = min(WhisperModel.decoderPositions / 2, WhisperModel.decoderPositions - startStep)
        if options.temperature > 0 {
            return sample(first: prompt.last!, startStep: startStep, maxLength: maxLength, options: options)
        }
        if options.beamSize <= 1 {
            return greedy(first: prompt.last!, startStep: startStep, maxLength: maxLength, options: options)
        }
        return beamSearch(first: prompt.last!, startStep: startStep, maxLength: maxLength, options: options)
    }

    // MARK: Logit rules

    /// Applies Whisper's rules to `row` in place and turns it into log-probabilities.
    ///
    /// - Parameters:
    ///   - generated: tokens generated so far for this row (prompt excluded).
    ///   - temperature: divides the logits before the log-softmax (1 for search).
    private func process(_ row: UnsafeMutablePointer<Float>, generated: [Int], options: WhisperDecodingOptions, temperature: Float = 1) {
        let ninf = -Float.infinity
        let step = generated.count
        for id in suppress { row[id] = ninf }
        if step == 0 && options.suppressBlank {
            row[220] = ninf
            row[tokenizer.endOfText] = ninf
        }
        let tsBegin = tokenizer.timestampBegin, tsEnd = vocab - 1, eot = tokenizer.endOfText
        row[tokenizer.noTimestamps] = ninf
        var checkTimestampMass = false
        if step == 0 {
            for i in 0..<tsBegin { row[i] = ninf }
            let last = tsBegin + options.maxInitialTimestampIndex
            if last < tsEnd { for i in (last + 1)...tsEnd { row[i] = ninf } }
        } else {
            let lastToken = generated[step - 1]
            if lastToken >= tsBegin {
                let penultimate = step >= 2 ? generated[step - 2] : lastToken
                if penultimate >= tsBegin {
                    for i in tsBegin...tsEnd { row[i] = ninf }
                } else {
                    for i in 0..<eot { row[i] = ninf }
                    checkTimestampMass = true
                }
            } else {
                checkTimestampMass = true
            }
            if let lastTimestamp = generated.last(where: { $0 >= tsBegin }), lastTimestamp > tsBegin {
                for i in tsBegin..<lastTimestamp { row[i] = ninf }
            }
        }
        if temperature != 1 { let inv = 1 / temperature; for i in 0..<vocab { row[i] *= inv } }
        Self.logSoftmax(row, vocab)
        if checkTimestampMass {
            let maxText = VectorMath.maxValue(row, tsBegin)
            var m = ninf
            for i in tsBegin...tsEnd where row[i] > m { m = row[i] }
            var s: Float = 0
            if m > ninf { for i in tsBegin...tsEnd { s += Foundation.exp(row[i] - m) } }
            let timestampMass = m > ninf ? m + Foundation.log(s) : ninf
            if timestampMass > maxText {
                for i in 0..<tsBegin { row[i] = ninf }
                Self.logSoftmax(row, vocab)
            }
        }
    }

    /// Softmax probability of `<|nocaptions|>` in raw logits.
    private func noSpeechProbability(_ row: UnsafePointer<Float>) -> Float {
        var m = -Float.infinity
        for i in 0..<vocab where row[i] > m { m = row[i] }
        var s: Double = 0
        for i in 0..<vocab { s += Double(Foundation.exp(row[i] - m)) }
        return Float(Double(Foundation.exp(row[tokenizer.noSpeech] - m)) / s)
    }

    /// In-place log-softmax; `-inf` entries stay `-inf`.
    static func logSoftmax(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = VectorMath.maxValue(row, n)
        guard m > -Float.infinity else { return }
        var acc = SIMD8<Float>(repeating: 0)
        let mv = SIMD8<Float>(repeating: m)
        var i = 0
        while i + 8 <= n {
            acc += VectorMath.exp8(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - mv)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += Foundation.exp(row[i] - m); i += 1 }
        let shift = m + Foundation.log(s)
        let sv = SIMD8<Float>(repeating: shift)
        i = 0
        while i + 8 <= n {
            let p = UnsafeMutableRawPointer(row + i)
            p.storeBytes(of: p.loadUnaligned(as: SIMD8<Float>.self) - sv, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { row[i] -= shift; i += 1 }
    }

    private func argmax(_ row: UnsafePointer<Float>) -> Int {
        var best = 0
        var v = row[0]
        for i in 1..<vocab where row[i] > v { v = row[i]; best = i }
        return best
    }

    // MARK: Greedy

    private func greedy(first: Int, startStep: Int, maxLength: Int, options: WhisperDecodingOptions) -> WhisperDecodingResult {
        var generated: [Int] = []
        var cumulative: Float = 0
        var token = first
        var noSpeech: Float = 0
        for step in 0..<maxLength {
            decoder.step(tokens: [token], position: startStep + step, logits: logits)
            if step == 0 { noSpeech = noSpeechProbability(logits) }
            process(logits, generated: generated, options: options)
            let best = argmax(logits)
            cumulative += logits[best]
            if best == tokenizer.endOfText { break }
            generated.append(best)
            token = best
        }
        return WhisperDecodingResult(hypotheses: WhisperHypothesis.ranked([(generated, cumulative, cumulative)], lengthPenalty: options.lengthPenalty),
                                     noSpeechProbability: noSpeech)
    }

    // MARK: Sampling (temperature fallback)

    private func sample(first: Int, startStep: Int, maxLength: Int, options: WhisperDecodingOptions) -> WhisperDecodingResult {
        let rows = min(options.bestOf, decoder.maxRows)
        var generated = [[Int]](repeating: [], count: rows)
        var cumulative = [Float](repeating: 0, count: rows)
        var finished = [Bool](repeating: false, count: rows)
        var inputs = [Int](repeating: first, count: rows)
        var noSpeech: Float = 0
        // Row 0 carries the prompt's cache; copy it to the other rows.
        decoder.reorder(origins: [Int](repeating: 0, count: rows), length: startStep)
        for step in 0..<maxLength {
            decoder.step(tokens: inputs, position: startStep + step, logits: logits)
            if step == 0 { noSpeech = noSpeechProbability(logits) }
            for r in 0..<rows where !finished[r] {
                let row = logits + r * vocab
                process(row, generated: generated[r], options: options, temperature: options.temperature)
                let u = Float.random(in: 0..<1, using: &generator)
                var acc: Float = 0
                var pick = argmax(row)
                for i in 0..<vocab {
                    let p = Foundation.exp(row[i])
                    if p == 0 { continue }
                    acc += p
                    if acc > u { pick = i; break }
                }
                cumulative[r] += row[pick]
                if pick == tokenizer.endOfText { finished[r] = true } else { generated[r].append(pick); inputs[r] = pick }
            }
            if !finished.contains(false) { break }
        }
        let finishedRows = (0..<rows).map { (generated[$0], cumulative[$0], cumulative[$0]) }
        return WhisperDecodingResult(hypotheses: WhisperHypothesis.ranked(finishedRows, lengthPenalty: options.lengthPenalty),
                                     noSpeechProbability: noSpeech)
    }

    // MARK: Beam search (CTranslate2's BeamSearch)

    private func beamSearch(first: Int, startStep: Int, maxLength: Int, options: WhisperDecodingOptions) -> WhisperDecodingResult {
        let beam = min(options.beamSize, decoder.maxRows)
        let candidatesCount = 2 * beam
        let maxFinished = Int((Float(beam) * options.patience).rounded())
        var alive: [[Int]] = [[]]          // tokens per alive row
        var aliveScores: [Float] = [0]
        var aliveAcoustic: [Float] = [0]
        var inputs = [first]
        var finishedTokens: [[Int]] = []
        var finishedScores: [Float] = []
        var finishedAcoustic: [Float] = []
        let fusion = options.languageModelWeight > 0 ? languageModel : nil
        precondition(fusion == nil || fusion!.endOfText == tokenizer.endOfText, "language model counted in another tokenizer's ids")
        var noSpeech: Float = 0
        let eot = tokenizer.endOfText
        var candidateRow = [Int](repeating: 0, count: candidatesCount)
        var candidateToken = [Int](repeating: 0, count: candidatesCount)
        var candidateScore = [Float](repeating: 0, count: candidatesCount)

        for step in 0..<maxLength {
            let rows = inputs.count
            decoder.step(tokens: inputs, position: startStep + step, logits: logits)
            if step == 0 { noSpeech = noSpeechProbability(logits) }
            for r in 0..<rows {
                let row = logits + r * vocab
                process(row, generated: alive[r], options: options)
                if let fusion {
                    (acousticLogits + r * vocab).update(from: row, count: vocab)
                    fusion.addWeightedLogProbabilities(to: row, generated: alive[r], weight: options.languageModelWeight,
                                                       unigramShare: options.languageModelUnigramShare, scratch: languageModelScratch)
                }
            }
            func acoustic(_ k: Int) -> Float {
                let r = candidateRow[k]
                return aliveAcoustic[r] + (fusion == nil ? logits : acousticLogits)[r * vocab + candidateToken[k]]
            }
            // Top 2·beam of (row score + log p) over all rows, best first. Once the list is
            // full, blocks of 8 whose sums cannot enter it are skipped with one vector compare
            // (same float sums as the scalar test, so the same candidates).
            var filled = 0
            for r in 0..<rows {
                let row = logits + r * vocab
                let base = aliveScores[r]
                let baseV = SIMD8<Float>(repeating: base)
                var i = 0
                while i < vocab {
                    if filled == candidatesCount && i + 8 <= vocab {
                        let sums = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) + baseV
                        if !any(sums .> SIMD8<Float>(repeating: candidateScore[filled - 1])) { i += 8; continue }
                    }
                    let s = row[i] + base
                    defer { i += 1 }
                    if filled == candidatesCount && !(s > candidateScore[filled - 1]) { continue }
                    if s == -Float.infinity { continue }
                    var pos = filled < candidatesCount ? filled : candidatesCount - 1
                    if filled < candidatesCount { filled += 1 }
                    while pos > 0 && candidateScore[pos - 1] < s {
                        candidateScore[pos] = candidateScore[pos - 1]
                        candidateToken[pos] = candidateToken[pos - 1]
                        candidateRow[pos] = candidateRow[pos - 1]
                        pos -= 1
                    }
                    candidateScore[pos] = s
                    candidateToken[pos] = i
                    candidateRow[pos] = r
                }
            }
            let lastStep = step + 1 == maxLength
            var nextOrigins: [Int] = []
            var nextTokens: [Int] = []
            var nextScores: [Float] = []
            var nextAcoustic: [Float] = []
            var nextSeqs: [[Int]] = []
            var secondary = beam
            for k in 0..<min(beam, filled) {
                var chosen = k
                if candidateToken[k] == eot || lastStep {
                    var seq = alive[candidateRow[k]]
                    if candidateToken[k] != eot { seq.append(candidateToken[k]) }
                    finishedTokens.append(seq)
                    finishedScores.append(candidateScore[k])
                    finishedAcoustic.append(acoustic(k))
                    var j = secondary
                    while j < filled {
                        if candidateToken[j] != eot { chosen = j; secondary = j + 1; break }
                        j += 1
                    }
                    if j >= filled { secondary = filled }
                }
                nextOrigins.append(candidateRow[chosen])
                nextTokens.append(candidateToken[chosen])
                nextScores.append(candidateScore[chosen])
                nextAcoustic.append(acoustic(chosen))
                nextSeqs.append(alive[candidateRow[chosen]] + [candidateToken[chosen]])
            }
            if lastStep || finishedTokens.count >= maxFinished || nextTokens.isEmpty { break }
            decoder.reorder(origins: nextOrigins, length: startStep + step + 1)
            alive = nextSeqs
            aliveScores = nextScores
            aliveAcoustic = nextAcoustic
            inputs = nextTokens
        }
        let finished = finishedTokens.indices.map { (finishedTokens[$0], finishedScores[$0], finishedAcoustic[$0]) }
        return WhisperDecodingResult(hypotheses: WhisperHypothesis.ranked(finished, lengthPenalty: options.lengthPenalty),
                                     noSpeechProbability: noSpeech)
    }
}
