import Foundation
import LeptonEngine

/// Transfer learning: fine-tunes the top encoder layers together with the intent head through the
/// engine's autodiff.
///
/// 1. The frozen lower layers run once per sentence (fast packed forward); their output
///    `[tokens, hidden]` is cached.
/// 2. A softmax-regression head is fitted on the frozen sentence embeddings (``IntentTrainer``).
///    Fine-tuning trains by gradient steps throughout: both heads use ``IntentSolver/adam``
///    whatever `options.solver` says (the shipped bank agent was chosen and measured that way).
/// 3. The top `fineTunedLayers` blocks (weights as `Variable`s, padded batches with an additive
///    key mask), the mean pooling, the L2 normalisation and the head are trained jointly with AdamW
///    (small learning rate for the encoder, larger for the head); the epoch with the best validation
///    accuracy is kept.
///
/// The model folder then stores the tuned blocks, rounded to float16, in `head.safetensors` under their checkpoint names
/// (`encoder.layer.5.attention.self.query.weight`, ...); loading replaces those blocks of the encoder.
public enum IntentFineTuner {
    /// Settings beyond ``IntentTrainingOptions`` (whose epochs/patience/learning rate drive stage 2).
    public struct Settings: Sendable {
        public var layers = 2
        public var epochs = 4
        public var encoderLearningRate: Float = 1e-4
        public var headLearningRate: Float = 2e-3
        public var batchSize = 32
        public init() {}
    }

