import Foundation

/// Scores of the transactions of one input file, computed with earlier transactions (the
/// caller's history file, if any) as context.
///
/// Holds the table, its account lists and aggregates (``TransactionFeatures/Computer``) and a few
/// floats a row (the score parts), never the `[transactions, features]` matrix: the features of
/// a row an alert needs are computed again (``features(rows:)``).
public struct ScoredTransactions {
    /// All loaded transactions (history first, then the input file).
    public let table: TransactionTable
    /// Score of every loaded transaction.
    public let scores: [Float]
    /// Indices (into `table`) of the input file's transactions, in file order.
    public let inputRows: Range<Int>
    /// Skip report of the input file.
    public let skips: SkipReport
    /// Skip report of the history file (empty without one).
    public let historySkips: SkipReport
    /// Rows of the history file used as context.
    public let historyRows: Int
    /// The table's account aggregates: features of any rows on demand.
    public let featureComputer: TransactionFeatures.Computer
    /// Trees, propagation and GNN parts of `scores` (for explanations).
    public let parts: TransactionModel.ScoreParts

    /// Loads `path`, prepends the rows of `history` (earlier transactions, e.g. the training
    /// file) from the model's `historyDays` before the file's first timestamp, so that window
    /// features see recent activity without retraining, and scores every row.
    ///
    /// Only history strictly before the new file is used: scoring the training file itself with
    /// itself as history must not see its rows twice.
    /// - Parameters:
    ///   - read: called with (path, bytes read so far) while files load, for progress.
    ///   - log: one line per finished stage (rows, features, scores) with its time.
    public init(model: TransactionModel, path: String, history: String? = nil,
                read: ((String, Int) -> Void)? = nil, log: (String) -> Void = { _ in }) throws {
        try self.init(model: model, input: TransactionFile(path), history: history.map { TransactionFile($0) }, read: read, log: log)
    }

    /// As ``init(model:path:history:read:log:)``, for transactions from any source (a mapped CSV
    /// file, a compressed one, a database table).
    public init(model: TransactionModel, input: any TransactionSource, history: (any TransactionSource)? = nil,
                read: ((String, Int) -> Void)? = nil, log: (String) -> Void = { _ in }) throws {
        var fresh = TransactionTable()
        var clock = Date()
        func stage(_ what: String) { log("\(what) in \(String(format: "%.2f", Date().timeIntervalSince(clock))) s"); clock = Date() }
        let path = input.name
        let skips = try input.append(to: &fresh, sourceIndex: 1, progress: read.map { r in { r(path, $0) } })
        stage("read \(fresh.count) transactions from \(path)")
        var historySkips = SkipReport()
        var t: TransactionTable
        if let hs = history, let firstNew = fresh.time.min() {
            var h = TransactionTable()
            let hp = hs.name
            historySkips = try hs.append(to: &h, sourceIndex: 0, progress: read.map { r in { r(hp, $0) } })
            let from = firstNew - Int32(model.config.historyDays * 1440)
            t = h.subset((0..<h.count).filter { h.time[$0] < firstNew && h.time[$0] >= from })
            t.appendRows(of: fresh)
        } else {
            t = fresh  // no copy: the input file is the whole table
        }
        let offset = t.count - fresh.count
        fresh = TransactionTable()  // its rows are in `t` now
        if history != nil { stage("kept \(offset) history rows from the \(model.config.historyDays) days before the file") }
        table = t
        featureComputer = TransactionFeatures.Computer(t)
        stage("account lists and aggregates for the features of \(t.count) transactions")
        parts = model.scoreParts(featureComputer)
        stage("scores")
        scores = parts.final
        inputRows = offset..<t.count
        historyRows = offset
        self.skips = skips
        self.historySkips = historySkips
    }

    /// Features of the table rows `rows` `[rows.count, TransactionFeatures.count]`, computed again.
    public func features(rows: [Int]) -> [Float] { featureComputer.rows(rows) }

    /// Features of table row `i` `[TransactionFeatures.count]`, computed again.
    public func features(row i: Int) -> [Float] { featureComputer.row(i) }

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

    /// The transfers behind account alerts: for each of `accounts`, its scored transactions (as
    /// sender or receiver) with the highest scores, highest first (the first is the one that gives
    /// the account its ``accountScores()`` score), at most `limit`. One pass over the rows.
    public func accountDrivers(_ accounts: Set<Int>, limit: Int = 3) -> [Int: [Int]] {
        var top: [Int: [Int]] = [:]
        func offer(_ a: Int, _ row: Int) {
            guard accounts.contains(a) else { return }
            var list = top[a, default: []]
            let at = list.firstIndex { scores[$0] < scores[row] } ?? list.count
            if at < limit { list.insert(row, at: at); if list.count > limit { list.removeLast() } }
            top[a] = list
        }
        for i in inputRows {
            offer(Int(table.src[i]), i)
            if table.dst[i] != table.src[i] { offer(Int(table.dst[i]), i) }
        }
        return top
    }
}

extension TransactionTable {
    /// Appends every transaction of `other`, re-interning its accounts.
    public mutating func appendRows(of other: TransactionTable) {
        // Currencies and payment formats beyond the IBM lists are numbered per table: by name.
        func names(_ mine: inout [String], _ theirs: [String]) -> [UInt8] {
            theirs.map { n in
                if let k = mine.firstIndex(of: n) { return UInt8(k) }
                mine.append(n)
                return UInt8(min(mine.count - 1, 255))
            }
        }
        let currencyMap = names(&currencyNames, other.currencyNames), formatMap = names(&formatNames, other.formatNames)
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
            amountPaid.append(other.amountPaid[i]); amountReceived.append(other.amountReceived[i]); amountUSD.append(other.amountUSD[i])
            payCurrency.append(currencyMap[Int(other.payCurrency[i])]); receiveCurrency.append(currencyMap[Int(other.receiveCurrency[i])])
            format.append(formatMap[Int(other.format[i])]); label.append(other.label[i])
        }
    }
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
