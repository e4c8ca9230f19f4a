import Foundation
import LeptonRisk
import PostgresNIO

/// Transactions read from a PostgreSQL table or query (`--transactions postgresql://…?table=NAME`),
/// streamed through a server-side cursor in a read-only transaction: `FETCH` by ``batchSize``
/// rows, so memory holds one batch whatever the table's size.
///
/// Every column is cast to text on the server (`numeric`, `integer`, `timestamp` and `text`
/// columns alike) and read by the same ``TransactionIngest`` as a CSV file: without a schema map,
/// the columns are taken by position in the IBM layout whatever their names (a timestamp, from
/// bank, from account, to bank, to account, amount received, receiving currency, amount paid,
/// payment currency, payment format, and optionally the label); with one, the map names the
/// columns. `row` is the 0-based order in which the rows came (a table's physical order; give
/// `?query=… ORDER BY …` for a defined one).
public struct PostgresTransactionSource: TransactionSource {
    public let feed: PostgresFeed
    public var schema: TransactionSchema
    public var fx: FXRates?
    /// Rows per `FETCH`.
    public var batchSize = 10_000

    public init(_ feed: PostgresFeed, schema: TransactionSchema = .ibm, fx: FXRates? = nil) {
        self.feed = feed; self.schema = schema; self.fx = fx
    }

    public var name: String { feed.description }

    /// The SQL whose rows are the transactions.
    var selection: String { feed.quotedTable.map { "SELECT * FROM \($0)" } ?? feed.query! }

    /// - Parameter progress: called with the rows read so far, after each batch.
    public func append(to table: inout TransactionTable, sourceIndex: UInt8, progress: ((Int) -> Void)?) throws -> SkipReport {
        let connection = try feed.connect()
        let deadline = feed.answerDeadline
        defer { _ = try? feed.blocking { try await connection.close() } }
        let selection = self.selection
        // The column names (and count), from the first row: the cursor below renames them by
        // position, so a query may even repeat a name (two `Account` columns, as IBM's header).
        let names: [String] = try feed.blocking {
            try await connection.run("BEGIN READ ONLY", within: deadline, logger: riskLogger)
            try await connection.run("DECLARE lepton_probe NO SCROLL CURSOR FOR SELECT * FROM (\(selection)) AS src", within: deadline, logger: riskLogger)
            let first = try await connection.run("FETCH 1 FROM lepton_probe", within: deadline, logger: riskLogger)
            try await connection.run("CLOSE lepton_probe", within: deadline, logger: riskLogger)
            return first.first.map { row in row.map(\.columnName) } ?? []
        }
        guard !names.isEmpty else {
            _ = try? feed.blocking { try await connection.run("ROLLBACK", within: deadline, logger: riskLogger) }
            throw RiskError.empty(path: name)
        }
        let aliases = names.indices.map { "c\($0)" }
        let columns = aliases.map { "\($0)::text" }.joined(separator: ", ")
        let batch = batchSize
        var ingest = try TransactionIngest(schema: schema, fx: fx, source: name, sourceIndex: sourceIndex, header: names)
        var line = 0
        try feed.blocking {
            try await connection.run("DECLARE lepton_feed NO SCROLL CURSOR FOR SELECT \(columns) FROM (\(selection)) AS src(\(aliases.joined(separator: ", ")))",
                                     within: deadline, logger: riskLogger)
        }
        let width = names.count
        while true {
            let rows: PackedRows = try feed.blocking {
                var packed = PackedRows(width: width)
                for row in try await connection.run("FETCH \(batch) FROM lepton_feed", within: deadline, logger: riskLogger) {
                    for cell in row {
                        if let bytes = cell.bytes { bytes.withUnsafeReadableBytes { packed.append($0) } } else { packed.append(nil) }
                    }
                }
                return packed
            }
            if rows.count == 0 { break }
            rows.forEachRow(firstLine: line + 1) { ingest.add($0, to: &table) }
            line += rows.count
            progress?(line)
        }
        try feed.blocking { try await connection.run("COMMIT", within: deadline, logger: riskLogger) }
        return try ingest.finish()
    }
}
