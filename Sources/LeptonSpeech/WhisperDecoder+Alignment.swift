import Foundation
import LeptonEngine

/// What a forced decode of a window's text tells about its timing: the alignment heads'
/// cross-attention of each token over the window's audio, and each text token's probability.
struct WhisperAlignmentPass {
    /// `[heads][positions][1500]` raw scores (`q·k/√64`), one row per input token.
    var scores: [Float]
    var heads: Int
    var positions: Int
    /// Probability of input token `p + 1` after positions `0…p`, under the softmax over the text
    /// vocabulary only (ids below `<|endoftext|>`), as CTranslate2's `align` reports it.
    var nextTokenProbabilities: [Float]
}

extension WhisperDecoder {
    /// Runs one row through `tokens` (`<|startoftranscript|> <|notimestamps|> text… <|endoftext|>`)
    /// against the window set by ``setEncoderOutput(_:)``, capturing the cross-attention scores of
    /// `heads` ((decoder layer, head) pairs, the model's `alignment_heads`) at every position.
    ///
    /// Uses the row-0 cache of this decoder: call it after a window's decoding is finished.
    func alignment(tokens: [Int], heads: [(layer: Int, head: Int)], textVocabulary: Int) -> WhisperAlignmentPass {
        let n = WhisperModel.encoderPositions, count = tokens.count
        precondition(count <= WhisperModel.decoderPositions && !heads.isEmpty)
        var slots = [Int](repeating: -1, count: WhisperModel.decoderLayers * WhisperModel.heads)
        for (k, pair) in heads.enumerated() { slots[pair.layer * WhisperModel.heads + pair.head] = k }
        var pass = WhisperAlignmentPass(scores: [Float](repeating: 0, count: heads.count * count * n), heads: heads.count,
                                        positions: count, nextTokenProbabilities: [])
        let step = UnsafeMutablePointer<Float>.allocate(capacity: heads.count * n)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: WhisperModel.vocabularySize)
        defer { step.deallocate(); logits.deallocate(); capture = nil; captureSlots = [] }
        captureSlots = slots
        capture = step
        for p in 0..<count {
            let wantsProbability = p + 1 < count
            self.step(tokens: [tokens[p]], position: p, logits: wantsProbability ? logits : nil)
            pass.scores.withUnsafeMutableBufferPointer { all in
                for k in 0..<heads.count { (all.baseAddress! + (k * count + p) * n).update(from: step + k * n, count: n) }
            }
            if wantsProbability {
                // Softmax over the text vocabulary, in Double for the sum.
                var top = -Float.infinity
                for v in 0..<textVocabulary { top = max(top, logits[v]) }
                var total = 0.0
                for v in 0..<textVocabulary { total += Double(Foundation.exp(logits[v] - top)) }
                let next = tokens[p + 1]
                let probability = next < textVocabulary ? Double(Foundation.exp(logits[next] - top)) / total : 0
                pass.nextTokenProbabilities.append(Float(probability))
            }
        }
        return pass
    }
}

/// Word timing from cross-attention, as openai-whisper's `timing.py` and CTranslate2's `align`
/// compute it: the alignment heads' attention over the audio frames that hold content, softmax,
/// standardised over tokens, median-filtered over time (width 7), averaged over heads; then the
/// cheapest monotonic path (dynamic time warping) through the negated matrix.
enum WhisperWordAligner {
    /// The text-token ↔ time-frame path for a window: pairs `(token row, frame)`, both
    /// non-decreasing. Frames are 20 ms (the encoder's positions).
    ///
    /// - Parameters:
    ///   - pass: the forced decode of `<|startoftranscript|> <|notimestamps|> text… <|endoftext|>`.
    ///   - frames: the window's content in encoder positions (mel frames / 2), at least 1.
    ///   - skip: rows before the first one of the matrix (the start sequence, here 1).
    static func path(_ pass: WhisperAlignmentPass, frames: Int, skip: Int, medianWidth: Int = 7) -> [(row: Int, frame: Int)] {
        let n = WhisperModel.encoderPositions, positions = pass.positions, m = max(1, min(frames, n))
        var mean = [Float](repeating: 0, count: positions * m)
        var weights = [Float](repeating: 0, count: positions * m)
        for k in 0..<pass.heads {
            // Softmax of each position's scores over the content frames.
            for p in 0..<positions {
                let base = (k * positions + p) * n
                var top = -Float.infinity
                for f in 0..<m { top = max(top, pass.scores[base + f]) }
                var total: Float = 0
                for f in 0..<m { let e = Foundation.exp(pass.scores[base + f] - top); weights[p * m + f] = e; total += e }
                for f in 0..<m { weights[p * m + f] /= total }
            }
            // Standardise each frame's column over the positions (population deviation).
            for f in 0..<m {
                var sum: Float = 0
                for p in 0..<positions { sum += weights[p * m + f] }
                let mu = sum / Float(positions)
                var square: Float = 0
                for p in 0..<positions { let d = weights[p * m + f] - mu; square += d * d }
                let sd = (square / Float(positions)).squareRoot()
                for p in 0..<positions { weights[p * m + f] = sd > 0 ? (weights[p * m + f] - mu) / sd : 0 }
            }
            // Median over time, reflecting at the edges; accumulate the mean over heads.
            let half = medianWidth / 2
            var window = [Float](repeating: 0, count: medianWidth)
            for p in 0..<positions {
                for f in 0..<m {
                    var value = weights[p * m + f]
                    if m > half {
                        for w in 0..<medianWidth {
                            var g = f + w - half
                            if g < 0 { g = -g }
                            if g >= m { g = 2 * (m - 1) - g }
                            window[w] = weights[p * m + g]
                        }
                        window.sort()
                        value = window[half]
                    }
                    mean[p * m + f] += value / Float(pass.heads)
                }
            }
        }
        // Rows `skip ..< positions − 1`: the text tokens and <|endoftext|>.
        let rows = positions - skip - 1
        guard rows > 0 else { return [] }
        return dtw(rows: rows, columns: m) { -mean[($0 + skip) * m + $1] }
    }

    /// Dynamic time warping of a `rows × columns` cost; the path from (0, 0) to the last cell,
    /// moving down, right or diagonally, ties broken as openai-whisper's `dtw_cpu` breaks them.
    static func dtw(rows: Int, columns: Int, cost: (Int, Int) -> Float) -> [(row: Int, frame: Int)] {
        let width = columns + 1
        var total = [Float](repeating: .infinity, count: (rows + 1) * width)
        var trace = [Int8](repeating: -1, count: (rows + 1) * width)
        total[0] = 0
        for j in 1...columns {
            for i in 1...rows {
                let c0 = total[(i - 1) * width + j - 1], c1 = total[(i - 1) * width + j], c2 = total[i * width + j - 1]
                let (c, t): (Float, Int8) = c0 < c1 && c0 < c2 ? (c0, 0) : (c1 < c0 && c1 < c2 ? (c1, 1) : (c2, 2))
                total[i * width + j] = cost(i - 1, j - 1) + c
                trace[i * width + j] = t
            }
        }
        for j in 0...columns { trace[j] = 2 }
        for i in 0...rows { trace[i * width] = 1 }
        var i = rows, j = columns
        var path: [(row: Int, frame: Int)] = []
        while i > 0 || j > 0 {
            path.append((i - 1, j - 1))
            switch trace[i * width + j] {
            case 0: i -= 1; j -= 1
            case 1: i -= 1
            default: j -= 1
            }
        }
        return path.reversed()
    }
}
