import Foundation
import XCTest

/// `lepton-risk` as a user runs it (issue 17): exit codes 64 / 1 / 3 with one-line errors,
/// skipped rows never passing as a clean run, JSON on every command, the model named in outputs.
final class RiskProgramTests: XCTestCase {
    struct Run { var status: Int32; var stdout: String; var stderr: String }

    static var repoRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    static var samples: String { repoRoot.appendingPathComponent("samples/risk").path }

    /// Runs the built `lepton-risk` (beside the test bundle) from the repository root, under
    /// `timeout SECONDS` when given (status 124 if it hangs).
    func risk(_ arguments: [String], timeout: Int? = nil) throws -> Run {
        var dir = Bundle.main.bundleURL
        for b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") { dir = b.bundleURL.deletingLastPathComponent() }
        let exe = dir.appendingPathComponent("lepton-risk")
        guard FileManager.default.isExecutableFile(atPath: exe.path) else { throw XCTSkip("lepton-risk is not built at \(exe.path)") }
        let p = Process()
        if let timeout {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout"); p.arguments = [String(timeout), exe.path] + arguments
        } else {
            p.executableURL = exe; p.arguments = arguments
        }
        p.currentDirectoryURL = Self.repoRoot
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        try p.run()
        let group = DispatchGroup()
        nonisolated(unsafe) var o = Data(), e = Data()
        group.enter(); DispatchQueue.global().async { o = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { e = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.wait(); p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    lazy var tmp: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("risk-program-\(getpid())")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    /// The first `n` rows of the sample file plus `extra` lines.
    func file(_ name: String, rows n: Int = 300, _ extra: [String]) throws -> String {
        let lines = try String(contentsOfFile: Self.samples + "/transactions.csv", encoding: .utf8).split(separator: "\n")
        let text = (lines.prefix(n + 1).map(String.init) + extra).joined(separator: "\n") + "\n"
        let p = tmp.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    func assertOneLineError(_ r: Run, status: Int32, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.stderr, file: file, line: line)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("lepton-risk: error: ") }
        XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(errors.first?.contains(contains) ?? false, r.stderr, file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Backtrac") || r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
    }

    func json(_ line: Substring) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func testUsageErrorsExit64WithOneLine() throws {
        let m = Self.samples + "/model", tx = Self.samples + "/test.csv"
        assertOneLineError(try risk(["score", "--model", m, "--transactions", tx, "--top", "0"]), status: 64, contains: "--top")
        assertOneLineError(try risk(["score", "--model", m, "--transactions", tx, "--shard", "5/2"]), status: 64, contains: "--shard")
        assertOneLineError(try risk(["score", "--model", m]), status: 64, contains: "give --transactions")
        assertOneLineError(try risk(["evaluate", "--model", m, "--transactions", tx, "--budget", "2"]), status: 64, contains: "--budget")
        assertOneLineError(try risk(["split", "--transactions", tx, "--fraction", "1.5", "--train", "/tmp/a.csv", "--test", "/tmp/b.csv"]),
                           status: 64, contains: "--fraction")
        assertOneLineError(try risk(["simulate", "--accounts", "5", "--out", "/tmp/x.csv", "--patterns", "/tmp/y.csv"]),
                           status: 64, contains: "--accounts")
        assertOneLineError(try risk(["train", "--out", tmp.appendingPathComponent("m").path]), status: 64, contains: "give --transactions")
        // --seed only where there is randomness.
        XCTAssertEqual(try risk(["score", "--model", m, "--transactions", tx, "--seed", "1"]).status, 64)
        XCTAssertEqual(try risk(["split", "--transactions", tx, "--seed", "1", "--train", "/tmp/a.csv", "--test", "/tmp/b.csv"]).status, 64)
    }

    func testBadInputExits1() throws {
        assertOneLineError(try risk(["score", "--model", Self.samples + "/model", "--transactions", "/nonexistent.csv"]),
                           status: 1, contains: "/nonexistent.csv: cannot read")
        // Exactly one positive label trapped (index -1); now a clear error.
        let lines = try String(contentsOfFile: Self.samples + "/train.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        var onePositive = [lines[0]]
        var kept = false
        for l in lines.dropFirst() {
            if l.hasSuffix(",1") { if !kept { onePositive.append(l); kept = true } } else { onePositive.append(l) }
        }
        let p = tmp.appendingPathComponent("one.csv")
        try Data((onePositive.joined(separator: "\n") + "\n").utf8).write(to: p)
        assertOneLineError(try risk(["train", "--transactions", p.path, "--out", tmp.appendingPathComponent("m1").path, "--trees", "5", "--gnn-epochs", "0"]),
                           status: 1, contains: "only 1 positive label")
    }

    func testSkippedRowsExit3WithCountsOnStderrAndInJSON() throws {
        let p = try file("mixed.csv", [
            "2022/09/01 10:00,070,AAA,071,BBB,5.00,GBP,5.00,GBP,ACH,0",                  // ISO code: accepted
            "2022/09/01 10:00,070,AAA,071,BBB,5.00,US Dollar,5.00,Franc,SEPA,0",          // unknown currency (SEPA is kept, issue 23)
            "9999/12/31 23:59,070,AAA,071,BBB,5.00,US Dollar,5.00,US Dollar,ACH,0",       // trapped score/explain/train
            "2022/09/01 10:00,070,AAA,071,BBB,1e39,US Dollar,1e39,US Dollar,ACH,0",       // was +inf, scored low
        ])
        let m = Self.samples + "/model"
        let r = try risk(["score", "--model", m, "--transactions", p, "--json"])
        assertOneLineError(r, status: 3, contains: "3 rows skipped")
        XCTAssertTrue(r.stderr.contains("1 × unknown currency"), r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1 + 301)   // the summary line, then the 300 sample rows and the GBP row
        let head = try json(lines[0])
        let skipped = try XCTUnwrap(head["skipped"] as? [[String: Any]])
        XCTAssertEqual(Set(skipped.map { $0["reason"] as? String ?? "" }),
                       ["unknown currency", "date out of range (years 1900-2199)", "amount above 1e15"])
        XCTAssertEqual(head["scored"] as? Int, 301)
        // The output is complete before the exit status says rows were skipped.
        XCTAssertEqual(try risk(["explain", "--model", m, "--transactions", p, "300"]).status, 3)
        XCTAssertEqual(try risk(["stats", "--transactions", p]).status, 3)
        let stats = try json(try risk(["stats", "--transactions", p, "--json"]).stdout.split(separator: "\n")[0])
        XCTAssertEqual(stats["skipped_rows"] as? Int, 3)
        XCTAssertTrue((stats["last"] as? String ?? "").hasPrefix("2022/09/0"), "\(stats)")   // not 6053/01/23
    }

    func testEveryCommandPrintsJSONWithSnakeCaseKeysAndTheModel() throws {
        let m = Self.samples + "/model", tx = Self.samples + "/test.csv", h = Self.samples + "/train.csv"
        var objects: [[String: Any]] = []
        let sim = try risk(["simulate", "--accounts", "100", "--days", "5", "--seed", "2", "--out", tmp.appendingPathComponent("s.csv").path,
                            "--patterns", tmp.appendingPathComponent("s-p.csv").path, "--json"])
        XCTAssertEqual(sim.status, 0, sim.stderr); objects.append(try json(sim.stdout.split(separator: "\n")[0]))
        let split = try risk(["split", "--transactions", tx, "--train", tmp.appendingPathComponent("a.csv").path,
                              "--test", tmp.appendingPathComponent("b.csv").path, "--json"])
        XCTAssertEqual(split.status, 0, split.stderr); objects.append(try json(split.stdout.split(separator: "\n")[0]))
        let out = tmp.appendingPathComponent("model-json")
        let train = try risk(["train", "--transactions", h, "--out", out.path, "--trees", "10", "--gnn-epochs", "0", "--json", "-q"])
        XCTAssertEqual(train.status, 0, train.stderr); objects.append(try json(train.stdout.split(separator: "\n")[0]))
        XCTAssertEqual(train.stderr, "")   // -q: nothing but errors
        let ev = try risk(["evaluate", "--model", m, "--transactions", tx, "--history", h, "--json"])
        XCTAssertEqual(ev.status, 0, ev.stderr); objects.append(try json(ev.stdout.split(separator: "\n")[0]))
        let ex = try risk(["explain", "--model", m, "--transactions", tx, "--history", h, "100", "--json"])
        XCTAssertEqual(ex.status, 0, ex.stderr); objects.append(try json(ex.stdout.split(separator: "\n")[0]))
        let sc = try risk(["score", "--model", m, "--transactions", tx, "--history", h, "--json", "--top", "3"])
        XCTAssertEqual(sc.status, 0, sc.stderr); objects.append(try json(sc.stdout.split(separator: "\n")[0]))

        func keys(_ v: Any) -> [String] {
            if let d = v as? [String: Any] { return d.keys.filter { !$0.contains("0.5pct") } + d.values.flatMap(keys) }
            if let a = v as? [Any] { return a.flatMap(keys) }
            return []
        }
        for o in objects {
            for k in keys(o) { XCTAssertNil(k.range(of: "[A-Z]", options: .regularExpression), "camelCase key \(k)") }
        }
        // evaluate, explain and score name the model: the hash is SHA-256 of the weights then the config.
        let expected = try sha256Prefix([m + "/model.safetensors", m + "/config.json"])
        for o in objects[3...] {
            let model = try XCTUnwrap(o["model"] as? [String: Any], "\(o.keys)")
            XCTAssertEqual(model["name"] as? String, "lepton-risk-transactions")
            XCTAssertEqual(model["sha256"] as? String, expected)
        }
        XCTAssertNotNil(objects[3]["recall_ci"]); XCTAssertNotNil(objects[3]["warnings"])
    }

    /// First 12 hex digits of SHA-256 over the files' bytes, by the system's `sha256sum`.
    func sha256Prefix(_ files: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "cat \"$0\" \"$1\" | sha256sum"] + files
        let out = Pipe(); p.standardOutput = out
        try p.run(); p.waitUntilExit()
        return String(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(12))
    }

    func testVerboseScoringReportsItsStages() throws {
        let r = try risk(["score", "--model", Self.samples + "/model", "--transactions", Self.samples + "/test.csv",
                          "--history", Self.samples + "/train.csv", "-v", "--top", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for stage in ["read 1692 transactions", "history rows", "features of", "scores in"] {
            XCTAssertTrue(r.stderr.contains(stage), "missing '\(stage)' in \(r.stderr)")
        }
    }
}
