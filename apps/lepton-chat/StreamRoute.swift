import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdWebSocket
import LeptonAudio
import LeptonCLI
import LeptonServer
import LeptonSpeech
import Metrics
import NIOWebSocket
import Synchronization

/// `GET /v1/transcribe/stream` upgraded to a WebSocket: live transcription of one call, as
/// `transcribe --stream` gives it. The client sends its audio as binary messages (raw samples in
/// the query's encoding and rate) and the text message {"event":"end"} when the call ends; the
/// service answers with text messages, one JSON object each: the `partial` and `final` objects
/// `transcribe --stream` prints, then closes (1000). A problem is one message
/// {"type":"error","error":"..."} and a close with the code of ``StreamFailure``. When the service
/// is asked to stop (SIGTERM), each open stream gets the finals of the audio it sent, an error
/// message saying so and a close 1001 (going away), so that its client goes on elsewhere.
///
/// Each message's work (decoding, the VAD, Whisper) runs on the service's workers, in the queue
/// and under the timeout of every other request; a stream's state is its own.
enum StreamRoute {
    static let path = "/v1/transcribe/stream"

    static func add(to router: Router<BasicWebSocketRequestContext>, service: ModelService<ServeCommand.Loaded>, limits: StreamLimits,
                    open: OpenStreams) {
        router.ws(RouterPath(path)) { inbound, outbound, context in
            let opened = ContinuousClock.now
            let socket = StreamSocket(outbound)
            let count = open.add(socket)
            var outcome = "ended"
            var state: StreamState?
            defer {
                let (seconds, finals) = state?.totals ?? (0, 0)
                open.remove(socket)
                Counter(label: "lepton_streams_total", dimensions: [("outcome", outcome)]).increment()
                // Amounts only: never the audio or its text.
                context.logger.info("stream", metadata: [
                    "outcome": "\(outcome)", "audio_s": "\(String(format: "%.1f", seconds))", "finals": "\(finals)", "s": "\(String(format: "%.1f", (ContinuousClock.now - opened).seconds))"])
            }
            do {
                guard count <= limits.maxStreams else {
                    throw StreamFailure(.unknown(1013), "busy: \(limits.maxStreams) streams are already open (--max-streams)")
                }
                let stream = try StreamState(query: context.request.uri.queryParameters, models: try service.models())
                state = stream
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await socket.watch(limits: limits, opened: opened) { try await run(service) { try stream.finish() } }
                    }
                    defer { group.cancelAll() }
                    socket.waiting()
                    for try await message in inbound.messages(maxSize: limits.maxFrameBytes * 2) {
                        // Not once the watch has ended the stream (idle, drained): it was answered.
                        guard socket.startStep() else { break }
                        let arrived = ContinuousClock.now
                        switch message {
                        case .binary(let bytes):
                            guard bytes.readableBytes <= limits.maxFrameBytes else {
                                throw StreamFailure(.messageTooLarge, "an audio message of \(bytes.readableBytes) bytes is above \(limits.maxFrameBytes) (--stream-max-frame-kb)")
                            }
                            guard stream.totals.seconds <= limits.maxSeconds else {
                                throw StreamFailure(.policyViolation, "the stream passed \(limits.maxSeconds / 60) minutes of audio (--stream-max-minutes)")
                            }
                            try await socket.send(try await run(service) { try stream.append(bytes) }, arrived: arrived)
                        case .text(let text):
                            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                                  object["event"] as? String == "end" else {
                                throw StreamFailure(.unacceptableData, "the only text message is {\"event\":\"end\"}; audio goes in binary messages")
                            }
                            try await socket.send(try await run(service) { try stream.finish() }, arrived: arrived)
                            try await socket.close(.normalClosure)
                            return
                        }
                        socket.waiting()
                    }
                    // The client closed without {"event":"end"} (nothing can be sent any more), or
                    // the watch ended the stream.
                    outcome = socket.failed ?? "closed_by_client"
                }
            } catch let failure as StreamFailure {
                outcome = failure.outcome
                await socket.fail(failure)
            } catch {
                // A write after the watch closed the stream fails: that close was the answer.
                guard let failed = socket.failed else { outcome = "protocol_error"; throw error }
                outcome = failed
            }
        }
    }

    /// The plain-HTTP answer on the stream's path (no `Upgrade: websocket`): 426.
    static func addUpgradeRequired(to router: Router<BasicRequestContext>) {
        router.get(RouterPath(path)) { _, _ -> Response in
            throw ServiceError(.upgradeRequired, "\(path) is a WebSocket: open it with Upgrade: websocket", headers: [.upgrade: "websocket"])
        }
    }

    /// Runs a stream's step on a worker; the pool's refusals and the step's errors as failures.
    private static func run(_ service: ModelService<ServeCommand.Loaded>, _ step: @escaping @Sendable () throws -> [StreamEvent]) async throws -> [StreamEvent] {
        do { return try await service.workers.run(step) } catch let e as ServiceError {
            switch e.status {
            case .serviceUnavailable: throw StreamFailure(.unknown(1013), e.message)
            default: throw StreamFailure(.unexpectedServerError, e.message)
            }
        } catch let e as AudioError {
            throw StreamFailure(.dataInconsistentWithMessage, e.description)
        } catch {
            throw StreamFailure(.unexpectedServerError, "internal error")
        }
    }
}

