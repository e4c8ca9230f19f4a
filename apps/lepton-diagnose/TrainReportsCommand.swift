import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

struct TrainReportsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-reports",
        abstract: "Train the Transformer report reader (MiniLM mention classifier) and compare it with the rules on held-out reports.",
        discussion: """
        Every lexicon mention of a finding is classified in its sentence by a logistic head on \
        frozen all-MiniLM-L6-v2 states (the mention's word pieces and the whole sentence), fitted \
        by L-BFGS on the `train` part of --split with each report's curated labels. Every choice \
        (regularisation, thresholds, how much the combined reader trusts the rules, and the \
        default reader) is made on `validation`; the rules, the Transformer and the combined \
        reader are then scored once on `test` (macro-F1 of the five main findings, abnormal F1, \
        per finding). The fit is convex, so no seed is involved. Writes report-reader.json and \
        report-reader.safetensors into --out. scripts/split-reports.py makes the split.

        Examples:
          lepton-diagnose train-reports --out /tmp/report-model \\
              --reports ../shared/data/medical/iu-xray/findings.csv \\
              --split samples/diagnose/report-split.csv
        """)

    @Option(name: .long, help: "Report labels CSV (findings.csv layout).")
    var reports: String

    @Option(name: .long, help: "Split CSV (file,split with train, validation and test).")
    var split: String = "samples/diagnose/report-split.csv"

    @Option(name: .long, help: "Output folder (report-reader.json + report-reader.safetensors).")
    var out: String

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var common: CommonOptions

    struct Scores: Encodable {
        var reports: Int, macroF1Main: Double, abnormalF1: Double, abnormalPrecision: Double, abnormalRecall: Double
        var findings: [String: EvaluateCommand.FindingResult]
        init(_ ev: ReportEvaluation) {
            reports = ev.reports; macroF1Main = ev.macroF1Main; abnormalF1 = ev.abnormal.f1
            abnormalPrecision = ev.abnormal.precision; abnormalRecall = ev.abnormal.recall
            findings = EvaluateCommand.findingResults(ev)
        }
    }
    struct Output: Encodable {
        var out: String, model: ModelIdentity, defaultReader: String
        var config: TransformerFindingConfig
        var validation: [String: Scores], test: [String: Scores]
        var mentions: [String: Int], encodingSeconds: Double, fittingSeconds: Double
    }

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            EngineThreads.set(common.threads)
            try diagnoseErrors {
                let splitURL = URL(fileURLWithPath: split)
                let day = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
                let (model, comparison) = try TransformerFindingTrainer.train(
                    findingsCSV: URL(fileURLWithPath: reports), split: try ReportSplit(contentsOf: splitURL), splitSource: split,
                    version: day) { Log.info($0) }
                let folder = URL(fileURLWithPath: out)
                try model.save(to: folder)
                let saved = try TransformerFindingModel(folder: folder)
                let parts = { (d: [ReportReaderKind: ReportEvaluation]) in
                    Dictionary(uniqueKeysWithValues: d.map { ($0.key.rawValue, Scores($0.value)) })
                }
                let result = Output(out: out, model: saved.identity, defaultReader: saved.config.defaultReader.rawValue, config: saved.config,
                                    validation: parts(comparison.validation), test: parts(comparison.test), mentions: comparison.mentions,
                                    encodingSeconds: comparison.encodingSeconds, fittingSeconds: comparison.fittingSeconds)
                if json { emitLine(try jsonLine(result)); return }
                var lines = ["saved \(saved.identity.description) to \(out); default reader \(saved.config.defaultReader.rawValue) (chosen on validation)"]
                for (name, d) in [("validation", comparison.validation), ("test", comparison.test)] {
                    for kind in ReportReaderKind.allCases {
                        guard let ev = d[kind] else { continue }
                        lines.append(String(format: "%@ %@: n=%d macro-F1 (5 main) %.4f abnormal F1 %.4f", name,
                                            kind.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0), ev.reports, ev.macroF1Main, ev.abnormal.f1))
                    }
                }
                emitLine(lines.joined(separator: "\n"))
            }
        }
    }
}
