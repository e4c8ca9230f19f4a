import Foundation
import LeptonEngine
import LeptonText

/// The answer to one turn: what `lepton-chat respond --json` prints.
public struct AgentReply: Codable, Sendable {
    public var session: String
    /// True when this turn started the session (unknown session id).
    public var newSession: Bool
    /// What the user said (typed text, or the transcript of the audio).
    public var transcript: String
    /// The intent acted on ("nlu_fallback" when not understood) and the classifier's confidence.
    /// With a domain's `topics`, this is the handler intent and its confidence the sum of its labels'.
    public var intent: String
    public var confidence: Double
    /// The model's fine label the intent was reached through (`pin_blocked` when `intent` is
    /// `change_pin`); absent for a fallback.
    public var topic: String? = nil
    /// The top intents as the classifier ranked them (at most 3; handler intents, each with its topic).
    public var ranking: [IntentScore]
    public var entities: [Entity]
    public var reply: String
    /// Response templates used, in order.
    public var responses: [String]
    /// Dialog events of the turn ("slot:amount", "handoff"...).
    public var events: [String]
    /// The session's state after the turn.
    public var state: DialogState
    /// For audio heard in several readings: each reading and the weight its intent ranking had
    /// in `ranking` (absent when only the transcript was classified).
    public var readings: [WeightedReading]?
    /// The intent model that ranked the intents (name, version, short hash of its files).
    public var model: ModelIdentity? = nil
    /// True when the answer is the stored one of a turn played before with the same
    /// `Idempotency-Key` (nothing was played now). Not part of the JSON: a service says it in a
    /// header, so a replayed body is the first answer's, byte for byte.
    public var replayed = false
    /// For audio: the transcript's segments with their times in the recording (absent for text).
    public var segments: [HeardSegment]? = nil

    enum CodingKeys: String, CodingKey {
        case session, newSession = "new_session", transcript, intent, confidence, topic, ranking, entities, reply, responses, events, state, readings, model
        case segments
    }

    /// The reply as it may be printed: card and account numbers keep only their last four digits
    /// in the entities, and runs of 6 or more digits are masked in every text that can quote the
    /// caller (transcript, readings, reply, slot values), as the store and the log do.
    public var masked: AgentReply {
        var r = self
        r.entities = entities.map(\.masked)
        r.transcript = maskNumbersInText(transcript)
        r.reply = maskNumbersInText(reply)
        r.readings = readings?.map { WeightedReading(text: maskNumbersInText($0.text), weight: $0.weight) }
        r.segments = segments?.map { HeardSegment(start: $0.start, end: $0.end, text: maskNumbersInText($0.text)) }
        r.state.slots = state.slots.mapValues(maskNumbersInText)
        return r
    }
}

/// One reading of the caller's audio from the speech recogniser's n-best list.
public struct HeardReading: Sendable {
    public var text: String
    /// The recogniser's log-probability of the whole reading.
    public var logProbability: Double
    public init(text: String, logProbability: Double) { self.text = text; self.logProbability = logProbability }
}

/// A stretch of a caller's recording and the words heard in it.
public struct HeardSegment: Codable, Sendable, Equatable {
    /// Seconds from the start of the recording.
    public var start: Double
    public var end: Double
    public var text: String

    public init(start: Double, end: Double, text: String) { self.start = start; self.end = end; self.text = text }
}

/// A reading and its share of the intent ranking.
public struct WeightedReading: Codable, Sendable, Equatable {
    public var text: String
    public var weight: Double
}

