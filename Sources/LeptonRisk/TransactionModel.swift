import Foundation
import LeptonEngine

/// Settings and summary of a trained transaction (edge) model, stored as `config.json`.
public struct TransactionModelConfig: Codable, Sendable {
    public var kind = "transactions"
    public var formatVersion = 1
    public var features: [String] = TransactionFeatures.names
    /// Score at or above which a transaction is flagged (chosen on validation: best minority F1).
    public var threshold: Float = 0.5
    /// Days of earlier transactions (`--history FILE`) used as context when scoring a new file.
    public var historyDays = 14
    /// Which scorer produced the final score: "trees", "gnn" or "blend".
    public var scorer = "trees"
    /// Blend weight of the GNN score (rank-free: probabilities averaged).
    public var gnnWeight: Float = 0
    public var trainRows = 0
    public var trainPositives = 0
    public var validation: [String: Float] = [:]
    public var gnn: EdgeGNNConfig? = nil
    /// Neighbour-score propagation (``ScorePropagation``): the aggregate used (`neighbour_max` or
    /// `neighbour_mass`), nil when cross-validation preferred the trees' scores alone.
    public var propagation: String? = nil
    /// Weight β of the propagated term: score = 1 − (1 − s)(1 − min(1, β·aggregate)).
    public var propagationWeight: Float? = nil
    /// Half-width in days of the neighbourhood window.
    public var propagationWindowDays: Int? = nil
    /// Depth and learning rate of the trees (`train --depth`, `--learning-rate`); absent in
    /// models trained before they were recorded.
    public var treeDepth: Int? = nil
    public var treeLearningRate: Float? = nil
    /// The GNN's edge inputs include the port numbers (``TransactionFeatures/ports(_:index:)``).
    public var gnnPortNumbers: Bool? = nil
    /// The account-sequence scorer (``SequenceScorer``) and its blend weight; absent when not
    /// trained or not kept by cross-validation.
    public var sequence: SequenceScorerConfig? = nil
    public var sequenceWeight: Float? = nil
    /// What the model was trained on and how sure its validation figures are (the model card's
    /// facts); absent in models trained before it existed.
    public var training: TrainingFacts? = nil
    /// Deciles of every feature and of the out-of-fold scores on the training rows, for
    /// `monitor` (``DriftReport``); absent in models trained before it existed.
    public var drift: DriftReference? = nil
    public init() {}
}

/// The training data's shape and the uncertainty of the cross-validated figures: counts and a
/// period, never a row, an account or a label.
public struct TrainingFacts: Codable, Sendable, Equatable {
    /// First and last timestamp of the labelled rows (`YYYY/MM/DD HH:MM`).
    public var periodStart: String
    public var periodEnd: String
    /// Rows loaded (labelled or context) and distinct accounts.
    public var rows: Int
    public var accounts: Int
    /// Time blocks of the cross-validation.
    public var folds: Int
    /// The alert budget at which recall is reported (a share of the rows).
    public var budget: Double
    /// 95% bootstrap intervals of the final out-of-fold PR-AUC and recall at `budget`.
    public var intervals: BootstrapIntervals?
}

/// A trained transaction scorer: gradient-boosted trees on hand-made features, optionally
/// blended with a graph neural network edge classifier.
///
/// A model folder holds no customer data: weights and settings only. Scoring a new file
/// incrementally needs the accounts' recent transactions (window counts, pass-through, cycles
/// are per transfer and per account, which no aggregate without account ids can replace), so
/// they are an explicit input of the scorer (`history:`), read from the user's own file.
///
/// Immutable and `Sendable`: one loaded model can score from many threads at once; every
/// scoring call keeps its scratch (features, node states) to itself.
public struct TransactionModel: Sendable {
    public let config: TransactionModelConfig
    public let trees: GradientBoostedTrees
    public let gnn: EdgeGNN?
    public let sequence: SequenceScorer?
    /// True when the folder holds a `history.csv` (raw training transactions, written by
    /// versions before issue 17): it is not read, and the program says so.
    public let hasLegacyHistoryFile: Bool

    init(config: TransactionModelConfig, trees: GradientBoostedTrees, gnn: EdgeGNN?, sequence: SequenceScorer? = nil,
         hasLegacyHistoryFile: Bool = false) {
        self.config = config; self.trees = trees; self.gnn = gnn; self.sequence = sequence
        self.hasLegacyHistoryFile = hasLegacyHistoryFile
    }

