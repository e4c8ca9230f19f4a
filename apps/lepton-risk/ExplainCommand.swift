import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonRisk

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain the score of a transaction (row number) or an account: drivers, neighbours, edges, typology.",
        discussion: """
        ID is a 0-based data row of the file (e.g. `1234` or `row:1234`) or an account \
        (`BANK:ACCOUNT` or just `ACCOUNT`).

        Examples:
          lepton-risk explain --model samples/risk/model \\
              --transactions samples/risk/transactions.csv 2079
          lepton-risk explain --model samples/risk/model \\
              --transactions samples/risk/test.csv \\
              --history samples/risk/train.csv 070:006C8582C --json
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var feed: FeedOptions
    @Option(help: "Model folder.") var model: String
    @Option(help: "Transactions the ID refers to.") var transactions: String
    @Option(help: "Earlier transactions used as context (e.g. the training file).") var history: String?
    @Argument(help: "Row number or account.") var id: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runRisk(common) {
            let dir = URL(fileURLWithPath: model)
            let m = try TransactionModel.load(from: dir)
            warnLegacyHistory(m, model)
            let identity = try modelIdentity(dir)
            let reading = FileReadProgress()
            let reader = try feed.reader()
            let input = try reader.source(transactions), past = try history.map { try reader.source($0, option: "--history") }
            let s = try ScoredTransactions(model: m, input: input, history: past, read: reading.update, log: reading.stage)
            reading.finish()
            var ledger = SkipLedger()
            if let h = past { ledger.add(h.name, s.historySkips) }
            ledger.add(input.name, s.skips)
            let e = try Explanation(scored: s, model: m, id: id)
            if json {
                emitLine(try explanationJSON(e, model: identity, skipped: ledger))
            } else {
                emitLine("model \(identity)")
                emitLine(e.text)
            }
            try ledger.finish()
        }
    }
}

/// `explain --json`'s object: the explanation's own, with the model and the skipped rows added.
/// Shared by `explain` and `serve` (`POST /v1/explain`).
func explanationJSON(_ e: Explanation, model identity: ModelIdentity, skipped ledger: SkipLedger) throws -> String {
    var obj = e.json
    obj.removeLast()
    obj += ",\"model\":\(try jsonLine(identity)),\"skipped\":\(try jsonLine(ledger.json))}"
    return obj
}
