import ArgumentParser
import Foundation
import Hummingbird
import LeptonAudio
import LeptonCLI
import LeptonDialog
import LeptonEngine
import LeptonServer
import LeptonSpeech
import LeptonVoice
import Synchronization

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the agent over HTTP: transcripts and caller turns, with the models loaded once.",
        discussion: """
        The agent (model, domain, session store: the options of `respond`) and Whisper are \
        loaded once and shared by every request.
          POST /v1/transcribe            audio bytes -> as `transcribe -f json`
          POST /v1/sessions/{id}/turns   a caller's turn -> as `respond --json`
              (card numbers masked); {id}: 1 to 128 of A-Z a-z 0-9 . _ -; the body is
              JSON {"text": "..."} (application/json) or audio (audio/* or
              application/octet-stream); optional header Idempotency-Key (1 to 128
              printable ASCII): a retry with the same key and body gets the first answer
              (header Idempotent-Replayed: true) and plays nothing again; the same key with
              another body: 422; a session keeps the keys of its last 100 turns
          GET /v1/sessions?limit=N       the N sessions played last (default 20,
              at most 200): {"sessions": [{"id", "turns", "created", "updated"}]}
          GET /v1/sessions/{id}          a session's turns as stored (masked)
          POST /v1/speak                 {"text": "..."} -> WAV by espeak-ng (501
              without it), as `respond --speak`
          GET /v1/transcribe/stream      WebSocket: a live call's audio in, the JSON
              lines of `transcribe --stream` out (below)
          GET /                          the call console, a page over these routes
          GET /healthz, /metrics, /openapi.json   (openapi/lepton-chat.json)
        Errors are JSON {"error": "..."}: 400 unusable body (bad JSON, audio that cannot be \
        decoded, empty text), 401 no or wrong key (--api-key-file), 404 unknown session, 413 body above \
        --max-body-mb, 415 another Content-Type, 422 Idempotency-Key reused with \
        another body, 503 + Retry-After while loading or with \
        --queue requests waiting, 504 after --timeout.

        Live transcription: open ws://HOST:PORT/v1/transcribe/stream?sample_rate=8000&\
        encoding=pcm_mulaw (defaults 16000 and pcm_s16le; also partial_interval_ms and the \
        VAD's threshold, min_silence_duration_ms, speech_pad_ms... as faster-whisper names \
        them), send the audio as binary messages of raw samples and the text message \
        {"event":"end"} at the end; each answer is a text message holding one JSON object \
        as `transcribe --stream` prints them, then the service closes (1000). A problem is \
        one message {"type":"error","error":"..."} and a close: 1003 a text message other \
        than the end, 1007 audio that splits a sample, 1008 a bad parameter, --stream-idle-\
        seconds without a message or --stream-max-minutes passed, 1009 a message above \
        --stream-max-frame-kb, 1011 a server error or --timeout, 1013 busy (--queue, \
        --max-streams).

        Runs until SIGTERM or Ctrl-C; `listening on http://HOST:PORT` says it is ready:
          $ lepton-chat serve --store /tmp/lepton-chat-demo.sqlite --port 8080
          $ curl -s -H 'Content-Type: application/json' \\
              -d '{"text": "I lost my card"}' http://127.0.0.1:8080/v1/sessions/s1/turns
        """)

    @OptionGroup var selection: AgentSelection
    @OptionGroup var serve: ServeOptions
    @OptionGroup(title: "Live transcription (the WebSocket route)") var streams: StreamLimits
    @OptionGroup var common: CommonOptions
    @OptionGroup var seeding: SeedOptions

    /// What every request shares: the agent (its models and store), Whisper and the listeners.
    struct Loaded: Sendable {
        var agent: ChatAgent
        var transcriber: WhisperTranscriber
        var whisperIdentity: ModelIdentity
        var listeners: ListenerPool
        /// The live route's voice-activity detector (nil when its model is missing: the route says so).
        var vad: SileroVAD?
    }

    func run() throws {
        try runCommand("lepton-chat", common) {
            let selection = self.selection, seed = seeding.seed, streams = self.streams
            let service = try ModelService<Loaded>(program: "lepton-chat", options: serve, threads: common.threads)
            let openStreams = OpenStreams()
            try service.run(models: ["intents", "whisper"], load: {
                let (agent, call) = try selection.load(seed: seed)
                let whisper = try WhisperModel(computeType: selection.compute.computeType)
                var options = WhisperTranscribeOptions()
                options.seed = seed
                let vad: SileroVAD?
                do { vad = try SileroVAD(contentsOf: ModelCache.sileroVAD) } catch {
                    vad = nil
                    Log.error("\(StreamRoute.path) is off: \(error) (scripts/bootstrap.sh fetches Silero VAD)")
                }
                return Loaded(agent: agent, transcriber: WhisperTranscriber(model: whisper, options: options),
                              whisperIdentity: try whisper.identity(), listeners: ListenerPool(whisper: whisper, settings: call), vad: vad)
            }, console: CallConsole.page,
            // Twice the route's own bound: a message between the two gets an error message, a
            // larger frame only the close (1009).
            webSockets: WebSocketRoutes(maxFrameSize: 2 * streams.maxFrameBytes, drain: {
                await openStreams.drain(within: streams.streamDrainSeconds)
            }) { router in
                StreamRoute.add(to: router, service: service, limits: streams, open: openStreams)
            }) { router in
                router.post("/v1/transcribe") { request, _ -> Response in
                    let body = try await service.body(request)
                    let json = try await service.work { loaded in
                        try chatErrors {
                            try RequestInput.withTemporaryFile(body) { file in
                                try loaded.transcriber.transcribe(url: file).jsonLine(file: "body", model: loaded.whisperIdentity)
                            }
                        }
                    }
                    return .json(json)
                }
                router.post("/v1/sessions/{id}/turns") { request, context -> Response in
                    let session = try SessionRoutes.sessionID(context)
                    let turn = try TurnInput(request)
                    let body = try await service.body(request)
                    // Idempotency-Key: the turn, its key and its answer commit together, so a retry
                    // (on any replica) gets the first answer back instead of playing the turn again.
                    let idempotency = try request.headers.first(where: { $0.name.canonicalName == "idempotency-key" }).map(\.value).map { key in
                        try chatErrors { try TurnIdempotency(key: key, request: Data("\(turn)\n".utf8) + Data(body.readableBytesView)) }
                    }
                    let (json, replayed) = try await service.work { loaded in
                        try chatErrors {
                            let reply = try turn.respond(body, session: session, idempotency: idempotency, loaded)
                            return (try jsonLine(reply.masked), reply.replayed)
                        }
                    }
                    var headers = HTTPFields()
                    if replayed { headers[.init("Idempotent-Replayed")!] = "true" }  // the stored answer of the first play
                    return .json(json, headers: headers)
                }
                SessionRoutes.add(to: router, service: service)
                SpeakRoute.add(to: router, service: service)
                StreamRoute.addUpgradeRequired(to: router)
            }
        }
    }
}