    public static let weightsFile = "model.safetensors"
    public static let configFile = "config.json"
    /// The file older versions wrote into the model folder (account ids and labels).
    public static let legacyHistoryFile = "history.csv"

    public struct TrainOptions: Sendable {
        public var trees = GradientBoostedTrees.Options()
        /// Time blocks of the cross-validation that chooses trees, blend and threshold.
        public var folds = 4
        public var useGNN = true
        public var gnnEpochs = 60
        /// The GNN's message-passing layer (see README for the measured comparison).
        public var gnnConv: GraphConvKind = .sage
        /// GNN layers to cross-validate, the best kept (nil: `gnnConv` alone).
        public var gnnCandidates: [GraphConvKind]? = nil
        /// Try neighbour-score propagation; kept only if cross-validation prefers it.
        public var usePropagation = true
        public var propagationWindowDays = 3
        /// Give the GNN the port numbers as extra edge inputs (Egressy et al.). Off by default:
        /// on aml-sample the cross-validated PR-AUC was lower with them (0.810 vs 0.819), and
        /// port indices grow with the length of the loaded window, so a short scoring file sees
        /// smaller ones than the training file did.
        public var gnnPortNumbers = false
        /// Also cross-validate an account-sequence scorer with this cell (nil: none); blended in
        /// only when it raises the out-of-fold PR-AUC.
        public var sequenceCell: SequenceCell? = nil
        public var sequenceEpochs = 4
        /// Labelled transactions of another graph (e.g. `simulate`'s) added to the training rows of
        /// every fold's trees; their features are computed on their own graph, and they are never
        /// scored, so every out-of-fold figure is on the bank's own rows. The GNN and the sequence
        /// scorer learn from the bank's graph alone.
        public var extraTraining: ExtraTrainingRows? = nil
        /// Given the final out-of-fold scores (the blend cross-validation chose, on which the
        /// threshold and the validation figures are computed) with their table rows, in time order.
        public var outOfFold: (@Sendable (_ rows: [Int], _ scores: [Float]) throws -> Void)? = nil
        public var seed: UInt64 = 0
        /// Trees of depth 2: on aml-sample's training part (59 positives) the cross-validated
        /// PR-AUC of the default pipeline was 0.858 against 0.843 at depth 3 and 0.816 at the
        /// former 5 (README); shallow trees overfit fewer laundering rows.
        public init() { trees.depth = 2 }
    }

    /// Time-blocked cross-validation of one tree model on `x` (`[t.count, F]`).
    ///
    /// The labelled rows in time order are cut into `folds.count` contiguous blocks; each block is
    /// scored by trees trained on the others. The pooled out-of-fold scores choose the number of
    /// trees (best average precision). Unlabelled rows are scored by the model of the block
    /// whose time range holds them, so every row gets an out-of-fold score.
    struct CrossValidated {
        /// Out-of-fold probability of every row of the table (0 where no fold model could be trained).
        var scoresAll: [Float]
        var treeCount: Int
        var averagePrecision: Float
        /// The fold models, each cut to `treeCount` trees.
        var models: [GradientBoostedTrees]
    }

