import ArgumentParser
import LeptonCLI

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the outputs of `analyze FOLDER --shard i/N` into one run's output.",
        discussion: """
        Shard s printed the lines of studies s, s+N, s+2N, … (a study that could not be read \
        too, as its `error` line); merge takes the N outputs, shard 0 first, and interleaves \
        them back into the folder's order, byte for byte what one `analyze FOLDER` prints. \
        Line counts that no batch cut N ways gives (a missing or truncated shard) are refused.

        Examples:
          lepton-diagnose merge \\
              <(lepton-diagnose analyze samples/diagnose/studies --shard 0/3) \\
              <(lepton-diagnose analyze samples/diagnose/studies --shard 1/3) \\
              <(lepton-diagnose analyze samples/diagnose/studies --shard 2/3)
        """)

    @OptionGroup var common: CommonOptions
    @Argument(help: "The shards' outputs, shard 0 first (`-` reads stdin).") var shards: [String] = []

    func run() throws {
        try runCommand("lepton-diagnose", common) { try ShardMerge.printInterleaved(shards) }
    }
}
