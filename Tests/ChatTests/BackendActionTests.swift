import Foundation
import XCTest
@testable import LeptonDialog
@testable import LeptonText

/// Backend actions against a stub backend in Python (Fixtures/stub_backend.py), a child process on
/// 127.0.0.1 that checks every request's HMAC-SHA256 signature with Python's `hmac` module (an
/// implementation independent of swift-crypto) and confirms, refuses, stalls, answers garbage or
/// fails by path. The agent is the shipped bank's domain with its actions connected to the stub.
final class BackendActionTests: XCTestCase {
    var dir: URL!
    var stub: Process?
    var port = 0
    var log: URL { dir.appendingPathComponent("requests.jsonl") }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-actions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try writeKey("backend.key", String(repeating: "k3y-", count: 8))
        try writeKey("wrong.key", String(repeating: "nope", count: 8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repo.root.appendingPathComponent("Tests/ChatTests/Fixtures/stub_backend.py").path,
                       dir.appendingPathComponent("backend.key").path, log.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        stub = p
        // The stub prints "PORT n" once it listens.
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let n = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            // A failure, not a skip: without the stub nothing here would be tested.
            throw ChatError.badInput("the stub backend did not start (python3 on PATH?): \(text)")
        }
        port = n
    }

    override func tearDownWithError() throws {
        if let stub, stub.isRunning { stub.terminate(); stub.waitUntilExit() }
        try? FileManager.default.removeItem(at: dir)
    }

    func writeKey(_ name: String, _ key: String) throws {
        let url = dir.appendingPathComponent(name)
        try Data((key + "\n").utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }

    /// The shipped bank domain with `block_card` and `transfer` sent to the stub's `paths` (nil:
    /// left unconnected), a slot that takes whole card numbers, and a short timeout.
    func agent(block: String?, transfer: String? = nil, keyFile: String = "backend.key", timeout: Double = 0.5) throws -> ChatAgent {
        var text = try String(contentsOf: Repo.bank.appendingPathComponent("domain.yml"), encoding: .utf8)
        func connect(_ name: String, _ path: String?, slots: String) {
            guard let path else { return }
            let old = "  \(name): {slots: \(slots)}"
            XCTAssertTrue(text.contains(old), "the shipped domain declares \(old)")
            text = text.replacingOccurrences(of: old, with: "  \(name): {url: \"http://127.0.0.1:\(port)/\(path)\", key_file: \(keyFile), timeout: \(timeout), slots: \(slots.dropLast()), card_number]}")
        }
        connect("block_card", block, slots: "[account_type, last_four]")
        connect("transfer", transfer, slots: "[amount, recipient]")
        text = text.replacingOccurrences(of: "\nslots:\n", with: "\nslots:\n  card_number: {type: digits, entities: [card_number]}\n")
        let file = dir.appendingPathComponent("domain.yml")
        try Data(text.utf8).write(to: file)
        return ChatAgent(domain: try Domain.load(file), classifier: KeywordClassifier(),
                         extractor: EntityExtractor(referenceDay: Day(year: 2026, month: 11, day: 25)!),
                         store: try SQLiteSessionStore(url: dir.appendingPathComponent("s.sqlite")))
    }

    /// The requests the stub received, as it logged them.
    func requests() throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: log.path) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func testConfirmedActionSaysDoneAndSendsASignedMaskedRequest() throws {
        let agent = try agent(block: "confirm")
        let r = try agent.respond(text: "I lost my card 4111 1111 1111 1234, my debit card", session: "call-7")
        XCTAssertEqual(r.intent, "lost_or_stolen_card")
        XCTAssertTrue(r.events.contains("action:block_card:confirmed"), "\(r.events)")
        XCTAssertTrue(r.reply.hasPrefix("I've blocked your"), r.reply)
        XCTAssertFalse(r.state.handedOff)
        XCTAssertEqual(r.state.lastAction?.status, "confirmed")

        let logged = try requests()
        XCTAssertEqual(logged.count, 1)
        let request = try XCTUnwrap(logged.first)
        XCTAssertEqual(request["verified"] as? Bool, true, "the stub checked the HMAC with Python's hmac")
        XCTAssertEqual(request["path"] as? String, "/confirm")
        let raw = try XCTUnwrap(request["body"] as? String)
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        // The card number travels only as its last four digits: no run of 5+ digits outside the
        // (hexadecimal) idempotency key.
        XCTAssertFalse(raw.contains("4111"), raw)
        XCTAssertNil(withoutKey(raw).range(of: "[0-9]{5,}", options: .regularExpression), raw)
        XCTAssertEqual(Set(body.keys), ["action", "session", "turn", "idempotency_key", "slots"])
        XCTAssertEqual(body["action"] as? String, "block_card")
        XCTAssertEqual(body["session"] as? String, "call-7")
        XCTAssertEqual(body["turn"] as? Int, 0)
        let slots = try XCTUnwrap(body["slots"] as? [String: String])
        XCTAssertEqual(slots["card_number"], "************1234")
        XCTAssertEqual(slots["account_type"], "debit_card")
        let key = try XCTUnwrap(body["idempotency_key"] as? String)
        XCTAssertNotNil(key.range(of: "^[0-9a-f]{32}$", options: .regularExpression), key)
        XCTAssertEqual(r.state.lastAction?.idempotencyKey, key)
        let headers = try XCTUnwrap(request["headers"] as? [String: String])
        XCTAssertEqual(headers["Idempotency-Key"], key)
        XCTAssertEqual(headers["Content-Type"], "application/json")
        XCTAssertNotNil(headers["X-Lepton-Signature"]?.range(of: "^sha256=[0-9a-f]{64}$", options: .regularExpression))
        // The stored turn keeps the outcome.
        XCTAssertEqual(try agent.store.state(of: "call-7")?.lastAction?.status, "confirmed")
    }

