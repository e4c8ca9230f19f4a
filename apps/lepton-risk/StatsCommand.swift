import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

/// Loads a transaction file and prints what is in it (the quickest check of a new export).
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Load transactions (IBM AML CSV) and print counts: rows, accounts, labels, time span, skipped rows, load time.",
        discussion: """
        Only loads the file (streamed); nothing is trained or scored. Malformed rows are counted \
        by reason, as every other command does.

        Examples:
          lepton-risk stats --transactions samples/risk/transactions.csv
          lepton-risk stats --transactions big.csv --json
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Transactions in the IBM AML CSV schema.") var transactions: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors(common) {
            let start = Date()
            var t = TransactionTable()
            let skips = try t.append(csv: transactions)
            let seconds = Date().timeIntervalSince(start)
            reportSkips(transactions, skips)
            let first = t.time.min().map { formatTimestamp(Int($0)) } ?? ""
            let last = t.time.max().map { formatTimestamp(Int($0)) } ?? ""
            let unlabelled = t.count - t.positives - t.negatives
            if json {
                emitLine("{\"rows\":\(t.count),\"accounts\":\(t.accountCount),\"laundering\":\(t.positives),\"normal\":\(t.negatives),"
                         + "\"unlabelled\":\(unlabelled),\"skipped\":\(skips.total),\"first\":\(jsonString(first)),\"last\":\(jsonString(last)),"
                         + "\"load_seconds\":\(String(format: "%.3f", seconds))}")
            } else {
                emitLine("\(t.count) transactions, \(t.accountCount) accounts, \(t.positives) laundering, \(t.negatives) normal, \(unlabelled) unlabelled")
                emitLine("from \(first) to \(last); \(skips.total) rows skipped; loaded in \(String(format: "%.2f", seconds)) s")
            }
        }
    }
}
