import Foundation
import LeptonPostgres
import LeptonRisk
import PostgresNIO

/// One alert as stored: the scored transfer, its score and the model that gave it.
public struct AlertRecord: Sendable, Equatable {
    /// The model's identity (`ModelIdentity`'s text).
    public var model: String
    /// Natural key of the transaction (see ``PostgresAlertSink/transactionKeys(_:rows:)``).
    public var key: String
    public var row: Int
    public var source: String
    public var time: String
    public var from: String
    public var to: String
    public var amount: Double
    public var currency: String
    public var amountUSD: Double
    public var format: String
    public var score: Double
    public var threshold: Double
    public var typologies: String
    public var label: Int?
}

/// Writes alerts to a PostgreSQL table (`score --alerts-to postgresql://…?table=alerts`):
/// created when missing, one transaction per batch of ``batchSize`` alerts, and idempotent:
/// the primary key is (model, transaction key), so re-running a day's file updates its alerts
/// (`ON CONFLICT … DO UPDATE`) instead of adding them again.
public struct PostgresAlertSink {
    public let feed: PostgresFeed
    /// Alerts per transaction (and per INSERT statement).
    public var batchSize = 1_000

    /// - Throws: `RiskError.badArgument` unless the URL names a table (`?table=NAME`).
    public init(_ feed: PostgresFeed) throws {
        guard feed.table != nil else { throw RiskError.badArgument("--alerts-to: give ?table=NAME (alerts are written to a table)") }
        self.feed = feed
    }

    /// The table's columns, in INSERT order.
    static let columns = ["model", "tx_key", "row_index", "source", "tx_time", "from_account", "to_account", "amount", "currency",
                          "amount_usd", "payment_format", "score", "threshold", "typologies", "label"]

    /// Writes `alerts`; returns how many rows were inserted or updated.
    @discardableResult
    public func write(_ alerts: [AlertRecord]) throws -> Int {
        let table = feed.quotedTable!
        let connection = try feed.connect()
        let deadline = feed.answerDeadline
        defer { _ = try? feed.blocking { try await connection.close() } }
        try feed.blocking {
            try await connection.run("""
                CREATE TABLE IF NOT EXISTS \(table) (
                    model text NOT NULL, tx_key text NOT NULL, row_index integer NOT NULL, source text NOT NULL,
                    tx_time timestamp NOT NULL, from_account text NOT NULL, to_account text NOT NULL,
                    amount double precision NOT NULL, currency text NOT NULL, amount_usd double precision NOT NULL,
                    payment_format text NOT NULL, score double precision NOT NULL, threshold double precision NOT NULL,
                    typologies text NOT NULL, label smallint, written_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (model, tx_key))
                """, within: deadline, logger: riskLogger)
        }
        let updates = Self.columns.dropFirst(2).map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
        var written = 0
        var start = 0
        while start < alerts.count {
            let chunk = Array(alerts[start..<min(start + batchSize, alerts.count)])
            var bindings = PostgresBindings(capacity: chunk.count * Self.columns.count)
            var tuples: [String] = []
            for (k, a) in chunk.enumerated() {
                let n = Self.columns.count, b = k * n
                tuples.append("(" + (1...n).map { i in i == 5 ? "$\(b + i)::timestamp" : "$\(b + i)" }.joined(separator: ", ") + ")")
                bindings.append(a.model); bindings.append(a.key); bindings.append(a.row); bindings.append(a.source)
                // IBM's `YYYY/MM/DD HH:MM`, which PostgreSQL reads as a timestamp.
                bindings.append(a.time); bindings.append(a.from); bindings.append(a.to); bindings.append(a.amount)
                bindings.append(a.currency); bindings.append(a.amountUSD); bindings.append(a.format); bindings.append(a.score)
                bindings.append(a.threshold); bindings.append(a.typologies); bindings.append(a.label)
            }
            let sql = "INSERT INTO \(table) (\(Self.columns.joined(separator: ", "))) VALUES \(tuples.joined(separator: ", ")) "
                + "ON CONFLICT (model, tx_key) DO UPDATE SET \(updates), written_at = now()"
            let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
            try feed.blocking {
                try await connection.run("BEGIN", within: deadline, logger: riskLogger)
                do {
                    _ = try await connection.answeredQuery(query, logger: riskLogger, deadline: deadline).collect()
                    try await connection.run("COMMIT", within: deadline, logger: riskLogger)
                } catch {
                    _ = try? await connection.run("ROLLBACK", within: deadline, logger: riskLogger)
                    throw error
                }
            }
            written += chunk.count
            start += batchSize
        }
        return written
    }

    /// A key per input transaction that names the transfer, not its place in a file, so the
    /// same transfer read again (tomorrow's re-run, another export) gets the same key:
    /// `time|from|to|amount paid currency|format`, with `#n` for the n-th identical transfer of the
    /// input (n ≥ 2), in ``ScoredTransactions/inputRows`` order.
    /// Only the keys of `rows` and of the transfers identical to them are kept when `rows` is given
    /// (a file of millions of rows with a few alerts keeps a few keys).
    public static func transactionKeys(_ s: ScoredTransactions, rows: [Int]? = nil) -> [Int: String] {
        let t = s.table
        func key(_ i: Int) -> String {
            "\(formatTimestamp(Int(t.time[i])))|\(t.accountName(Int(t.src[i])))|\(t.accountName(Int(t.dst[i])))|"
                + "\(formatAmount(t.amountPaid[i])) \(t.currencyName(t.payCurrency[i]))|\(t.formatName(t.format[i]))"
        }
        let wanted = rows.map { Set($0.map(key)) }
        var seen: [String: Int] = [:]
        var out: [Int: String] = [:]
        for i in s.inputRows {
            let base = key(i)
            if let wanted, !wanted.contains(base) { continue }
            seen[base, default: 0] += 1
            let n = seen[base]!
            out[i] = n == 1 ? base : "\(base)#\(n)"
        }
        return out
    }

    /// The alert records of table rows `rows` of `s` (indices into `s.table`), read from `source`.
    public static func records(_ s: ScoredTransactions, rows: [Int], model: String, threshold: Float, source: String) -> [AlertRecord] {
        let keys = transactionKeys(s, rows: rows)
        let t = s.table, F = TransactionFeatures.count
        let x = s.features(rows: rows)  // the alerts' features (typologies), computed again at once
        return rows.enumerated().map { q, i in
            let d = s.alertDetails(i, features: Array(x[(q * F)..<((q + 1) * F)]))
            return AlertRecord(model: model, key: keys[i] ?? "", row: Int(t.row[i]), source: source, time: d.time,
                               from: t.accountName(Int(t.src[i])), to: t.accountName(Int(t.dst[i])), amount: d.amount,
                               currency: d.currency, amountUSD: Double(d.amountUSD), format: d.format, score: Double(s.scores[i]),
                               threshold: Double(threshold), typologies: d.typologies.joined(separator: "; "), label: d.label)
        }
    }
}
