import Foundation

/// Scores of the transactions of one input file, computed with the model's history as context.
public struct ScoredTransactions {
    /// All loaded transactions (history first, then the input file).
    public let table: TransactionTable
    /// Score of every loaded transaction.
    public let scores: [Float]
    /// Indices (into `table`) of the input file's transactions, in file order.
    public let inputRows: [Int]
    /// Skip report of the input file.
    public let skips: SkipReport
    /// Feature matrix `[table.count, TransactionFeatures.count]` (kept for explanations).
    public let features: [Float]
    /// Trees, propagation and GNN parts of `scores` (for explanations).
    public let parts: TransactionModel.ScoreParts

    /// Loads `path`, prepends the model's stored history that precedes the file in time (so
    /// window features see recent activity without retraining), and scores every row.
    public init(model: TransactionModel, path: String, useHistory: Bool = true) throws {
        var t = TransactionTable()
        var fresh = TransactionTable()
        let skips = try fresh.append(csv: path, sourceIndex: 1)
        if useHistory, let h = model.history, h.count > 0, let firstNew = fresh.time.min() {
            // Only history strictly before the new file: scoring the training file itself must
            // not see its own rows twice.
            t = h.subset((0..<h.count).filter { h.time[$0] < firstNew })
            for k in 0..<t.count { t.source[k] = 0 }
        }
        let offset = t.count
        t.appendRows(of: fresh)
        table = t
        features = TransactionFeatures.compute(t)
        parts = model.scoreParts(t, features: features)
        scores = parts.final
        inputRows = Array(offset..<t.count)
        self.skips = skips
    }

    /// Highest score among the input-file transactions each account sends or receives.
    public func accountScores() -> [(account: Int, score: Float)] {
        var best = [Float](repeating: -1, count: table.accountCount)
        for i in inputRows {
            let s = scores[i]
            let u = Int(table.src[i]), v = Int(table.dst[i])
            if s > best[u] { best[u] = s }
            if s > best[v] { best[v] = s }
        }
        return (0..<best.count).filter { best[$0] >= 0 }.map { ($0, best[$0]) }
    }
}

extension TransactionTable {
    /// Appends every transaction of `other`, re-interning its accounts.
    public mutating func appendRows(of other: TransactionTable) {
        var map = [Int32](repeating: -1, count: other.accountCount)
        for a in 0..<other.accountCount {
            let name = other.accountName(a)
            let before = accounts.count
            let id = accounts.intern(name)
            if accounts.count > before {
                bankOfAccount.append(banks.intern(String(name.split(separator: ":", maxSplits: 1).first ?? "")))
            }
            map[a] = id
        }
        for i in 0..<other.count {
            row.append(other.row[i]); source.append(other.source[i]); time.append(other.time[i])
            src.append(map[Int(other.src[i])]); dst.append(map[Int(other.dst[i])])
            amountPaid.append(other.amountPaid[i]); amountReceived.append(other.amountReceived[i])
            payCurrency.append(other.payCurrency[i]); receiveCurrency.append(other.receiveCurrency[i])
            format.append(other.format[i]); label.append(other.label[i])
        }
    }
}

/// A `--shard i/N` selection: row `r` belongs to shard `r mod N`.
public struct Shard: Sendable {
    public let index: Int
    public let count: Int

    /// Parses `i/N` with 0 ≤ i < N.
    public init(_ text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw RiskError.badArgument("--shard expects i/N with 0 ≤ i < N, got '\(text)'")
        }
        index = i; count = n
    }

    public func contains(_ row: Int) -> Bool { row % count == index }
}

/// Reads `row_index,pattern_id,typology` side files (simulate's and aml-sample's).
public func readPatternFile(_ path: String) throws -> [Int: String] {
    var out: [Int: String] = [:]
    var header = true
    try CSVStream(path: path).forEachRow { r in
        if header { header = false; return }
        guard r.count >= 3, let row = r.int(0) else {
            throw RiskError.malformedRow(path: path, line: r.line, reason: "expected row_index,pattern_id,typology")
        }
        out[row] = r.string(2)
    }
    if header { throw RiskError.empty(path: path) }
    return out
}

extension TransactionTable {
    /// Rows in the first `fraction` of the time span, and the rest (file order kept; `row` keeps
    /// the original data-row index).
    public func splitByTime(fraction: Double) -> (TransactionTable, TransactionTable) {
        guard let lo = time.min(), let hi = time.max() else { return (TransactionTable(), TransactionTable()) }
        let cut = Int32(Double(lo) + Double(hi - lo) * fraction)
        let order = (0..<count).sorted { row[$0] < row[$1] }
        return (subset(order.filter { time[$0] <= cut }), subset(order.filter { time[$0] > cut }))
    }
}
