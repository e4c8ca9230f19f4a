import XCTest
@testable import LeptonText
@testable import LeptonDialog

/// `--store-key-file`: what a sealed SQLite store holds, read as raw bytes and through the
/// `sqlite3` program (not through the store), and how opening it without its key fails.
final class SessionStoreEncryptionTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-sealed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A key file as an operator makes it: `head -c 32 /dev/urandom > K`.
    func makeKeyFile(_ name: String = "k") throws -> String {
        let path = dir.appendingPathComponent(name).path
        let r = try runTool("/bin/sh", ["-c", "head -c 32 /dev/urandom > '\(path)'"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func testKeyFileRawOrHexAndClearErrors() throws {
        let raw = try makeKeyFile()
        XCTAssertNoThrow(try SessionStoreKey.read(file: raw))
        // The same bytes as 64 hex digits (written by `xxd`, not by us) open what the raw key sealed.
        let hex = dir.appendingPathComponent("k.hex").path
        XCTAssertEqual(try runTool("/bin/sh", ["-c", "od -An -tx1 -v '\(raw)' | tr -d ' \\n' > '\(hex)'; echo >> '\(hex)'"]).status, 0)
        let url = dir.appendingPathComponent("s.sqlite")
        try SQLiteSessionStore(url: url, key: try SessionStoreKey.read(file: raw)).turn(session: "a") { st, _ in
            st.turn = 1; return TurnRecord(turn: 0, text: "hello", intent: "greet", confidence: 1, entities: [], reply: "hi")
        }
        XCTAssertEqual(try SQLiteSessionStore(url: url, key: try SessionStoreKey.read(file: hex)).history(of: "a").first?.text, "hello")

        let short = dir.appendingPathComponent("short").path
        try Data(repeating: 7, count: 16).write(to: URL(fileURLWithPath: short))
        XCTAssertThrowsError(try SessionStoreKey.read(file: short)) { e in
            XCTAssertTrue("\(e)".contains("32 bytes or 64 hex digits"), "\(e)")
            XCTAssertTrue("\(e)".contains("head -c 32 /dev/urandom"), "\(e)")
        }
        XCTAssertThrowsError(try SessionStoreKey.read(file: dir.appendingPathComponent("missing").path)) { e in
            XCTAssertTrue("\(e)".contains("cannot read key file"), "\(e)")
        }
    }

    /// A conversation with a recipient, an amount and a card number: with a key, neither the
    /// file's bytes (database, WAL) nor `sqlite3`'s dump hold any of its words; the store gives
    /// them back with the key, and refuses without it or with another key.
    func testSealedFileHoldsNoPlaintextAndNeedsItsKey() throws {
        let url = dir.appendingPathComponent("sealed.sqlite")
        let key = try SessionStoreKey.read(file: try makeKeyFile())
        let x = EntityExtractor(referenceDay: Day(year: 2026, month: 1, day: 1)!)
        let lines = ["please send 250 dollars to my landlord Margarethe", "my card number is 4111 1111 1111 1234"]
        let replies = ["Sending $250.00 to Margarethe, is that right?", "Thanks, I have blocked the card ending 1234."]
        do {
            let store = try SQLiteSessionStore(url: url, key: key)
            for (i, line) in lines.enumerated() {
                try store.turn(session: "caller-555-0199") { st, _ in
                    st.turn += 1
                    st.slots["recipient"] = "Margarethe"
                    st.slots["amount"] = "250.00 USD"
                    return TurnRecord(turn: i, text: line, intent: "transfer_money", confidence: 0.9, entities: x.extract(line), reply: replies[i])
                }
            }
            let h = try store.history(of: "caller-555-0199")
            XCTAssertEqual(h.map(\.text), [lines[0], "my card number is **** **** **** 1234"])
            XCTAssertEqual(h.map(\.reply), replies)
            XCTAssertEqual(try store.state(of: "caller-555-0199")?.slots["recipient"], "Margarethe")
        }
        var bytes = try Data(contentsOf: url)
        if let wal = try? Data(contentsOf: URL(fileURLWithPath: url.path + "-wal")) { bytes += wal }
        let dump = try runTool("/usr/bin/sqlite3", [url.path, ".dump"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        XCTAssertTrue(dump.stdout.contains("INSERT INTO turns"), "the dump reads the turns")
        for secret in ["Margarethe", "landlord", "please send", "250 dollars", "250.00", "blocked the card", "card number",
                       "4111 1111", "555-0199", "caller"] {
            XCTAssertNil(bytes.range(of: Data(secret.utf8)), "\(secret) in the file's bytes")
            XCTAssertFalse(dump.stdout.contains(secret), "\(secret) in sqlite3 .dump")
        }
        // Intent names stay readable for operators.
        XCTAssertTrue(dump.stdout.contains("transfer_money"))

        XCTAssertThrowsError(try SQLiteSessionStore(url: url)) { e in
            XCTAssertTrue("\(e)".contains("encrypted: give its key"), "\(e)")
        }
        let other = try SessionStoreKey.read(file: try makeKeyFile("other"))
        XCTAssertThrowsError(try SQLiteSessionStore(url: url, key: other)) { e in
            XCTAssertTrue("\(e)".contains("another key"), "\(e)")
        }
    }

    /// A sealed value copied into another session's row (as a database administrator could)
    /// does not open there: each value is bound to its place.
    func testSealedValueMovedToAnotherSessionDoesNotOpen() throws {
        let url = dir.appendingPathComponent("moved.sqlite")
        let key = try SessionStoreKey.read(file: try makeKeyFile())
        let store = try SQLiteSessionStore(url: url, key: key)
        for id in ["a", "b"] {
            try store.turn(session: id) { st, _ in
                st.turn = 1; return TurnRecord(turn: 0, text: "text of \(id)", intent: "greet", confidence: 1, entities: [], reply: "r")
            }
        }
        let moved = try runTool("/usr/bin/sqlite3", [url.path,
            "UPDATE turns SET text = (SELECT text FROM turns t2 WHERE t2.session <> turns.session LIMIT 1)"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        XCTAssertThrowsError(try store.history(of: "a")) { e in XCTAssertTrue("\(e)".contains("does not open"), "\(e)") }
    }

    /// A key given to a store that already holds clear sessions is refused: encryption needs a new store.
    func testKeyForAClearStoreIsRefused() throws {
        let url = dir.appendingPathComponent("clear.sqlite")
        try SQLiteSessionStore(url: url).turn(session: "a") { st, _ in
            st.turn = 1; return TurnRecord(turn: 0, text: "hello", intent: "greet", confidence: 1, entities: [], reply: "hi")
        }
        let key = try SessionStoreKey.read(file: try makeKeyFile())
        XCTAssertThrowsError(try SQLiteSessionStore(url: url, key: key)) { e in
            XCTAssertTrue("\(e)".contains("holds unencrypted sessions"), "\(e)")
        }
    }
}

/// Runs a program (a reference tool: sqlite3, psql, sh) and collects its output.
func runTool(_ path: String, _ args: [String], env: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("\(path) is not installed") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    p.environment = e
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    // Read both pipes before waiting, so a large output cannot block the tool.
    let errData = LockedData()
    let reader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !errData.isSet { usleep(1000) }
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.value, as: UTF8.self))
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var done = false
    func set(_ d: Data) { lock.lock(); data = d; done = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return done }
    var value: Data { lock.lock(); defer { lock.unlock() }; return data }
}