/// What a turn's body holds, from its Content-Type.
private enum TurnInput: Sendable {
    case text, audio

    init(_ request: Request) throws {
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if type == "application/json" { self = .text }
        else if type.hasPrefix("audio/") || type == "application/octet-stream" { self = .audio }
        else {
            throw ServiceError(.unsupportedMediaType,
                               "Content-Type must be application/json ({\"text\": \"...\"}) or audio/* or application/octet-stream, got \(type.isEmpty ? "none" : type)")
        }
    }

    /// The agent's reply to the turn (unmasked: the caller masks it).
    func respond(_ body: ByteBuffer, session: String, idempotency: TurnIdempotency?, _ loaded: ServeCommand.Loaded) throws -> AgentReply {
        switch self {
        case .text:
            struct Typed: Decodable { var text: String }
            let typed: Typed
            do { typed = try JSONDecoder().decode(Typed.self, from: Data(body.readableBytesView)) } catch {
                throw ServiceError.badRequest("the body must be a JSON object {\"text\": \"...\"}: \(Self.reason(error))")
            }
            return try loaded.agent.respond(text: typed.text, session: session, idempotency: idempotency)
        case .audio:
            // A retry of a played turn is answered from the store before the call is heard again.
            if let idempotency, let stored = try loaded.agent.replay(session: session, idempotency: idempotency) { return stored }
            return try RequestInput.withTemporaryFile(body) { file in
                let heard = try loaded.listeners.hear(file, agent: loaded.agent)
                return try loaded.agent.respond(to: heard, session: session, idempotency: idempotency)
            }
        }
    }

    /// A decoding error in a few words (the decoder's own text quotes the input).
    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "no \"\(key.stringValue)\" field"
        case DecodingError.typeMismatch(_, let c): return "\"\(c.codingPath.map(\.stringValue).joined(separator: "."))\" must be a string"
        case DecodingError.valueNotFound(_, let c): return "\"\(c.codingPath.map(\.stringValue).joined(separator: "."))\" is null"
        default: return "not valid JSON"
        }
    }
}

/// Call listeners for the requests running at once: a listener keeps per-call scratch (and its
/// counted language model), so each is used by one request at a time and kept for the next.
final class ListenerPool: Sendable {
    private let whisper: WhisperModel
    private let settings: CallSettings
    private let idle = Mutex<[UncheckedListener]>([])

    /// A listener that crosses threads only through the pool's lock, used by one request at a time.
    private struct UncheckedListener: @unchecked Sendable { let listener: CallListener }

    init(whisper: WhisperModel, settings: CallSettings) { self.whisper = whisper; self.settings = settings }

    func hear(_ url: URL, agent: ChatAgent) throws -> HeardCall {
        let kept = idle.withLock { $0.popLast() }
        let listener = kept?.listener ?? CallListener(whisper: whisper, settings: settings)
        defer { idle.withLock { $0.append(UncheckedListener(listener: listener)) } }
        return try listener.hear(url, agent: agent)
    }
}

/// The one place chat errors become HTTP answers: what the caller sent cannot be used (400, naming
/// the problem, the temporary file's path replaced by `body`); anything else passes on as a 500
/// without details. A store that cannot be reached is the line to add here (503).
func chatErrors<T>(_ body: () throws -> T) throws -> T {
    func clean(_ s: String) -> String {
        s.replacingOccurrences(of: #"/[^ :]*/lepton-[0-9A-F-]+"#, with: "body", options: .regularExpression)
    }
    do { return try body() } catch let e as ServiceError { throw e }
    catch ChatError.badInput(let reason) { throw ServiceError.badRequest(clean(reason)) }
    // A retry must repeat its request exactly; another request under a used key is refused.
    catch let e as IdempotencyKeyReused { throw ServiceError(.unprocessableContent, e.description) }
    // The database is down or unreachable: nothing was played; the client may retry the turn.
    catch ChatError.storeUnavailable(let reason) { throw ServiceError.unavailable("session store unavailable: \(reason)", retryAfter: 2) }
    catch let e as AudioError { throw ServiceError.badRequest(clean(e.description)) }
    catch let e as SpeechError {
        if case .audio = e { throw ServiceError.badRequest(clean(e.description)) }
        throw e
    }
}
