import Foundation
import LeptonEngine

/// Settings and summary of a trained transaction (edge) model, stored as `config.json`.
public struct TransactionModelConfig: Codable, Sendable {
    public var kind = "transactions"
    public var formatVersion = 1
    public var features: [String] = TransactionFeatures.names
    /// Score at or above which a transaction is flagged (chosen on validation: best minority F1).
    public var threshold: Float = 0.5
    /// Days of training history kept in `history.csv` as context for incremental scoring.
    public var historyDays = 14
    /// Which scorer produced the final score: "trees", "gnn" or "blend".
    public var scorer = "trees"
    /// Blend weight of the GNN score (rank-free: probabilities averaged).
    public var gnnWeight: Float = 0
    public var trainRows = 0
    public var trainPositives = 0
    public var validation: [String: Float] = [:]
    public var gnn: EdgeGNNConfig? = nil
    public init() {}
}

/// A trained transaction scorer: gradient-boosted trees on hand-made features, optionally
/// blended with a graph neural network edge classifier, plus the recent history it needs.
public struct TransactionModel {
    public var config: TransactionModelConfig
    public var trees: GradientBoostedTrees
    public var gnn: EdgeGNN?
    /// Recent training transactions (context for window features when scoring new files).
    public var history: TransactionTable?

    public static let weightsFile = "model.safetensors"
    public static let configFile = "config.json"
    public static let historyFile = "history.csv"

    public struct TrainOptions: Sendable {
        public var trees = GradientBoostedTrees.Options()
        /// Time blocks of the cross-validation that chooses trees, blend and threshold.
        public var folds = 4
        public var useGNN = true
        public var gnnEpochs = 60
        public var seed: UInt64 = 0
        public init() {}
    }

    /// Scores for every row of `t`: probabilities in [0, 1], higher = riskier.
    public func score(_ t: TransactionTable, features: [Float]? = nil) -> [Float] {
        let x = features ?? TransactionFeatures.compute(t)
        let p = trees.predict(x, rows: t.count)
        guard let g = gnn, config.gnnWeight > 0 else { return p }
        let q = g.predict(t, features: x)
        let w = config.gnnWeight
        return (0..<p.count).map { (1 - w) * p[$0] + w * q[$0] }
    }

