import Foundation
import XCTest

/// `Idempotency-Key` on `POST /v1/sessions/{id}/turns`, through the running service with curl; the
/// store's turns are counted with `sqlite3` (an independent reader).
final class ChatIdempotencyTests: XCTestCase {
    var files: [String] = []
    override func tearDown() { for f in files { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: f + s) } } }

    func storeFile() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("idempotency-\(UUID().uuidString).sqlite").path
        files.append(path)
        return path
    }

    func sqlite3(_ file: String, _ sql: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [file, sql]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func turn(_ s: ServiceProcess, _ session: String, _ text: String, key: String?) throws -> HTTPAnswer {
        var headers = ["Content-Type": "application/json"]
        if let key { headers["Idempotency-Key"] = key }
        return try s.call("POST", "/v1/sessions/\(session)/turns", headers: headers,
                          body: try JSONSerialization.data(withJSONObject: ["text": text]))
    }

    func testSameKeyTwiceIsOneTurnAndTheSameAnswer() throws {
        let file = storeFile()
        let s = try ServiceProcess.start("lepton-chat", ["--store", file, "--today", "2026-03-02"])
        defer { s.stop() }
        let first = try Self.turn(s, "c1", "I want to send 50 dollars to my landlord", key: "retry-1")
        XCTAssertEqual(first.status, 200, first.text)
        XCTAssertNil(first.header("Idempotent-Replayed"))
        let again = try Self.turn(s, "c1", "I want to send 50 dollars to my landlord", key: "retry-1")
        XCTAssertEqual(again.status, 200, again.text)
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(again.body, first.body, "a replay is the first answer, byte for byte")
        XCTAssertEqual(try sqlite3(file, "SELECT count(*) FROM turns WHERE session = 'c1'"), "1")

        // The same key with another body: 422 naming the key, nothing played.
        let other = try Self.turn(s, "c1", "yes", key: "retry-1")
        XCTAssertEqual(other.status, 422, other.text)
        XCTAssertTrue((other.json?["error"] as? String ?? "").contains("Idempotency-Key"), other.text)
        XCTAssertEqual(try sqlite3(file, "SELECT count(*) FROM turns WHERE session = 'c1'"), "1")

        // Another session with the same key is its own turn (never the other session's answer).
        let elsewhere = try Self.turn(s, "c2", "I want to send 50 dollars to my landlord", key: "retry-1")
        XCTAssertEqual(elsewhere.status, 200)
        XCTAssertNil(elsewhere.header("Idempotent-Replayed"))
        XCTAssertEqual(elsewhere.json?["session"] as? String, "c2")

        // Without the header, as before: each request plays a turn.
        for _ in 0..<2 { XCTAssertEqual(try Self.turn(s, "c3", "hello", key: nil).status, 200) }
        XCTAssertEqual(try sqlite3(file, "SELECT count(*) FROM turns WHERE session = 'c3'"), "2")

        // A malformed key: 400 naming the header.
        let long = try Self.turn(s, "c1", "yes", key: String(repeating: "k", count: 129))
        XCTAssertEqual(long.status, 400, long.text)
        XCTAssertTrue(long.text.contains("Idempotency-Key"), long.text)
    }

    /// Eight copies of one request with one key at once: one turn stored, eight equal answers.
    func testConcurrentDuplicatesApplyOnce() throws {
        let file = storeFile()
        let s = try ServiceProcess.start("lepton-chat", ["--store", file, "--today", "2026-03-02"])
        defer { s.stop() }
        let answers = LockedAnswers()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            answers.add(Result { try ChatIdempotencyTests.turn(s, "dup", "what's my balance", key: "one-key") })
        }
        let got = try answers.all.map { try $0.get() }
        XCTAssertEqual(got.map(\.status), Array(repeating: 200, count: 8), got.map(\.text).joined(separator: "\n"))
        XCTAssertEqual(Set(got.map(\.body)).count, 1)
        XCTAssertEqual(got.filter { $0.header("Idempotent-Replayed") == "true" }.count, 7)
        XCTAssertEqual(try sqlite3(file, "SELECT count(*) FROM turns WHERE session = 'dup'"), "1")
    }
}

private final class LockedAnswers: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<HTTPAnswer, any Error>] = []
    func add(_ r: Result<HTTPAnswer, any Error>) { lock.lock(); items.append(r); lock.unlock() }
    var all: [Result<HTTPAnswer, any Error>] { lock.lock(); defer { lock.unlock() }; return items }
}