/// The route's bounds (`serve` options).
struct StreamLimits: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp("Live streams (\(StreamRoute.path)) open at once at most.", valueName: "n"))
    var maxStreams = 16

    @Option(name: .long, help: ArgumentHelp("A live stream ends after this much audio or time connected.", valueName: "min"))
    var streamMaxMinutes = 60.0

    @Option(name: .long, help: ArgumentHelp("A live stream ends when no message came for this long.", valueName: "s"))
    var streamIdleSeconds = 30.0

    @Option(name: .long, help: ArgumentHelp("Largest audio message of a live stream, in KiB.", valueName: "kb"))
    var streamMaxFrameKb = 64

    @Option(name: .long, help: ArgumentHelp("At SIGTERM, how long open streams get to receive their last finals and a 1001 close before the service stops.", valueName: "s"))
    var streamDrainSeconds = 10.0

    func validate() throws {
        guard (1...1024).contains(maxStreams) else { throw ValidationError("--max-streams must be 1...1024") }
        guard streamMaxMinutes > 0, streamMaxMinutes <= 24 * 60 else { throw ValidationError("--stream-max-minutes must be in (0, 1440]") }
        guard streamIdleSeconds > 0, streamIdleSeconds <= 3600 else { throw ValidationError("--stream-idle-seconds must be in (0, 3600]") }
        guard (1...16_384).contains(streamMaxFrameKb) else { throw ValidationError("--stream-max-frame-kb must be 1...16384") }
        guard streamDrainSeconds >= 0, streamDrainSeconds <= 600 else { throw ValidationError("--stream-drain-seconds must be in [0, 600]") }
    }

    var maxSeconds: Double { streamMaxMinutes * 60 }
    var maxFrameBytes: Int { streamMaxFrameKb * 1024 }
}

/// Why a stream was ended: the close code and the one line of its error message.
struct StreamFailure: Error {
    var code: WebSocketErrorCode
    var message: String

    init(_ code: WebSocketErrorCode, _ message: String) { self.code = code; self.message = message }

    /// The `outcome` label of `lepton_streams_total`.
    var outcome: String {
        switch code {
        case .unknown(1013): return "busy"
        case .messageTooLarge: return "too_large"
        case .unexpectedServerError: return "server_error"
        case .policyViolation where message.hasPrefix("no message"): return "idle"
        default: return "bad_input"
        }
    }
}

/// Streams open now: the --max-streams bound, the `lepton_streams_open` gauge, and the drain at
/// SIGTERM.
final class OpenStreams: Sendable {
    private let sockets = Mutex<[ObjectIdentifier: StreamSocket]>([:])
    private let draining = Mutex(false)

    /// Counts `socket` open and returns how many are; asks it to drain at once if the service
    /// already is draining.
    func add(_ socket: StreamSocket) -> Int {
        let count = sockets.withLock { s in
            s[ObjectIdentifier(socket)] = socket
            StreamMetrics.open.record(s.count)
            return s.count
        }
        if draining.withLock({ $0 }) { socket.requestDrain() }
        return count
    }

    func remove(_ socket: StreamSocket) {
        sockets.withLock { s in
            s[ObjectIdentifier(socket)] = nil
            StreamMetrics.open.record(s.count)
        }
    }

