import Foundation
import LeptonEngine

public struct NodeModelConfig: Codable, Sendable {
    public var kind = "nodes"   // or "edges"
    /// Feature set (``NodeFeatures``): 1, the first; 2, labelled edges also get their standing
    /// among their endpoints' edges, and both kinds get the known-label columns. Older models keep
    /// theirs.
    public var formatVersion = 1
    public var inputFeatures = 0
    public var featureNames: [String] = []
    public var relationNames: [String] = []
    public var threshold: Float = 0.5
    public var gnnWeight: Float = 0
    public var gnnHidden = 32
    /// Number of bagged tree models (fold models) averaged.
    public var treeModels = 1
    public var validation: [String: Float] = [:]
    /// True when cross-validation kept the known-label columns (format version 2 on): scoring
    /// then uses the labels the caller knows (``NodeModel/score(_:known:)``).
    public var knownLabels = false
    /// With `knownLabels`: the threshold of the trees used when no label is known.
    public var thresholdWithoutKnownLabels: Float? = nil
    /// True when cross-validation kept a second stage, for scoring without known labels, over
    /// the first stage's scores of each item's neighbours (``NodeFeatures/propagationColumns(_:relations:scores:)``).
    public var propagation = false
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(String.self, forKey: .kind)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        inputFeatures = try c.decode(Int.self, forKey: .inputFeatures)
        featureNames = try c.decode([String].self, forKey: .featureNames)
        relationNames = try c.decode([String].self, forKey: .relationNames)
        threshold = try c.decode(Float.self, forKey: .threshold)
        gnnWeight = try c.decode(Float.self, forKey: .gnnWeight)
        gnnHidden = try c.decode(Int.self, forKey: .gnnHidden)
        treeModels = try c.decode(Int.self, forKey: .treeModels)
        validation = try c.decode([String: Float].self, forKey: .validation)
        knownLabels = try c.decodeIfPresent(Bool.self, forKey: .knownLabels) ?? false  // absent before version 2
        thresholdWithoutKnownLabels = try c.decodeIfPresent(Float.self, forKey: .thresholdWithoutKnownLabels)
        propagation = try c.decodeIfPresent(Bool.self, forKey: .propagation) ?? false
    }
}

/// The fold models of one tree cross-validation and their out-of-fold scores per checkpoint.
struct FoldTrees {
    var models: [GradientBoostedTrees] = []
    var staged: [[Float]] = [], auc: [Float] = [], oofY: [Float] = [], oofItems: [Int] = []
    var trainLoss: [Double] = []
}

/// Node (or labelled-edge) risk model: gradient-boosted trees on own + neighbourhood features
/// (and, when cross-validation says they help, the labels known of the neighbours; without
/// labels, a second stage over the neighbours' first-stage scores), blended on validation with a
/// two-layer GraphSAGE node classifier over all relations.
///
/// Immutable and `Sendable`: one loaded model can score from many threads at once.
public struct NodeModel: Sendable {
    public let config: NodeModelConfig
    public let trees: [GradientBoostedTrees]
    /// With ``NodeModelConfig/knownLabels``: the fold models trained with the known-label columns
    /// constant, used when no label is known at scoring time (a model trained to lean on its
    /// neighbours' labels does worse than one trained without them when there are none).
    public let treesWithoutKnownLabels: [GradientBoostedTrees]
    /// With ``NodeModelConfig/propagation``: the second-stage fold models of scoring without known
    /// labels (over the columns and the first stage's scores of the item's neighbours). Not used
    /// with known labels: there the neighbours' labels say more, and the first stage's
    /// out-of-fold scores of a neighbour would carry the item's own label through the
    /// neighbour's known-label columns (training saw the leak: out-of-fold 0.90, validation down).
    public let stage2: [GradientBoostedTrees]
    let gnn: NodeSAGE?

