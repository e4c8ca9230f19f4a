import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonRisk

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model on labelled data: minority F1, precision/recall, PR-AUC, ROC-AUC, recall at an alert budget.",
        discussion: """
        Precision, recall and recall at the budget come with 95% Wilson intervals, PR-AUC and \
        recall at the budget also with bootstrap percentile intervals (--bootstrap resamples of \
        the evaluated rows, drawn with --seed: the same seed gives the same intervals); with \
        fewer than 30 positives a warning on stderr says the figures are rough. With --patterns \
        (row_index,pattern_id,typology, as written by `simulate`), recall is also given per \
        laundering typology. For node data with a split column, rows whose split is not `train` \
        are evaluated (override with --split); a model that uses known labels (see `train`) \
        is given the `train` rows' labels as known, never an evaluated row's \
        (--without-known-labels: none, as `score` without --known-labels).

        Examples:
          lepton-risk evaluate --model samples/risk/model \\
              --transactions samples/risk/test.csv \\
              --history samples/risk/train.csv \\
              --patterns samples/risk/test-patterns.csv
          lepton-risk evaluate --model samples/risk/model \\
              --transactions samples/risk/test.csv \\
              --history samples/risk/train.csv --budget 0.02 --json
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var feed: FeedOptions
    @OptionGroup var seeding: SeedOptions
    @Option(help: "Bootstrap resamples for the 95% intervals of PR-AUC and recall at the budget (0: none).")
    var bootstrap: Int = 1000
    @Option(help: "Model folder.") var model: String
    @Option(help: "Labelled transactions (IBM AML CSV).") var transactions: String?
    @Option(help: "Earlier transactions used as context (e.g. the training file).") var history: String?
    @Option(help: "Typology side file for per-typology recall.") var patterns: String?
    @Option(help: "Node features CSV.") var nodes: String?
    @Option(help: "Edges CSV.") var edges: String?
    @Option(help: "Labels CSV (node/edge data).") var labels: String?
    @Option(help: "Evaluate only labels of this split (node data).") var split: String?
    @Flag(help: "Give a node model no known labels (not even the train rows').") var withoutKnownLabels = false
    @Option(help: "Alert budget as a fraction of scored rows.") var budget: Double = 0.005
    @Option(help: "Decision threshold (default: the model's, chosen on validation).") var threshold: Float?
    @Flag(help: "Print one JSON object.") var json = false

    /// The JSON form: the figures, the model that made them, the skipped rows.
    struct Report: Encodable {
        var evaluation: RiskEvaluation
        var model: ModelIdentity
        var skipped: [SkipCount]
        func encode(to encoder: Encoder) throws {
            try evaluation.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(model, forKey: .model); try c.encode(skipped, forKey: .skipped)
        }
        enum Keys: String, CodingKey { case model, skipped }
    }

    func run() throws {
        try runRisk(common) {
            guard budget > 0 && budget <= 1 else { throw usage("--budget must be in (0, 1], got \(budget)") }
            guard (0...100_000).contains(bootstrap) else { throw usage("--bootstrap must be between 0 and 100000, got \(bootstrap)") }
            if let c = threshold, !c.isFinite { throw usage("--threshold must be a number") }
            let dir = URL(fileURLWithPath: model)
            let kind = try NodeModel.kind(of: dir)
            var scores: [Float] = [], ys: [Float] = [], typ: [Int: String] = [:]
            var cut: Float
            var ledger = SkipLedger()
            let identity: ModelIdentity
            var inputName = labels ?? ""   // a database URL is shown without its password
            if kind == "transactions" {
                guard let tx = transactions else { throw usage("this model scores transactions: give --transactions FILE") }
                if withoutKnownLabels { throw usage("--without-known-labels applies to node and edge models") }
                let m = try TransactionModel.load(from: dir)
                warnLegacyHistory(m, model)
                identity = try modelIdentity(dir)
                let reading = FileReadProgress()
                let reader = try feed.reader()
                let input = try reader.source(tx), past = try history.map { try reader.source($0, option: "--history") }
                let s = try ScoredTransactions(model: m, input: input, history: past, read: reading.update, log: reading.stage)
                reading.finish()
                if let h = past { ledger.add(h.name, s.historySkips) }
                ledger.add(input.name, s.skips)
                inputName = input.name
                let pat = try patterns.map { try readPatternFile($0) } ?? [:]
                for i in s.inputRows where s.table.label[i] >= 0 {
                    if let p = pat[Int(s.table.row[i])] { typ[scores.count] = p }
                    scores.append(s.scores[i]); ys.append(s.table.label[i] == 1 ? 1 : 0)
                }
                cut = threshold ?? m.config.threshold
            } else {
                guard let e = edges, let l = labels else { throw usage("give --edges and --labels (and --nodes for node models)") }
                let m = try NodeModel.load(from: dir)
                identity = try modelIdentity(dir)
                let g = try NodeGraph.load(nodes: kind == "nodes" ? nodes : nil, edges: e, labels: l)
                ledger.add(l, g.skips)
                let known = withoutKnownLabels ? nil : g.knownLabelsForEvaluation(split: split)
                let all = try m.score(g, known: known)
                let hasSplit = g.labelled.contains { !$0.split.isEmpty }
                for (item, label, sp) in g.labelled {
                    if let want = split { if sp != want { continue } } else if hasSplit && sp == "train" { continue }
                    scores.append(all[item]); ys.append(Float(label))
                }
                cut = threshold ?? m.threshold(known: known)
            }
            if scores.isEmpty { throw RiskError.badArgument("\(inputName): no labelled rows to evaluate") }
            if ys.reduce(0, +) == 0 {
                throw RiskError.badArgument("\(inputName): no positive labels among the evaluated rows: recall and PR-AUC are undefined")
            }
            let ev = try RiskEvaluation(scores: scores, labels: ys, threshold: cut, budget: budget, typology: typ,
                                        resamples: bootstrap, seed: seeding.seed)
            for w in ev.warnings { Log.info("warning: \(w)") }
            if json {
                emitLine(try jsonLine(Report(evaluation: ev, model: identity, skipped: ledger.json)))
            } else {
                emitLine("model \(identity)")
                emitLine(ev.text)
            }
            try ledger.finish()
        }
    }
}
