import ArgumentParser
import LeptonCLI

@main
struct LeptonDiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lepton-diagnose",
        abstract: "Lepton's scan and radiology-report analyzer: decision support for a physician, not a diagnosis.",
        discussion: """
        Examples:
          lepton-diagnose analyze samples/diagnose/studies/case1.png \\
              --report samples/diagnose/studies/case1.txt
          lepton-diagnose analyze samples/diagnose --json   # exit 3: case6
          lepton-diagnose evaluate --json --subset test \\
              --reports ../shared/data/medical/iu-xray/findings.csv

        Exit status: 0 success, 1 bad input (unreadable scan, report, model or labels; a folder \
        without studies), 3 a folder batch where some studies failed (each reported), 64 usage.

        Without --model the model in samples/diagnose/model is used: it is looked up in \
        $LEPTON_DIAGNOSE_MODEL, then beside the executable and its parent folders, then from the \
        current directory upwards.
        """,
        version: leptonVersion,
        subcommands: [AnalyzeCommand.self, TrainCommand.self, FitGateCommand.self, EvaluateCommand.self, ServeCommand.self, MergeCommand.self, PruneCommand.self,
                      TrainReportsCommand.self, TrainGANCommand.self]
    )

    static func main() { mainWithOneLineErrors(program: "lepton-diagnose") }
}
