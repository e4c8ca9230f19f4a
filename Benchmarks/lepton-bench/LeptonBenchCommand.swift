import ArgumentParser
import LeptonCLI

@main
struct LeptonBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lepton-bench",
        abstract: "Benchmarks of the engine and the models (release build), printed as text and JSON lines.",
        version: leptonVersion,
        // One line per subcommand (each in its own <Name>Command.swift file): add yours here.
        subcommands: [
            KernelsCommand.self,
            GnnCommand.self,
            EmbedCommand.self,
            CnnCommand.self,
            AsrCommand.self,
            OnnxCommand.self,
        ]
    )
}
