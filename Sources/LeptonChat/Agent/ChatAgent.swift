import Foundation

/// Anything that ranks intents for a text: the trained intent model, or a test double.
public protocol IntentRanking: Sendable {
    /// Intents with probabilities, best first.
    func rank(_ text: String) throws -> [IntentScore]
}

/// The answer to one turn: what `lepton-chat respond --json` prints.
public struct AgentReply: Codable, Sendable {
    public var session: String
    /// True when this turn started the session (unknown session id).
    public var newSession: Bool
    /// What the user said (typed text, or the transcript of the audio).
    public var transcript: String
    /// The intent acted on ("nlu_fallback" when not understood) and the classifier's confidence.
    public var intent: String
    public var confidence: Double
    /// The top intents as the classifier ranked them (at most 3).
    public var ranking: [IntentScore]
    public var entities: [Entity]
    public var reply: String
    /// Response templates used, in order.
    public var responses: [String]
    /// Dialog events of the turn ("slot:amount", "handoff"...).
    public var events: [String]
    /// The session's state after the turn.
    public var state: DialogState

    enum CodingKeys: String, CodingKey {
        case session, newSession = "new_session", transcript, intent, confidence, ranking, entities, reply, responses, events, state
    }
}

/// The whole understanding-and-dialog pipeline for text: intents, entities, dialog policy and
/// the session store. (Audio is transcribed before, by LeptonSpeech.)
public final class ChatAgent: @unchecked Sendable {
    public let engine: DialogEngine
    public let classifier: any IntentRanking
    public let extractor: EntityExtractor
    public let store: SessionStore
    /// Longer inputs are cut to this many characters before understanding (the encoder reads
    /// 256 tokens anyway); the transcript returned is the full text.
    public static let maxCharacters = 2_000

    public init(domain: Domain, classifier: any IntentRanking, extractor: EntityExtractor, store: SessionStore, seed: UInt64 = 0) {
        self.engine = DialogEngine(domain: domain, seed: seed)
        self.classifier = classifier
        self.extractor = extractor
        self.store = store
    }

    /// Plays one turn of `session` with the user's `text`.
    ///
    /// - Parameter allowEmpty: an empty text (silent audio) is then a turn the bot did not
    ///   understand rather than an error.
    /// - Throws: ``ChatError/badInput(_:)`` for empty text (unless allowed); store errors.
    public func respond(text rawText: String, session: String, allowEmpty: Bool = false) throws -> AgentReply {
        let text = rawText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !session.isEmpty, session.count <= 200 else { throw ChatError.badInput("session id must have 1 to 200 characters") }
        if text.isEmpty && !allowEmpty { throw ChatError.badInput("empty text") }
        let cut = String(text.prefix(ChatAgent.maxCharacters))
        // Understanding happens outside the store transaction: it is the slow part.
        let ranking = cut.isEmpty ? [] : try classifier.rank(cut)
        let entities = cut.isEmpty ? [] : extractor.extract(cut)
        let nlu = NLUResult(text: cut, ranking: ranking, entities: entities)
        var turn: DialogTurn?
        var isNew = false
        let state = try store.turn(session: session) { state, new in
            isNew = new
            let t = engine.step(state: &state, nlu: nlu, session: session)
            turn = t
            return TurnRecord(turn: state.turn - 1, text: text, intent: t.intent, confidence: t.confidence,
                              entities: entities, reply: t.reply)
        }
        guard let turn else { throw ChatError.badInput("no turn played") }
        return AgentReply(session: session, newSession: isNew, transcript: text, intent: turn.intent, confidence: turn.confidence,
                          ranking: Array(ranking.prefix(3)), entities: entities, reply: turn.reply, responses: turn.responses, events: turn.events,
                          state: state)
    }
}

/// Where the shipped agent and the session store live.
public enum AgentLocation {
    /// The agent folder: `explicit` if given, else `$LEPTON_CHAT_AGENT`, else `samples/bank`
    /// found above the executable (a build folder inside the repository) or under the
    /// current directory.
    public static func agentFolder(explicit: String? = nil) throws -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        let env = ProcessInfo.processInfo.environment
        if let e = env["LEPTON_CHAT_AGENT"], !e.isEmpty { return URL(fileURLWithPath: e) }
        var candidates: [URL] = []
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("samples/bank"))
            candidates.append(dir.appendingPathComponent("share/lepton/samples/bank"))
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("samples/bank"))
        for c in candidates where FileManager.default.fileExists(atPath: c.appendingPathComponent("domain.yml").path) { return c }
        throw ChatError.agentNotFound("no samples/bank near the executable or in the current folder; pass --model and --domain or set LEPTON_CHAT_AGENT")
    }

    /// The session store: `explicit`, else `$LEPTON_CHAT_STORE`, else
    /// `$XDG_DATA_HOME/lepton/chat-sessions.sqlite` (default `~/.local/share`).
    public static func storeFile(explicit: String? = nil) -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        let env = ProcessInfo.processInfo.environment
        if let e = env["LEPTON_CHAT_STORE"], !e.isEmpty { return URL(fileURLWithPath: e) }
        let base = env["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share")
        return base.appendingPathComponent("lepton/chat-sessions.sqlite")
    }
}
