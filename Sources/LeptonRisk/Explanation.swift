import Foundation
import LeptonEngine

/// Why a transaction or an account scored as it did: its score as parts that add up (a typical
/// row's score, each feature's Shapley contribution in readable words, the graph parts), the neighbouring
/// transfers of both accounts within three days, and the laundering typologies the local
/// pattern matches (from the hand-made features: bursts, pass-through, cycles).
public struct Explanation {
    /// One part of the score: a feature (or the graph) and what it adds, in readable words.
    public struct Driver: Sendable {
        public var feature: String
        public var value: Float
        public var effect: Float
        public var reason: String
    }

    public var subject: String
    public var score: Float
    public var flagged: Bool
    /// The trees' score of a typical row of the loaded data; `baseline + Σ drivers' effects = score`.
    public var baseline: Float = 0
    /// The parts of the score: features by Shapley contribution, the rest, the graph parts.
    public var drivers: [Driver] = []
    public var edges: [(row: Int, from: String, to: String, time: String, amountUSD: Float, format: String, score: Float)] = []
    public var neighbours: [String] = []
    public var typologies: [String] = []

    public init(scored s: ScoredTransactions, model: TransactionModel, id: String) throws {
        let t = s.table
        var target: Int? = nil
        let rowText = id.hasPrefix("row:") ? String(id.dropFirst(4)) : id
        if let r = Int(rowText) {
            target = s.inputRows.first { Int(t.row[$0]) == r }
            if target == nil { throw RiskError.unknownID("row \(r) is not a data row of the file (or was skipped)") }
        }
        if let i = target {
            subject = "row \(t.row[i]): \(t.accountName(Int(t.src[i]))) → \(t.accountName(Int(t.dst[i])))"
            score = s.scores[i]
            flagged = score >= model.config.threshold
            (baseline, drivers) = Self.drivers(s, model: model, row: i)
            typologies = Self.typologies(s.features(row: i))
            edges = Self.neighbourhood(s, accounts: [Int(t.src[i]), Int(t.dst[i])], around: t.time[i])
        } else {
            // An account: `BANK:ACCOUNT` or a bare account number.
            var acct: Int? = t.accounts.lookup(id).map(Int.init)
            if acct == nil {
                acct = (0..<t.accountCount).first { t.accountName($0).split(separator: ":", maxSplits: 1).last.map(String.init) == id }
            }
            guard let a = acct else { throw RiskError.unknownID("\(id) is neither a data row nor an account of the file") }
            let mine = s.inputRows.filter { Int(t.src[$0]) == a || Int(t.dst[$0]) == a }
            guard let best = mine.max(by: { s.scores[$0] < s.scores[$1] }) else { throw RiskError.unknownID("\(id) has no transactions in the file") }
            subject = "account \(t.accountName(a)) (\(mine.count) transactions; riskiest: row \(t.row[best]))"
            score = s.scores[best]
            flagged = score >= model.config.threshold
            (baseline, drivers) = Self.drivers(s, model: model, row: best)
            var typ = Set<String>()
            for i in mine where s.scores[i] >= model.config.threshold || i == best {
                for name in Self.typologies(s.features(row: i)) { typ.insert(name) }
            }
            typologies = typ.sorted()
            edges = Self.neighbourhood(s, accounts: [a], around: t.time[best])
            var partners: [Int: Float] = [:]
            for i in mine { let p = Int(t.src[i]) == a ? Int(t.dst[i]) : Int(t.src[i]); partners[p] = max(partners[p] ?? 0, s.scores[i]) }
            neighbours = partners.sorted { $0.value > $1.value }.prefix(10).map { "\(t.accountName($0.key)) (max score \(String(format: "%.3f", $0.value)))" }
        }
    }

    /// The score of table row `i` as its parts (``ScoreAttribution``): the six features that
    /// moved it most, the other features together, then the graph parts; with ``baseline`` they
    /// add up to the score.
    static func drivers(_ s: ScoredTransactions, model: TransactionModel, row i: Int) -> (baseline: Float, drivers: [Driver]) {
        let F = TransactionFeatures.count
        let x = s.features(row: i)
        let a = s.attribution(row: i, model: model, cover: s.attributionCover(model: model), features: x)
        let order = (0..<F).sorted { abs(a.features[$0]) > abs(a.features[$1]) }
        var out = order.prefix(6).map { f in
            Driver(feature: TransactionFeatures.names[f], value: x[f], effect: a.features[f],
                   reason: TransactionFeatures.reason(feature: f, features: x, table: s.table, row: i))
        }
        let rest = order.dropFirst(6)
        out.append(Driver(feature: "other features", value: Float(rest.count), effect: rest.reduce(0) { $0 + a.features[$1] },
                          reason: "the other \(rest.count) features together"))
        if let nf = model.neighbourFeatures(s.featureComputer, trees: s.parts.trees, row: i), let agg = model.config.propagation,
           let column = ScorePropagation.names.firstIndex(of: agg) {
            let v = nf[column]
            out.append(Driver(feature: "neighbours' risk (\(agg))", value: v, effect: a.neighbours,
                              reason: String(format: "nearby transfers score up to %.3f", Double(v))))
        }
        if let q = s.parts.gnn {
            out.append(Driver(feature: "graph neural network score", value: q[i], effect: a.gnn,
                              reason: String(format: "the graph network scores this transfer %.3f", Double(q[i]))))
        }
        if let q = s.parts.sequence {
            out.append(Driver(feature: "account sequence score", value: q[i], effect: a.sequence,
                              reason: String(format: "the sender's recent sequence scores %.3f", Double(q[i]))))
        }
        return (a.baseline, out)
    }

