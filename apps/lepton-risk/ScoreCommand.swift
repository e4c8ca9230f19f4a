import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score transactions, accounts or graph nodes with a trained model, ranked by risk.",
        discussion: """
        Transactions are scored together with the recent history stored in the model (rows before \
        the file's first timestamp), so new transactions are scored incrementally, without retraining. \
        Output is ranked (highest score first); `row` is the 0-based data row of the input file.

        Examples:
          lepton-risk score --model model/ --transactions new.csv --json
          lepton-risk score --model model/ --transactions new.csv --accounts --top 20
          lepton-risk score --model model/ --transactions big.csv --shard 0/4 \\
              --json > part0.jsonl
          lepton-risk score --model node-model/ --nodes features.csv \\
              --edges edges.csv --json
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Earlier transactions (e.g. the training file) as context: rows from the model's history window (14 days) before the file's first timestamp.") var history: String?
    @Option(help: "Model folder written by `train`.") var model: String
    @Option(help: "Transactions to score (IBM AML CSV).") var transactions: String?
    @Option(help: "Node features CSV (node models).") var nodes: String?
    @Option(help: "Edges CSV (node and edge models).") var edges: String?
    @Flag(help: "Score accounts (highest transaction score per account) instead of transactions.") var accounts = false
    @Option(help: "Print only the K highest scores.") var top: Int?
    @Option(help: "Print only scores at or above this value (also sets the `flagged` cut).") var threshold: Float?
    @Flag(help: "JSON lines output (default: CSV with a header).") var json = false
    @Option(help: "Score only rows r with r mod N = i (features still see the whole file).") var shard: String?

    func run() throws {
        try runReportingErrors(common) {
            let dir = URL(fileURLWithPath: model)
            let shardSel = try shard.map { try Shard($0) }
            if let k = top, k < 1 { throw RiskError.badArgument("--top must be ≥ 1") }
            let kind = try NodeModel.kind(of: dir)
            var out = StdoutBuffer()
            if kind == "transactions" {
                guard let tx = transactions else { throw RiskError.badArgument("this model scores transactions: give --transactions FILE") }
                let m = try TransactionModel.load(from: dir)
                let s = try ScoredTransactions(model: m, path: tx, history: history)
                reportSkips(tx, s.skips)
                let cut = threshold ?? m.config.threshold
                let t = s.table
                if accounts {
                    var list = s.accountScores().filter { threshold == nil || $0.score >= threshold! }
                    list.sort { $0.score > $1.score }
                    if let k = top { list = Array(list.prefix(k)) }
                    if !json { out.line("account,bank,score,flagged") }
                    for (a, score) in list {
                        let parts = t.accountName(a).split(separator: ":", maxSplits: 1).map(String.init)
                        let bank = parts[0], acct = parts.count > 1 ? parts[1] : ""
                        if json { out.line("{\"account\":\(jsonString(acct)),\"bank\":\(jsonString(bank)),\"score\":\(fmt(score)),\"flagged\":\(score >= cut)}") }
                        else { out.line("\(acct),\(bank),\(fmt(score)),\(score >= cut ? 1 : 0)") }
                    }
                } else {
                    var rows = s.inputRows.filter { (shardSel?.contains(Int(t.row[$0])) ?? true) && (threshold == nil || s.scores[$0] >= threshold!) }
                    rows.sort { s.scores[$0] > s.scores[$1] || (s.scores[$0] == s.scores[$1] && $0 < $1) }
                    if let k = top { rows = Array(rows.prefix(k)) }
                    if !json { out.line("row,score,flagged,from,to") }
                    for i in rows {
                        let sc = s.scores[i]
                        let from = t.accountName(Int(t.src[i])), to = t.accountName(Int(t.dst[i]))
                        if json { out.line("{\"row\":\(t.row[i]),\"score\":\(fmt(sc)),\"flagged\":\(sc >= cut),\"from\":\(jsonString(from)),\"to\":\(jsonString(to))}") }
                        else { out.line("\(t.row[i]),\(fmt(sc)),\(sc >= cut ? 1 : 0),\(from),\(to)") }
                    }
                }
            } else {
                guard let e = edges else { throw RiskError.badArgument("this model scores a graph: give --edges (and --nodes for node models)") }
                let m = try NodeModel.load(from: dir)
                if kind == "nodes" && nodes == nil { throw RiskError.badArgument("this model scores nodes: give --nodes FILE") }
                let g = try NodeGraph.load(nodes: kind == "nodes" ? nodes : nil, edges: e, labels: nil)
                var gg = g
                gg.labelsOnEdges = kind == "edges"
                if kind == "edges" && g.edgeIDs == nil { throw RiskError.badArgument("\(e): edge models need an id column first") }
                if gg.skips.total > 0 { Log.info("skipped \(gg.skips.total) malformed rows (\(gg.skips.summary))") }
                let scores = try m.score(gg)
                let cut = threshold ?? m.config.threshold
                var items = (0..<gg.itemCount).filter { (shardSel?.contains($0) ?? true) && (threshold == nil || scores[$0] >= threshold!) }
                items.sort { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                if let k = top { items = Array(items.prefix(k)) }
                let key = kind == "nodes" ? "node" : "edge"
                if !json { out.line("\(key),score,flagged") }
                for i in items {
                    let id = gg.itemName(i)
                    let idJSON = id.allSatisfy(\.isNumber) && !id.isEmpty && id.count < 16 ? id : jsonString(id)
                    if json { out.line("{\"\(key)\":\(idJSON),\"score\":\(fmt(scores[i])),\"flagged\":\(scores[i] >= cut)}") }
                    else { out.line("\(id),\(fmt(scores[i])),\(scores[i] >= cut ? 1 : 0)") }
                }
            }
            out.flush()
        }
    }
}