    public struct TrainOptions: Sendable {
        public var trees = GradientBoostedTrees.Options()
        public var gnnEpochs = 60
        public var folds = 5
        public var seed: UInt64 = 0
        public init() {
            trees.depth = 4; trees.learningRate = 0.05; trees.rounds = 300
        }
    }

    /// Scores every item of `g`.
    /// - Parameter known: labels known at scoring time, per item (1, 0, or −1 unknown); used by
    ///   a model whose cross-validation kept the known-label columns (``NodeModelConfig/knownLabels``).
    ///   Never pass the labels of the items being evaluated.
    public func score(_ g: NodeGraph, known: [Int8]? = nil) throws -> [Float] {
        let map = try relationMap(g)
        var h = g
        for e in 0..<h.edgeCount { h.relation[e] = map[Int(g.relation[e])] }
        let R = config.relationNames.count
        let knowing = usesKnownLabels(known), fallback = !knowing && !treesWithoutKnownLabels.isEmpty
        let x = NodeFeatures.rows(h, relations: R, version: config.formatVersion, known: knowing ? known : nil)
        var p = Self.mean(fallback ? treesWithoutKnownLabels : trees, x, rows: h.itemCount)
        if config.propagation && !knowing {
            let F = x.count / max(h.itemCount, 1), E = NodeFeatures.propagationWidth(relations: R, edgeMode: h.labelsOnEdges)
            let x2 = NodeFeatures.appending(x, width: F, NodeFeatures.propagationColumns(h, relations: R, scores: p), width: E)
            p = Self.mean(stage2, x2, rows: h.itemCount)
        }
        guard let s = gnn, config.gnnWeight > 0 else { return p }
        let q = s.predict(h)
        return (0..<p.count).map { (1 - config.gnnWeight) * p[$0] + config.gnnWeight * q[$0] }
    }

    /// The average probability of bagged fold models.
    static func mean(_ models: [GradientBoostedTrees], _ x: [Float], rows: Int, trees: Int? = nil) -> [Float] {
        var p = [Float](repeating: 0, count: rows)
        for m in models { let q = m.predict(x, rows: rows, trees: trees); for i in 0..<rows { p[i] += q[i] / Float(models.count) } }
        return p
    }

    /// True when `known` holds at least one label and the model uses known labels.
    public func usesKnownLabels(_ known: [Int8]?) -> Bool {
        config.knownLabels && known?.contains { $0 >= 0 } == true
    }

    /// The flagging threshold cross-validation chose for scoring with or without known labels.
    public func threshold(known: [Int8]?) -> Float {
        usesKnownLabels(known) ? config.threshold : config.thresholdWithoutKnownLabels ?? config.threshold
    }

    /// Maps the graph's relation indices to the model's (by name); unknown relations are an error.
    func relationMap(_ g: NodeGraph) throws -> [UInt8] {
        let expectedInputs = config.kind == "edges" ? g.edgeFeatureCount : g.featureCount
        guard expectedInputs == config.inputFeatures else {
            throw RiskError.badArgument("the model expects \(config.inputFeatures) input features, the graph has \(expectedInputs)")
        }
        guard (config.kind == "edges") == g.labelsOnEdges || config.kind == "nodes" && !g.labelsOnEdges else {
            throw RiskError.badArgument("the model scores \(config.kind); give the matching files")
        }
        return try g.relationNames.map { name in
            if config.kind == "edges" { return 0 }
            guard let k = config.relationNames.firstIndex(of: name) else {
                throw RiskError.badArgument("relation '\(name)' was not seen in training (known: \(config.relationNames.joined(separator: ", ")))")
            }
            return UInt8(k)
        }
    }