    static func crossValidate(x: [Float], features F: Int, labels y: [Float], blocks: [[Int]], foldOfRow: [Int],
                              scoredRows ordered: [Int], options topts: GradientBoostedTrees.Options,
                              extra: ExtraTrainingRows? = nil, log: (String) -> Void, curve: TrainingCurve? = nil) throws -> CrossValidated {
        let K = blocks.count, m = foldOfRow.count
        func gather(_ rows: [Int]) -> [Float] {
            var xs = [Float](); xs.reserveCapacity(rows.count * F)
            for r in rows { xs.append(contentsOf: x[(r * F)..<((r + 1) * F)]) }
            return xs
        }
        let every = 10
        var models: [GradientBoostedTrees?] = Array(repeating: nil, count: K)
        var staged: [[Float]] = []   // [checkpoint][position in `ordered`]
        var position = [Int](repeating: -1, count: m)
        for (q, r) in ordered.enumerated() { position[r] = q }
        var trained = [Bool](repeating: false, count: ordered.count)
        var trainLoss: [Double] = [], lossFolds = 0   // mean training log-loss per checkpoint (for `curve`)
        for k in 0..<K {
            let trainRows = (0..<K).filter { $0 != k }.flatMap { blocks[$0] }
            let yt = trainRows.map { y[$0] }
            if yt.reduce(0, +) == 0 || blocks[k].isEmpty { continue }
            // Extra rows (another graph) only ever train; the staged figures below are the bank's.
            let fm = try GradientBoostedTrees.train(x: gather(trainRows) + (extra?.x ?? []), y: yt + (extra?.y ?? []),
                                                    features: F, options: topts)
            models[k] = fm
            if curve != nil {
                let l = fm.stagedLogLoss(gather(trainRows), labels: yt, every: every)
                trainLoss = trainLoss.isEmpty ? l : zip(trainLoss, l).map { $0 + $1 }
                lossFolds += 1
            }
            let sm = fm.stagedMargins(gather(blocks[k]), rows: blocks[k].count, every: every)
            if staged.isEmpty { staged = Array(repeating: [Float](repeating: 0, count: ordered.count), count: sm.count) }
            for c in 0..<min(staged.count, sm.count) {
                for (j, r) in blocks[k].enumerated() { staged[c][position[r]] = sm[c][j] }
            }
            for r in blocks[k] { trained[position[r]] = true }
            log("fold \(k + 1)/\(K): \(blocks[k].count) rows, \(Int(blocks[k].reduce(0) { $0 + y[$1] })) positive")
        }
        let useQ = (0..<ordered.count).filter { trained[$0] }
        let ys = useQ.map { y[ordered[$0]] }
        var bestC = max(staged.count - 1, 0), bestAP: Float = -1
        for c in 0..<staged.count {
            let ap = try RiskMetrics.averagePrecision(scores: useQ.map { staged[c][$0] }, labels: ys)
            if ap > bestAP + 1e-4 { bestAP = ap; bestC = c }
            var point: [String: Float] = ["trees": Float(min(topts.rounds, (c + 1) * every)), "trees_validation_pr_auc": ap]
            if c < trainLoss.count { point["trees_train_loss"] = Float(trainLoss[c] / Double(max(lossFolds, 1))) }
            try curve?(point)
        }
        let treeCount = min(topts.rounds, (bestC + 1) * every)
        // Every row (labelled or not) scored by its fold's model cut to `treeCount` trees.
        var all = [Float](repeating: 0, count: m)
        var kept: [GradientBoostedTrees] = []
        for k in 0..<K {
            guard var fm = models[k] else { continue }
            fm.truncate(trees: treeCount)
            kept.append(fm)
            let rows = (0..<m).filter { foldOfRow[$0] == k }
            let p = fm.predict(gather(rows), rows: rows.count)
            for (j, r) in rows.enumerated() { all[r] = p[j] }
        }
        return CrossValidated(scoresAll: all, treeCount: treeCount, averagePrecision: max(bestAP, 0), models: kept)
    }

    /// Records a second scorer's out-of-fold figures (`<name>_cv_pr_auc`, `<name>_cv_roc_auc`, on
    /// the rows it scored) and blends it into `scores` with the weight among ¼, ½, ¾, 1 that raises
    /// the out-of-fold PR-AUC above `baselineAP` by more than 1e-4 (0 when none does).
    /// - Returns: the scorer's own PR-AUC and the chosen weight.
    static func blend(_ scores: inout [Float], baselineAP: Float, with other: [Float], scored: [Bool], labels: [Float],
                      name: String, into metrics: inout [String: Float]) throws -> (averagePrecision: Float, weight: Float) {
        let use = scores.indices.filter { scored[$0] }
        let ap = try RiskMetrics.averagePrecision(scores: use.map { other[$0] }, labels: use.map { labels[$0] })
        metrics["\(name)_cv_pr_auc"] = ap
        metrics["\(name)_cv_roc_auc"] = try RiskMetrics.rocAUC(scores: use.map { other[$0] }, labels: use.map { labels[$0] })
        var bestW: Float = 0, bestAP = baselineAP
        let base = scores
        for w: Float in [0.25, 0.5, 0.75, 1] {
            let s = base.indices.map { (1 - w) * base[$0] + w * other[$0] }
            let blended = try RiskMetrics.averagePrecision(scores: s, labels: labels)
            if blended > bestAP + 1e-4 { bestAP = blended; bestW = w; scores = s }
        }
        return (ap, bestW)
    }

