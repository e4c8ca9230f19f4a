import Foundation
import LeptonEngine

/// Softmax regression on a sentence's TF-IDF n-grams (``TfidfVectorizer``): the lexical half of an
/// intent model, whose probabilities are mixed with the encoder head's.
///
/// A sentence's logits are the sum of its terms' weight rows, scaled by their TF-IDF values, plus
/// the bias: a sparse × dense product, run (and differentiated) by the engine's graph kernel
/// ``Variable/spmm(_:_:weights:)`` with sentences as targets and terms as sources.
///
/// Files in the model folder:
/// - `lexicon.json`: the ``TfidfVectorizer`` (terms and idf).
/// - `lexical.safetensors`: `lexical.weight [terms, labels]`, one row per term (sentences gather
///   rows; not PyTorch's `[out, in]`), and `lexical.bias [labels]`; float32 as `train` writes it
///   (float16/bfloat16 with `--save-dtype`), or int8 with one float32 scale per term row,
///   `lexical.weight_scale [terms]` (`w = q · scale`; what `scripts/compact-lexical.py` makes of a
///   float32 file: a quarter of the size, for the model kept in git).
final class LexicalIntentHead: @unchecked Sendable {
    static let lexiconFileName = "lexicon.json"
    static let weightsFileName = "lexical.safetensors"

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

    /// Loads `lexicon.json` and `lexical.safetensors` from a model folder, strictly (a missing,
    /// mis-shaped or unexpected weight is an error naming it).
    convenience init(folder: URL, labels: Int) throws {
        let url = folder.appendingPathComponent(Self.lexiconFileName)
        guard let data = try? Data(contentsOf: url) else {
            throw IntentError.badModelFolder(path: folder.path, reason: "lexicalWeight is set but \(Self.lexiconFileName) is not readable")
        }
        let vectorizer: TfidfVectorizer
        do { vectorizer = try JSONDecoder().decode(TfidfVectorizer.self, from: data) } catch {
            throw IntentError.badModelFolder(path: url.path, reason: "not a valid lexicon (\(error))")
        }
        guard vectorizer.wordTerms.count == vectorizer.wordIDF.count, vectorizer.charTerms.count == vectorizer.charIDF.count else {
            throw IntentError.badModelFolder(path: url.path, reason: "terms and idf lists differ in length")
        }
        self.init(vectorizer: vectorizer, labels: labels)
        let store = try Safetensors.read(folder.appendingPathComponent(Self.weightsFileName))
        weight.value = try Self.takeWeight(store, terms: vectorizer.count, labels: labels)
        bias.value = try store.take("lexical.bias", shape: [labels])
        try store.finish()
    }

    /// `lexical.weight` as float32, from a float dtype or from int8 rows and their scales.
    static func takeWeight(_ store: WeightStore, terms: Int, labels: Int) throws -> Tensor {
        guard store.entry("lexical.weight")?.dtype == .i8 else { return try store.take("lexical.weight", shape: [terms, labels]) }
        let q = try store.take("lexical.weight", shape: [terms, labels]).scalars   // exact: integers −128…127
        let scale = try store.take("lexical.weight_scale", shape: [terms]).scalars
        return Tensor(shape: [terms, labels], scalars: (0..<(terms * labels)).map { q[$0] * scale[$0 / labels] })
    }