    func testRefusalSaysTheReasonAndClaimsNothing() throws {
        let agent = try agent(block: "refuse")
        let r = try agent.respond(text: "I lost my card", session: "s")
        XCTAssertTrue(r.events.contains("action:block_card:refused"), "\(r.events)")
        XCTAssertEqual(r.reply, "I couldn't block your card: the card is already blocked.")
        XCTAssertFalse(r.state.handedOff)
        XCTAssertEqual(r.state.lastAction?.detail, "the card is already blocked")
    }

    /// A stalled backend, an HTML page, a 500 and a redirect all fail: the reply says the card is
    /// still active, claims nothing, and a human takes over; a stall costs the timeout, no more.
    func testFailuresClaimNothingAndHandOff() throws {
        for path in ["slow", "garbage", "error", "redirect", "no-such-action"] {
            try setUpForAnotherAgent()
            let agent = try agent(block: path)
            let start = Date()
            let r = try agent.respond(text: "I lost my card", session: "s-\(path)")
            let elapsed = Date().timeIntervalSince(start)
            XCTAssertTrue(r.events.contains("action:block_card:failed"), "\(path): \(r.events)")
            XCTAssertTrue(r.events.contains("handoff"), "\(path): \(r.events)")
            XCTAssertFalse(r.reply.lowercased().contains("blocked"), "\(path): \(r.reply)")
            XCTAssertTrue(r.reply.contains("still active"), "\(path): \(r.reply)")
            XCTAssertTrue(r.state.handedOff, path)
            XCTAssertEqual(r.state.lastAction?.status, "failed", path)
            XCTAssertLessThan(elapsed, 2.0, "\(path): the 0.5 s timeout bounds the turn")
            if path != "slow" { XCTAssertEqual(try requests().last?["verified"] as? Bool, true, path) }
        }
    }

    /// Nothing listens on the port: a connection error is a failure like the others.
    func testUnreachableBackendFails() throws {
        let agent = try agent(block: "confirm")
        stub?.terminate(); stub?.waitUntilExit()
        let r = try agent.respond(text: "I lost my card", session: "s")
        XCTAssertTrue(r.events.contains("action:block_card:failed"), "\(r.events)")
        XCTAssertFalse(r.reply.lowercased().contains("blocked"), r.reply)
    }