/// The whole understanding-and-dialog pipeline for text: intents, entities, dialog policy and
/// the session store. (Audio is transcribed before, by LeptonVoice's `CallListener`.)
///
/// One loaded agent serves any number of sessions at once, from any threads: it holds only
/// immutable parts, and a session's state lives in the ``SessionStore`` (read, stepped and written
/// back in one transaction per turn), never in the agent.
public final class ChatAgent: Sendable {
    public let engine: DialogEngine
    public let classifier: any IntentRanking
    public let extractor: EntityExtractor
    public let store: any SessionStore
    /// The intent model's identity, put in every reply (set by ``load(model:domain:nlu:store:referenceDay:seed:)``).
    public let modelIdentity: ModelIdentity?
    /// Sends the domain's backend actions; nil when no action of the domain has an endpoint.
    public let backend: BackendClient?
    /// Longer inputs are cut to this many characters before understanding (the encoder reads
    /// 256 tokens anyway); the transcript returned is the full text.
    public static let maxCharacters = 2_000

    public init(domain: Domain, classifier: any IntentRanking, extractor: EntityExtractor, store: SessionStore, seed: UInt64 = 0,
                modelIdentity: ModelIdentity? = nil) {
        self.engine = DialogEngine(domain: domain, seed: seed)
        self.classifier = classifier
        self.extractor = extractor
        self.store = store
        self.modelIdentity = modelIdentity
        self.backend = domain.actions.values.contains { $0.endpoint != nil } ? BackendClient() : nil
    }

    /// Plays one turn of `session` with the user's `text`.
    ///
    /// - Parameters:
    ///   - allowEmpty: an empty text (silent audio) is then a turn the bot did not
    ///     understand rather than an error.
    ///   - readings: for audio, the recogniser's best readings (the first is `text`). With two or
    ///     more, the intent ranking is their mixture, each weighted by its posterior within the
    ///     list (`softmax` of the log-probabilities): a garbled best reading ("Can I speak for real
    ///     version") is outvoted when the next one says "a real person". Entities come from `text`.
    ///   - idempotency: the client's key for this turn. A key this session has seen with the same
    ///     request gives the stored answer (``AgentReply/replayed``) and plays nothing; see
    ///     ``SessionStore/turn(session:idempotency:_:)``.
    /// A turn that completes a backend action waits for the backend's answer (at most the
    /// action's timeout) holding its session's lock in the store (PostgreSQL: the session's row
    /// lock; SQLite: the session's lease), so the outcome is stored with the turn (and, with a
    /// key, a retried turn never sends the action again) while other sessions go on.
    /// - Throws: ``ChatError/badInput(_:)`` for empty text (unless allowed); ``IdempotencyKeyReused``
    ///   for a key seen with another request; store errors.
    public func respond(text rawText: String, session: String, allowEmpty: Bool = false,
                        readings: [HeardReading] = [], segments: [HeardSegment]? = nil,
                        idempotency: TurnIdempotency? = nil) throws -> AgentReply {
        let text = rawText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !session.isEmpty, session.count <= 200 else { throw ChatError.badInput("session id must have 1 to 200 characters") }
        if text.isEmpty && !allowEmpty { throw ChatError.badInput("empty text") }
        let cut = String(text.prefix(ChatAgent.maxCharacters))
        // Understanding happens outside the store transaction: it is the slow part.
        var ranking = cut.isEmpty ? [] : engine.domain.handlerRanking(try classifier.rank(cut))
        var weighted: [WeightedReading]?
        if readings.count > 1, !cut.isEmpty {
            (ranking, weighted) = try mixedRanking(readings)
        }
        let entities = cut.isEmpty ? [] : extractor.extract(cut)
        let nlu = NLUResult(text: cut, ranking: ranking, entities: entities)
        var turn: DialogTurn?
        var isNew = false
        func play(_ state: inout DialogState, _ new: Bool) -> TurnRecord {
            isNew = new
            let t = engine.step(state: &state, nlu: nlu, session: session) { [backend] request, endpoint in
                backend?.perform(request, at: endpoint) ?? .failed("no backend client")
            }
            turn = t
            return TurnRecord(turn: state.turn - 1, text: text, intent: t.intent, confidence: t.confidence,
                              entities: entities, reply: t.reply)
        }
        func reply(_ turn: DialogTurn, _ state: DialogState) -> AgentReply {
            AgentReply(session: session, newSession: isNew, transcript: text, intent: turn.intent, confidence: turn.confidence,
                       topic: turn.topic, ranking: Array(ranking.prefix(3)), entities: entities, reply: turn.reply, responses: turn.responses, events: turn.events,
                       state: state, readings: weighted, model: modelIdentity, segments: segments)
        }
        guard let idempotency else {
            let state = try store.turn(session: session) { state, new in play(&state, new) }
            guard let turn else { throw ChatError.badInput("no turn played") }
            return reply(turn, state)
        }
        // The stored answer is the masked reply (the store never holds a card number), as JSON.
        let outcome = try store.turn(session: session, idempotency: idempotency) { state, new in
            let record = play(&state, new)
            guard let turn else { throw ChatError.badInput("no turn played") }
            return (record, String(decoding: try JSONEncoder().encode(reply(turn, state).masked), as: UTF8.self))
        }
        switch outcome {
        case .played(let state):
            guard let turn else { throw ChatError.badInput("no turn played") }
            return reply(turn, state)
        case .replayed(let answer):
            return try Self.replayed(answer, session: session, key: idempotency.key)
        }
    }

