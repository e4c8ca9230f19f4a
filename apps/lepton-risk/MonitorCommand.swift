import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonImage
import LeptonRisk

/// `lepton-risk monitor`: does new data still look like the data the model was trained on?
struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Drift of each feature and of the scores of new transactions against training (population stability index).",
        discussion: """
        The population stability index (PSI) of every feature and of the score compares the new \
        rows with the training rows, bin by bin over the training deciles: under 0.1 stable, \
        0.1 to --fail-at a moderate shift, --fail-at (0.25) or more shifted. Any shifted \
        feature or score makes the exit status 3, with the report on stdout as usual. Models \
        trained by this version keep the training deciles (no rows) in config.json; for an \
        older model give --reference with its training file (its scores are then in-sample, \
        so the score's PSI reads high).

        Examples:
          lepton-risk monitor --model samples/risk/model \\
              --reference samples/risk/train.csv \\
              --transactions samples/risk/test.csv \\
              --history samples/risk/train.csv   # exit 3: 3 features
          lepton-risk monitor --model samples/risk/model \\
              --reference samples/risk/train.csv \\
              --transactions samples/risk/train.csv \\
              --plot /tmp/score-drift.png --json
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var feed: FeedOptions
    @Option(help: "Model folder.") var model: String
    @Option(help: "New transactions to compare with training.") var transactions: String
    @Option(help: "Earlier transactions used as context for the new ones.") var history: String?
    @Option(help: "Training transactions, for a model that keeps no training deciles.") var reference: String?
    @Option(help: "PSI at or above which a feature or the score counts as shifted (exit status 3).") var failAt: Float = 0.25
    @Option(help: "Write a bar chart of the score's bins (training gray, new red) to this PNG.") var plot: String?
    @Flag(help: "Print one JSON object.") var json = false

    struct Summary: Encodable {
        struct Item: Encodable { var feature: String; var psi: Float; var level: String }
        var model: ModelIdentity
        var reference: String
        var rows: Int
        var failAt: Float
        var scorePsi: Float
        var scoreLevel: String
        var features: [Item]
        var shifted: [String]
        var skipped: [SkipCount]
    }

    func run() throws {
        try runRisk(common) {
            guard failAt > 0.1 && failAt.isFinite else { throw usage("--fail-at must be above 0.1, got \(failAt)") }
            let dir = URL(fileURLWithPath: model)
            let m = try TransactionModel.load(from: dir)
            let identity = try modelIdentity(dir)
            let reader = try feed.reader()
            var ledger = SkipLedger()
            let ref: DriftReference
            let refName: String
            if let r = reference {
                let s = try ScoredTransactions(model: m, input: try reader.source(r, option: "--reference"))
                ledger.add(r, s.skips)
                ref = DriftReference(features: s.features(rows: Array(s.inputRows)), rows: Array(0..<s.inputRows.count), scores: s.inputRows.map { s.scores[$0] })
                refName = r
            } else if let stored = m.config.drift {
                ref = stored; refName = "training deciles in \(model)"
            } else {
                throw usage("\(model) keeps no training deciles (trained before `monitor` existed): give --reference TRAINING.csv")
            }
            let reading = FileReadProgress()
            let input = try reader.source(transactions), past = try history.map { try reader.source($0, option: "--history") }
            let s = try ScoredTransactions(model: m, input: input, history: past, read: reading.update, log: reading.stage)
            reading.finish()
            if let h = past { ledger.add(h.name, s.historySkips) }
            ledger.add(input.name, s.skips)
            guard !s.inputRows.isEmpty else { throw CLIFailure.input("\(transactions): no transactions to compare") }
            // The input rows' features, computed again (monitoring reads every row, once).
            let report = DriftReport(reference: ref, features: s.features(rows: Array(s.inputRows)), rows: Array(0..<s.inputRows.count),
                                     scores: s.inputRows.map { s.scores[$0] })
            let ranked = report.features.sorted { $0.psi > $1.psi }
            let shifted = ([report.score] + ranked).filter { $0.psi >= failAt }.map(\.name)
            if let p = plot {
                let w = 640, h = 320
                let png = try PNGEncoder.encode(samples: report.score.barChart(width: w, height: h), width: w, height: h, channels: 3)
                try writeAtomically(png, to: URL(fileURLWithPath: p))
            }
            if json {
                emitLine(try jsonLine(Summary(
                    model: identity, reference: refName, rows: report.rows, failAt: failAt, scorePsi: report.score.psi,
                    scoreLevel: DriftReport.level(report.score.psi, failAt: failAt),
                    features: ranked.map { .init(feature: $0.name, psi: $0.psi, level: DriftReport.level($0.psi, failAt: failAt)) },
                    shifted: shifted, skipped: ledger.json)))
            } else {
                emitLine("model \(identity)")
                emitLine("\(report.rows) transactions of \(transactions) against \(refName)")
                emitLine(String(format: "score PSI %.3f (%@)", Double(report.score.psi), DriftReport.level(report.score.psi, failAt: failAt)))
                emitLine("score bins, training → new: " + zip(report.score.reference, report.score.current)
                    .map { String(format: "%.0f%%→%.0f%%", Double($0 * 100), Double($1 * 100)) }.joined(separator: " "))
                emitLine("features by PSI (stable < 0.1 ≤ moderate < \(fmt(failAt)) ≤ shifted):")
                for item in ranked.prefix(10) {
                    let name = item.name.padding(toLength: max(26, item.name.count), withPad: " ", startingAt: 0)
                    emitLine("  \(name) \(String(format: "%.3f", Double(item.psi)))  \(DriftReport.level(item.psi, failAt: failAt))")
                }
                if ranked.count > 10 { emitLine("  … \(ranked.count - 10) more, all below \(String(format: "%.3f", Double(ranked[10].psi)))") }
            }
            try ledger.finish()
            if !shifted.isEmpty {
                throw CLIFailure.partial("shifted against training (PSI ≥ \(fmt(failAt))): \(shifted.joined(separator: ", "))")
            }
        }
    }
}
