import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model on labelled data: minority F1, precision/recall, PR-AUC, ROC-AUC, recall at an alert budget.",
        discussion: """
        With --patterns (row_index,pattern_id,typology, as written by `simulate`), recall is also \
        given per laundering typology. For node data with a split column, rows whose split is not \
        `train` are evaluated (override with --split).

        Examples:
          lepton-risk evaluate --model model/ --transactions test.csv \\
              --patterns test-patterns.csv
          lepton-risk evaluate --model model/ --nodes features.csv \\
              --edges edges.csv --labels labels.csv --split valid --json
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Earlier transactions (e.g. the training file) as context: rows from the model's history window (14 days) before the file's first timestamp.") var history: String?
    @Option(help: "Model folder.") var model: String
    @Option(help: "Labelled transactions (IBM AML CSV).") var transactions: String?
    @Option(help: "Typology side file for per-typology recall.") var patterns: String?
    @Option(help: "Node features CSV.") var nodes: String?
    @Option(help: "Edges CSV.") var edges: String?
    @Option(help: "Labels CSV (node/edge data).") var labels: String?
    @Option(help: "Evaluate only labels of this split (node data).") var split: String?
    @Option(help: "Alert budget as a fraction of scored rows.") var budget: Double = 0.005
    @Option(help: "Decision threshold (default: the model's, chosen on validation).") var threshold: Float?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors(common) {
            guard budget > 0 && budget <= 1 else { throw RiskError.badArgument("--budget must be in (0, 1]") }
            let dir = URL(fileURLWithPath: model)
            let kind = try NodeModel.kind(of: dir)
            var scores: [Float] = [], ys: [Float] = [], typ: [Int: String] = [:]
            var cut: Float
            if kind == "transactions" {
                guard let tx = transactions else { throw RiskError.badArgument("give --transactions FILE") }
                let m = try TransactionModel.load(from: dir)
                let s = try ScoredTransactions(model: m, path: tx, history: history)
                reportSkips(tx, s.skips)
                let pat = try patterns.map { try readPatternFile($0) } ?? [:]
                for i in s.inputRows where s.table.label[i] >= 0 {
                    if let p = pat[Int(s.table.row[i])] { typ[scores.count] = p }
                    scores.append(s.scores[i]); ys.append(s.table.label[i] == 1 ? 1 : 0)
                }
                cut = threshold ?? m.config.threshold
            } else {
                guard let e = edges, let l = labels else { throw RiskError.badArgument("give --edges and --labels (and --nodes for node models)") }
                let m = try NodeModel.load(from: dir)
                let g = try NodeGraph.load(nodes: kind == "nodes" ? nodes : nil, edges: e, labels: l)
                let all = try m.score(g)
                let hasSplit = g.labelled.contains { !$0.split.isEmpty }
                for (item, label, sp) in g.labelled {
                    if let want = split { if sp != want { continue } } else if hasSplit && sp == "train" { continue }
                    scores.append(all[item]); ys.append(Float(label))
                }
                cut = threshold ?? m.config.threshold
            }
            if scores.isEmpty { throw RiskError.badArgument("no labelled rows to evaluate") }
            if ys.reduce(0, +) == 0 { throw RiskError.noPositiveLabels(path: transactions ?? labels ?? "") }
            let ev = RiskEvaluation(scores: scores, labels: ys, threshold: cut, budget: budget, typology: typ)
            if json {
                let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                emitLine(String(decoding: try enc.encode(ev), as: UTF8.self))
            } else { emitLine(ev.text) }
        }
    }
}
