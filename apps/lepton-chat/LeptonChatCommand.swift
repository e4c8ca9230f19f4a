import ArgumentParser
import LeptonCLI

@main
struct LeptonChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lepton-chat",
        abstract: "Lepton's speech customer-service bot: transcribe a caller, recognise the intent, answer as a bank agent.",
        version: leptonVersion,
        subcommands: [TranscribeCommand.self, TrainCommand.self, TrainPhoneBandCommand.self, ClassifyCommand.self, TestCommand.self, CalibrateCommand.self, RespondCommand.self, ShellCommand.self, ServeCommand.self,
                      MergeCommand.self]
    )

    static func main() { mainWithOneLineErrors(program: "lepton-chat") }
}