    public static func train(_ examples: [(text: String, label: String)], encoder: SentenceEncoder,
                             options: IntentTrainingOptions = IntentTrainingOptions(), settings: Settings = Settings(),
                             progress: IntentTrainer.Progress? = nil) throws -> (IntentModel, IntentTrainingReport) {
        var options = options
        options.solver = .adam
        guard !examples.isEmpty else { throw IntentError.badTrainingSet(reason: "no examples") }
        let labels = Array(Set(examples.map(\.label))).sorted()
        guard labels.count >= 2 else { throw IntentError.badTrainingSet(reason: "need at least 2 intents, found \(labels.count)") }
        let cfg = encoder.model.config
        let k = min(max(1, settings.layers), cfg.layers)
        let labelIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        let y = examples.map { labelIndex[$0.label]! }
        let ids = examples.map { encoder.tokenizer.encode($0.text) }

        // 1. Frozen part once: states entering the tuned blocks, plus the frozen sentence embedding.
        let t0 = Date()
        let h = cfg.hidden, cut = cfg.layers - k
        var offsets = [Int](repeating: 0, count: ids.count + 1)
        for (i, s) in ids.enumerated() { offsets[i + 1] = offsets[i] + s.count }
        var cached = Tensor(shape: [offsets.last!, h])
        var frozen = Tensor(shape: [ids.count, h])
        let order = ids.indices.sorted { ids[$0].count < ids[$1].count }
        var ws = MiniLM.Workspace(config: cfg, tokens: 1, longest: 1)
        cached.withUnsafeMutableBufferPointer { cb in frozen.withUnsafeMutableBufferPointer { fb in
            let c = cb.baseAddress!, f = fb.baseAddress!
            for start in stride(from: 0, to: order.count, by: 32) {
                let batch = Array(order[start..<min(order.count, start + 32)])
                encoder.model.forward(batch.map { ids[$0] }, workspace: &ws, layerCount: cfg.layers) { layer, x in
                    var row = 0
                    for i in batch {
                        let n = ids[i].count
                        if layer == cut { (c + offsets[i] * h).update(from: x + row * h, count: n * h) }
                        if layer == cfg.layers { EncoderKernels.meanPoolNormalize(x + row * h, rows: n, width: h, into: f + i * h) }
                        row += n
                    }
                }
            }
        } }
        let encodingSeconds = Date().timeIntervalSince(t0)

        // 2. Head on frozen embeddings (also the starting point of stage 3).
        let t1 = Date()
        var headOptions = options
        headOptions.hiddenUnits = 0
        let (head, frozenReport) = IntentTrainer.fit(features: frozen, exampleRow: Array(ids.indices), y: y, classes: labels.count,
                                                     options: headOptions, progress: nil)
        let (trainIdx, valIdx) = IntentTrainer.stratifiedSplit(y, classes: labels.count, fraction: options.validationFraction, seed: options.seed)
        progress?(0, 0, frozenReport.validationAccuracy)

        // 3. Joint fine-tuning of the top k blocks and the head.
        let blocks = encoder.model.layers.suffix(k).map(TrainableBlock.init)
        let encoderParams = blocks.flatMap(\.parameters)
        let encOpt = AdamW(encoderParams, learningRate: settings.encoderLearningRate, weightDecay: options.weightDecay)
        let headOpt = AdamW(head.parameters(), learningRate: settings.headLearningRate, weightDecay: options.weightDecay)
        var rng = SeededGenerator(seed: options.seed &+ 7)
        let batcher = Batcher(cached: cached, offsets: offsets, hidden: h)
        func run(_ batch: [Int]) -> Variable {
            let (x, maskAdd, pool) = batcher.batch(batch)
            var v = Variable(x)
            for b in blocks { v = b(v, batch: batch.count, length: maskAdd.shape[3], maskAdd: maskAdd, config: cfg) }
            let t = maskAdd.shape[3]
            let summed = (v.reshaped([batch.count, t, h]) * pool).sum(axis: 1)      // [B, H], pool = mask / length
            let e = summed / summed.squared().sum(axis: 1, keepingAxis: true).sqrt()
            return head(e)
        }
        func evaluate() -> Double {
            guard !valIdx.isEmpty else { return 0 }
            head.setTraining(false)
            var right = 0
            withoutGradients {
                let sorted = valIdx.sorted { ids[$0].count < ids[$1].count }
                for s in stride(from: 0, to: sorted.count, by: 64) {
                    let batch = Array(sorted[s..<min(sorted.count, s + 64)])
                    let logits = run(batch).value
                    let c = logits.shape[1], v = logits.scalars
                    for (r, i) in batch.enumerated() {
                        var arg = 0
                        for j in 1..<c where v[r * c + j] > v[r * c + arg] { arg = j }
                        if arg == y[i] { right += 1 }
                    }
                }
            }
            return Double(right) / Double(valIdx.count)
        }

        var best = (score: valIdx.isEmpty ? -1 : (frozenReport.validationAccuracy ?? 0), epoch: 0,
                    blocks: blocks.map(\.snapshot), head: head.stateDict())
        var epochsRun = 0
        for epoch in 1...max(1, settings.epochs) {
            epochsRun = epoch
            // Batches of similar length (little padding), in random order.
            var shuffled = trainIdx
            shuffled.shuffle(using: &rng)
            let byLength = shuffled.sorted { ids[$0].count < ids[$1].count }
            var batches = stride(from: 0, to: byLength.count, by: settings.batchSize).map {
                Array(byLength[$0..<min(byLength.count, $0 + settings.batchSize)])
            }
            batches.shuffle(using: &rng)
            var lossSum = 0.0
            head.setTraining(true)
            for (bi, batch) in batches.enumerated() {
                // Linear warm-up over the first epoch's first 10% of steps, then constant.
                let warm = min(1, Float(bi + 1 + (epoch - 1) * batches.count) / Float(max(1, batches.count / 10)))
                encOpt.learningRate = settings.encoderLearningRate * warm
                let loss = crossEntropy(run(batch), targets: batch.map { y[$0] }, labelSmoothing: options.labelSmoothing)
                encOpt.zeroGrad(); headOpt.zeroGrad()
                loss.backward()
                encOpt.step(); headOpt.step()
                lossSum += Double(loss.value[flat: 0])
            }
            let acc = valIdx.isEmpty ? nil : evaluate()
            progress?(epoch, lossSum / Double(max(1, batches.count)), acc)
            if valIdx.isEmpty || acc! > best.score {
                best = (acc ?? -1, epoch, blocks.map(\.snapshot), head.stateDict())
            } else if epoch - best.epoch >= max(1, options.patience / 4) {
                break
            }
        }
        try? head.loadStateDict(best.head)
        head.setTraining(false)
        var tuned = encoder
        // Kept at float16 precision, as the model folder stores them (half the bytes on disk).
        for (j, layer) in best.blocks.enumerated() { tuned.model.layers[cfg.layers - k + j] = try MiniLM.roundedToHalf(layer, config: cfg) }
        var config = IntentModelConfig(labels: labels, encoder: encoder.identifier, featureLayers: [cfg.layers], hiddenUnits: 0,
                                       confidenceThreshold: options.confidenceThreshold, marginThreshold: options.marginThreshold,
                                       fallbackIntent: options.fallbackIntent)
        config.fineTunedLayers = k
        let report = IntentTrainingReport(trainExamples: trainIdx.count, validationExamples: valIdx.count, labels: labels.count,
                                          validationAccuracy: valIdx.isEmpty ? nil : best.score, bestEpoch: best.epoch,
                                          epochsRun: epochsRun, encodingSeconds: encodingSeconds,
                                          fittingSeconds: Date().timeIntervalSince(t1))
        var r = report
        let model = IntentModel(config: config, encoder: tuned, head: head)
        return (IntentTrainer.addLexicalHead(to: model, examples: examples, y: y, options: options, report: &r), r)
    }

