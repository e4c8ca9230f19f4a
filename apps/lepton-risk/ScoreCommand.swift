import Algorithms
import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonRisk

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score transactions, accounts or graph nodes with a trained model, ranked by risk.",
        discussion: """
        Output is ranked (highest score first); `row` is the 0-based data row of the input file. \
        With --history (earlier transactions, e.g. the training file), the rows of the model's \
        history window before the file's first timestamp are context for the window features, \
        so new transactions are scored incrementally without retraining; the model folder \
        itself holds no transactions. With --json the first line names the model and counts \
        the skipped rows; then one line per result. Rows that cannot be read (unknown currency, \
        absurd amount, date outside 1900-2199) are skipped, counted on stderr, and make \
        the exit status 3. With --shard i/N only rows r with r mod N = i are printed (accounts: \
        account numbers, in order of first appearance; features still see the whole file), \
        each with its `rank` in the whole ranking (last JSON key or CSV column), so that \
        `lepton-risk merge` joins the N outputs into exactly this command's output without --shard.

        Feeds: --schema map.yml reads a bank's own layout (columns, date formats, delimiter; see \
        samples/risk/bank-map.yml), --fx rates.csv converts amounts with dated rates, a gzip file \
        is read as it streams, and --transactions postgresql://USER@HOST/DB?table=NAME (or \
        ?query=...) reads a table through a server-side cursor, its columns in the IBM order \
        whatever their names unless --schema names them. --alerts-to \
        postgresql://USER@HOST/DB?table=NAME writes the flagged transactions (within --top and \
        --shard) to that table, created if missing, keyed by model and transfer: re-running a \
        day updates its alerts instead of adding them twice. A password in a URL is never printed.

        Examples:
          lepton-risk score --model samples/risk/model \\
              --transactions samples/risk/test.csv \\
              --history samples/risk/train.csv --top 10 --json
          lepton-risk score --model samples/risk/model \\
              --transactions samples/risk/transactions.csv --accounts --top 20
          lepton-risk score --model samples/risk/model \\
              --transactions samples/risk/test.csv \\
              --history samples/risk/train.csv --accounts --budget 0.01 --json
          lepton-risk score --model samples/risk/model \\
              --transactions samples/risk/transactions.csv --shard 0/4 \\
              --json > /tmp/part0.jsonl
          lepton-risk score --model samples/risk/model \\
              --transactions samples/risk/bank-export.csv.gz \\
              --schema samples/risk/bank-map.yml --fx samples/risk/rates.csv --top 5
          lepton-risk score --model /tmp/yelp-model \\
              --edges ../shared/data/risk/yelpchi-reviews/reviews.csv \\
              --known-labels ../shared/data/risk/yelpchi-reviews/labels.csv --top 5

        Node and edge models (trained with --nodes/--edges) score every node or labelled-edge \
        item of the files; one whose cross-validation kept the known-label columns uses the \
        labels given with --known-labels (its neighbours' confirmed cases; an item's own label \
        never counts for itself) and scores as if none were known without it.
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Model folder written by `train`.") var model: String
    @Option(help: "Transactions to score (IBM AML CSV, or the layout --schema maps).") var transactions: String?
    @Option(help: "Earlier transactions used as context (e.g. the training file).") var history: String?
    @Option(help: "Node features CSV (node models).") var nodes: String?
    @Option(help: "Edges CSV (node and edge models).") var edges: String?
    @Option(help: ArgumentHelp("Labels already known (id,label[,split]; e.g. the training labels) for a node or edge model that uses them.",
                               valueName: "labels.csv")) var knownLabels: String?
    @Flag(help: "Score accounts (highest transaction score per account) instead of transactions.") var accounts = false
    @Option(help: "Print only the K highest scores.") var top: Int?
    @Option(help: ArgumentHelp("Print only the highest fraction F of what is scored (transactions, accounts, nodes): ceil(F x count), at least one; instead of --top.",
                               valueName: "F")) var budget: Double?
    @Option(help: "Print only scores at or above this value (also sets the `flagged` cut).") var threshold: Float?
    @Flag(help: "JSON lines output (default: CSV with a header).") var json = false
    @OptionGroup var sharding: ShardOptions
    @OptionGroup var feed: FeedOptions
    @Option(help: ArgumentHelp("Also write the flagged transactions (within --top and --shard) to a PostgreSQL table, idempotently.",
                               valueName: "postgresql://USER@HOST/DB?table=NAME"))
    var alertsTo: String?

    struct Summary: Encodable {
        var model: ModelIdentity
        var input: String
        var scored: Int
        var historyRows: Int?
        var threshold: Float
        var skipped: [SkipCount]
        /// Alerts written with --alerts-to.
        var alertsWritten: Int?
    }

    func run() throws {
        try runRisk(common) {
            let dir = URL(fileURLWithPath: model)
            let shardSel = try sharding.parsed()
            if let k = top, k < 1 { throw usage("--top must be at least 1, got \(k)") }
            if let f = budget { guard f > 0 && f <= 1 else { throw usage("--budget must be in (0, 1], got \(f)") } }
            if top != nil && budget != nil { throw usage("give --top or --budget, not both") }
            if let c = threshold, !c.isFinite { throw usage("--threshold must be a number") }
            let kind = try NodeModel.kind(of: dir)
            var out = StdoutBuffer()
            var ledger = SkipLedger()
            if kind == "transactions" {
                guard let tx = transactions else { throw usage("this model scores transactions: give --transactions FILE") }
                if knownLabels != nil { throw usage("--known-labels applies to node and edge models") }
                let m = try TransactionModel.load(from: dir)
                warnLegacyHistory(m, model)
                let identity = try modelIdentity(dir, log: !json)
                let reading = FileReadProgress()
                let reader = try feed.reader()
                let input = try reader.source(tx), past = try history.map { try reader.source($0, option: "--history") }
                let s = try ScoredTransactions(model: m, input: input, history: past, read: reading.update, log: reading.stage)
                reading.finish()
                if let h = past { ledger.add(h.name, s.historySkips) }
                ledger.add(input.name, s.skips)
                let cut = threshold ?? m.config.threshold
                let top = budget.map { budgetCount($0, of: accounts ? s.accountScores().count : s.inputRows.count) } ?? self.top
                if alertsTo != nil && accounts { throw usage("--alerts-to writes transaction alerts: leave out --accounts") }
                let written = try alertsTo.map { try writeAlerts(to: $0, s, cut: cut, top: top, shard: shardSel, model: identity, source: input.name, reader: reader) }
                if json {
                    out.line(try jsonLine(Summary(model: identity, input: input.name, scored: s.inputRows.count,
                                                  historyRows: history == nil ? nil : s.historyRows, threshold: cut, skipped: ledger.json,
                                                  alertsWritten: written)))
                }
                transactionResults(s, model: m, cut: cut, accounts: accounts, top: top, threshold: threshold, shard: shardSel, json: json) {
                    out.line($0)
                }
            } else {
                guard let e = edges else { throw usage("this model scores a graph: give --edges (and --nodes for node models)") }
                if alertsTo != nil { throw usage("--alerts-to writes transaction alerts: this model scores a graph") }
                if kind == "nodes" && nodes == nil { throw usage("this model scores nodes: give --nodes FILE") }
                let m = try NodeModel.load(from: dir)
                let identity = try modelIdentity(dir, log: !json)
                var g = try NodeGraph.load(nodes: kind == "nodes" ? nodes : nil, edges: e, labels: knownLabels)
                g.labelsOnEdges = kind == "edges"
                if let k = knownLabels, !m.config.knownLabels {
                    Log.info("note: this model does not use known labels (cross-validation did not keep them); \(k) is not read further")
                }
                if kind == "edges" && g.edgeIDs == nil { throw RiskError.badArgument("\(e): edge models need an id column first") }
                ledger.add([kind == "nodes" ? (nodes ?? e) : e, knownLabels].compactMap { $0 }.joined(separator: ", "), g.skips)
                let known = g.allKnownLabels()
                let scores = try m.score(g, known: known)
                let cut = threshold ?? m.threshold(known: known)
                let top = budget.map { budgetCount($0, of: g.itemCount) } ?? self.top
                var items = (0..<g.itemCount).filter { threshold == nil || scores[$0] >= threshold! }
                items.sort { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                let ranked = RankedSelection(items, shard: shardSel) { $0 }
                let key = kind == "nodes" ? "node" : "edge"
                if json {
                    out.line(try jsonLine(Summary(model: identity, input: e, scored: g.itemCount, historyRows: nil, threshold: cut,
                                                  skipped: ledger.json, alertsWritten: nil)))
                } else { out.line(ranked.csvHeader("\(key),score,flagged")) }
                for (rank, i) in ranked.top(top) {
                    let id = g.itemName(i)
                    // A plain JSON number only for ASCII digits without a leading zero ("007" and "½" are strings).
                    let plain = !id.isEmpty && id.count < 16 && id.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } && (id == "0" || !id.hasPrefix("0"))
                    let idJSON = plain ? id : jsonString(id)
                    if json { out.line(ranked.json("{\"\(key)\":\(idJSON),\"score\":\(fmt(scores[i])),\"flagged\":\(scores[i] >= cut)}", rank)) }
                    else { out.line(ranked.csv("\(id),\(fmt(scores[i])),\(scores[i] >= cut ? 1 : 0)", rank)) }
                }
            }
            out.flush()
            try ledger.finish()
        }
    }
}

/// The result lines of `score` for a transaction model (after the JSON summary line; a CSV header
/// first without `json`): transactions or, with `accounts`, accounts (each one's highest
/// transaction score), ranked highest first, at or above `threshold`, at most `top`, only the rows
/// of `shard`. Shared by `score` and `serve` (`POST /v1/score`), so both answer alike.
///
/// Each line goes to `emit` as soon as it is made (`score` writes it out: the output of millions
/// of rows is never held); JSON lines need their rows' features (typologies, reasons), computed
/// again a block of lines at a time.
func transactionResults(_ s: ScoredTransactions, model: TransactionModel, cut: Float, accounts: Bool, top: Int?,
                        threshold: Float?, shard: Shard?, json: Bool, emit: (String) -> Void) {
    let t = s.table
    if accounts {
        var list = s.accountScores().filter { threshold == nil || $0.score >= threshold! }
        list.sort { $0.score > $1.score }
        // A shard holds the accounts whose number (in order of first appearance) is its own.
        let ranked = RankedSelection(list, shard: shard) { $0.account }
        if !json { emit(ranked.csvHeader("account,bank,score,flagged")) }
        let shown = Array(ranked.top(top))
        // JSON names the transfers behind each account alert (its three highest-scored, by file row).
        let drivers = json ? s.accountDrivers(Set(shown.map { $0.element.account })) : [:]
        for (rank, (a, score)) in shown {
            let parts = t.accountName(a).split(separator: ":", maxSplits: 1).map(String.init)
            let bank = parts[0], acct = parts.count > 1 ? parts[1] : ""
            if json {
                let rows = (drivers[a] ?? []).map { i in
                    "{\"row\":\(t.row[i]),\"role\":\"\(Int(t.src[i]) == a ? "sender" : "receiver")\",\"score\":\(fmt(s.scores[i]))}"
                }
                emit(ranked.json("{\"account\":\(jsonString(acct)),\"bank\":\(jsonString(bank)),\"score\":\(fmt(score)),\"flagged\":\(score >= cut),"
                                 + "\"transactions\":[\(rows.joined(separator: ","))]}", rank))
            }
            else { emit(ranked.csv("\(acct),\(bank),\(fmt(score)),\(score >= cut ? 1 : 0)", rank)) }
        }
        return
    }
    let ranked = RankedSelection(rankedRows(s, threshold: threshold, top: shard == nil ? top : nil), shard: shard) { Int(t.row[Int($0)]) }
    if !json { emit(ranked.csvHeader("row,score,flagged,from,to")) }
    var cover: [Float]? = nil  // the attributions' background, computed once for all alerts
    let F = TransactionFeatures.count
    ranked.forEachBlock(top) { block in
        let x = json ? s.features(rows: block.map { Int($0.element) }) : []
        for (q, (rank, row)) in block.enumerated() {
            let i = Int(row), sc = s.scores[i]
            guard json else {
                emit(ranked.csv("\(t.row[i]),\(fmt(sc)),\(sc >= cut ? 1 : 0),\(t.accountName(Int(t.src[i]))),\(t.accountName(Int(t.dst[i])))", rank))
                continue
            }
            let xi = Array(x[(q * F)..<((q + 1) * F)])
            var reasons: [ScoreAttribution.Reason]? = nil
            // Every alert of a bounded list (--top, --budget) and every flagged row get their reasons.
            if sc >= cut || top != nil {
                if cover == nil { cover = s.attributionCover(model: model) }
                reasons = s.reasons(row: i, attribution: s.attribution(row: i, model: model, cover: cover!, features: xi), features: xi)
            }
            emit(ranked.json(transactionScoreJSON(s, row: i, cut: cut, reasons: reasons, features: xi), rank))
        }
    }
}

/// ``transactionResults(_:model:cut:accounts:top:threshold:shard:json:emit:)`` as an array (a
/// request's answer).
func transactionResultLines(_ s: ScoredTransactions, model: TransactionModel, cut: Float, accounts: Bool, top: Int?,
                            threshold: Float?, shard: Shard?, json: Bool) -> [String] {
    var lines: [String] = []
    transactionResults(s, model: model, cut: cut, accounts: accounts, top: top, threshold: threshold, shard: shard, json: json) {
        lines.append($0)
    }
    return lines
}

/// The input rows (table indices) scoring at or above `threshold`, best first, ties by row; with
/// `top` only the best `top`, selected without sorting every row.
func rankedRows(_ s: ScoredTransactions, threshold: Float?, top: Int?) -> [Int32] {
    let sc = s.scores
    let better: (Int32, Int32) -> Bool = { a, b in
        let x = sc[Int(a)], y = sc[Int(b)]
        return x > y || (x == y && a < b)
    }
    let rows = s.inputRows.lazy.map { Int32($0) }.filter { threshold == nil || sc[Int($0)] >= threshold! }
    if let k = top { return rows.min(count: k, sortedBy: better) }
    var all = Array(rows)
    all.sort(by: better)
    return all
}
