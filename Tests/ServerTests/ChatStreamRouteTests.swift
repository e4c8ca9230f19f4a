import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import XCTest

/// `lepton-chat serve`'s WebSocket route against `transcribe --stream` (the CLI as the reference):
/// dev clips sent in small messages (16 kHz PCM and the 8 kHz µ-law phone copy) give the CLI's
/// finals; two streams at once each get their own text; bad input ends a stream with an error
/// message and a close code, and the service goes on; a stream beyond --max-streams is refused as
/// busy (1013) and the slot comes back.
final class ChatStreamRouteTests: XCTestCase {
    let dev = ServiceProcess.root.appendingPathComponent("../shared/data/speech/dev").standardized.path
    let samples = ServiceProcess.root.appendingPathComponent("samples/chat").path
    var stores: [String] = []

    override func tearDown() {
        for s in stores { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: s + suffix) } }
    }

    func chat(_ extra: [String] = []) throws -> ServiceProcess {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString).sqlite").path
        stores.append(store)
        return try ServiceProcess.start("lepton-chat", ["--store", store, "--today", "2026-03-02"] + extra)
    }

    /// The finals `transcribe --stream` prints for `file` (with `args`), as JSON lines.
    func cliFinals(_ file: String, _ args: [String] = []) throws -> [String] {
        let finals = try runCLI("lepton-chat", ["transcribe", "--stream", "--partial-interval-ms", "0"] + args + [file])
            .split(separator: "\n").map(String.init).filter { $0.contains(#""type":"final""#) }
        guard !finals.isEmpty else { throw ServiceTestError("transcribe --stream \(file): no finals to compare with") }
        return finals
    }

    func testFinalsEqualTranscribeStreamAt16kAndMuLaw8k() async throws {
        let s = try chat()
        defer { s.stop() }
        let pcm = try WAVData(path: dev + "/jfk.wav")
        XCTAssertEqual(pcm.format, 1)
        let got = try await Self.stream(s, query: "partial_interval_ms=0", audio: pcm.data, chunk: 640)
        XCTAssertEqual(got.close, 1000, got.messages.joined(separator: "\n"))
        XCTAssertEqual(got.messages, try cliFinals(dev + "/jfk.wav"))

        // The phone copy (G.711 µ-law at 8 kHz, samples/chat/make_tel8k.py), 20 ms a message as a
        // phone line sends it, with quicker finals: several utterances, each final as the CLI's.
        let mulaw = try WAVData(path: samples + "/jfk_tel8k.wav")
        XCTAssertEqual(mulaw.format, 7)
        let phone = try await Self.stream(s, query: "sample_rate=8000&encoding=pcm_mulaw&partial_interval_ms=0&min_silence_duration_ms=500",
                                     audio: mulaw.data, chunk: 160)
        let reference = try cliFinals(samples + "/jfk_tel8k.wav", ["--vad-min-silence-ms", "500"])
        XCTAssertGreaterThan(reference.count, 1)
        XCTAssertEqual(phone.close, 1000)
        XCTAssertEqual(phone.messages, reference)
    }

    func testTwoStreamsAtOnceEachGetTheirOwnText() async throws {
        let s = try chat(["--workers", "2"])
        defer { s.stop() }
        let a = try WAVData(path: dev + "/LJ001-0001.wav"), b = try WAVData(path: dev + "/goforward.wav")
        // Partials on (the default interval): they interleave with the other stream's work.
        async let first = Self.stream(s, query: "", audio: a.data, chunk: 1600)
        async let second = Self.stream(s, query: "", audio: b.data, chunk: 1600)
        let (gotA, gotB) = try await (first, second)
        XCTAssertEqual(gotA.messages.filter { $0.contains(#""type":"final""#) }, try cliFinals(dev + "/LJ001-0001.wav"))
        XCTAssertEqual(gotB.messages.filter { $0.contains(#""type":"final""#) }, try cliFinals(dev + "/goforward.wav"))
        XCTAssertTrue(gotA.messages.allSatisfy { $0.hasPrefix(#"{"type":"partial""#) || $0.hasPrefix(#"{"type":"final""#) })
        let metrics = try s.call("GET", "/metrics")
        XCTAssertTrue(metrics.text.contains(#"lepton_streams_total{outcome="ended"} 2"#), metrics.text)
    }

    func testBadInputEndsTheStreamWithAnErrorAndTheServiceGoesOn() async throws {
        let keyFile = try temporaryFile("k3y\n")
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        let s = try chat(["--api-key-file", keyFile, "--stream-max-frame-kb", "4", "--stream-idle-seconds", "1"])
        defer { s.stop() }
        let audio = try WAVData(path: dev + "/jfk.wav").data

        // No key: the upgrade is refused as every route refuses it (401), before any audio.
        do {
            _ = try await Self.stream(s, query: "", audio: audio, chunk: 640, key: nil)
            XCTFail("upgraded without a key")
        } catch let e as WebSocketClientError { XCTAssertEqual(e, .webSocketUpgradeFailed) }
        let upgrade = ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="]
        XCTAssertEqual(try s.call("GET", StreamPath.path, headers: upgrade).status, 400)  // the library's refusal, no body
        XCTAssertEqual(try s.call("GET", StreamPath.path).status, 401)
        XCTAssertEqual(try s.call("GET", StreamPath.path, headers: ["Authorization": "Bearer k3y"]).status, 426)

        let cases: [(String, String, Data, Int, UInt16, String)] = [
            ("odd byte count in pcm_s16le", "", audio.prefix(641), 641, 1007, "whole 2-byte samples"),
            ("absurd rate", "sample_rate=1000000", audio.prefix(640), 640, 1008, "sample_rate must be 8000...48000"),
            ("unknown encoding", "encoding=opus", audio.prefix(640), 640, 1008, "encoding must be pcm_s16le or pcm_mulaw"),
            ("misspelt parameter", "min_silence_ms=500", audio.prefix(640), 640, 1008, "unknown query parameter min_silence_ms"),
            ("bad VAD setting", "threshold=2", audio.prefix(640), 640, 1008, "threshold must be in [0, 1]"),
            ("too big a message", "", audio.prefix(6000), 6000, 1009, "above 4096 (--stream-max-frame-kb)"),
        ]
        for (what, query, data, chunk, code, message) in cases {
            let got = try Self.independentStream(s, query: query, audio: data, chunk: chunk, key: "k3y")
            XCTAssertEqual(got.close, code, what)
            XCTAssertEqual(got.messages.count, 1, "\(what): \(got.messages)")
            let error = try jsonObject(try XCTUnwrap(got.messages.first, what))
            XCTAssertEqual(error["type"] as? String, "error", what)
            XCTAssertTrue((error["error"] as? String)?.contains(message) == true, "\(what): \(error)")
        }
        // A text message other than the end, and a client that sends nothing.
        let text = try await Self.stream(s, query: "", audio: Data(), chunk: 1, key: "k3y", end: false, text: #"{"event":"stop"}"#)
        XCTAssertEqual(text.close, 1003)
        let started = Date()
        let idle = try await Self.stream(s, query: "", audio: Data(), chunk: 1, key: "k3y", end: false)
        XCTAssertEqual(idle.close, 1008)
        XCTAssertTrue(idle.messages.first?.contains("--stream-idle-seconds") == true, "\(idle.messages)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)

        // Still up, and a good stream still gets its text.
        XCTAssertEqual(try s.call("GET", "/healthz").status, 200)
        let good = try await Self.stream(s, query: "partial_interval_ms=0", audio: audio, chunk: 4096, key: "k3y")
        XCTAssertEqual(good.close, 1000)
        XCTAssertEqual(good.messages, try cliFinals(dev + "/jfk.wav"))
        XCTAssertFalse(s.log.contains { $0.lowercased().contains("fatal") })
    }

    func testAStreamBeyondMaxStreamsIsRefusedAsBusyAndTheSlotComesBack() async throws {
        let s = try chat(["--max-streams", "1"])
        defer { s.stop() }
        let audio = try WAVData(path: dev + "/jfk.wav").data
        // The first stream sends a little audio and then holds its slot until released.
        let released = ResumeOnce()
        defer { _ = released.claim() }
        let url = "ws://127.0.0.1:\(s.port)\(StreamPath.path)?partial_interval_ms=0"
        async let held = bounded(seconds: 180, "held stream") { () -> UInt16? in
            let close = try await WebSocketClient.connect(url: url, logger: Logger(label: "held-stream")) { inbound, outbound, _ in
                try await outbound.write(.binary(ByteBuffer(bytes: audio.prefix(640))))
                while !released.claimed { try await Task.sleep(nanoseconds: 20_000_000) }
                try await outbound.write(.text(#"{"event":"end"}"#))
                for try await _ in inbound.messages(maxSize: 1 << 20) {}
            }
            return close.map { UInt16(webSocketErrorCode: $0.closeCode) }
        }
        // Only once the service counts it open (its gauge), so the second one is surely the second.
        let deadline = Date().addingTimeInterval(60)
        while try !s.call("GET", "/metrics").text.split(separator: "\n").contains(where: { $0.hasPrefix("lepton_streams_open 1") }) {
            guard Date() < deadline else { _ = released.claim(); XCTFail("the held stream never counted as open"); return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let busy = try Self.independentStream(s, query: "", audio: audio.prefix(640), chunk: 640)
        XCTAssertEqual(busy.close, 1013)
        XCTAssertEqual(busy.messages.count, 1, "\(busy.messages)")
        XCTAssertTrue(busy.messages.first?.contains("--max-streams") == true, "\(busy.messages)")
        _ = released.claim()
        let heldClose = try await held
        XCTAssertEqual(heldClose, 1000)

        // The slot is free again: a whole stream gets its text.
        let good = try await Self.stream(s, query: "partial_interval_ms=0", audio: audio, chunk: 4096)
        XCTAssertEqual(good.close, 1000)
        XCTAssertEqual(good.messages, try cliFinals(dev + "/jfk.wav"))
        let metrics = try s.call("GET", "/metrics").text
        XCTAssertTrue(metrics.contains(#"lepton_streams_total{outcome="busy"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"lepton_streams_total{outcome="ended"} 2"#), metrics)
    }

    /// SIGTERM with a stream open (its audio all sent, no end yet): the stream gets the finals of
    /// everything it sent (those `transcribe --stream` prints for the whole clip), one error
    /// message saying the service is stopping, and a close 1001 (going away: go on elsewhere), not
    /// the library's bare 1000 that would drop the last utterance; the service then exits 0.
    func testSIGTERMGivesAnOpenStreamItsFinalsAndGoingAway() throws {
        let s = try chat()
        defer { s.stop() }
        let audio = try WAVData(path: dev + "/jfk.wav").data
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).raw")
        try audio.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["python3", ServiceProcess.root.appendingPathComponent("Tests/ServerTests/Fixtures/ws_stream.py").path,
                            "ws://127.0.0.1:\(s.port)\(StreamPath.path)?partial_interval_ms=0", "--audio", file.path, "--chunk", "4096",
                            "--timeout", "60"]
        let out = Pipe()
        client.standardOutput = out
        try client.run()
        defer { if client.isRunning { client.terminate() } }
        // Only once the service has read all of the audio (its counter), so that every final is due.
        let seconds = Double(audio.count) / 32000
        let deadline = Date().addingTimeInterval(120)
        func heard() throws -> Double {
            let line = try s.call("GET", "/metrics").text.split(separator: "\n").first { $0.hasPrefix("lepton_stream_audio_seconds_total ") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        while try heard() < seconds - 0.01 {
            guard Date() < deadline, client.isRunning else { return XCTFail("the service never read the whole clip (\(try heard()) of \(seconds) s)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        s.process.terminate()
        let got = try jsonObject(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        client.waitUntilExit()
        s.process.waitUntilExit()
        let messages = (got["messages"] as? [String]) ?? []
        XCTAssertEqual(got["close"] as? Int, 1001, "\(got)")
        XCTAssertEqual(Array(messages.dropLast()), try cliFinals(dev + "/jfk.wav"))
        let last = try jsonObject(try XCTUnwrap(messages.last))
        XCTAssertEqual(last["type"] as? String, "error")
        XCTAssertTrue((last["error"] as? String)?.contains("shutting down") == true, "\(last)")
        XCTAssertEqual(s.process.terminationStatus, 0, s.log.suffix(5).joined(separator: "\n"))
        XCTAssertTrue(s.log.contains { $0.contains("outcome=drained") }, s.log.suffix(5).joined(separator: "\n"))
    }

    /// One stream through an independent client (Fixtures/ws_stream.py, websocket-client from PyPI):
    /// `audio` in messages of `chunk` bytes, then the text messages and close code the service sent.
    /// Used where the service answers before reading (a bad query, busy): those frames come in the
    /// same segment as the 101, and hummingbird-websocket's client sometimes loses them and hangs.
    static func independentStream(_ s: ServiceProcess, query: String, audio: Data, chunk: Int, key: String? = nil) throws
        -> (messages: [String], close: UInt16?) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).raw")
        try audio.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let url = "ws://127.0.0.1:\(s.port)\(StreamPath.path)" + (query.isEmpty ? "" : "?" + query)
        let object = try jsonObject(try runTool(URL(fileURLWithPath: "/usr/bin/env"), [
            "python3", ServiceProcess.root.appendingPathComponent("Tests/ServerTests/Fixtures/ws_stream.py").path, url,
            "--audio", file.path, "--chunk", String(chunk), "--timeout", "60"] + (key.map { ["--key", $0] } ?? [])))
        return ((object["messages"] as? [String]) ?? [], (object["close"] as? Int).map { UInt16($0) })
    }

    /// Streams `audio` to the route in messages of `chunk` bytes (then {"event":"end"} when `end`,
    /// or `text` first when given) and collects every text message until the service closes.
    static func stream(_ s: ServiceProcess, query: String, audio: Data, chunk: Int, key: String? = nil, end: Bool = true,
                text: String? = nil) async throws -> (messages: [String], close: UInt16?) {
        let url = "ws://127.0.0.1:\(s.port)\(StreamPath.path)" + (query.isEmpty ? "" : "?" + query)
        // Bounded: a stream the service never closes fails this test instead of stalling the suite
        // (saying what had arrived by then).
        let received = ReceivedMessages()
        do {
            return try await bounded(seconds: 180, "stream \(query)") {
                try await stream(url: url, audio: audio, chunk: chunk, key: key, end: end, text: text, into: received)
            }
        } catch let e as ServiceTestError {
            throw ServiceTestError("\(e); received: \(received.all); service log: \(s.log.suffix(5))")
        }
    }

    static func stream(url: String, audio: Data, chunk: Int, key: String?, end: Bool, text: String?,
                       into received: ReceivedMessages) async throws -> (messages: [String], close: UInt16?) {
        var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20)
        if let key { configuration.additionalHeaders[.authorization] = "Bearer \(key)" }
        let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: Logger(label: "stream-test")) { inbound, outbound, _ in
            // The writer is not awaited: once the service has closed, a write may wait on a
            // channel that is going away, and what the service said is in the messages already.
            let writer = Task {
                if let text { try await outbound.write(.text(text)) }
                var at = 0
                while at < audio.count {
                    let piece = audio[audio.startIndex + at ..< audio.startIndex + min(at + chunk, audio.count)]
                    try await outbound.write(.binary(ByteBuffer(bytes: piece)))
                    at += chunk
                }
                if end { try await outbound.write(.text(#"{"event":"end"}"#)) }
            }
            for try await message in inbound.messages(maxSize: 1 << 20) {
                if case .text(let t) = message { received.append(t) }
            }
            writer.cancel()
        }
        return (received.all, close.map { UInt16(webSocketErrorCode: $0.closeCode) })
    }
}

enum StreamPath { static let path = "/v1/transcribe/stream" }

/// `body`'s result, or an error once `seconds` have passed (the body is then cancelled and left
/// behind: a task that ignores cancellation must not hold the test forever).
func bounded<T: Sendable>(seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = ResumeOnce()
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
        let work = Task {
            do { let v = try await body(); if once.claim() { c.resume(returning: v) } } catch { if once.claim() { c.resume(throwing: error) } }
        }
        Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            if once.claim() { work.cancel(); c.resume(throwing: ServiceTestError("\(what): no answer in \(Int(seconds)) s")) }
        }
    }
}

/// True for the first caller only.
final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func claim() -> Bool { lock.lock(); defer { lock.unlock() }; if done { return false }; done = true; return true }
    var claimed: Bool { lock.lock(); defer { lock.unlock() }; return done }
}

/// Text messages as the client's reader receives them.
final class ReceivedMessages: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func append(_ m: String) { lock.lock(); messages.append(m); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return messages }
}

/// A WAV file's format tag and the bytes of its `data` chunk (what a client streams raw).
struct WAVData {
    var format: Int
    var data: Data

    init(path: String) throws {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(d[d.startIndex + at + $1]) << (8 * $1) } }
        guard d.count >= 12, d.prefix(4) == Data("RIFF".utf8) else { throw ServiceTestError("\(path): not a WAV file") }
        var at = 12, format = 0
        while at + 8 <= d.count {
            let id = String(decoding: d[at..<at + 4], as: UTF8.self), size = u32(at + 4)
            if id == "fmt " { format = Int(d[at + 8]) | Int(d[at + 9]) << 8 }
            if id == "data" { self.format = format; data = d[at + 8 ..< min(at + 8 + size, d.count)]; return }
            at += 8 + size + (size & 1)
        }
        throw ServiceTestError("\(path): no data chunk")
    }
}
