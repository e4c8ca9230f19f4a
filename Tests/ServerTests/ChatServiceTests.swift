import Foundation
import Synchronization
import XCTest

/// `lepton-chat serve`: turns and transcripts against `respond --json` and `transcribe -f json`
/// (the CLI as the reference), readiness, malformed bodies, concurrent sessions, masking in answers
/// and logs, the queue bound, the timeout and a graceful shutdown.
final class ChatServiceTests: XCTestCase {
    let today = "2026-03-02"
    let speech = ServiceProcess.root.appendingPathComponent("../shared/data/speech").standardized.path
    var stores: [String] = []

    func store() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString).sqlite").path
        stores.append(path)
        return path
    }

    override func tearDown() {
        for s in stores { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: s + suffix) } }
    }

    func chat(_ extra: [String] = []) throws -> ServiceProcess {
        try ServiceProcess.start("lepton-chat", ["--store", store(), "--today", today] + extra)
    }

    /// The agent loads in a blink, so the test holds its session store locked (Python's sqlite3, as
    /// another process would) until it has seen the service answer 503 while loading.
    func testHealthzIs503WhileLoadingThen200() throws {
        let path = store()
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
            db.execute("COMMIT")
            """, path]
        let toLocker = Pipe(), fromLocker = Pipe()
        locker.standardInput = toLocker
        locker.standardOutput = fromLocker
        try locker.run()
        XCTAssertTrue(String(decoding: fromLocker.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        let s = try ServiceProcess("lepton-chat", ["--store", path, "--today", today])
        defer { s.stop(); if locker.isRunning { locker.terminate() } }
        try s.waitForLine(containing: "healthz answers 503", timeout: 60)
        let line = try XCTUnwrap(s.log.first { $0.contains("healthz answers 503") })
        let port = try XCTUnwrap(line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression).map { line[$0].split(separator: ":")[1] })
        let base = "http://127.0.0.1:\(port)"
        let loading = try curl("GET", base + "/healthz")
        let early = try curl("POST", base + "/v1/sessions/a/turns", headers: ["Content-Type": "application/json"], body: Data(#"{"text":"hi"}"#.utf8))
        XCTAssertEqual(loading.status, 503)
        XCTAssertTrue(sameJSON(try XCTUnwrap(loading.json), ["status": "loading"]), loading.text)
        XCTAssertEqual(early.status, 503)
        XCTAssertNotNil(early.header("Retry-After"))
        XCTAssertNotNil(early.json?["error"])
        XCTAssertFalse(s.log.contains { $0.contains("listening on http://") })
        toLocker.fileHandleForWriting.write(Data("\n".utf8))
        locker.waitUntilExit()
        try s.waitForLine(containing: "listening on http://127.0.0.1:\(port)", timeout: 60)
        let ready = try curl("GET", base + "/healthz")
        XCTAssertEqual(ready.status, 200)
        XCTAssertTrue(sameJSON(try XCTUnwrap(ready.json), ["status": "ok"]), ready.text)
    }

    func testTurnsAnswerAsRespond() throws {
        let s = try chat()
        defer { s.stop() }
        let cliStore = store()
        for text in ["I want to send 50 dollars to my landlord", "yes", "what's my balance"] {
            let a = try s.call("POST", "/v1/sessions/t1/turns", headers: ["Content-Type": "application/json"],
                               body: try JSONSerialization.data(withJSONObject: ["text": text]))
            XCTAssertEqual(a.status, 200, a.text)
            let cli = try jsonObject(try runCLI("lepton-chat", ["respond", "--json", "--text", text, "--session", "t1",
                                                                "--store", cliStore, "--today", today]))
            XCTAssertTrue(sameJSON(try XCTUnwrap(a.json), cli), "\(text):\nservice \(a.text)\nCLI \(cli)")
        }
    }

    func testSpokenTurnAndTranscriptAnswerAsTheCLI() throws {
        let s = try chat()
        defer { s.stop() }
        let call = speech + "/bank-dev/change_pin_01.wav"
        let turn = try s.call("POST", "/v1/sessions/voice1/turns", headers: ["Content-Type": "audio/wav"], bodyFile: call)
        XCTAssertEqual(turn.status, 200, turn.text)
        let cliTurn = try jsonObject(try runCLI("lepton-chat", ["respond", "--json", call, "--session", "voice1", "--store", store(), "--today", today]))
        XCTAssertTrue(sameJSON(try XCTUnwrap(turn.json), cliTurn), "service \(turn.text)\nCLI \(cliTurn)")

        let jfk = "samples/chat/jfk.wav"
        let t = try s.call("POST", "/v1/transcribe", headers: ["Content-Type": "application/octet-stream"], bodyFile: jfk)
        XCTAssertEqual(t.status, 200, t.text)
        var cli = try jsonObject(try runCLI("lepton-chat", ["transcribe", "-f", "json", jfk]))
        var got = try XCTUnwrap(t.json)
        XCTAssertEqual(got["file"] as? String, "body")
        got["file"] = nil; cli["file"] = nil
        XCTAssertTrue(sameJSON(got, cli), "service \(got)\nCLI \(cli)")
    }

    func testMalformedBodiesAre400Or415() throws {
        let s = try chat()
        defer { s.stop() }
        let noise = Data((0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
        let cases: [(String, [String: String], Data, Int, String)] = [
            ("/v1/transcribe", ["Content-Type": "application/octet-stream"], noise, 400, "audio"),
            ("/v1/transcribe", ["Content-Type": "audio/wav"], Data("RIFF\u{4}\u{0}\u{0}\u{0}WAVEfmt ".utf8), 400, "audio"),
            ("/v1/sessions/m1/turns", ["Content-Type": "audio/wav"], noise, 400, "audio"),
            ("/v1/sessions/m1/turns", ["Content-Type": "application/json"], Data("{\"text\": ".utf8), 400, "JSON"),
            ("/v1/sessions/m1/turns", ["Content-Type": "application/json"], Data("{\"words\": \"hi\"}".utf8), 400, "text"),
            ("/v1/sessions/m1/turns", ["Content-Type": "application/json"], Data("{\"text\": 7}".utf8), 400, "string"),
            ("/v1/sessions/m1/turns", ["Content-Type": "application/json"], Data("{\"text\": \"   \"}".utf8), 400, "empty"),
            ("/v1/sessions/m1/turns", ["Content-Type": "text/plain"], Data("hello".utf8), 415, "Content-Type"),
            ("/v1/sessions/" + String(repeating: "x", count: 129) + "/turns", ["Content-Type": "application/json"], Data("{\"text\":\"hi\"}".utf8), 400, "session id"),
            ("/v1/sessions/a%20b/turns", ["Content-Type": "application/json"], Data("{\"text\":\"hi\"}".utf8), 400, "session id"),
        ]
        for (path, headers, body, status, word) in cases {
            let a = try s.call("POST", path, headers: headers, body: body)
            XCTAssertEqual(a.status, status, "\(path) \(headers): \(a.text)")
            let message = a.json?["error"] as? String ?? ""
            XCTAssertTrue(message.lowercased().contains(word.lowercased()), "\(path): \(a.text) should name \(word)")
            XCTAssertFalse(message.contains("/tmp"), "a temporary path leaks: \(message)")
        }
        // The service is still there.
        XCTAssertEqual(try s.call("GET", "/healthz").status, 200)
    }

    func testEightConcurrentSessionsNeverSeeEachOthersData() throws {
        let s = try chat(["--workers", "4"])
        defer { s.stop() }
        let collected = Mutex<(replies: [Int: [String]], failures: [String])>(([:], []))
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            do {
                for text in ["I want to send \(101 + i) dollars to my landlord", "what is the amount I am sending"] {
                    let a = try s.call("POST", "/v1/sessions/client\(i)/turns", headers: ["Content-Type": "application/json"],
                                       body: try JSONSerialization.data(withJSONObject: ["text": text]))
                    collected.withLock {
                        if a.status != 200 { $0.failures.append("client \(i): \(a.status) \(a.text)") }
                        $0.replies[i, default: []].append(a.text)
                    }
                }
            } catch { collected.withLock { $0.failures.append("client \(i): \(error)") } }
        }
        let (replies, failures) = collected.withLock { $0 }
        XCTAssertEqual(failures, [])
        for i in 0..<8 {
            let answers = try (replies[i] ?? []).map(jsonObject)
            XCTAssertEqual(answers.count, 2)
            for o in answers {
                XCTAssertEqual(o["session"] as? String, "client\(i)")
                let slots = (o["state"] as? [String: Any])?["slots"] as? [String: Any]
                XCTAssertEqual(slots?["amount"] as? String, "\(101 + i).00 USD", "client \(i)'s form holds another amount: \(o)")
                // What the client sees in words: the transcript, the reply, the entities.
                let words = [o["transcript"] as? String ?? "", o["reply"] as? String ?? ""]
                    + ((o["entities"] as? [[String: Any]]) ?? []).map { "\($0["value"] ?? "")" }
                for j in 0..<8 where j != i {
                    XCTAssertFalse(words.contains { $0.contains("\(101 + j)") }, "client \(i) sees client \(j)'s amount: \(words)")
                }
            }
            XCTAssertTrue((answers.first?["reply"] as? String)?.contains("$\(101 + i).00") == true, "client \(i): \(answers)")
        }
    }

    func testCardNumbersAreMaskedAndJSONLogsCarryRequestIds() throws {
        let s = try chat(["--log-format", "json"])
        defer { s.stop() }
        let a = try s.call("POST", "/v1/sessions/card1/turns", headers: ["Content-Type": "application/json"],
                           body: Data(#"{"text": "I lost my card, the number is 4111 1111 1111 1234"}"#.utf8))
        XCTAssertEqual(a.status, 200, a.text)
        XCTAssertFalse(a.text.contains("4111 1111"), a.text)
        XCTAssertFalse(a.text.contains("41111111"), a.text)
        let id = try XCTUnwrap(a.header("X-Request-Id"))
        Thread.sleep(forTimeInterval: 0.3)
        let log = s.log
        XCTAssertFalse(log.isEmpty)
        for line in log {
            XCTAssertNotNil(try? jsonObject(line), "not a JSON log line: \(line)")
            XCTAssertFalse(line.contains("4111"), "a card number in the log: \(line)")
        }
        let mine = log.compactMap { try? jsonObject($0) }.filter { $0["request_id"] as? String == id }
        XCTAssertFalse(mine.isEmpty, "no log line carries the request id \(id):\n\(log.joined(separator: "\n"))")
        XCTAssertTrue(mine.contains { $0["path"] as? String == "/v1/sessions/card1/turns" && $0["status"] as? String == "200" })
    }

    func testAFullQueueIs503AndASlowRequestIs504() throws {
        let s = try chat(["--workers", "1", "--queue", "1", "--timeout", "0.4"])
        defer { s.stop() }
        // Transcribing 11 s of speech takes longer than 0.4 s; its work holds the one place until done.
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@samples/chat/jfk.wav", s.base + "/v1/transcribe"]
        slow.currentDirectoryURL = ServiceProcess.root
        let out = Pipe()
        slow.standardOutput = out
        try slow.run()
        Thread.sleep(forTimeInterval: 0.15)
        let busy = try s.call("POST", "/v1/sessions/q1/turns", headers: ["Content-Type": "application/json"], body: Data(#"{"text":"hi"}"#.utf8))
        XCTAssertEqual(busy.status, 503, busy.text)
        XCTAssertEqual(busy.header("Retry-After"), "1")
        XCTAssertTrue((busy.json?["error"] as? String)?.contains("--queue") == true, busy.text)
        slow.waitUntilExit()
        XCTAssertEqual(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), "504")
        // Once the work is done the place is free again.
        var status = 0
        for _ in 0..<100 {
            status = try s.call("POST", "/v1/sessions/q1/turns", headers: ["Content-Type": "application/json"], body: Data(#"{"text":"hi"}"#.utf8)).status
            if status == 200 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(status, 200)
    }

    func testSIGTERMFinishesTheRequestInFlight() throws {
        let s = try chat()
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-w", "\n%{http_code}", "--data-binary", "@samples/chat/jfk.wav", s.base + "/v1/transcribe"]
        slow.currentDirectoryURL = ServiceProcess.root
        let out = Pipe()
        slow.standardOutput = out
        try slow.run()
        Thread.sleep(forTimeInterval: 0.3)
        s.process.terminate()
        XCTAssertTrue(slow.isRunning, "the request was no longer in flight at SIGTERM: the test proves nothing")
        let answer = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        slow.waitUntilExit()
        s.process.waitUntilExit()
        XCTAssertTrue(answer.hasSuffix("\n200"), answer)
        XCTAssertTrue(answer.contains("fellow Americans"), answer)
        XCTAssertEqual(s.process.terminationStatus, 0, s.log.suffix(5).joined(separator: "\n"))
        XCTAssertThrowsError(try curl("GET", s.base + "/healthz", timeout: 5), "still accepting after SIGTERM")
    }
}