    /// Trains on the labelled rows of `t` with time-blocked cross-validation (see
    /// ``crossValidate``): trees on the hand-made features; optionally a second tree stage on the
    /// neighbours' first-stage scores (``ScorePropagation``, fed with out-of-fold scores so that
    /// no row sees its own label); optionally a GNN blended in. Every choice (tree counts, stage,
    /// blend weight, threshold) is made on the pooled out-of-fold scores of the training data.
    /// - Parameter curve: receives the training curve (``TrainingCurve``): per boosting checkpoint
    ///   of the cross-validated trees (every 10 trees) the mean training log-loss of the fold
    ///   models and the out-of-fold PR-AUC, then per epoch of the final GNN its training loss.
    public static func train(_ t: TransactionTable, source: String, options o: TrainOptions,
                             log: (String) -> Void = { _ in }, curve: TrainingCurve? = nil) throws -> (TransactionModel, [String: Float]) {
        let labelled = (0..<t.count).filter { t.label[$0] >= 0 }
        let pos = labelled.reduce(0) { $0 + (t.label[$1] == 1 ? 1 : 0) }
        try checkLabelCounts(positives: pos, negatives: labelled.count - pos, source: source)
        log("computing features for \(t.count) transactions, \(t.accountCount) accounts")
        let index = AccountIndex(t)
        let x = TransactionFeatures.compute(t, index: index)
        let F = TransactionFeatures.count
        let m = t.count
        let y = (0..<m).map { Float(t.label[$0] == 1 ? 1 : 0) }
        // Time blocks of the labelled rows (a single latest block holds too few laundering rows
        // to choose anything, hence pooled out-of-fold scores).
        let ordered = labelled.sorted { (t.time[$0], $0) < (t.time[$1], $1) }
        let K = max(2, min(o.folds, pos))
        // Contiguous time blocks holding equal numbers of laundering rows (cut midway between
        // consecutive positives), so that every fold trains on most of the positives as the
        // final model does; equal-size blocks left one fold with 13 of 59 positives for training.
        let positiveAt = ordered.indices.filter { t.label[ordered[$0]] == 1 }
        var cuts = [0]
        for k in 1..<K {
            let a = positiveAt[k * pos / K - 1], b = positiveAt[k * pos / K]
            cuts.append((a + b) / 2 + 1)
        }
        cuts.append(ordered.count)
        let blocks = (0..<K).map { k in Array(ordered[cuts[k]..<cuts[k + 1]]) }
        var foldOfRow = [Int](repeating: 0, count: m)
        let starts = blocks.map { $0.first.map { t.time[$0] } ?? Int32.max }
        for r in 0..<m { var k = 0; while k + 1 < K && t.time[r] >= starts[k + 1] { k += 1 }; foldOfRow[r] = k }
        for k in 0..<K { for r in blocks[k] { foldOfRow[r] = k } }
        let oy = ordered.map { y[$0] }
        var topts = o.trees; topts.seed = o.seed
        let extra = o.extraTraining
        if let e = extra { log("extra training rows: \(e.y.count), \(Int(e.y.reduce(0, +))) positive (trees only, never scored)") }

        let cv1 = try crossValidate(x: x, features: F, labels: y, blocks: blocks, foldOfRow: foldOfRow, scoredRows: ordered,
                                options: topts, extra: extra, log: log, curve: curve)
        let oof1 = ordered.map { cv1.scoresAll[$0] }
        var metrics: [String: Float] = [
            "trees_cv_pr_auc": cv1.averagePrecision,
            "trees_cv_roc_auc": try RiskMetrics.rocAUC(scores: oof1, labels: oy),
            "trees_cv_recall_at_0.5pct": try RiskMetrics.recallAtBudget(scores: oof1, labels: oy, budget: 0.005),
            "trees_count": Float(cv1.treeCount),
        ]
        if let e = extra {
            metrics["extra_training_rows"] = Float(e.y.count)
            metrics["extra_training_positives"] = e.y.reduce(0, +)
        }
        log("cross-validated trees: \(cv1.treeCount) trees, out-of-fold PR-AUC \(cv1.averagePrecision)")
        // The scorer is the ensemble of the fold models (mean margin), not one model refitted on
        // everything: its scores are distributed like the out-of-fold scores on which the
        // propagation weight and the threshold are chosen (a refit on all positives scores
        // higher, and the validation threshold then flagged too few on new data).
        let stage1 = GradientBoostedTrees.averaged(cv1.models)
        var bestScores = oof1, bestAP = cv1.averagePrecision
        var config = TransactionModelConfig()
        if o.usePropagation {
            // One parameter (aggregate, β) chosen on the pooled out-of-fold scores; the scores fed
            // to propagation are themselves out-of-fold, so no row sees its own label.
            let prop = ScorePropagation.compute(t, index: index, scores: cv1.scoresAll, windowDays: o.propagationWindowDays,
                                                twoHop: false)  // only neighbour_max / neighbour_mass are candidates
            var best: (String, Float, [Float])? = nil
            for agg in ["neighbour_max", "neighbour_mass"] {
                let column = ScorePropagation.names.firstIndex(of: agg)!
                for beta: Float in [0.1, 0.25, 0.5, 1] {
                    let all = ScorePropagation.combine(scores: cv1.scoresAll, propagated: prop, column: column, weight: beta)
                    let s = ordered.map { all[$0] }
                    let ap = try RiskMetrics.averagePrecision(scores: s, labels: oy)
                    if ap > bestAP + 1e-4 { bestAP = ap; best = (agg, beta, s) }
                }
            }
            if let (agg, beta, s) = best {
                config.propagation = agg; config.propagationWeight = beta
                config.propagationWindowDays = o.propagationWindowDays
                bestScores = s
                metrics["propagation_cv_pr_auc"] = bestAP
                metrics["propagation_weight"] = beta
                metrics["propagation_cv_recall_at_0.5pct"] = try RiskMetrics.recallAtBudget(scores: s, labels: oy, budget: 0.005)
                log("neighbour-score propagation: \(agg), weight \(beta), out-of-fold PR-AUC \(bestAP)")
            } else {
                log("neighbour-score propagation did not help in cross-validation; trees alone")
            }
        }
        var gnnModel: EdgeGNN? = nil
        if o.useGNN {
            let xg = o.gnnPortNumbers ? TransactionFeatures.gnnInputs(t, features: x, index: index) : x
            let FG = F + (o.gnnPortNumbers ? TransactionFeatures.portNames.count : 0)
            // The GNN is cross-validated on the same blocks (full-batch, so folds are cheap), once
            // per candidate layer; the layer with the best out-of-fold PR-AUC is the one blended.
            func crossValidatedGNN(_ conv: GraphConvKind) throws -> (scores: [Float], scored: [Bool]) {
                var oof = [Float](repeating: 0, count: ordered.count)
                var have = [Bool](repeating: false, count: ordered.count)
                var at = 0
                for k in 0..<K {
                    defer { at += blocks[k].count }
                    let trainRows = (0..<K).filter { $0 != k }.flatMap { blocks[$0] }
                    if !trainRows.contains(where: { t.label[$0] == 1 }) { continue }
                    var g = EdgeGNN(config: EdgeGNNConfig(inputFeatures: FG, conv: conv), seed: o.seed &+ UInt64(k))
                    try g.fit(t, features: xg, trainRows: trainRows, validationRows: [], epochs: o.gnnEpochs, log: { _ in })
                    let q = g.predict(t, features: xg, rows: blocks[k])
                    for (j, v) in q.enumerated() { oof[at + j] = v; have[at + j] = true }
                }
                return (oof, have)
            }
            var chosen: (conv: GraphConvKind, ap: Float, scores: [Float], scored: [Bool])? = nil
            for conv in o.gnnCandidates ?? [o.gnnConv] {
                let (oof, have) = try crossValidatedGNN(conv)
                let rows = have.indices.filter { have[$0] }
                let ap = try RiskMetrics.averagePrecision(scores: rows.map { oof[$0] }, labels: rows.map { oy[$0] })
                metrics["gnn_\(conv.rawValue)_cv_pr_auc"] = ap
                log("GNN layer \(conv.rawValue): out-of-fold PR-AUC \(ap)")
                if chosen == nil || ap > chosen!.ap { chosen = (conv, ap, oof, have) }
            }
            let gnnConv = chosen!.conv, oofG = chosen!.scores, have = chosen!.scored
            let (apG, bestW) = try blend(&bestScores, baselineAP: bestAP, with: oofG, scored: have, labels: oy, name: "gnn", into: &metrics)
            config.gnnWeight = bestW
            config.scorer = bestW == 0 ? "trees" : (bestW == 1 ? "gnn" : "blend")
            log("out-of-fold PR-AUC: trees \(bestAP), gnn \(apG); using \(config.scorer) (gnn weight \(bestW))")
            if bestW > 0 {
                var g = EdgeGNN(config: EdgeGNNConfig(inputFeatures: FG, conv: gnnConv), seed: o.seed)
                try g.fit(t, features: xg, trainRows: ordered, validationRows: [], epochs: o.gnnEpochs, log: log,
                          onEpoch: { epoch, loss in try curve?(["gnn_epoch": Float(epoch), "gnn_train_loss": Float(loss)]) })
                config.gnn = g.config
                config.gnnPortNumbers = o.gnnPortNumbers
                gnnModel = g
            }
        }
        var sequenceModel: SequenceScorer? = nil
        if let cell = o.sequenceCell {
            // Out-of-fold sequence scores on the same time blocks, blended in like the GNN.
            let sc = SequenceScorerConfig(cell: cell, inputFeatures: F)
            var oofS = [Float](repeating: 0, count: ordered.count), have = [Bool](repeating: false, count: ordered.count)
            var at = 0
            for k in 0..<K {
                defer { at += blocks[k].count }
                let trainRows = (0..<K).filter { $0 != k }.flatMap { blocks[$0] }
                if !trainRows.contains(where: { t.label[$0] == 1 }) { continue }
                let s = try SequenceScorer.train(t, features: x, index: index, trainRows: trainRows, config: sc,
                                                 epochs: o.sequenceEpochs, seed: o.seed &+ UInt64(k))
                for (j, v) in s.predict(t, features: x, index: index, rows: blocks[k]).enumerated() { oofS[at + j] = v; have[at + j] = true }
            }
            let before = try RiskMetrics.averagePrecision(scores: bestScores, labels: oy)
            let (apS, bestW) = try blend(&bestScores, baselineAP: before, with: oofS, scored: have, labels: oy, name: "sequence", into: &metrics)
            metrics["sequence_weight"] = bestW
            log("out-of-fold PR-AUC: before \(before), \(cell) sequence \(apS); sequence weight \(bestW)")
            if bestW > 0 {
                sequenceModel = try SequenceScorer.train(t, features: x, index: index, trainRows: ordered, config: sc,
                                                         epochs: o.sequenceEpochs, seed: o.seed,
                                                         onEpoch: { e, l in try curve?(["sequence_epoch": Float(e), "sequence_train_loss": Float(l)]) })
                config.sequence = sc; config.sequenceWeight = bestW
                config.scorer += "+sequence"
            }
        }
        if config.propagation != nil { config.scorer += "+propagation" }
        try o.outOfFold?(ordered, bestScores)
        let (thr, f1) = try RiskMetrics.bestF1Threshold(scores: bestScores, labels: oy)
        metrics["cv_pr_auc"] = try RiskMetrics.averagePrecision(scores: bestScores, labels: oy)
        metrics["cv_f1"] = f1
        metrics["cv_recall_at_0.5pct"] = try RiskMetrics.recallAtBudget(scores: bestScores, labels: oy, budget: 0.005)
        config.threshold = thr
        config.trainRows = ordered.count
        config.treeDepth = topts.depth; config.treeLearningRate = topts.learningRate
        config.trainPositives = pos
        config.validation = metrics
        config.drift = DriftReference(features: x, rows: ordered, scores: bestScores)
        config.training = TrainingFacts(
            periodStart: formatTimestamp(Int(t.time[ordered.first!])), periodEnd: formatTimestamp(Int(t.time[ordered.last!])),
            rows: t.count, accounts: t.accountCount, folds: K, budget: 0.005,
            intervals: try RiskMetrics.bootstrap(scores: bestScores, labels: oy, budget: 0.005, resamples: 1000, seed: o.seed))
        return (TransactionModel(config: config, trees: stage1, gnn: gnnModel, sequence: sequenceModel), metrics)
    }

