import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDialog
import LeptonDialogPostgres
import LeptonEngine
import LeptonSpeech
import LeptonText
import LeptonVoice

/// Options that choose the agent (model + domain), the session store and "today".
struct AgentSelection: ParsableArguments {
    @Option(name: .long, help: "Intent model folder (from `lepton-chat train`). Default: the shipped bank agent's model/.")
    var model: String?

    @Option(name: .long, help: "Domain file (YAML). Default: the shipped bank agent's domain.yml.")
    var domain: String?

    @Option(name: .long, help: "Agent folder with domain.yml, model/ and nlu.yml (default: samples/bank, or $LEPTON_CHAT_AGENT).")
    var agent: String?

    /// How Whisper (and the intent model's sentence encoder) keep their weights.
    @OptionGroup var compute: ComputeTypeOptions

    @Option(name: .long, help: ArgumentHelp(
        "Session store: a SQLite file (PATH or sqlite:PATH, created on first use) or postgresql://USER[:PASS]@HOST[:PORT]/DB[?sslmode=verify-full&sslrootcert=CA.pem] (default: $LEPTON_CHAT_STORE or ~/.local/share/lepton/chat-sessions.sqlite).",
        valueName: "url"))
    var store: String?

    @Option(name: .long, help: ArgumentHelp(
        "Seal texts, entity values, replies and dialog state in the store with this key: 32 random bytes, raw or as 64 hex digits (make one with: head -c 32 /dev/urandom > K).",
        valueName: "file"))
    var storeKeyFile: String?

    @Option(name: .long, help: "The day relative dates are resolved against, YYYY-MM-DD (default: today).")
    var today: String?

    func validate() throws {
        if let today, Day(iso: today) == nil { throw ValidationError("--today must be YYYY-MM-DD, got \(today)") }
    }

    /// Checks `--store`, `--store-key-file` and `$LEPTON_CHAT_STORE` (cheap: nothing is opened)
    /// and returns what opens that session store.
    /// - Parameter maximumConnections: PostgreSQL only: connections shared by the calling threads.
    func storeOpener(maximumConnections: Int = 8) throws -> () throws -> any SessionStore {
        let location = try SessionStoreLocation.resolve(explicit: store)
        let key = try storeKeyFile.map { try SessionStoreKey.read(file: $0) }
        return { try location.open(key: key, maximumConnections: maximumConnections) }
    }

    /// The agent and its call settings, loaded together so that a bad phone-band map or a missing
    /// corpus is reported before the first turn, typed or spoken.
    func load(seed: UInt64) throws -> (agent: ChatAgent, call: CallSettings) {
        // A bad store URL or key file is reported before the models load; the store opens after them.
        let openStore = try storeOpener()
        var day = Day(Date())
        if let today {
            guard let d = Day(iso: today) else { throw ChatError.badInput("--today must be YYYY-MM-DD, got \(today)") }
            day = d
        }
        let folder: URL? = (model != nil && domain != nil) ? nil : try AgentLocation.agentFolder(explicit: agent)
        let modelURL = model.map { URL(fileURLWithPath: $0) } ?? folder!.appendingPathComponent("model")
        let domainURL = domain.map { URL(fileURLWithPath: $0) } ?? folder!.appendingPathComponent("domain.yml")
        let nluURL = folder?.appendingPathComponent("nlu.yml")
        let agent = try ChatAgent.load(model: modelURL, domain: domainURL, nlu: nluURL, referenceDay: day, seed: seed,
                                       computeType: compute.computeType, openStore: openStore)
        return (agent, try CallSettings.load(domain: agent.engine.domain, domainFile: domainURL, model: modelURL))
    }
}

