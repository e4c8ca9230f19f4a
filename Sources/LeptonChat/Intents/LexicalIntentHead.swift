import Foundation
import LeptonEngine

/// Softmax regression on a sentence's TF-IDF n-grams (``TfidfVectorizer``): the lexical half of an
/// intent model, whose probabilities are mixed with the encoder head's.
///
/// A sentence's logits are the sum of its terms' weight rows, scaled by their TF-IDF values, plus
/// the bias: a sparse × dense product, run (and differentiated) by the engine's graph kernel
/// ``Variable/spmm(_:_:weights:)`` with sentences as targets and terms as sources.
///
/// Weights (`head.safetensors`):
/// - `lexical.weight [terms, labels]`: one row per term (sentences gather rows; not PyTorch's `[out, in]`).
/// - `lexical.bias [labels]`.
///
/// The vocabulary and idf are in `lexicon.json` beside it.
final class LexicalIntentHead: @unchecked Sendable {
    static let lexiconFileName = "lexicon.json"

    let vectorizer: TfidfVectorizer
    let index: TfidfVectorizer.Index
    let weight: Variable
    let bias: Variable

    init(vectorizer: TfidfVectorizer, labels: Int) {
        self.vectorizer = vectorizer
        index = vectorizer.makeIndex()
        weight = Variable(Tensor(shape: [vectorizer.count, labels]), requiresGrad: true, name: "lexical.weight")
        bias = Variable(Tensor(shape: [labels]), requiresGrad: true, name: "lexical.bias")
    }

    var labels: Int { bias.shape[0] }

    func stateDict() -> [String: Tensor] { ["lexical.weight": weight.value, "lexical.bias": bias.value] }

    /// Takes `lexical.weight` and `lexical.bias` from `state`, checking their shapes (`source` names the file in errors).
    func load(_ state: inout [String: Tensor], source: String) throws {
        for (name, v, shape) in [("lexical.weight", weight, [vectorizer.count, labels]), ("lexical.bias", bias, [labels])] {
            guard let t = state.removeValue(forKey: name) else {
                throw IntentError.badModelFolder(path: source, reason: "missing weight '\(name)'")
            }
            guard t.shape == shape else {
                throw IntentError.badModelFolder(path: source, reason: "weight '\(name)' has shape \(t.shape), expected \(shape)")
            }
            v.value = t
        }
    }

    /// `[rows.count, labels]` logits.
    func logits(_ rows: [SparseVector]) -> Variable {
        var sources: [Int] = [], targets: [Int] = [], values: [Float] = []
        for (i, r) in rows.enumerated() {
            sources += r.indices.map(Int.init)
            targets += repeatElement(i, count: r.indices.count)
            values += r.values
        }
        // Edges listed target by target, so the CSR order is the list order.
        let graph = try! CSRGraph(sources: sources, targets: targets, nodes: rows.count, sourceNodes: vectorizer.count)
        let w = Variable(Tensor(shape: [values.count], scalars: values))
        return Variable.spmm(graph, weight, weights: w) + bias
    }

    /// Class probabilities `[texts.count, labels]`.
    func probabilities(_ texts: [String]) -> Tensor {
        withoutGradients { logits(TfidfVectorizer.transform(texts, index: index)).value.softmax() }
    }

    // MARK: Training

    /// Fits the vocabulary on the training sentences and the weights with AdamW (cross-entropy with
    /// label smoothing, early stopping on the validation rows).
    ///
    /// - Parameters:
    ///   - texts: sentence of each example; `y` its class.
    ///   - train, validation: example indices (as ``IntentTrainer/stratifiedSplit(_:classes:fraction:seed:)`` gives).
    /// - Returns: the head, and its validation accuracy (nil without validation rows).
    static func fit(texts: [String], y: [Int], classes: Int, train: [Int], validation: [Int],
                    options: IntentTrainingOptions) -> (LexicalIntentHead, Double?) {
        let vectorizer = TfidfVectorizer(fitting: Array(Set(train.map { texts[$0] })).sorted())
        let head = LexicalIntentHead(vectorizer: vectorizer, labels: classes)
        let rows = TfidfVectorizer.transform(texts, index: head.index)
        let optimizer = Adam([head.weight, head.bias], learningRate: options.lexicalLearningRate)
        var rng = SeededGenerator(seed: options.seed &+ 11)
        var best: (score: Double, loss: Double, epoch: Int, state: [String: Tensor])? = nil
        let valRows = validation.map { rows[$0] }, valY = validation.map { y[$0] }
        for epoch in 1...max(1, options.epochs) {
            var order = train
            order.shuffle(using: &rng)
            for start in stride(from: 0, to: order.count, by: max(1, options.batchSize)) {
                let batch = Array(order[start..<min(order.count, start + options.batchSize)])
                let loss = crossEntropy(head.logits(batch.map { rows[$0] }), targets: batch.map { y[$0] },
                                        labelSmoothing: options.labelSmoothing)
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
            }
            guard !validation.isEmpty else { continue }
            let (acc, loss) = withoutGradients { () -> (Double, Double) in
                let l = head.logits(valRows)
                return (IntentTrainer.accuracy(l.value, valY), Double(crossEntropy(l, targets: valY).value[flat: 0]))
            }
            if best == nil || acc > best!.score || (acc == best!.score && loss < best!.loss) {
                best = (acc, loss, epoch, head.stateDict())
            } else if epoch - best!.epoch >= options.patience {
                break
            }
        }
        if var state = best?.state { try? head.load(&state, source: "") }
        return (head, best?.score)
    }
}