    // MARK: Saving and loading

    /// Writes `model.safetensors` and `config.json` into `dir` (created if needed); nothing else:
    /// no transaction, account id or label of the training data. The networks' weights are stored
    /// as `dtype` (`--save-dtype`); the trees and the networks' input means and deviations stay
    /// float32 whatever it is (see ``exactOnSave(_:)``).
    public func save(to dir: URL, dtype: SaveDType = .float32) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var networks: [String: Tensor] = [:]
        if let g = gnn { for (k, v) in g.tensors() { networks[k] = v } }
        if let s = sequence { for (k, v) in s.tensors() { networks[k] = v } }
        let exact = trees.tensors().merging(networks.filter { Self.exactOnSave($0.key) }) { a, _ in a }
        try Safetensors.write(tensors: networks.filter { !Self.exactOnSave($0.key) }, saving: dtype, keeping: exact.mapValues { WeightEntry($0) },
                              metadata: ["format": "lepton-risk transactions v1"], to: dir.appendingPathComponent(Self.weightsFile))
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try atomicWrite(try enc.encode(config), to: dir.appendingPathComponent(Self.configFile))
    }

    /// True for a network tensor saved in float32 whatever `--save-dtype` says: the input means and
    /// deviations are in the features' own units (amounts reach millions, beyond float16), and
    /// rounding them would shift every input. Tree tensors (node indices, split thresholds) are
    /// always saved exactly too.
    static func exactOnSave(_ name: String) -> Bool {
        name.hasSuffix("mean") || name.hasSuffix("std")
    }

    /// Reads a model folder written by `save(to:)`; strict: a missing, unused or mis-shaped tensor is an error.
    public static func load(from dir: URL) throws -> TransactionModel {
        let cfgURL = dir.appendingPathComponent(configFile)
        guard let data = try? Data(contentsOf: cfgURL) else { throw RiskError.badModel(path: dir.path, reason: "missing \(configFile)") }
        var config: TransactionModelConfig
        do { config = try JSONDecoder().decode(TransactionModelConfig.self, from: data) }
        catch { throw RiskError.badModel(path: cfgURL.path, reason: "unreadable config: \(error)") }
        guard config.kind == "transactions" else {
            throw RiskError.badModel(path: cfgURL.path, reason: "this is a \(config.kind) model; use --nodes/--edges for node models")
        }
        // A model trained before features were appended reads the first columns only: its trees are
        // widened (they never split on the new columns), and so are its networks (zero weights for
        // the new columns: TransactionModel+Widening).
        let F = TransactionFeatures.count, FM = config.features.count
        guard FM <= F, Array(TransactionFeatures.names.prefix(FM)) == config.features else {
            throw RiskError.badModel(path: cfgURL.path, reason: "feature list differs from this program's (\(FM) vs \(F)"
                                     + (FM > F ? ", from a newer version)" : ": not an earlier version of it; retrain)"))
        }
        guard (0...3650).contains(config.historyDays), config.threshold.isFinite,
              (0...60).contains(config.propagationWindowDays ?? 3), config.gnnWeight.isFinite else {
            throw RiskError.badModel(path: cfgURL.path, reason: "historyDays, threshold, gnnWeight or propagationWindowDays out of range")
        }
        let wURL = dir.appendingPathComponent(weightsFile)
        var store: WeightStore
        do { store = try Safetensors.read(wURL) } catch { throw RiskError.badModel(path: wURL.path, reason: "\(error)") }
        if FM < F && (config.gnnWeight > 0 || (config.sequenceWeight ?? 0) > 0) {
            store = try widenNetworks(store, config: &config, from: FM, to: F, source: wURL.path)
        }
        var trees = try GradientBoostedTrees(store: store, features: FM, source: wURL.path)
        trees.widen(to: F)
        if let agg = config.propagation {
            guard ScorePropagation.names.contains(agg), let w = config.propagationWeight, w >= 0, w.isFinite else {
                throw RiskError.badModel(path: cfgURL.path, reason: "unknown propagation '\(agg)' or missing weight")
            }
        }
        var gnn: EdgeGNN? = nil
        if config.gnnWeight > 0 {
            guard let gc = config.gnn else { throw RiskError.badModel(path: cfgURL.path, reason: "gnn weight set but no gnn config") }
            let want = TransactionFeatures.count + (config.gnnPortNumbers == true ? TransactionFeatures.portNames.count : 0)
            guard gc.inputFeatures == want else {
                throw RiskError.badModel(path: cfgURL.path, reason: "gnn expects \(gc.inputFeatures) edge inputs, this program gives \(want) (features + port numbers)")
            }
            gnn = try EdgeGNN(config: gc, store: store, source: wURL.path)
        }
        var sequence: SequenceScorer? = nil
        if let w = config.sequenceWeight, w > 0 {
            guard w.isFinite, w <= 1, let sc = config.sequence, sc.inputFeatures == TransactionFeatures.count else {
                throw RiskError.badModel(path: cfgURL.path, reason: "sequence weight set without a matching sequence config")
            }
            sequence = try SequenceScorer(config: sc, store: store, source: wURL.path)
        }
        if !store.unusedNames.isEmpty {
            throw RiskError.badModel(path: wURL.path, reason: "unused tensors: \(store.unusedNames.prefix(5).joined(separator: ", "))")
        }
        return TransactionModel(config: config, trees: trees, gnn: gnn, sequence: sequence,
                                hasLegacyHistoryFile: FileManager.default.fileExists(atPath: dir.appendingPathComponent(legacyHistoryFile).path))
    }
}

