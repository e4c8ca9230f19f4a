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
        by reason, as every other command does, and make the exit status 3.

        Examples:
          lepton-risk stats --transactions samples/risk/transactions.csv
          lepton-risk stats --transactions samples/risk/test.csv --json
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var feed: FeedOptions
    @Option(help: "Transactions in the IBM AML CSV schema.") var transactions: String
    @Flag(help: "Print one JSON object.") var json = false

    struct Summary: Encodable {
        var rows: Int; var accounts: Int; var laundering: Int; var normal: Int; var unlabelled: Int
        var skippedRows: Int; var skipped: [SkipCount]; var first: String; var last: String; var loadSeconds: Double
    }

    func run() throws {
        try runRisk(common) {
            let start = Date()
            var t = TransactionTable()
            var ledger = SkipLedger()
            let reading = FileReadProgress()
            let input = try feed.reader().source(transactions)
            ledger.add(input.name, try input.append(to: &t, sourceIndex: 0, progress: { reading.update(input.name, $0) }))
            reading.finish()
            let seconds = Date().timeIntervalSince(start)
            let first = t.time.min().map { formatTimestamp(Int($0)) } ?? ""
            let last = t.time.max().map { formatTimestamp(Int($0)) } ?? ""
            let unlabelled = t.count - t.positives - t.negatives
            if json {
                emitLine(try jsonLine(Summary(rows: t.count, accounts: t.accountCount, laundering: t.positives, normal: t.negatives,
                                              unlabelled: unlabelled, skippedRows: ledger.total, skipped: ledger.json, first: first,
                                              last: last, loadSeconds: (seconds * 1000).rounded() / 1000)))
            } else {
                emitLine("\(t.count) transactions, \(t.accountCount) accounts, \(t.positives) laundering, \(t.negatives) normal, \(unlabelled) unlabelled")
                emitLine("from \(first) to \(last); \(ledger.total) rows skipped; loaded in \(String(format: "%.2f", seconds)) s")
            }
            try ledger.finish()
        }
    }
}
