import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain the score of a transaction (row number) or an account: drivers, neighbours, edges, typology.",
        discussion: """
        ID is a 0-based data row of the file (e.g. `1234` or `row:1234`) or an account (`BANK:ACCOUNT` \
        or just `ACCOUNT`).

        Examples:
          lepton-risk explain --model model/ --transactions new.csv 1234
          lepton-risk explain --model model/ --transactions new.csv 070:8347A2E3B \\
              --json
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Earlier transactions (e.g. the training file) as context: rows from the model's history window (14 days) before the file's first timestamp.") var history: String?
    @Option(help: "Model folder.") var model: String
    @Option(help: "Transactions the ID refers to.") var transactions: String
    @Argument(help: "Row number or account.") var id: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors(common) {
            let m = try TransactionModel.load(from: URL(fileURLWithPath: model))
            let s = try ScoredTransactions(model: m, path: transactions, history: history)
            let e = try Explanation(scored: s, model: m, id: id)
            emitLine(json ? e.json : e.text)
        }
    }
}
