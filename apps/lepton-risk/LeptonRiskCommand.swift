import ArgumentParser
import LeptonCLI

@main
struct LeptonRiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lepton-risk",
        abstract: "Lepton's fraud and money-laundering risk scorer on transaction graphs.",
        version: leptonVersion,
        subcommands: [SimulateCommand.self, TrainCommand.self, ScoreCommand.self, EvaluateCommand.self, MonitorCommand.self,
                      ExplainCommand.self, SplitCommand.self, StatsCommand.self, ServeCommand.self, MergeCommand.self]
    )

    static func main() { mainWithOneLineErrors(program: "lepton-risk") }
}
