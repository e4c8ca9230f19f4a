import ArgumentParser
import Foundation
import LeptonCLI
import LeptonRisk

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split a transaction file by time: the first fraction of the time span, and the rest.",
        discussion: """
        Rows keep their order; a side file of typologies is split alongside (row indices \
        renumbered), written as <train>-patterns.csv and <test>-patterns.csv. No randomness: \
        the same file gives the same split. With --schema (and --fx) a bank's own export is \
        read as `score` reads it; both parts are written in the IBM AML layout.

        Example:
          lepton-risk split --transactions samples/risk/transactions.csv \\
              --fraction 0.7 --train /tmp/s-train.csv --test /tmp/s-test.csv \\
              --patterns samples/risk/transactions-patterns.csv --json
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var feed: FeedOptions
    @Option(help: "Input transactions (IBM AML CSV, or the layout --schema names).") var transactions: String
    @Option(help: "Share of the time span that goes to the first file.") var fraction: Double = 0.7
    @Option(help: "Output: earlier part.") var train: String
    @Option(help: "Output: later part.") var test: String
    @Option(help: "Typology side file to split too (writes <train>-patterns.csv, <test>-patterns.csv).") var patterns: String?
    @Flag(help: "Print one JSON object (rows and positives per part).") var json = false

    struct Part: Encodable { var path: String; var rows: Int; var positives: Int }
    struct Summary: Encodable { var train: Part; var test: Part; var skipped: [SkipCount] }

    func run() throws {
        try runRisk(common) {
            guard fraction > 0 && fraction < 1 else { throw usage("--fraction must be in (0, 1), got \(fraction)") }
            guard train != test else { throw usage("--train and --test must be different files") }
            var t = TransactionTable()
            var ledger = SkipLedger()
            let reading = FileReadProgress()
            let input = try feed.reader().source(transactions)
            ledger.add(input.name, try input.append(to: &t, sourceIndex: 0, progress: { reading.update(input.name, $0) }))
            reading.finish()
            let pat = try patterns.map { try readPatternFile($0) }
            let (a, b) = t.splitByTime(fraction: fraction)
            try writeAtomically(Data(a.csv().utf8), to: URL(fileURLWithPath: train))
            try writeAtomically(Data(b.csv().utf8), to: URL(fileURLWithPath: test))
            if let pat {
                for (part, path) in [(a, train), (b, test)] {
                    var s = "row_index,pattern_id,typology\n"
                    for k in 0..<part.count { if let name = pat[Int(part.row[k])] { s += "\(k),0,\(name)\n" } }
                    let outPath = (path as NSString).deletingPathExtension + "-patterns.csv"
                    try writeAtomically(Data(s.utf8), to: URL(fileURLWithPath: outPath))
                }
            }
            if json {
                emitLine(try jsonLine(Summary(train: Part(path: train, rows: a.count, positives: a.positives),
                                              test: Part(path: test, rows: b.count, positives: b.positives), skipped: ledger.json)))
            } else {
                emitLine("\(a.count) rows (\(a.positives) positive) → \(train); \(b.count) rows (\(b.positives) positive) → \(test)")
            }
            try ledger.finish()
        }
    }
}
