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
          lepton-risk simulate --accounts 2000 --days 30 --seed 7 \\
              --out /tmp/tx.csv --patterns /tmp/tx-patterns.csv --json
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var seeding: SeedOptions
    @Option(help: "Number of accounts (20 to 1,000,000).") var accounts: Int = 2000
    @Option(help: "Number of days simulated (1 to 3650).") var days: Int = 30
    @Option(help: "Output transactions CSV.") var out: String
    @Option(help: "Output side file naming the pattern of every laundering row.") var patterns: String
    @Option(help: "Laundering patterns per 1000 accounts per 30 days.") var patternRate: Double = 4
    @Flag(help: "Print one JSON object (counts and files written).") var json = false

    struct Summary: Encodable { var rows: Int; var laundering: Int; var out: String; var patterns: String; var seed: UInt64 }

    func run() throws {
        try runRisk(common) {
            // Checked here, before any work: these are usage errors (exit 64), and a million
            // accounts over ten years is already far beyond what fits in memory as one string.
            guard (20...1_000_000).contains(accounts) else { throw usage("--accounts must be between 20 and 1000000, got \(accounts)") }
            guard (1...3650).contains(days) else { throw usage("--days must be between 1 and 3650, got \(days)") }
            // About 0.6 rows per account and day, built in memory as one CSV string: bound it.
            guard accounts * days <= 10_000_000 else {
                throw usage("--accounts × --days must be at most 10000000 (about 6 million rows), got \(accounts * days)")
            }
            guard patternRate.isFinite, (0...1000).contains(patternRate) else { throw usage("--pattern-rate must be between 0 and 1000") }
            var o = AMLSimulator.Options()
            o.accounts = accounts; o.days = days; o.seed = seeding.seed; o.patternRate = patternRate
            let r = try AMLSimulator.generate(o)
            try writeAtomically(Data(r.csv.utf8), to: URL(fileURLWithPath: out))
            try writeAtomically(Data(r.patterns.utf8), to: URL(fileURLWithPath: patterns))
            if json {
                emitLine(try jsonLine(Summary(rows: r.rows, laundering: r.laundering, out: out, patterns: patterns, seed: seeding.seed)))
            } else {
                emitLine("\(r.rows) transactions (\(r.laundering) laundering) → \(out); patterns → \(patterns)")
            }
        }
    }
}