struct RespondCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "respond",
        abstract: "Answer one caller turn: transcribe (for audio), recognise intent and entities, reply, keep the dialog state.",
        discussion: """
        Without --model/--domain the shipped bank agent (samples/bank) answers. The session's state \
        (forms being filled, fallbacks in a row, hand-off) is kept in a SQLite store between calls; \
        an unknown --session id starts a new session, and without --session every call is a new one.

        Examples:
          lepton-chat respond --text "I want to send 50 dollars to my landlord" \\
              --session s1 --store /tmp/lepton-chat-demo.sqlite
          lepton-chat respond --text "yes" --session s1 \\
              --store /tmp/lepton-chat-demo.sqlite
          lepton-chat respond --json --store /tmp/lepton-chat-demo.sqlite \\
              ../shared/data/speech/bank-dev/change_pin_01.wav
          lepton-chat respond --json --text "I lost my card" \\
              --model samples/bank/model --domain samples/bank/domain.yml \\
              --store /tmp/lepton-chat-demo.sqlite
          lepton-chat respond --text "what's my balance" --speak /tmp/reply.wav \\
              --store /tmp/lepton-chat-demo.sqlite

        --speak runs the espeak-ng program (apt-get install espeak-ng), which Lepton does not \
        link or ship (it is GPL); the WAV is 16 kHz mono, written atomically.

        JSON fields (snake_case): session, new_session, transcript, intent (the handler intent the agent \
        acted on, e.g. change_pin), confidence, topic (the model's fine label it was reached through, e.g. \
        pin_blocked; absent for a fallback), ranking [{name, confidence, topic}], entities \
        (type, value, text, start, end, currency, role), reply, responses, events, state, and for \
        audio read in several readings (the domain's asr_readings) readings [{text, weight}]: the \
        recognizer's best readings, whose intent rankings are mixed by these weights (with the \
        domain's asr_second_opinion_below, an unsure call's readings from both decodes), and model \
        {name, version, sha256}: the intent model that ranked the intents.
        Card and account numbers keep only their last four digits on stdout, in logs and in the \
        store (--show-card-numbers prints them in full on stdout).
        Exit status: 0 ok, 1 bad input/model/domain/store, 64 usage.
        """)

    @Argument(help: "An audio file of the caller (WAV, FLAC...). Omit with --text.")
    var audio: String?

    @Option(name: .long, help: "The caller's words as text instead of audio.")
    var text: String?

    @Option(name: .long, help: "Session id; an unknown id starts a new session (default: a new random id).")
    var session: String?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .long, help: "Also write the reply as speech to this WAV file (needs the espeak-ng program).")
    var speak: String?

    @Flag(name: .long, help: "Print card and account numbers in full (by default every output keeps only their last four digits).")
    var showCardNumbers = false

    @OptionGroup var selection: AgentSelection
    @OptionGroup var common: CommonOptions
    @OptionGroup var seeding: SeedOptions

    func validate() throws {
        if (audio == nil) == (text == nil) { throw ValidationError("give either an AUDIO file or --text TEXT") }
    }

    func run() throws {
        try runCommand("lepton-chat", common) {
            let speaker = ReplySpeaker()
            // Checked before the turn, so a missing synthesizer leaves the session untouched.
            if speak != nil { _ = try speaker.requireProgram() }
            let (agent, call) = try selection.load(seed: seeding.seed)
            let id = session ?? UUID().uuidString.lowercased()
            let reply: AgentReply
            if let audio {
                let heard = try ChatHearing(settings: call, threads: common.threads, computeType: selection.compute.computeType).hear(URL(fileURLWithPath: audio), agent: agent)
                Log.debug("transcript: \(maskNumbersInText(heard.text))")
                reply = try agent.respond(to: heard, session: id)
            } else {
                reply = try agent.respond(text: text ?? "", session: id)
            }
            try printReply(reply, json: json, showCardNumbers: showCardNumbers)
            if let speak {
                try speaker.speak(showCardNumbers ? reply.reply : reply.masked.reply, to: URL(fileURLWithPath: speak))
            }
        }
    }
}

/// Prints a reply: JSON (one object on one line, snake_case keys, the intent model's identity)
/// or the reply text; details on stderr. Card and account numbers are masked unless the user
/// asked for them (`--show-card-numbers`).
func printReply(_ unmasked: AgentReply, json: Bool, showCardNumbers: Bool) throws {
    let reply = showCardNumbers ? unmasked : unmasked.masked
    Log.info("[\(reply.session)] intent \(reply.intent) (\(String(format: "%.2f", reply.confidence)))"
             + (reply.topic.map { $0 == reply.intent ? "" : " topic \($0)" } ?? "")
             + (reply.entities.isEmpty ? "" : " entities " + reply.entities.map { "\($0.type)=\($0.masked.value)" }.joined(separator: " ")))
    emitLine(json ? try jsonLine(reply) : reply.reply)
}

/// What the agent hears in audio files: see `CallListener` (the domain's `asr_*` settings).
/// Whisper and the domain's language model are loaded on the first file and kept for the next
/// turns of a shell session.
final class ChatHearing {
    let settings: CallSettings
    let threads: Int
    let computeType: ComputeType
    private var listener: CallListener?

    init(settings: CallSettings, threads: Int, computeType: ComputeType) {
        self.settings = settings; self.threads = threads; self.computeType = computeType
    }

    func hear(_ url: URL, agent: ChatAgent) throws -> HeardCall {
        if listener == nil {
            EngineThreads.set(threads)
            listener = CallListener(whisper: try WhisperModel(computeType: computeType), settings: settings)
        }
        let heard = try listener!.hear(url, agent: agent)
        if heard.secondOpinion { Log.debug("second opinion: decoded again with the domain language model") }
        return heard
    }
}
