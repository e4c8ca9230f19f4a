import ArgumentParser
import Foundation
import LeptonRisk
import LeptonRiskPostgres

/// How the transaction inputs of a command are read (`score`, `train`, `evaluate`, `explain`,
/// `stats`): a schema map for a bank's own layout and FX rates, applied to `--transactions` and
/// `--history` alike.
struct FeedOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Schema map (YAML) of the transactions' layout: columns, date formats, delimiter, header (default: the IBM AML layout).",
                               valueName: "map.yml"))
    var schema: String?
    @Option(help: ArgumentHelp("Exchange rates to US dollars by date range (CSV: currency,from,to,units_per_usd) instead of the fixed 2022-23 rates.",
                               valueName: "rates.csv"))
    var fx: String?
    @Option(help: ArgumentHelp("PostgreSQL: the longest one statement may run, also the longest wait for any answer (+5 s), so a silent network fails instead of hanging.",
                               valueName: "seconds"))
    var statementTimeout: Double = 600

    /// The schema and rates, read once.
    func reader() throws -> FeedReader {
        guard statementTimeout.isFinite && statementTimeout >= 0.1 && statementTimeout <= 86_400 else {
            throw usage("--statement-timeout must be between 0.1 and 86400 seconds, got \(statementTimeout)")
        }
        return FeedReader(schema: try schema.map(TransactionSchema.load) ?? .ibm, fx: try fx.map(FXRates.load),
                          statementTimeout: .milliseconds(Int64(statementTimeout * 1000)))
    }
}

/// The loaded ``FeedOptions``: makes the source a `--transactions` or `--history` value names.
struct FeedReader: Sendable {
    var schema: TransactionSchema
    var fx: FXRates?
    var statementTimeout: Duration

    /// A PostgreSQL feed URL parsed, with the statement timeout.
    func postgresFeed(_ location: String, option: String, allowQuery: Bool = true) throws -> PostgresFeed {
        var f = try PostgresFeed(parsing: location, option: option, allowQuery: allowQuery)
        f.statementTimeout = statementTimeout
        return f
    }

    /// A PostgreSQL table or query (`postgresql://…?table=NAME`), else a CSV file (plain or gzip).
    func source(_ location: String, option: String = "--transactions") throws -> any TransactionSource {
        if PostgresFeed.isURL(location) {
            return PostgresTransactionSource(try postgresFeed(location, option: option), schema: schema, fx: fx)
        }
        return TransactionFile(location, schema: schema, fx: fx)
    }

}