    /// - Parameter curve: receives the training curve (``TrainingCurve``): per boosting checkpoint
    ///   (every 10 trees) the mean training log-loss of the fold models and the out-of-fold ROC-AUC.
    public static func train(_ g: NodeGraph, source: String, options o: TrainOptions,
                             log: (String) -> Void = { _ in }, curve: TrainingCurve? = nil) throws -> (NodeModel, [String: Float]) {
        let hasSplit = g.labelled.contains { !$0.split.isEmpty }
        let pool = g.labelled.filter { !hasSplit || $0.split == "train" }
        let poolPositives = pool.reduce(0) { $0 + ($1.label == 1 ? 1 : 0) }
        try checkLabelCounts(positives: poolPositives, negatives: pool.count - poolPositives, source: source)
        var config = NodeModelConfig()
        config.kind = g.labelsOnEdges ? "edges" : "nodes"
        config.inputFeatures = g.labelsOnEdges ? g.edgeFeatureCount : g.featureCount
        config.featureNames = g.labelsOnEdges ? g.edgeFeatureNames : g.featureNames
        config.relationNames = g.relationNames
        config.formatVersion = NodeFeatures.currentVersion
        let R = g.relationNames.count
        let base = NodeFeatures.compute(g, relations: R)
        let Fb = NodeFeatures.width(inputs: config.inputFeatures, relations: R, edgeMode: g.labelsOnEdges, knownLabels: false)
        let Fl = NodeFeatures.knownLabelWidth(relations: R, edgeMode: g.labelsOnEdges), F = Fb + Fl
        // Stratified seeded K-fold cross-validation over the training pool: out-of-fold scores
        // choose the number of trees, whether the known-label columns help, the GNN blend weight
        // and the threshold; the final tree model is the average of the K fold models (a bagged
        // ensemble).
        var rng = SeededGenerator(seed: o.seed ^ 0xfeed)
        var posItems = pool.filter { $0.label == 1 }.map(\.item), negItems = pool.filter { $0.label == 0 }.map(\.item)
        for k in stride(from: posItems.count - 1, to: 0, by: -1) { posItems.swapAt(k, Int(rng.next() % UInt64(k + 1))) }
        for k in stride(from: negItems.count - 1, to: 0, by: -1) { negItems.swapAt(k, Int(rng.next() % UInt64(k + 1))) }
        let K = max(2, min(o.folds, posItems.count))
        let folds = (0..<K).map { k in
            Array(posItems[(k * posItems.count / K)..<((k + 1) * posItems.count / K)]) +
            Array(negItems[(k * negItems.count / K)..<((k + 1) * negItems.count / K)])
        }
        let labelOf = Dictionary(pool.map { ($0.item, $0.label) }, uniquingKeysWith: { a, _ in a })
        let every = 10
        // The known-label columns with nothing known (constant: never split on).
        let unknownLabels = NodeFeatures.knownLabelColumns(g, relations: R, known: [Int8](repeating: -1, count: g.itemCount))
        /// One cross-validation of the trees; with `knownLabels`, fold k's rows (its training rows
        /// and its held-out rows alike) see the labels of the other folds only, as scoring sees
        /// the labels of the training rows only; without, the columns are constant (never split on).
        func crossValidate(knownLabels: Bool, extra: [Float] = [], extraWidth E: Int = 0) throws -> FoldTrees {
            var arm = FoldTrees()
            var topts = o.trees
            for k in 0..<K {
                let trainItems = (0..<K).filter { $0 != k }.flatMap { folds[$0] }
                var lab = unknownLabels
                if knownLabels {
                    var known = [Int8](repeating: -1, count: g.itemCount)
                    for i in trainItems { known[i] = labelOf[i] ?? -1 }
                    lab = NodeFeatures.knownLabelColumns(g, relations: R, known: known)
                }
                func gather(_ items: [Int]) -> ([Float], [Float]) {
                    var xs = [Float](), ys = [Float]()
                    xs.reserveCapacity(items.count * (F + E))
                    for i in items {
                        xs.append(contentsOf: base[(i * Fb)..<((i + 1) * Fb)]); xs.append(contentsOf: lab[(i * Fl)..<((i + 1) * Fl)])
                        if E > 0 { xs.append(contentsOf: extra[(i * E)..<((i + 1) * E)]) }
                        ys.append(labelOf[i] == 1 ? 1 : 0)
                    }
                    return (xs, ys)
                }
                let (xt, yt) = gather(trainItems), (xv, yv) = gather(folds[k])
                topts.seed = o.seed &+ UInt64(k)
                let m = try GradientBoostedTrees.train(x: xt, y: yt, features: F + E, options: topts)
                if curve != nil {
                    let l = m.stagedLogLoss(xt, labels: yt, every: every)
                    arm.trainLoss = arm.trainLoss.isEmpty ? l : zip(arm.trainLoss, l).map { $0 + $1 }
                }
                let sm = m.stagedMargins(xv, rows: folds[k].count, every: every).map { $0.map { 1 / (1 + expf(-$0)) } }
                if arm.staged.isEmpty { arm.staged = sm } else { for c in 0..<min(arm.staged.count, sm.count) { arm.staged[c] += sm[c] } }
                arm.oofY += yv; arm.oofItems += folds[k]
                arm.models.append(m)
            }
            arm.auc = try arm.staged.map { try RiskMetrics.rocAUC(scores: $0, labels: arm.oofY) }
            return arm
        }
        /// The first checkpoint within 1e-4 of the best out-of-fold ROC-AUC (fewer trees on a tie).
        func bestCheckpoint(_ auc: [Float]) -> Int {
            var best = auc.count - 1, top: Float = -1
            for (c, a) in auc.enumerated() where a > top + 1e-4 { top = a; best = c }
            return best
        }
        let without = try crossValidate(knownLabels: false), with = try crossValidate(knownLabels: true)
        let bestWithout = without.auc.max() ?? 0, bestWith = with.auc.max() ?? 0
        // The columns must earn their keep by more than the seed-to-seed spread of the
        // out-of-fold ROC-AUC (about 0.002 on YelpChi and FDCompCN).
        config.knownLabels = bestWith > bestWithout + 5e-3
        var arm = config.knownLabels ? with : without
        log("out-of-fold ROC-AUC of the trees: \(bestWithout) without the known-label columns, \(bestWith) with: "
            + (config.knownLabels ? "kept" : "not used"))
        let bestC = bestCheckpoint(arm.auc)
        var bestAUC = arm.auc[bestC]
        for (c, auc) in arm.auc.enumerated() {
            var point: [String: Float] = ["trees": Float(min(o.trees.rounds, (c + 1) * every)), "trees_validation_roc_auc": auc]
            if c < arm.trainLoss.count { point["trees_train_loss"] = Float(arm.trainLoss[c] / Double(K)) }
            try curve?(point)
        }
        let treeCount = min(o.trees.rounds, (bestC + 1) * every)
        for k in 0..<arm.models.count { arm.models[k].truncate(trees: treeCount) }
        var fallback: [GradientBoostedTrees] = []
        if config.knownLabels {
            // The arm without known labels, at its own best checkpoint, for scoring with none.
            let c = bestCheckpoint(without.auc)
            fallback = without.models.map { var m = $0; m.truncate(trees: min(o.trees.rounds, (c + 1) * every)); return m }
            config.thresholdWithoutKnownLabels = try RiskMetrics.bestF1Threshold(scores: without.staged[c], labels: without.oofY).threshold
        }
        let models = arm.models, oofY = arm.oofY, oofItems = arm.oofItems
        var pv = arm.staged[bestC]
        log("cross-validated trees: \(treeCount) per fold model, out-of-fold ROC-AUC \(bestAUC)")
        var metrics: [String: Float] = ["trees_cv_roc_auc": bestAUC,
                                        "trees_cv_pr_auc": try RiskMetrics.averagePrecision(scores: pv, labels: oofY),
                                        "trees_count": Float(treeCount),
                                        "trees_without_known_labels_cv_roc_auc": bestWithout,
                                        "trees_with_known_labels_cv_roc_auc": bestWith]
        // Second stage, for scoring without known labels: the same folds again, with the first
        // stage's scores of each item's neighbours (out of fold for the training rows, the fold
        // models' mean for the others, as scoring has it), kept when it beats the first stage
        // by the same margin.
        let E = NodeFeatures.propagationWidth(relations: R, edgeMode: g.labelsOnEdges)
        let plainC = bestCheckpoint(without.auc)
        let unknownRows = NodeFeatures.appending(base, width: Fb, unknownLabels, width: Fl)
        var firstStage = mean(without.models, unknownRows, rows: g.itemCount, trees: min(o.trees.rounds, (plainC + 1) * every))
        for (j, i) in without.oofItems.enumerated() { firstStage[i] = without.staged[plainC][j] }
        let second = try crossValidate(knownLabels: false, extra: NodeFeatures.propagationColumns(g, relations: R, scores: firstStage),
                                       extraWidth: E)
        let c2 = bestCheckpoint(second.auc)
        metrics["propagation_cv_roc_auc"] = second.auc[c2]
        config.propagation = second.auc[c2] > without.auc[plainC] + 5e-3
        log("out-of-fold ROC-AUC without known labels: \(without.auc[plainC]) first stage, \(second.auc[c2]) with the neighbours' "
            + "first-stage scores: " + (config.propagation ? "kept" : "not used"))
        var stage2: [GradientBoostedTrees] = []
        if config.propagation {
            stage2 = second.models.map { var m = $0; m.truncate(trees: min(o.trees.rounds, (c2 + 1) * every)); return m }
            if config.knownLabels {
                config.thresholdWithoutKnownLabels = try RiskMetrics.bestF1Threshold(scores: second.staged[c2], labels: second.oofY).threshold
            } else {
                pv = second.staged[c2]; bestAUC = second.auc[c2]
            }
        }
        var best = pv
        var gnn: NodeSAGE? = nil
        if o.gnnEpochs > 0 && !g.labelsOnEdges {
            // Out-of-fold GNN scores on the same folds.
            var qv = [Float](); qv.reserveCapacity(oofItems.count)
            for k in 0..<K {
                let trainItems = (0..<K).filter { $0 != k }.flatMap { folds[$0] }
                var s = NodeSAGE(inputs: g.featureCount, hidden: config.gnnHidden, seed: o.seed &+ UInt64(k))
                try s.fit(g, trainItems: trainItems, labels: trainItems.map { labelOf[$0] == 1 ? 1 : 0 }, validationItems: [],
                      validationLabels: [], epochs: o.gnnEpochs, log: { _ in })
                qv += s.predict(g, items: folds[k])
            }
            metrics["gnn_cv_roc_auc"] = try RiskMetrics.rocAUC(scores: qv, labels: oofY)
            var bestBlend = bestAUC
            for w: Float in [0.25, 0.5, 0.75, 1] {
                let b = (0..<pv.count).map { (1 - w) * pv[$0] + w * qv[$0] }
                let auc = try RiskMetrics.rocAUC(scores: b, labels: oofY)
                if auc > bestBlend + 1e-4 { bestBlend = auc; config.gnnWeight = w; best = b }
            }
            if config.gnnWeight > 0 {
                var s = NodeSAGE(inputs: g.featureCount, hidden: config.gnnHidden, seed: o.seed)
                let all = folds.flatMap { $0 }
                try s.fit(g, trainItems: all, labels: all.map { labelOf[$0] == 1 ? 1 : 0 }, validationItems: [], validationLabels: [],
                      epochs: o.gnnEpochs, log: log)
                gnn = s
            }
            log("out-of-fold ROC-AUC: trees \(bestAUC), gnn \(metrics["gnn_cv_roc_auc"]!); gnn weight \(config.gnnWeight)")
        }
        config.threshold = try RiskMetrics.bestF1Threshold(scores: best, labels: oofY).threshold
        metrics["cv_roc_auc"] = try RiskMetrics.rocAUC(scores: best, labels: oofY)
        config.validation = metrics
        config.treeModels = models.count
        return (NodeModel(config: config, trees: models, treesWithoutKnownLabels: fallback, stage2: stage2, gnn: gnn), metrics)
    }

