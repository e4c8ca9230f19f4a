import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonRisk

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a risk model on labelled transactions (IBM AML CSV) or on a node graph.",
        discussion: """
        Transactions: rows with a blank `Is Laundering` are used as graph context but not as \
        labels. The labelled rows are cut into 4 contiguous time blocks holding equal numbers \
        of laundering rows; each block is scored by models trained on the others. These \
        out-of-fold scores choose the number of trees, the GNN layer (--gnn auto: GraphSAGE, \
        GCN and GAT each cross-validated, each one's PR-AUC reported), the neighbour-score propagation (how \
        much the risk of the other transfers of both accounts within ±3 days raises a \
        transfer's score), the GNN blend weight and the flagging threshold (best minority-class \
        F1). The saved tree model is the ensemble of the fold models. Training needs at least 2 \
        laundering and 2 normal labelled rows. The model folder holds weights and settings \
        only, no transactions or account ids: give `score --history` the training file (or \
        later transactions) as context instead. Beside the model, `model-card.json` and \
        `model-card.md` say what a reviewer signs off: the data's period and counts, the \
        choices cross-validation made and their scores, 95% bootstrap intervals of the final \
        out-of-fold PR-AUC and recall at a 0.5% budget, the threshold, software and model id.

        Examples:
          lepton-risk train --transactions samples/risk/train.csv \\
              --out /tmp/risk-model --trees 50 --gnn-epochs 0
          lepton-risk train --transactions samples/risk/train.csv \\
              --out /tmp/risk-model-gnn --trees 50 --gnn-epochs 10 --seed 3 --json
          lepton-risk train --transactions samples/risk/train.csv \\
              --out /tmp/risk-model --trees 50 --gnn-epochs 5 --logdir /tmp/risk-runs/1
          lepton-risk train --edges ../shared/data/risk/yelpchi-reviews/reviews.csv \\
              --labels ../shared/data/risk/yelpchi-reviews/labels.csv \\
              --out /tmp/yelp-model

        Node graphs (--nodes, --edges, --labels; or --edges whose first column is an edge id \
        and --labels naming edges, e.g. reviews between users and products): rows whose split \
        is `train` (all without a split column) are cut into 5 stratified folds. Besides the \
        own and neighbourhood columns, cross-validation tries the labels known of each item's \
        neighbours (of the other folds only; never an item's own) and keeps them when they \
        raise the out-of-fold ROC-AUC by more than 0.005; such a model also keeps trees trained \
        without them, for scoring when no label is known (`score --known-labels`). For that \
        case a second stage over the first stage's scores of each item's neighbours is tried \
        and kept by the same margin.

        With --logdir, the curves go to DIR/curves.csv and TensorBoard event files: per \
        checkpoint of the cross-validated trees (every 10 trees) the fold models' training \
        log-loss and the out-of-fold PR-AUC (ROC-AUC for node graphs), then per epoch the \
        final GNN's training loss.
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var seeding: SeedOptions
    @OptionGroup var log: TrainingLogOptions
    @OptionGroup var saving: SaveDTypeOptions
    @OptionGroup var feed: FeedOptions
    @Option(help: "Labelled transactions in the IBM AML CSV schema.") var transactions: String?
    @Option(help: "Node features CSV (id column first, then numeric features).") var nodes: String?
    @Option(help: "Edges CSV (src,dst[,relation]).") var edges: String?
    @Option(help: "Node labels CSV (id,label[,split]).") var labels: String?
    @Option(help: "Output model folder.") var out: String
    @Option(help: "Boosting rounds of the tree model (1 to 5000).") var trees: Int = 300
    @Option(help: "Depth of each tree (1 to 12; default 2, node graphs 4).") var depth: Int?
    @Option(help: "Boosting learning rate (above 0, at most 1; default 0.08, node graphs 0.05).") var learningRate: Float?
    @Option(help: "GNN training epochs (0 = trees only; at most 10000).") var gnnEpochs: Int = 60
    @Option(help: ArgumentHelp("GNN layer of the transaction model: sage, gcn, gat, or auto (each cross-validated, the best kept).",
                               valueName: "layer")) var gnn: String = "auto"
    @Option(help: ArgumentHelp("Also cross-validate a recurrent scorer over each sender's recent transfers (gru, lstm or none); blended in only when it helps.",
                               valueName: "cell")) var sequence: String = "none"
    @Option(help: ArgumentHelp("Labelled transactions of another graph (IBM AML CSV, e.g. from simulate) added to every fold's tree training rows; never scored.",
                               valueName: "file")) var extraTraining: String?
    @Option(help: ArgumentHelp("Write the out-of-fold scores the validation figures come from (CSV row,label,score; row = the file's 0-based data row).",
                               valueName: "file")) var outOfFold: String?
    @Flag(help: "Give the GNN port numbers (which counterparty, in first-contact order) as edge inputs.") var portNumbers = false
    @Flag(help: "Do not propagate neighbours' scores (trees and GNN only).") var noPropagation = false
    @Flag(help: "Print one JSON object (model, validation figures, skipped rows).") var json = false

    struct Summary: Encodable {
        var model: ModelIdentity
        var out: String
        var threshold: Float
        var scorer: String?
        var trainRows: Int
        var trainPositives: Int
        var validation: [String: Float]
        var skipped: [SkipCount]
    }

    func run() throws {
        try runRisk(common) {
            guard (1...5000).contains(trees) else { throw usage("--trees must be between 1 and 5000, got \(trees)") }
            if let d = depth, !(1...12).contains(d) { throw usage("--depth must be between 1 and 12, got \(d)") }
            if let r = learningRate, !(r > 0 && r <= 1) { throw usage("--learning-rate must be above 0 and at most 1, got \(r)") }
            guard (0...10_000).contains(gnnEpochs) else { throw usage("--gnn-epochs must be between 0 and 10000, got \(gnnEpochs)") }
            let outURL = URL(fileURLWithPath: out)
            var ledger = SkipLedger()
            var summary: Summary
            // One curve point per boosting checkpoint, then per GNN epoch (epoch = point number).
            let progress = try log.logdir.map { _ in
                try log.progress(epochs: (trees + 9) / 10 + gnnEpochs, stepsPerEpoch: 0, quiet: true)
            }
            let curve: TrainingCurve? = progress.map { p in { metrics in try p.endEpoch(metrics: metrics) } }
            if let tx = transactions {
                var t = TransactionTable()
                let reading = FileReadProgress()
                let input = try feed.reader().source(tx)
                ledger.add(input.name, try input.append(to: &t, sourceIndex: 0, progress: { reading.update(input.name, $0) }))
                reading.finish()
                Log.info("loaded \(t.count) transactions, \(t.accountCount) accounts, \(t.positives) labelled positive")
                var o = TransactionModel.TrainOptions()
                o.seed = seeding.seed; o.trees.rounds = trees; o.trees.depth = depth ?? o.trees.depth
                o.trees.learningRate = learningRate ?? o.trees.learningRate; o.useGNN = gnnEpochs > 0; o.gnnEpochs = gnnEpochs
                o.gnnPortNumbers = portNumbers; o.usePropagation = !noPropagation
                if gnn == "auto" { o.gnnCandidates = GraphConvKind.allCases }
                else if let kind = GraphConvKind(rawValue: gnn) { o.gnnConv = kind }
                else { throw usage("--gnn must be sage, gcn, gat or auto, got '\(gnn)'") }
                if sequence != "none" {
                    guard let cell = SequenceCell(rawValue: sequence) else { throw usage("--sequence must be gru, lstm or none, got '\(sequence)'") }
                    o.sequenceCell = cell
                }
                if let path = extraTraining {
                    var e = TransactionTable()
                    ledger.add(path, try TransactionFile(path).append(to: &e, sourceIndex: 0, progress: nil))
                    guard e.positives > 0 else { throw RiskError.noPositiveLabels(path: path) }
                    Log.info("extra training: \(e.count) transactions, \(e.positives) labelled positive")
                    o.extraTraining = ExtraTrainingRows(e)
                }
                if let path = outOfFold {
                    let fileRow = t.row, label = t.label
                    o.outOfFold = { rows, scores in
                        var csv = "row,label,score\n"
                        for (r, s) in zip(rows, scores) { csv += "\(fileRow[r]),\(label[r]),\(s)\n" }
                        try writeAtomically(Data(csv.utf8), to: URL(fileURLWithPath: path))
                    }
                }
                let (model, metrics) = try TransactionModel.train(t, source: input.name, options: o, log: { Log.info($0) }, curve: curve)
                try model.save(to: outURL, dtype: saving.saveDType)
                let card = ModelCard(model: model, identity: try modelIdentity(outURL), software: "lepton-risk \(leptonVersion)",
                                     source: input.name, skippedRows: ledger.json.reduce(0) { $0 + $1.rows }, extraSource: extraTraining)
                try writeAtomically(try card.json, to: outURL.appendingPathComponent("model-card.json"))
                try writeAtomically(Data(card.markdown.utf8), to: outURL.appendingPathComponent("model-card.md"))
                summary = Summary(model: try modelIdentity(outURL), out: out, threshold: model.config.threshold, scorer: model.config.scorer,
                                  trainRows: model.config.trainRows, trainPositives: model.config.trainPositives,
                                  validation: metrics, skipped: ledger.json)
            } else if let e = edges, let l = labels {
                guard extraTraining == nil else { throw usage("--extra-training applies to --transactions models") }
                guard outOfFold == nil else { throw usage("--out-of-fold applies to --transactions models") }
                guard gnn == "auto" || gnn == "sage" else { throw usage("--gnn applies to --transactions models (node graphs use GraphSAGE)") }
                let g = try NodeGraph.load(nodes: nodes, edges: e, labels: l)
                if nodes == nil && !g.labelsOnEdges {
                    throw usage("without --nodes, the edges file must start with an edge id column that the labels name")
                }
                ledger.add(l, g.skips)
                Log.info("loaded \(g.nodeCount) nodes, \(g.edgeCount) edges, \(g.labelled.count) labelled")
                var o = NodeModel.TrainOptions()
                o.seed = seeding.seed; o.trees.rounds = trees; o.trees.depth = depth ?? o.trees.depth
                o.trees.learningRate = learningRate ?? o.trees.learningRate; o.gnnEpochs = gnnEpochs
                let (model, metrics) = try NodeModel.train(g, source: l, options: o, log: { Log.info($0) }, curve: curve)
                try model.save(to: outURL, dtype: saving.saveDType)
                summary = Summary(model: try modelIdentity(outURL), out: out, threshold: model.config.threshold, scorer: nil,
                                  trainRows: g.labelled.count, trainPositives: g.labelled.filter { $0.label == 1 }.count,
                                  validation: metrics, skipped: ledger.json)
            } else {
                throw usage("give --transactions FILE, or --nodes, --edges and --labels (or --edges and --labels for labelled edges)")
            }
            if json {
                emitLine(try jsonLine(summary))
            } else {
                Log.info("validation: " + summary.validation.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value))" }.joined(separator: ", "))
                emitLine("model \(summary.model) written to \(out) (threshold \(fmt(summary.threshold))\(summary.scorer.map { ", scorer \($0)" } ?? ""))")
            }
            try ledger.finish()
        }
    }
}

