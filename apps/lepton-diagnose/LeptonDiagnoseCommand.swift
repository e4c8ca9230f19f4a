import ArgumentParser
import LeptonCLI

@main
struct LeptonDiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lepton-diagnose",
        abstract: "Lepton's scan and radiology-report analyzer: decision support for a physician, not a diagnosis.",
        version: leptonVersion,
        subcommands: []
    )
}