    /// Trains on the labelled rows of `t` with a time-ordered train / validation split.
    public static func train(_ t: TransactionTable, source: String, options o: TrainOptions,
                             log: (String) -> Void = { _ in }) throws -> (TransactionModel, [String: Float]) {
        let labelled = (0..<t.count).filter { t.label[$0] >= 0 }
        let pos = labelled.reduce(0) { $0 + (t.label[$1] == 1 ? 1 : 0) }
        if pos == 0 { throw RiskError.noPositiveLabels(path: source) }
        if pos == labelled.count { throw RiskError.noNegativeLabels(path: source) }
        log("computing features for \(t.count) transactions, \(t.accountCount) accounts")
        let x = TransactionFeatures.compute(t)
        let F = TransactionFeatures.count
        // Time-blocked cross-validation: the labelled rows in time order are cut into `folds`
        // contiguous blocks; each block is scored by trees trained on the others. The pooled
        // out-of-fold scores choose the number of trees, the GNN blend weight and the threshold
        // (a single latest-time block holds too few laundering rows to choose anything).
        let ordered = labelled.sorted { (t.time[$0], $0) < (t.time[$1], $1) }
        let K = max(2, min(o.folds, pos))
        let blocks = (0..<K).map { k in Array(ordered[(k * ordered.count / K)..<((k + 1) * ordered.count / K)]) }
        func gather(_ rows: [Int]) -> ([Float], [Float]) {
            var xs = [Float](); xs.reserveCapacity(rows.count * F)
            var ys = [Float](); ys.reserveCapacity(rows.count)
            for r in rows { xs.append(contentsOf: x[(r * F)..<((r + 1) * F)]); ys.append(t.label[r] == 1 ? 1 : 0) }
            return (xs, ys)
        }
        var topts = o.trees; topts.seed = o.seed
        let every = 10
        var oofRows: [Int] = [], oofY: [Float] = []
        var staged: [[Float]] = []   // [checkpoint][oof rows]
        for k in 0..<K {
            let trainRows = (0..<K).filter { $0 != k }.flatMap { blocks[$0] }
            let (xt, yt) = gather(trainRows), (xv, yv) = gather(blocks[k])
            if yt.reduce(0, +) == 0 { continue }
            let m = GradientBoostedTrees.train(x: xt, y: yt, features: F, options: topts)
            let sm = m.stagedMargins(xv, rows: blocks[k].count, every: every)
            if staged.isEmpty { staged = sm } else { for c in 0..<min(staged.count, sm.count) { staged[c] += sm[c] } }
            oofRows += blocks[k]; oofY += yv
            log("fold \(k + 1)/\(K): \(blocks[k].count) rows, \(Int(yv.reduce(0, +))) positive")
        }
        var bestC = staged.count - 1, bestAP: Float = -1
        for c in 0..<staged.count {
            let ap = RiskMetrics.averagePrecision(scores: staged[c], labels: oofY)
            if ap > bestAP + 1e-4 { bestAP = ap; bestC = c }
        }
        let treeCount = min(o.trees.rounds, (bestC + 1) * every)
        let oofTrees = staged[bestC].map { 1 / (1 + expf(-$0)) }
        var metrics: [String: Float] = [
            "trees_cv_pr_auc": bestAP,
            "trees_cv_roc_auc": RiskMetrics.rocAUC(scores: oofTrees, labels: oofY),
            "trees_count": Float(treeCount),
        ]
        log("cross-validated trees: \(treeCount) trees, out-of-fold PR-AUC \(bestAP)")
        var finalOpts = topts; finalOpts.rounds = treeCount
        let (xa, ya) = gather(ordered)
        let probe = GradientBoostedTrees.train(x: xa, y: ya, features: F, options: finalOpts)
        var bestScores = oofTrees
        var config = TransactionModelConfig()
        var gnnModel: EdgeGNN? = nil
        if o.useGNN {
            // The GNN is cross-validated on the same blocks (full-batch, so folds are cheap).
            var oofG = [Float](repeating: 0, count: oofRows.count)
            var at = 0
            for k in 0..<K {
                let trainRows = (0..<K).filter { $0 != k }.flatMap { blocks[$0] }
                if !trainRows.contains(where: { t.label[$0] == 1 }) { continue }
                var g = EdgeGNN(config: EdgeGNNConfig(inputFeatures: F), seed: o.seed &+ UInt64(k))
                g.fit(t, features: x, trainRows: trainRows, validationRows: [], epochs: o.gnnEpochs, log: { _ in })
                let q = g.predict(t, features: x, rows: blocks[k])
                for (j, v) in q.enumerated() { oofG[at + j] = v }
                at += blocks[k].count
            }
            let apG = RiskMetrics.averagePrecision(scores: oofG, labels: oofY)
            metrics["gnn_cv_pr_auc"] = apG
            metrics["gnn_cv_roc_auc"] = RiskMetrics.rocAUC(scores: oofG, labels: oofY)
            var bestW: Float = 0, bestBlendAP = bestAP
            for w: Float in [0.25, 0.5, 0.75, 1] {
                let s = (0..<oofTrees.count).map { (1 - w) * oofTrees[$0] + w * oofG[$0] }
                let ap = RiskMetrics.averagePrecision(scores: s, labels: oofY)
                if ap > bestBlendAP + 1e-4 { bestBlendAP = ap; bestW = w; bestScores = s }
            }
            config.gnnWeight = bestW
            config.scorer = bestW == 0 ? "trees" : (bestW == 1 ? "gnn" : "blend")
            log("out-of-fold PR-AUC: trees \(bestAP), gnn \(apG); using \(config.scorer) (gnn weight \(bestW))")
            if bestW > 0 {
                var g = EdgeGNN(config: EdgeGNNConfig(inputFeatures: F), seed: o.seed)
                g.fit(t, features: x, trainRows: ordered, validationRows: [], epochs: o.gnnEpochs, log: log)
                config.gnn = g.config
                gnnModel = g
            }
        }
        let (thr, f1) = RiskMetrics.bestF1Threshold(scores: bestScores, labels: oofY)
        metrics["cv_pr_auc"] = RiskMetrics.averagePrecision(scores: bestScores, labels: oofY)
        metrics["cv_f1"] = f1
        metrics["cv_recall_at_0.5pct"] = RiskMetrics.recallAtBudget(scores: bestScores, labels: oofY, budget: 0.005)
        config.threshold = thr
        config.trainRows = ordered.count
        config.trainPositives = pos
        config.validation = metrics
        var model = TransactionModel(config: config, trees: probe, gnn: gnnModel, history: nil)
        model.history = t.recent(days: config.historyDays)
        return (model, metrics)
    }

    // MARK: Saving and loading

