import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Generate synthetic bank transactions (IBM AML schema) with the eight laundering typologies.",
        discussion: """
        Normal activity is heavy-tailed (Pareto activity rates and merchant popularity, repeat payees, \
        salaries, self reinvestments, about 2% cross-currency); laundering follows fan-out, fan-in, \
        cycle, bipartite, stack, random, scatter-gather and gather-scatter (Altman et al. 2023), \
        plus lone transfers. The side file lists `row_index,pattern_id,typology` for every \
        laundering row (0-based data rows). Same seed, same files.

        Example:
          lepton-risk simulate --accounts 2000 --days 30 --seed 7 --out tx.csv \\
              --patterns tx-patterns.csv
        """)

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions
    @Option(help: "Number of accounts.") var accounts: Int = 2000
    @Option(help: "Number of days simulated.") var days: Int = 30
    @Option(help: "Output transactions CSV.") var out: String
    @Option(help: "Output side file naming the pattern of every laundering row.") var patterns: String
    @Option(help: "Laundering patterns per 1000 accounts per 30 days.") var patternRate: Double = 4

    func run() throws {
        try runReportingErrors(common) {
            var o = AMLSimulator.Options()
            o.accounts = accounts; o.days = days; o.seed = seeding.seed; o.patternRate = patternRate
            let r = try AMLSimulator.generate(o)
            try writeAtomically(Data(r.csv.utf8), to: URL(fileURLWithPath: out))
            try writeAtomically(Data(r.patterns.utf8), to: URL(fileURLWithPath: patterns))
            Log.info("\(r.rows) transactions (\(r.laundering) laundering) → \(out); patterns → \(patterns)")
        }
    }
}