    /// Typologies suggested by the local pattern of one transaction's features.
    public static func typologies(_ f: [Float]) -> [String] {
        let idx = Dictionary(uniqueKeysWithValues: TransactionFeatures.names.enumerated().map { ($1, $0) })
        func v(_ name: String) -> Float { f[idx[name]!] }
        var out: [String] = []
        let fanOut = v("src_out_partners_2d") >= logf(1 + 4), fanIn = v("dst_in_partners_2d") >= logf(1 + 4)
        let passOn = v("dst_passthrough_match") < 0.1 && v("dst_out_after_4d") > 0
        let fedIn = v("src_passthrough_match") < 0.1 && v("src_in_before_4d") > 0
        if v("cycle_back_to_src") > 0 { out.append("cycle (money returns to the sender in \(Int(v("cycle_length"))) hops)") }
        if fanOut && fanIn { out.append("scatter-gather / gather-scatter") }
        else if fanOut { out.append(passOn ? "scatter-gather (fan-out, then passed on)" : "fan-out") }
        else if fanIn { out.append(fedIn ? "gather-scatter (fan-in of forwarded money)" : "fan-in") }
        if passOn && fedIn && !fanOut && !fanIn { out.append("stack / random walk (layering: similar amounts passed along)") }
        else if passOn && !fanOut && !fanIn { out.append("pass-through (similar amount forwarded within 4 days)") }
        return out
    }

    static func neighbourhood(_ s: ScoredTransactions, accounts: [Int], around t0: Int32) -> [(Int, String, String, String, Float, String, Float)] {
        let t = s.table
        let set = Set(accounts)
        let rows = s.inputRows.filter { (set.contains(Int(t.src[$0])) || set.contains(Int(t.dst[$0]))) && abs(t.time[$0] - t0) <= 3 * 1440 }
        return rows.sorted { s.scores[$0] > s.scores[$1] }.prefix(10).map { i in
            (Int(t.row[i]), t.accountName(Int(t.src[i])), t.accountName(Int(t.dst[i])), formatTimestamp(Int(t.time[i])),
             t.usd(i), t.formatName(t.format[i]), s.scores[i])
        }
    }

    public var text: String {
        var s = "\(subject)\nscore \(String(format: "%.4f", score))\(flagged ? " (flagged)" : "")\n"
        s += "typology: " + (typologies.isEmpty ? "none detected" : typologies.joined(separator: "; ")) + "\n"
        s += String(format: "why: a typical transfer here scores %.4f; these parts add up to the score:\n", Double(baseline))
        for d in drivers {
            s += String(format: "  %+.4f  %@", Double(d.effect), d.reason)
            s += d.feature == "other features" ? "\n" : String(format: "  (%@ = %.3f)\n", d.feature, Double(d.value))
        }
        if !neighbours.isEmpty { s += "counterparties:\n" + neighbours.map { "  " + $0 }.joined(separator: "\n") + "\n" }
        s += "transfers within 3 days (highest scores):\n"
        for e in edges { s += String(format: "  row %d  %@  %@ → %@  %.2f USD  %@  score %.4f\n", e.row, e.time, e.from, e.to, Double(e.amountUSD), e.format, Double(e.score)) }
        return s.trimmingCharacters(in: .newlines)
    }

    public var json: String {
        func q(_ s: String) -> String { jsonStringLiteral(s) }
        func n(_ v: Float) -> String { v.isFinite ? String(format: "%.6g", Double(v)) : "0" }
        var s = "{\"subject\":\(q(subject)),\"score\":\(n(score)),\"flagged\":\(flagged),"
        s += "\"typologies\":[\(typologies.map(q).joined(separator: ","))],"
        s += "\"baseline\":\(n(baseline)),"
        s += "\"drivers\":[\(drivers.map { "{\"feature\":\(q($0.feature)),\"value\":\(n($0.value)),\"effect\":\(n($0.effect)),\"reason\":\(q($0.reason))}" }.joined(separator: ","))],"
        s += "\"counterparties\":[\(neighbours.map(q).joined(separator: ","))],"
        s += "\"edges\":[\(edges.map { "{\"row\":\($0.row),\"from\":\(q($0.from)),\"to\":\(q($0.to)),\"time\":\(q($0.time)),\"amount_usd\":\(n($0.amountUSD)),\"format\":\(q($0.format)),\"score\":\(n($0.score))}" }.joined(separator: ","))]}"
        return s
    }
}