    /// Asks every open stream to end with its finals and a 1001, and returns once none is open,
    /// `seconds` have passed, or the task is cancelled.
    func drain(within seconds: Double) async {
        draining.withLock { $0 = true }
        sockets.withLock { $0 }.values.forEach { $0.requestDrain() }
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while sockets.withLock({ !$0.isEmpty }), ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
        }
    }
}

enum StreamMetrics {
    static let open = Gauge(label: "lepton_streams_open")
    /// From the message that made a final known arriving to its final sent.
    static let finalLatency = Metrics.Timer(label: "lepton_stream_final_seconds")
    static let audio = FloatingPointCounter(label: "lepton_stream_audio_seconds_total")
}

/// One connection's way out: messages in order, at most one error, and the idle and duration
/// watch (an error from the watch while the route waits for the client).
final class StreamSocket: Sendable {
    private let outbound: WebSocketOutboundWriter
    private let state = Mutex<(waitingSince: ContinuousClock.Instant?, failed: String?, drain: Bool)>((nil, nil, false))

    init(_ outbound: WebSocketOutboundWriter) { self.outbound = outbound }

    /// The outcome when the watch ended the stream.
    var failed: String? { state.withLock { $0.failed } }

    /// The route waits for the next message (the idle time counts from now; a drain may end the stream).
    func waiting() { state.withLock { $0.waitingSince = .now } }

    /// A message arrived: false when the watch has already ended the stream (then the message is
    /// not the route's any more), else the stream is busy until ``waiting()``.
    func startStep() -> Bool {
        state.withLock { s in
            guard s.failed == nil else { return false }
            s.waitingSince = nil
            return true
        }
    }

    /// The service is stopping: the watch ends the stream at its next quiet moment.
    func requestDrain() { state.withLock { $0.drain = true } }

    /// Whether the watch may drain now (asked to, and no step running); then the stream is over.
    private func claimDrain() -> Bool {
        state.withLock { s in
            guard s.drain, s.failed == nil, s.waitingSince != nil else { return false }
            s.failed = "drained"
            return true
        }
    }

    func send(_ events: [StreamEvent], arrived: ContinuousClock.Instant) async throws {
        for e in events {
            try await outbound.write(.text(e.jsonLine))
            if e.type == .final { StreamMetrics.finalLatency.recordNanoseconds(Int64((ContinuousClock.now - arrived).seconds * 1e9)) }
        }
    }

    func close(_ code: WebSocketErrorCode) async throws { try await outbound.close(code, reason: nil) }

    /// The error message and the close; only the first failure is sent.
    func fail(_ failure: StreamFailure) async {
        let first = state.withLock { s -> Bool in
            defer { s.failed = s.failed ?? failure.outcome }
            return s.failed == nil
        }
        guard first else { return }
        try? await outbound.write(.text("{\"type\":\"error\",\"error\":\(jsonString(failure.message))}"))
        try? await outbound.close(failure.code, reason: String(failure.message.prefix(100)))
    }

    /// Ends the stream once the client has been silent for the idle time, the stream has lasted
    /// the longest time allowed, or the service drains (then with `flush`'s finals, an error
    /// message and 1001); returns when cancelled.
    func watch(limits: StreamLimits, opened: ContinuousClock.Instant, flush: @Sendable () async throws -> [StreamEvent]) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            if claimDrain() {
                let arrived = ContinuousClock.now
                do { try await send(try await flush(), arrived: arrived) } catch let e as StreamFailure {
                    try? await outbound.write(.text("{\"type\":\"error\",\"error\":\(jsonString("the service is shutting down; the last audio has no final: " + e.message))}"))
                    try? await outbound.close(e.code, reason: nil)
                    return
                } catch { return }
                try? await outbound.write(.text("{\"type\":\"error\",\"error\":\"the service is shutting down: every final of the audio sent is above; reconnect to go on\"}"))
                try? await outbound.close(.goingAway, reason: "shutting down")
                return
            }
            let since = state.withLock { $0.waitingSince }
            if let since, (ContinuousClock.now - since).seconds > limits.streamIdleSeconds {
                return await fail(StreamFailure(.policyViolation, "no message for \(limits.streamIdleSeconds) s (--stream-idle-seconds)"))
            }
            if (ContinuousClock.now - opened).seconds > limits.maxSeconds {
                return await fail(StreamFailure(.policyViolation, "the stream passed \(limits.streamMaxMinutes) minutes (--stream-max-minutes)"))
            }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