    /// Writes `model.safetensors` (the GNN's weights as `dtype`; trees and input statistics in
    /// float32, as ``TransactionModel/save(to:dtype:)`` does) and `config.json`.
    public func save(to dir: URL, dtype: SaveDType = .float32) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var exact: [String: Tensor] = [:]
        for (k, m) in trees.enumerated() { for (name, v) in m.tensors(prefix: "gbt\(k).") { exact[name] = v } }
        for (k, m) in treesWithoutKnownLabels.enumerated() { for (name, v) in m.tensors(prefix: "gbt-unknown\(k).") { exact[name] = v } }
        for (k, m) in stage2.enumerated() { for (name, v) in m.tensors(prefix: "gbt2-\(k).") { exact[name] = v } }
        let network = gnn?.tensors() ?? [:]
        exact.merge(network.filter { TransactionModel.exactOnSave($0.key) }) { a, _ in a }
        try Safetensors.write(tensors: network.filter { !TransactionModel.exactOnSave($0.key) }, saving: dtype, keeping: exact.mapValues { WeightEntry($0) },
                              metadata: ["format": "lepton-risk \(config.kind) v1"], to: dir.appendingPathComponent(TransactionModel.weightsFile))
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try atomicWrite(try enc.encode(config), to: dir.appendingPathComponent(TransactionModel.configFile))
    }

    public static func load(from dir: URL) throws -> NodeModel {
        let cfgURL = dir.appendingPathComponent(TransactionModel.configFile)
        guard let data = try? Data(contentsOf: cfgURL) else { throw RiskError.badModel(path: dir.path, reason: "missing config.json") }
        let config: NodeModelConfig
        do { config = try JSONDecoder().decode(NodeModelConfig.self, from: data) }
        catch { throw RiskError.badModel(path: cfgURL.path, reason: "unreadable config: \(error)") }
        guard config.kind == "nodes" || config.kind == "edges" else {
            throw RiskError.badModel(path: cfgURL.path, reason: "this is a \(config.kind) model; use --transactions")
        }
        let wURL = dir.appendingPathComponent(TransactionModel.weightsFile)
        let store: WeightStore
        do { store = try Safetensors.read(wURL) } catch { throw RiskError.badModel(path: wURL.path, reason: "\(error)") }
        guard (1...NodeFeatures.currentVersion).contains(config.formatVersion) else {
            throw RiskError.badModel(path: cfgURL.path, reason: "format version \(config.formatVersion) is newer than this lepton-risk reads (\(NodeFeatures.currentVersion))")
        }
        // Bounds before any size is computed from them (an absurd count would overflow).
        guard (1...65_536).contains(config.inputFeatures), config.relationNames.count <= 255,
              (1...4_096).contains(config.gnnHidden), config.threshold.isFinite, (0...1).contains(config.gnnWeight),
              config.thresholdWithoutKnownLabels?.isFinite ?? true else {
            throw RiskError.badModel(path: cfgURL.path, reason: "inputFeatures, relationNames, gnnHidden, threshold or gnnWeight out of range")
        }
        let F = NodeFeatures.width(inputs: config.inputFeatures, relations: config.relationNames.count, edgeMode: config.kind == "edges",
                                   version: config.formatVersion)
        guard config.treeModels >= 1 && config.treeModels <= 64 else { throw RiskError.badModel(path: cfgURL.path, reason: "treeModels out of range") }
        let trees = try (0..<config.treeModels).map { try GradientBoostedTrees(store: store, prefix: "gbt\($0).", features: F, source: wURL.path) }
        let fallback = try (0..<(config.knownLabels ? config.treeModels : 0)).map {
            try GradientBoostedTrees(store: store, prefix: "gbt-unknown\($0).", features: F, source: wURL.path)
        }
        let F2 = F + NodeFeatures.propagationWidth(relations: config.relationNames.count, edgeMode: config.kind == "edges")
        let stage2 = try (0..<(config.propagation ? config.treeModels : 0)).map {
            try GradientBoostedTrees(store: store, prefix: "gbt2-\($0).", features: F2, source: wURL.path)
        }
        var gnn: NodeSAGE? = nil
        if config.gnnWeight > 0 { gnn = try NodeSAGE(inputs: config.inputFeatures, hidden: config.gnnHidden, store: store, source: wURL.path) }
        if !store.unusedNames.isEmpty {
            throw RiskError.badModel(path: wURL.path, reason: "unused tensors: \(store.unusedNames.prefix(5).joined(separator: ", "))")
        }
        return NodeModel(config: config, trees: trees, treesWithoutKnownLabels: fallback, stage2: stage2, gnn: gnn)
    }

    /// Reads just the kind ("transactions", "nodes" or "edges") of a model folder.
    public static func kind(of dir: URL) throws -> String {
        let cfgURL = dir.appendingPathComponent(TransactionModel.configFile)
        guard let data = try? Data(contentsOf: cfgURL),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let k = obj["kind"] as? String
        else { throw RiskError.badModel(path: dir.path, reason: "missing or unreadable config.json") }
        return k
    }
}