    /// Signed with another key, the request is refused by the stub's own check (so the signature
    /// is what the stub verifies), and the agent does not claim the card is blocked.
    func testWrongKeyIsRejectedByTheBackend() throws {
        let agent = try agent(block: "confirm", keyFile: "wrong.key")
        let r = try agent.respond(text: "I lost my card", session: "s")
        XCTAssertTrue(r.events.contains("action:block_card:failed"), "\(r.events)")
        XCTAssertFalse(r.reply.lowercased().contains("blocked"), r.reply)
        let request = try XCTUnwrap(try requests().first)
        XCTAssertEqual(request["verified"] as? Bool, false)
        XCTAssertEqual(request["code"] as? Int, 401)
    }

    func testTransferFormConfirmedRefusedAndFailed() throws {
        let script = ["send 50 dollars to account 12345678901", "yes"]
        for (path, event) in [("confirm", "confirmed"), ("refuse", "refused"), ("error", "failed")] {
            try setUpForAnotherAgent()
            let agent = try agent(block: nil, transfer: path)
            var r = try agent.respond(text: script[0], session: "t")
            XCTAssertTrue(r.state.awaitingConfirmation, "\(path): \(r.reply)")
            XCTAssertEqual(try requests().count, 0, "nothing is sent before the caller confirms")
            r = try agent.respond(text: script[1], session: "t")
            XCTAssertTrue(r.events.contains("action:transfer:\(event)"), "\(path): \(r.events)")
            XCTAssertTrue(r.events.contains("\(event):transfer_form"), "\(path): \(r.events)")
            XCTAssertNil(r.state.activeForm)
            XCTAssertNil(r.state.slots["amount"])
            XCTAssertEqual(r.state.lastAction?.status, event)
            switch event {
            case "confirmed": XCTAssertTrue(r.reply.contains("$50.00 is on its way to account *******8901"), r.reply)
            default:
                XCTAssertFalse(r.reply.contains("on its way"), r.reply)
                XCTAssertTrue(r.reply.contains("Nothing has been sent") || r.reply.contains("nothing has been sent"), r.reply)
            }
            XCTAssertEqual(r.state.handedOff, event == "failed")
            let body = try XCTUnwrap(try requests().first?["body"] as? String)
            XCTAssertTrue(body.contains("\"amount\":\"50.00 USD\""), body)
            XCTAssertTrue(body.contains("\"recipient\":\"account *******8901\""), body)
            XCTAssertNil(withoutKey(body).range(of: "[0-9]{5,}", options: .regularExpression), body)
        }
    }

    /// Eight callers losing their cards at once on one agent: every request is signed, sent once,
    /// and confirmed; none waits on another's answer forever.
    func testConcurrentTurnsEachSendTheirOwnRequest() throws {
        let agent = try agent(block: "confirm")
        let events = SharingTests.Results<[String]>()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            events.put(i, (try? agent.respond(text: "I lost my card", session: "caller-\(i)"))?.events ?? ["error"])
        }
        for i in 0..<8 { XCTAssertTrue(events.get(i)?.contains("action:block_card:confirmed") == true, "\(String(describing: events.get(i)))") }
        let logged = try requests()
        XCTAssertEqual(logged.count, 8)
        XCTAssertTrue(logged.allSatisfy { $0["verified"] as? Bool == true })
        let sessions = Set(logged.compactMap { ($0["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["session"] as? String })
        XCTAssertEqual(sessions, Set((0..<8).map { "caller-\($0)" }))
    }

    /// Two turns never share an idempotency key; the same session, turn and action always do.
    func testIdempotencyKeysAreStablePerTurn() {
        let a = ActionRequest.idempotencyKey(session: "s", turn: 1, action: "transfer")
        XCTAssertEqual(a, ActionRequest.idempotencyKey(session: "s", turn: 1, action: "transfer"))
        XCTAssertNotEqual(a, ActionRequest.idempotencyKey(session: "s", turn: 2, action: "transfer"))
        XCTAssertNotEqual(a, ActionRequest.idempotencyKey(session: "s1", turn: 1, action: "transfer"))
    }

    /// A request body without its idempotency key's value (32 hex digits).
    private func withoutKey(_ body: String) -> String {
        body.replacingOccurrences(of: "\"idempotency_key\":\"[0-9a-f]{32}\"", with: "", options: .regularExpression)
    }

    /// A fresh temporary folder and stub for one more agent within a test.
    private func setUpForAnotherAgent() throws {
        try tearDownWithError()
        try setUpWithError()
    }
}

