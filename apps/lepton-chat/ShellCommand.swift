import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDialog

struct ShellCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "An interactive session with the agent: one typed line or audio file path per turn.",
        discussion: """
        Each input line is one caller turn: a path to an existing audio file (.wav, .flac, .ogg, \
        .mp3) is transcribed first, anything else is taken as typed text. Empty lines are skipped; \
        `/new` starts a new session (a new caller), `/quit` or end of input ends. Works with a \
        terminal or with piped stdin (then each turn prints exactly one line on stdout).

        Examples:
          printf 'hi\\nsend 50 dollars to my landlord\\nyes\\n' | lepton-chat shell \\
              --json --store /tmp/lepton-chat-demo.sqlite
          lepton-chat shell --session call-42 --store /tmp/calls.sqlite < /dev/null
        """)

    @Option(name: .long, help: "Session id (default: a new random id).")
    var session: String?

    @Flag(name: .long, help: "Print one JSON object per turn instead of the reply text.")
    var json = false

    @Flag(name: .long, help: "Print card and account numbers in full (by default only their last four digits).")
    var showCardNumbers = false

    @OptionGroup var selection: AgentSelection
    @OptionGroup var common: CommonOptions
    @OptionGroup var seeding: SeedOptions

    func run() throws {
        try runCommand("lepton-chat", common) {
            let (agent, call) = try selection.load(seed: seeding.seed)
            let hearing = ChatHearing(settings: call, threads: common.threads, computeType: selection.compute.computeType)
            var id = session ?? UUID().uuidString.lowercased()
            let interactive = isatty(0) != 0
            if interactive { Log.info("session \(id); type a message or an audio file path, /quit to end") }
            var failures = 0
            while true {
                if interactive { FileHandle.standardError.write(Data("you> ".utf8)) }
                guard let line = readLine(strippingNewline: true) else { break }
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input == "/quit" || input == "/exit" { break }
                if input == "/new" {
                    id = UUID().uuidString.lowercased()
                    if interactive { Log.info("new session \(id)") }
                    continue
                }
                do {
                    let reply: AgentReply
                    let audioExtensions: Set<String> = ["wav", "flac", "ogg", "mp3", "aiff", "aif", "au"]
                    let url = URL(fileURLWithPath: input)
                    if audioExtensions.contains(url.pathExtension.lowercased()), FileManager.default.fileExists(atPath: url.path) {
                        let heard = try hearing.hear(url, agent: agent)
                        reply = try agent.respond(to: heard, session: id)
                    } else {
                        reply = try agent.respond(text: input, session: id)
                    }
                    if interactive && !json { emitLine("bot> " + (showCardNumbers ? reply.reply : reply.masked.reply))
                    } else { try printReply(reply, json: json, showCardNumbers: showCardNumbers) }
                } catch {
                    // One bad turn (unreadable audio) does not end the session.
                    failures += 1
                    Log.error(errorLine("lepton-chat", describe(error)))
                }
            }
            if failures > 0 { throw CLIFailure.partial("\(failures) turns failed") }
        }
    }
}