    /// Padded batches from the cached `[tokens, hidden]` states.
    struct Batcher {
        let cached: Tensor, offsets: [Int], hidden: Int

        /// `x [B·T, H]` (zero rows for padding), additive key mask `[B, 1, 1, T]` (0 or -1e9),
        /// pooling weights `[B, T, 1]` (1/length on real tokens, 0 on padding).
        func batch(_ rows: [Int]) -> (Tensor, Tensor, Tensor) {
            let t = rows.map { offsets[$0 + 1] - offsets[$0] }.max() ?? 1, b = rows.count, h = hidden
            var x = Tensor(shape: [b * t, h]), mask = Tensor(shape: [b, 1, 1, t]), pool = Tensor(shape: [b, t, 1])
            x.withUnsafeMutableBufferPointer { xb in mask.withUnsafeMutableBufferPointer { mb in pool.withUnsafeMutableBufferPointer { pb in
                cached.withUnsafeBufferPointer { cb in
                    for (r, i) in rows.enumerated() {
                        let n = offsets[i + 1] - offsets[i]
                        (xb.baseAddress! + r * t * h).update(from: cb.baseAddress! + offsets[i] * h, count: n * h)
                        for j in 0..<t {
                            mb[r * t + j] = j < n ? 0 : -1e9
                            pb[r * t + j] = j < n ? 1 / Float(n) : 0
                        }
                    }
                }
            } } }
            return (x, mask, pool)
        }
    }
}

/// One post-LayerNorm BERT block with trainable `Variable` weights (same layout as ``MiniLM/Layer``).
final class TrainableBlock {
    let qkvW: Variable, qkvB: Variable, outW: Variable, outB: Variable, n1W: Variable, n1B: Variable
    let upW: Variable, upB: Variable, downW: Variable, downB: Variable, n2W: Variable, n2B: Variable

    init(_ l: MiniLM.Layer) {
        func p(_ t: Tensor) -> Variable { Variable(t, requiresGrad: true) }
        qkvW = p(l.qkvWeight); qkvB = p(l.qkvBias); outW = p(l.outWeight); outB = p(l.outBias)
        n1W = p(l.norm1Weight); n1B = p(l.norm1Bias); upW = p(l.upWeight); upB = p(l.upBias)
        downW = p(l.downWeight); downB = p(l.downBias); n2W = p(l.norm2Weight); n2B = p(l.norm2Bias)
    }

    var parameters: [Variable] { [qkvW, qkvB, outW, outB, n1W, n1B, upW, upB, downW, downB, n2W, n2B] }

    var snapshot: MiniLM.Layer {
        MiniLM.Layer(qkvWeight: qkvW.value, qkvBias: qkvB.value, outWeight: outW.value, outBias: outB.value,
                     norm1Weight: n1W.value, norm1Bias: n1B.value, upWeight: upW.value, upBias: upB.value,
                     downWeight: downW.value, downBias: downB.value, norm2Weight: n2W.value, norm2Bias: n2B.value)
    }

    /// `x [B·T, H]` → `[B·T, H]`; `maskAdd [B, 1, 1, T]` keeps padded keys out of every softmax.
    func callAsFunction(_ x: Variable, batch b: Int, length t: Int, maskAdd: Tensor, config c: MiniLMConfig) -> Variable {
        let h = c.hidden, heads = c.heads, d = c.headDim
        let qkv = x.linear(weight: qkvW, bias: qkvB)                                   // [B·T, 3H]
        func split(_ part: Int) -> Variable {
            qkv.slice(axis: 1, start: part * h, end: (part + 1) * h).reshaped([b, t, heads, d]).permuted([0, 2, 1, 3])
        }
        let q = split(0), k = split(1), v = split(2)                                   // [B, heads, T, d]
        let scores = q.matmul(k, transposeOther: true) * (1 / Float(d).squareRoot()) + maskAdd
        let ctx = scores.softmax().matmul(v).permuted([0, 2, 1, 3]).reshaped([b * t, h])
        let a = (x + ctx.linear(weight: outW, bias: outB)).layerNorm(weight: n1W, bias: n1B, eps: c.layerNormEpsilon)
        let f = a.linear(weight: upW, bias: upB).gelu().linear(weight: downW, bias: downB)
        return (a + f).layerNorm(weight: n2W, bias: n2B, eps: c.layerNormEpsilon)
    }
}