    /// Writes `model.safetensors`, `config.json` and `history.csv` into `dir` (created if needed).
    public func save(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var tensors = trees.tensors()
        if let g = gnn { for (k, v) in g.tensors() { tensors[k] = v } }
        try Safetensors.write(tensors: tensors, metadata: ["format": "lepton-risk transactions v1"],
                              to: dir.appendingPathComponent(Self.weightsFile))
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try atomicWrite(try enc.encode(config), to: dir.appendingPathComponent(Self.configFile))
        if let h = history { try atomicWrite(Data(h.csv().utf8), to: dir.appendingPathComponent(Self.historyFile)) }
    }

    /// Reads a model folder written by `save(to:)`; strict: a missing, unused or mis-shaped tensor is an error.
    public static func load(from dir: URL) throws -> TransactionModel {
        let cfgURL = dir.appendingPathComponent(configFile)
        guard let data = try? Data(contentsOf: cfgURL) else { throw RiskError.badModel(path: dir.path, reason: "missing \(configFile)") }
        let config: TransactionModelConfig
        do { config = try JSONDecoder().decode(TransactionModelConfig.self, from: data) }
        catch { throw RiskError.badModel(path: cfgURL.path, reason: "unreadable config: \(error)") }
        guard config.kind == "transactions" else {
            throw RiskError.badModel(path: cfgURL.path, reason: "this is a \(config.kind) model; use --nodes/--edges for node models")
        }
        guard config.features == TransactionFeatures.names else {
            throw RiskError.badModel(path: cfgURL.path, reason: "feature list differs from this program's (\(config.features.count) vs \(TransactionFeatures.count))")
        }
        let wURL = dir.appendingPathComponent(weightsFile)
        let store: WeightStore
        do { store = try Safetensors.read(wURL) } catch { throw RiskError.badModel(path: wURL.path, reason: "\(error)") }
        let trees = try GradientBoostedTrees(store: store, features: TransactionFeatures.count, source: wURL.path)
        var gnn: EdgeGNN? = nil
        if config.gnnWeight > 0 {
            guard let gc = config.gnn else { throw RiskError.badModel(path: cfgURL.path, reason: "gnn weight set but no gnn config") }
            gnn = try EdgeGNN(config: gc, store: store, source: wURL.path)
        }
        if !store.unusedNames.isEmpty {
            throw RiskError.badModel(path: wURL.path, reason: "unused tensors: \(store.unusedNames.prefix(5).joined(separator: ", "))")
        }
        var history: TransactionTable? = nil
        let hURL = dir.appendingPathComponent(historyFile)
        if FileManager.default.fileExists(atPath: hURL.path) {
            var h = TransactionTable()
            do { try h.append(csv: hURL.path, sourceIndex: 0) } catch RiskError.empty(_) { } // empty history is fine
            history = h
        }
        return TransactionModel(config: config, trees: trees, gnn: gnn, history: history)
    }
}

func atomicWrite(_ data: Data, to url: URL) throws {
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    try data.write(to: tmp)
    if rename(tmp.path, url.path) != 0 {
        try? FileManager.default.removeItem(at: tmp)
        throw RiskError.unreadable(path: url.path, reason: "cannot write: \(String(cString: strerror(errno)))")
    }
}

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
        for i in rows {
            let a = t.accounts.intern(accountName(Int(src[i])))
            if Int(a) == t.bankOfAccount.count { t.bankOfAccount.append(t.banks.intern(String(accountName(Int(src[i])).split(separator: ":").first ?? ""))) }
            let b = t.accounts.intern(accountName(Int(dst[i])))
            if Int(b) == t.bankOfAccount.count { t.bankOfAccount.append(t.banks.intern(String(accountName(Int(dst[i])).split(separator: ":").first ?? ""))) }
            t.row.append(row[i]); t.source.append(source[i]); t.time.append(time[i]); t.src.append(a); t.dst.append(b)
            t.amountPaid.append(amountPaid[i]); t.amountReceived.append(amountReceived[i])
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
            s += "\(formatAmount(amountReceived[i])),\(Currency.names[Int(receiveCurrency[i])]),\(formatAmount(amountPaid[i])),"
            s += "\(Currency.names[Int(payCurrency[i])]),\(PaymentFormat.names[Int(format[i])]),\(lab)\n"
        }
        return s
    }
}

/// Two decimals for ordinary amounts, six significant digits for tiny ones (Bitcoin).
public func formatAmount(_ v: Float) -> String {
    v >= 1 ? String(format: "%.2f", Double(v)) : String(format: "%.6f", Double(v))
}