/// Two-layer GraphSAGE node classifier over all relations treated as undirected edges, on
/// standardised node features. Weights (prefix `sage.`): `c1.lin_l.*`, `c1.lin_r.weight`,
/// `c2.*`, `head.weight [1, hidden]`, `head.bias [1]`, `mean`, `std` `[inputs]`.
struct NodeSAGE: Sendable {
    var c1: SAGEConv, c2: SAGEConv, head: GraphLinear
    var mean: [Float], std: [Float]
    let inputs: Int, hidden: Int

    init(inputs: Int, hidden: Int, seed: UInt64) {
        var rng = SeededGenerator(seed: seed &+ 99)
        self.inputs = inputs; self.hidden = hidden
        c1 = SAGEConv(inputs, hidden, rng: &rng); c2 = SAGEConv(hidden, hidden, rng: &rng)
        head = GraphLinear(hidden, 1, rng: &rng)
        mean = [Float](repeating: 0, count: inputs); std = [Float](repeating: 1, count: inputs)
    }

    /// Every relation's edges both ways, self-loops dropped.
    func graph(_ g: NodeGraph) -> CSRGraph {
        var s = [Int](), d = [Int]()
        for e in 0..<g.edgeCount where g.src[e] != g.dst[e] {
            s.append(Int(g.src[e])); d.append(Int(g.dst[e])); s.append(Int(g.dst[e])); d.append(Int(g.src[e]))
        }
        do { return try CSRGraph(sources: s, targets: d, nodes: g.nodeCount) }
        catch { preconditionFailure("NodeGraph node ids out of range: \(error)") }
    }