    /// Writes `lexicon.json` and `lexical.safetensors` (weights stored as `dtype`) into `folder`,
    /// each atomically.
    func save(to folder: URL, dtype: SaveDType = .float32) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try IntentModel.writeAtomically(enc.encode(vectorizer), to: folder.appendingPathComponent(Self.lexiconFileName))
        try Safetensors.write(tensors: stateDict(), saving: dtype, metadata: ["format": "lepton-intent-lexical"],
                              to: folder.appendingPathComponent(Self.weightsFileName))
    }

    /// Sentences' TF-IDF rows as the graph `spmm` reads (sentences are targets, terms sources,
    /// values edge weights): built once, reused by every evaluation of a full-batch fit.
    struct SparseBatch {
        let graph: CSRGraph
        let values: Variable
    }

    func batch(_ rows: [SparseVector]) -> SparseBatch {
        var sources: [Int] = [], targets: [Int] = [], values: [Float] = []
        for (i, r) in rows.enumerated() {
            sources += r.indices.map(Int.init)
            targets += repeatElement(i, count: r.indices.count)
            values += r.values
        }
        // Edges listed target by target, so the CSR order is the list order. Cannot throw: every
        // index comes from this head's own vocabulary.
        let graph = try! CSRGraph(sources: sources, targets: targets, nodes: rows.count, sourceNodes: vectorizer.count)
        return SparseBatch(graph: graph, values: Variable(Tensor(shape: [values.count], scalars: values)))
    }

    /// `[rows, labels]` logits.
    func logits(_ batch: SparseBatch) -> Variable {
        Variable.spmm(batch.graph, weight, weights: batch.values) + bias
    }

    func logits(_ rows: [SparseVector]) -> Variable { logits(batch(rows)) }

    /// Class probabilities `[texts.count, labels]`.
    func probabilities(_ texts: [String]) -> Tensor {
        withoutGradients { logits(TfidfVectorizer.transform(texts, index: index)).value.softmax() }
    }

    // MARK: Training

    /// Fits the vocabulary on the training sentences and the weights with Adam (cross-entropy with
    /// label smoothing, early stopping on the validation rows).
    ///
    /// - Parameters:
    ///   - texts: sentence of each example; `y` its class.
    ///   - train, validation: example indices (as ``IntentTrainer/stratifiedSplit(_:classes:fraction:seed:)`` gives).
    /// - Returns: the head, its validation accuracy (nil without validation rows) and, when the
    ///   head was refitted on every example, the split fit's validation probabilities.
    static func fit(texts: [String], y: [Int], classes: Int, train: [Int], validation: [Int],
                    options: IntentTrainingOptions) -> (LexicalIntentHead, Double?, Tensor?) {
        if options.solver == .lbfgs { return fitConvex(texts: texts, y: y, classes: classes, train: train, validation: validation, options: options) }
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
        if let state = best?.state { head.weight.value = state["lexical.weight"]!; head.bias.value = state["lexical.bias"]! }
        return (head, best?.score, nil)
    }

    /// L2-regularised softmax regression solved by ``LBFGS`` (``IntentSolver/lbfgs``): vocabulary
    /// and weights fitted on `train`, scored on `validation`; then, when there are validation
    /// rows, vocabulary and weights refitted on every example.
    static func fitConvex(texts: [String], y: [Int], classes: Int, train: [Int], validation: [Int],
                          options: IntentTrainingOptions) -> (LexicalIntentHead, Double?, Tensor?) {
        func solve(_ rows: [Int]) -> LexicalIntentHead {
            let head = LexicalIntentHead(vectorizer: TfidfVectorizer(fitting: Array(Set(rows.map { texts[$0] })).sorted()), labels: classes)
            let vectors = head.batch(TfidfVectorizer.transform(rows.map { texts[$0] }, index: head.index)), targets = rows.map { y[$0] }
            let penalty = 1 / (2 * options.lexicalInverseRegularization * Float(rows.count))
            var solver = LBFGS()
            solver.maxIterations = options.maxIterations
            solver.minimize([head.weight, head.bias]) {
                crossEntropy(head.logits(vectors), targets: targets) + penalty * head.weight.squared().sum()
            }
            return head
        }
        let head = solve(train)
        guard !validation.isEmpty else { return (head, nil, nil) }
        let logits = withoutGradients { head.logits(TfidfVectorizer.transform(validation.map { texts[$0] }, index: head.index)).value }
        return (solve(Array(y.indices)), IntentTrainer.accuracy(logits, validation.map { y[$0] }), logits.softmax())
    }
}
