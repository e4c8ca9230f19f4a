import Foundation
import LeptonEngine

/// The model card `train` writes beside a transaction model (`model-card.json` and
/// `model-card.md`): what a model-risk reviewer signs off. The data it learned from (period and
/// counts, no row or account), its inputs, the choices cross-validation made with the scores that
/// made them, the threshold and alert budget, how sure the validation figures are, and which
/// software and model id produced it. Every `score`, `evaluate` and `explain` output names the
/// same model id.
public struct ModelCard: Encodable, Sendable {
    public struct DataFacts: Encodable, Sendable {
        public var source: String
        public var periodStart: String?
        public var periodEnd: String?
        public var rows: Int?
        public var labelledRows: Int
        public var positives: Int
        public var accounts: Int?
        public var skippedRows: Int
        /// Labelled rows of another graph (`train --extra-training`) the trees also learned from.
        public var extraTraining: ExtraTraining?
    }

    public struct ExtraTraining: Encodable, Sendable {
        public var source: String
        public var labelledRows: Int
        public var positives: Int
    }

    public struct Choices: Encodable, Sendable {
        public var scorer: String
        public var trees: Int?
        public var treeDepth: Int?
        public var treeLearningRate: Float?
        public var propagation: String?
        public var propagationWeight: Float?
        public var gnnLayer: String?
        public var gnnWeight: Float
        public var sequence: String?
        public var sequenceWeight: Float?
        public var folds: Int?
    }

    public var model: ModelIdentity
    public var software: String
    public var data: DataFacts
    public var features: [String]
    public var choices: Choices
    /// Cross-validated (out-of-fold) figures of every candidate, as training logged them.
    public var validation: [String: Float]
    public var intervals: BootstrapIntervals?
    public var threshold: Float
    public var budget: Double?
    public var limitations: [String]

    /// The card of `model` (saved, so that `identity` names its files).
    /// - Parameter extraSource: names the `--extra-training` file, whose counts the validation figures hold.
    public init(model m: TransactionModel, identity: ModelIdentity, software: String, source: String, skippedRows: Int,
                extraSource: String? = nil) {
        let c = m.config, facts = c.training
        model = identity
        self.software = software
        let extra = extraSource.flatMap { src in
            c.validation["extra_training_rows"].map {
                ExtraTraining(source: src, labelledRows: Int($0), positives: Int(c.validation["extra_training_positives"] ?? 0))
            }
        }
        data = DataFacts(source: source, periodStart: facts?.periodStart, periodEnd: facts?.periodEnd, rows: facts?.rows,
                         labelledRows: c.trainRows, positives: c.trainPositives, accounts: facts?.accounts, skippedRows: skippedRows,
                         extraTraining: extra)
        features = c.features
        choices = Choices(scorer: c.scorer, trees: c.validation["trees_count"].map { Int($0) }, treeDepth: c.treeDepth,
                          treeLearningRate: c.treeLearningRate, propagation: c.propagation,
                          propagationWeight: c.propagationWeight, gnnLayer: c.gnn.map { "\($0.conv ?? .sage)" },
                          gnnWeight: c.gnnWeight, sequence: c.sequence.map { "\($0.cell)" }, sequenceWeight: c.sequenceWeight,
                          folds: facts?.folds)
        validation = c.validation
        intervals = facts?.intervals
        threshold = c.threshold
        budget = facts?.budget
        limitations = [
            "Validated on time blocks of the training file only: figures on a later period or another bank's data can be lower; measure them with `lepton-risk evaluate`.",
            "Synthetic or partly labelled training data under-represents typologies it does not contain.",
            "Scores rank transfers for review by an analyst; they are not a decision on a customer.",
            "The model folder holds weights and settings only; scoring new transactions needs the accounts' recent transactions as history.",
        ]
    }

    /// The card as pretty-printed JSON (sorted keys, snake_case).
    public var json: Data {
        get throws {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.keyEncodingStrategy = .convertToSnakeCase
            return try enc.encode(self) + Data("\n".utf8)
        }
    }

    /// The card as Markdown, for a reviewer.
    public var markdown: String {
        func f(_ v: Float?) -> String { v.map { String(format: "%.4f", Double($0)) } ?? "—" }
        func pct(_ v: Double?) -> String { v.map { String(format: "%g%%", $0 * 100) } ?? "—" }
        var s = "# Model card: \(model)\n\n"
        s += "Written by \(software) when the model was trained. Decision support for AML analysts: scores rank transfers for review.\n\n"
        s += "## Data\n\n| | |\n|---|---|\n"
        s += "| source | `\(data.source)` |\n"
        s += "| period (labelled rows) | \(data.periodStart ?? "—") to \(data.periodEnd ?? "—") |\n"
        s += "| rows loaded | \(data.rows.map(String.init) ?? "—") |\n"
        s += "| labelled rows | \(data.labelledRows) |\n"
        s += "| laundering rows | \(data.positives) |\n"
        s += "| accounts | \(data.accounts.map(String.init) ?? "—") |\n"
        s += "| rows skipped | \(data.skippedRows) |\n"
        if let e = data.extraTraining {
            s += "| extra training rows (trees only, never validated on) | \(e.labelledRows), \(e.positives) laundering, from `\(e.source)` |\n"
        }
        s += "\n"
        s += "## Choices made by cross-validation (\(choices.folds.map { "\($0) time blocks" } ?? "time blocks"))\n\n"
        s += "| choice | value |\n|---|---|\n"
        s += "| scorer | \(choices.scorer) |\n"
        s += "| trees | \(choices.trees.map(String.init) ?? "—")\(choices.treeDepth.map { ", depth \($0)" } ?? "")\(choices.treeLearningRate.map { ", learning rate \(f($0))" } ?? "") |\n"
        s += "| neighbour-score propagation | \(choices.propagation ?? "none")\(choices.propagationWeight.map { " (β \(f($0)))" } ?? "") |\n"
        s += "| GNN | \(choices.gnnLayer ?? "none"), blend weight \(f(choices.gnnWeight)) |\n"
        s += "| account sequence | \(choices.sequence ?? "none")\(choices.sequenceWeight.map { ", blend weight \(f($0))" } ?? "") |\n"
        s += "| flagging threshold (best out-of-fold F1) | \(f(threshold)) |\n"
        s += "| alert budget reported | \(pct(budget)) of rows |\n\n"
        s += "## Validation (out-of-fold)\n\n"
        if let i = intervals {
            s += "Final scorer, 95% bootstrap intervals (\(i.resamples) resamples, seed \(i.seed)): "
            s += "PR-AUC \(f(validation["cv_pr_auc"])) [\(f(i.prAUC[0])), \(f(i.prAUC[1]))], "
            s += "recall at the budget \(f(validation["cv_recall_at_0.5pct"])) [\(f(i.recallAtBudget[0])), \(f(i.recallAtBudget[1]))].\n\n"
        }
        s += "| figure | value |\n|---|---|\n"
        for (k, v) in validation.sorted(by: { $0.key < $1.key }) { s += "| \(k) | \(f(v)) |\n" }
        s += "\n## Inputs (\(features.count) features per transfer)\n\n"
        s += features.map { "`\($0)`" }.joined(separator: ", ") + "\n\n"
        s += "## Limitations\n\n" + limitations.map { "- \($0)\n" }.joined()
        return s
    }
}