/// Training refuses data it cannot cross-validate: no positive, no negative, or a single row
/// of either class (the time blocks are cut between positives, and every fold needs one).
func checkLabelCounts(positives pos: Int, negatives neg: Int, source: String) throws {
    if pos == 0 { throw RiskError.noPositiveLabels(path: source) }
    if neg == 0 { throw RiskError.noNegativeLabels(path: source) }
    if pos < 2 { throw RiskError.tooFewLabels(path: source, label: "positive", found: pos, needed: 2) }
    if neg < 2 { throw RiskError.tooFewLabels(path: source, label: "negative", found: neg, needed: 2) }
}

/// Model files go through the engine's atomic write (unique temp name, removed on failure;
/// its error names the file).
func atomicWrite(_ data: Data, to url: URL) throws { try writeFileAtomically(data, to: url) }

extension TransactionTable {
    /// The transactions of the last `days` days (by timestamp), as a new table.
    public func recent(days: Int) -> TransactionTable {
        guard let tMax = time.max() else { return TransactionTable() }
        let cut = tMax - Int32(days * 1440)
        return subset((0..<count).filter { time[$0] > cut })
    }

    /// A table holding the given rows (account ids re-interned; `row` keeps the original index).
    public func subset(_ rows: [Int]) -> TransactionTable {
        var t = TransactionTable()
        t.currencyNames = currencyNames; t.formatNames = formatNames
        for i in rows {
            let a = t.accounts.intern(accountName(Int(src[i])))
            if Int(a) == t.bankOfAccount.count { t.bankOfAccount.append(t.banks.intern(String(accountName(Int(src[i])).split(separator: ":").first ?? ""))) }
            let b = t.accounts.intern(accountName(Int(dst[i])))
            if Int(b) == t.bankOfAccount.count { t.bankOfAccount.append(t.banks.intern(String(accountName(Int(dst[i])).split(separator: ":").first ?? ""))) }
            t.row.append(row[i]); t.source.append(source[i]); t.time.append(time[i]); t.src.append(a); t.dst.append(b)
            t.amountPaid.append(amountPaid[i]); t.amountReceived.append(amountReceived[i]); t.amountUSD.append(amountUSD[i])
            t.payCurrency.append(payCurrency[i]); t.receiveCurrency.append(receiveCurrency[i])
            t.format.append(format[i]); t.label.append(label[i])
        }
        return t
    }