    /// The stored answer of a turn already played in `session` with this key and request, or nil:
    /// what a service asks before hearing a call, so that a retried audio turn is answered
    /// without running the recogniser again.
    /// - Throws: ``IdempotencyKeyReused`` for a key seen with another request; store errors.
    public func replay(session: String, idempotency: TurnIdempotency) throws -> AgentReply? {
        try store.storedAnswer(session: session, idempotency: idempotency).map {
            try Self.replayed($0, session: session, key: idempotency.key)
        }
    }

    private static func replayed(_ answer: String, session: String, key: String) throws -> AgentReply {
        do {
            var stored = try JSONDecoder().decode(AgentReply.self, from: Data(answer.utf8))
            stored.replayed = true
            return stored
        } catch {
            throw ChatError.store(file: "(answer of session \(session))", reason: "the stored answer of Idempotency-Key \(key) is unreadable")
        }
    }

    /// The intent ranking `respond` would give these readings (one reading: its own ranking),
    /// best first, without playing a turn.
    public func intentRanking(readings: [HeardReading]) throws -> [IntentScore] {
        if readings.count == 1 {
            let text = String(readings[0].text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(ChatAgent.maxCharacters))
            return text.isEmpty ? [] : engine.domain.handlerRanking(try classifier.rank(text))
        }
        return try mixedRanking(readings).0
    }

    /// The intent rankings of `readings` mixed by their posterior weights, best first (as handler
    /// intents: the sum of a handler's labels is linear, so mixing labels first changes nothing).
    func mixedRanking(_ readings: [HeardReading]) throws -> ([IntentScore], [WeightedReading]) {
        let top = readings.map(\.logProbability).max() ?? 0
        let raw = readings.map { $0.logProbability.isFinite ? Foundation.exp($0.logProbability - top) : 0 }
        let total = raw.reduce(0, +)
        let weights = total > 0 ? raw.map { $0 / total } : raw.map { _ in 1 / Double(raw.count) }
        var mixed: [String: Double] = [:]
        var order: [String] = []
        for (reading, w) in zip(readings, weights) {
            let text = String(reading.text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(ChatAgent.maxCharacters))
            guard !text.isEmpty, w > 0 else { continue }
            for score in try classifier.rank(text) {
                if mixed[score.name] == nil { order.append(score.name) }
                mixed[score.name, default: 0] += w * score.confidence
            }
        }
        // Ties keep first-seen order, so the mixture of one reading is that reading's ranking.
        let ranking = order.enumerated().sorted { a, b in
            let x = mixed[a.element]!, y = mixed[b.element]!
            return x != y ? x > y : a.offset < b.offset
        }.map { IntentScore(name: $0.element, confidence: mixed[$0.element]!) }
        return (engine.domain.handlerRanking(ranking), zip(readings, weights).map { WeightedReading(text: $0.text, weight: $1) })
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
