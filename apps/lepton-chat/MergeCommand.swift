import ArgumentParser
import LeptonCLI

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the outputs of `transcribe --shard i/N` (txt or json on stdout) into one run's output.",
        discussion: """
        Shard s printed the lines of files s, s+N, s+2N, …; merge takes the N outputs, shard 0 \
        first, and interleaves them back into input order, byte for byte what one `transcribe` \
        of all the files prints. A shard that failed on a file (exit 3) printed no line for it: \
        merge only shards that exited 0 (it refuses line counts that no batch cut N ways gives, \
        but cannot notice every gap).

        Examples:
          lepton-chat merge \\
              <(lepton-chat transcribe --beam-size 1 --shard 0/2 \\
                samples/chat/jfk.wav samples/chat/jfk_tel8k.wav) \\
              <(lepton-chat transcribe --beam-size 1 --shard 1/2 \\
                samples/chat/jfk.wav samples/chat/jfk_tel8k.wav)
        """)

    @OptionGroup var common: CommonOptions
    @Argument(help: "The shards' outputs, shard 0 first (`-` reads stdin).") var shards: [String] = []

    func run() throws {
        try runCommand("lepton-chat", common) { try ShardMerge.printInterleaved(shards) }
    }
}
