import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a risk model on labelled transactions (IBM AML CSV) or on a node graph.",
        discussion: """
        Transactions: rows with a blank `Is Laundering` are used as graph context but not as labels. \
        The labelled rows are cut into 4 contiguous time blocks holding equal numbers of laundering \
        rows; each block is scored by models trained on the others. These out-of-fold scores choose \
        the number of trees, the neighbour-score propagation (how much the risk of the other \
        transfers of both accounts within ±3 days raises a transfer's score), the GNN blend weight \
        and the flagging threshold (best minority-class F1). The saved tree model is the ensemble \
        of the fold models.

        Examples:
          lepton-risk train --transactions train.csv --out model/
          lepton-risk train --nodes features.csv --edges edges.csv \\
              --labels labels.csv --out model/
        """)

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions
    @Option(help: "Labelled transactions in the IBM AML CSV schema.") var transactions: String?
    @Option(help: "Node features CSV (id column first, then numeric features).") var nodes: String?
    @Option(help: "Edges CSV (src,dst[,relation]).") var edges: String?
    @Option(help: "Node labels CSV (id,label[,split]).") var labels: String?
    @Option(help: "Output model folder.") var out: String
    @Option(help: "Boosting rounds of the tree model.") var trees: Int = 300
    @Option(help: "GNN training epochs (0 = trees only).") var gnnEpochs: Int = 60
    @Flag(help: "Give the GNN port numbers (which counterparty, in first-contact order) as edge inputs.") var portNumbers = false
    @Flag(help: "Do not propagate neighbours' scores (trees and GNN only).") var noPropagation = false

    func run() throws {
        try runReportingErrors(common) {
            let outURL = URL(fileURLWithPath: out)
            if let tx = transactions {
                var t = TransactionTable()
                let r = try t.append(csv: tx)
                reportSkips(tx, r)
                Log.info("loaded \(t.count) transactions, \(t.accountCount) accounts, \(t.positives) labelled positive")
                var o = TransactionModel.TrainOptions()
                o.seed = seeding.seed; o.trees.rounds = trees; o.useGNN = gnnEpochs > 0; o.gnnEpochs = gnnEpochs
                o.gnnPortNumbers = portNumbers; o.usePropagation = !noPropagation
                let (model, metrics) = try TransactionModel.train(t, source: tx, options: o, log: { Log.info($0) })
                try model.save(to: outURL)
                Log.info("validation: " + metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value))" }.joined(separator: ", "))
                Log.info("model written to \(out) (threshold \(fmt(model.config.threshold)), scorer \(model.config.scorer))")
            } else if let e = edges, let l = labels {
                let g = try NodeGraph.load(nodes: nodes, edges: e, labels: l)
                if nodes == nil && !g.labelsOnEdges {
                    throw RiskError.badArgument("without --nodes, the edges file must start with an edge id column that the labels name")
                }
                Log.info("loaded \(g.nodeCount) nodes, \(g.edgeCount) edges, \(g.labelled.count) labelled")
                var o = NodeModel.TrainOptions()
                o.seed = seeding.seed; o.trees.rounds = trees; o.gnnEpochs = gnnEpochs
                let (model, metrics) = try NodeModel.train(g, source: l, options: o, log: { Log.info($0) })
                try model.save(to: outURL)
                Log.info("validation: " + metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value))" }.joined(separator: ", "))
                Log.info("model written to \(out)")
            } else {
                throw RiskError.badArgument("give --transactions FILE, or --nodes, --edges and --labels (or --edges and --labels for labelled edges)")
            }
        }
    }
}