    func input(_ g: NodeGraph) -> Tensor {
        var x = g.features
        for i in 0..<g.nodeCount { for f in 0..<inputs { x[i * inputs + f] = (x[i * inputs + f] - mean[f]) / std[f] } }
        return Tensor(shape: [g.nodeCount, inputs], scalars: x)
    }

    mutating func logits(_ x: Tensor, _ mg: CSRGraph, training: Bool) -> (Tensor, Tensor, Tensor) {
        let a1 = c1.forward(x, graph: mg, training: training)
        let a2 = c2.forward(a1.relu(), graph: mg, training: training)
        return (a1, a2, head.forward(a2.relu(), training: training))
    }

    func predict(_ g: NodeGraph, items: [Int]? = nil) -> [Float] {
        var m = self
        let (_, _, z) = m.logits(input(g), graph(g), training: false)
        let s = z.scalars
        return (items ?? Array(0..<g.nodeCount)).map { 1 / (1 + expf(-s[$0])) }
    }

    mutating func fit(_ g: NodeGraph, trainItems: [Int], labels: [Float], validationItems: [Int], validationLabels: [Float],
                      epochs: Int, log: (String) -> Void) throws {
        for f in 0..<inputs {
            var s: Double = 0, s2: Double = 0
            for i in 0..<g.nodeCount { let v = Double(g.features[i * inputs + f]); s += v; s2 += v * v }
            let n = Double(max(g.nodeCount, 1)), m = s / n
            mean[f] = Float(m); std[f] = Float(max((s2 / n - m * m).squareRoot(), 1e-4))
        }
        let x = input(g), mg = graph(g)
        let pos = labels.reduce(0, +), neg = Float(labels.count) - pos
        let wPos = neg / max(pos, 1)
        var adam = AdamByName(learningRate: 0.005, weightDecay: 5e-4)
        var best = self, bestAUC: Float = -1
        for epoch in 0..<epochs {
            c1.zeroGrad(); c2.zeroGrad(); head.zeroGrad()
            let (a1, a2, z) = logits(x, mg, training: true)
            let zs = z.scalars
            var dz = [Float](repeating: 0, count: g.nodeCount)
            let norm = 1 / (pos * wPos + neg)
            for (q, i) in trainItems.enumerated() {
                let p = 1 / (1 + expf(-zs[i])); let w = labels[q] > 0.5 ? wPos : 1
                dz[i] = w * (p - labels[q]) * norm
            }
            let dr2 = head.backward(Tensor(shape: [g.nodeCount, 1], scalars: dz))!
            let da2 = Tensor(shape: a2.shape, scalars: zip(dr2.scalars, a2.scalars).map { $1 > 0 ? $0 : 0 })
            let (dr1, _) = c2.backward(da2, graph: mg)
            let da1 = Tensor(shape: a1.shape, scalars: zip(dr1.scalars, a1.scalars).map { $1 > 0 ? $0 : 0 })
            _ = c1.backward(da1, graph: mg, needInputGrad: false)
            adam.beginStep()
            c1.visitParameters(prefix: "c1.") { adam.update($0, &$1, $2) }
            c2.visitParameters(prefix: "c2.") { adam.update($0, &$1, $2) }
            head.visitParameters(prefix: "head.") { adam.update($0, &$1, $2) }
            if !validationItems.isEmpty && (epoch + 1) % 5 == 0 {
                let auc = try RiskMetrics.rocAUC(scores: predict(g, items: validationItems), labels: validationLabels)
                if auc > bestAUC { bestAUC = auc; best = self }
                if (epoch + 1) % 20 == 0 { log("sage epoch \(epoch + 1): model-selection ROC-AUC \(String(format: "%.4f", auc))") }
            }
        }
        if !validationItems.isEmpty { self = best }
    }

    func tensors() -> [String: Tensor] {
        var m = self, out: [String: Tensor] = [:]
        m.visit { name, p, _ in out[name] = p }
        out["sage.mean"] = Tensor(shape: [inputs], scalars: mean); out["sage.std"] = Tensor(shape: [inputs], scalars: std)
        return out
    }

    mutating func visit(_ body: (String, inout Tensor, Tensor) -> Void) {
        c1.visitParameters(prefix: "sage.c1.", body); c2.visitParameters(prefix: "sage.c2.", body)
        head.visitParameters(prefix: "sage.head.", body)
    }

    init(inputs: Int, hidden: Int, store: WeightStore, source: String) throws {
        self.init(inputs: inputs, hidden: hidden, seed: 0)
        var failure: String? = nil
        visit { name, p, _ in
            guard failure == nil else { return }
            do { p = try store.take(name, shape: p.shape) } catch { failure = "\(error)" }
        }
        if let f = failure { throw RiskError.badModel(path: source, reason: f) }
        do {
            mean = try store.take("sage.mean", shape: [inputs]).scalars; std = try store.take("sage.std", shape: [inputs]).scalars
        } catch { throw RiskError.badModel(path: source, reason: "\(error)") }
    }
}
