import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split a transaction file by time: the first fraction of the time span, and the rest.",
        discussion: """
        Rows keep their order; a side file of typologies is split alongside (row indices renumbered).

        Example:
          lepton-risk split --transactions all.csv --fraction 0.7 --train train.csv --test test.csv \\
              --patterns all-patterns.csv
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Input transactions (IBM AML CSV).") var transactions: String
    @Option(help: "Share of the time span that goes to the first file.") var fraction: Double = 0.7
    @Option(help: "Output: earlier part.") var train: String
    @Option(help: "Output: later part.") var test: String
    @Option(help: "Typology side file to split too (writes <train>-patterns.csv, <test>-patterns.csv).") var patterns: String?

    func run() throws {
        try runReportingErrors(common) {
            guard fraction > 0 && fraction < 1 else { throw RiskError.badArgument("--fraction must be in (0, 1)") }
            var t = TransactionTable()
            reportSkips(transactions, try t.append(csv: transactions))
            let (a, b) = t.splitByTime(fraction: fraction)
            try writeAtomically(Data(a.csv().utf8), to: URL(fileURLWithPath: train))
            try writeAtomically(Data(b.csv().utf8), to: URL(fileURLWithPath: test))
            if let p = patterns {
                let pat = try readPatternFile(p)
                for (part, path) in [(a, train), (b, test)] {
                    var s = "row_index,pattern_id,typology\n"
                    for k in 0..<part.count { if let name = pat[Int(part.row[k])] { s += "\(k),0,\(name)\n" } }
                    let outPath = (path as NSString).deletingPathExtension + "-patterns.csv"
                    try writeAtomically(Data(s.utf8), to: URL(fileURLWithPath: outPath))
                }
            }
            Log.info("\(a.count) rows (\(a.positives) positive) → \(train); \(b.count) rows (\(b.positives) positive) → \(test)")
        }
    }
}