    /// The table in the IBM AML CSV schema (header included).
    public func csv() -> String {
        var s = TransactionTable.header + "\n"
        s.reserveCapacity(count * 110)
        for i in 0..<count {
            let from = accountName(Int(src[i])).split(separator: ":", maxSplits: 1)
            let to = accountName(Int(dst[i])).split(separator: ":", maxSplits: 1)
            let lab = label[i] < 0 ? "" : String(label[i])
            s += "\(formatTimestamp(Int(time[i]))),\(from[0]),\(from.count > 1 ? from[1] : ""),\(to[0]),\(to.count > 1 ? to[1] : ""),"
            s += "\(formatAmount(amountReceived[i])),\(currencyName(receiveCurrency[i])),\(formatAmount(amountPaid[i])),"
            s += "\(currencyName(payCurrency[i])),\(csvField(formatName(format[i]))),\(lab)\n"
        }
        return s
    }
}

/// A CSV cell: quoted (RFC 4180) when it holds a comma, quote or line break (a bank's own
/// payment type may).
func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Two decimals for ordinary amounts, six decimals for tiny ones (Bitcoin).
public func formatAmount(_ v: Double) -> String {
    v >= 1 ? String(format: "%.2f", v) : String(format: "%.6f", v)
}

/// The simulator's amounts, rounded to Float first as they always were (same seed, same files).
public func formatAmount(_ v: Float) -> String { formatAmount(Double(v)) }
