import ArgumentParser
import LeptonCLI

@main
struct LeptonBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lepton-bench",
        abstract: "Benchmarks of the engine and the models (release build), printed as text and JSON lines.",
        version: leptonVersion,
        subcommands: []
    )
}
