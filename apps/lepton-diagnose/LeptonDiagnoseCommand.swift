import ArgumentParser
import LeptonCLI

@main
struct LeptonDiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lepton-diagnose",
        abstract: "Lepton's scan and radiology-report analyzer: decision support for a physician, not a diagnosis.",
        discussion: """
        Examples:
          lepton-diagnose analyze samples/diagnose/scans/pneumonia_1.png \\
              --report samples/diagnose/reports/pneumonia.txt
          lepton-diagnose analyze samples/diagnose --format json   # a line per study
          lepton-diagnose train --out /tmp/model \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv
          lepton-diagnose evaluate \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv --split val
          lepton-diagnose evaluate \\
              --reports ../shared/data/medical/iu-xray/findings.csv --subset test

        Without --model the model in samples/diagnose/model is used: it is looked up in \
        $LEPTON_DIAGNOSE_MODEL, then beside the executable and its parent folders, then from the \
        current directory upwards.
        """,
        version: leptonVersion,
        subcommands: [AnalyzeCommand.self, TrainCommand.self, EvaluateCommand.self]
    )

    static func main() { mainWithOneLineErrors(program: "lepton-diagnose") }
}
