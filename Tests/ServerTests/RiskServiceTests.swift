import Foundation
import XCTest

/// `lepton-risk serve`: its answers against the CLI's `--json` output for the same input (the CLI is
/// the reference), malformed bodies, the body limit, metrics and request ids.
final class RiskServiceTests: XCTestCase {
    let model = "samples/risk/model", csv = "samples/risk/test.csv"
    private var service: ServiceProcess?

    override func setUpWithError() throws {
        service = try ServiceProcess.start("lepton-risk", ["--model", model, "--max-body-mb", "1"])
    }

    override func tearDown() { service?.stop() }

    func risk() throws -> ServiceProcess { try XCTUnwrap(service) }

    /// The CLI's JSON lines for `args`, the summary's `input` removed (the service names its input `body`).
    func cliLines(_ args: [String]) throws -> [[String: Any]] {
        try runCLI("lepton-risk", ["score", "--model", model, "--transactions", csv, "--json"] + args)
            .split(separator: "\n").map { try jsonObject(String($0)) }
    }

    func serviceLines(_ query: String) throws -> [[String: Any]] {
        let a = try risk().call("POST", "/v1/score" + query, headers: ["Content-Type": "text/csv"], bodyFile: csv)
        XCTAssertEqual(a.status, 200, a.text)
        XCTAssertEqual(a.header("Content-Type"), "application/x-ndjson")
        return try a.text.split(separator: "\n").map { try jsonObject(String($0)) }
    }

    func assertSameLines(_ service: [[String: Any]], _ cli: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(service.count, cli.count, file: file, line: line)
        XCTAssertGreaterThan(service.count, 1, file: file, line: line)
        for (i, (a, b)) in zip(service, cli).enumerated() {
            var a = a, b = b
            if i == 0 {
                XCTAssertEqual(a["input"] as? String, "body", file: file, line: line)
                a["input"] = nil; b["input"] = nil
            }
            XCTAssertTrue(sameJSON(a, b), "line \(i): service \(a) vs CLI \(b)", file: file, line: line)
        }
    }

    func testScoreAnswersAsTheCLI() throws {
        assertSameLines(try serviceLines("?top=7"), try cliLines(["--top", "7"]))
        assertSameLines(try serviceLines("?accounts=1&top=4"), try cliLines(["--accounts", "--top", "4"]))
        assertSameLines(try serviceLines("?threshold=0.5"), try cliLines(["--threshold", "0.5"]))
        // A budget of 1% of the 1,692 rows is the 17 highest.
        assertSameLines(try serviceLines("?budget=0.01"), try cliLines(["--top", "17"]))
    }

    func testExplainAnswersAsTheCLI() throws {
        let a = try risk().call("POST", "/v1/explain?row=5", bodyFile: csv)
        XCTAssertEqual(a.status, 200, a.text)
        let cli = try jsonObject(try runCLI("lepton-risk", ["explain", "--model", model, "--transactions", csv, "5", "--json"]))
        XCTAssertTrue(sameJSON(try XCTUnwrap(a.json), cli), "service \(a.text)")
        let missing = try risk().call("POST", "/v1/explain?row=999999", bodyFile: csv)
        XCTAssertEqual(missing.status, 400)
        XCTAssertTrue((missing.json?["error"] as? String)?.contains("999999") == true, missing.text)
        XCTAssertEqual(try risk().call("POST", "/v1/explain", bodyFile: csv).status, 400)
    }

    /// The alert queue's fields of each transaction line (time, amount, currency, payment format,
    /// label) are the CSV row's own cells, read here with a plain split; the typology hints are
    /// those `explain --json` gives for the same row.
    func testScoreLinesCarryTheRowsOwnCells() throws {
        let text = try String(contentsOf: ServiceProcess.root.appendingPathComponent(csv), encoding: .utf8)
        let cells = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let lines = try serviceLines("")
        XCTAssertEqual(lines.count - 1, cells.count, "every row is a line")
        for line in lines.dropFirst() {
            let row = try XCTUnwrap(line["row"] as? Int)
            let c = cells[row]
            XCTAssertEqual(line["time"] as? String, c[0], "row \(row)")
            XCTAssertEqual(line["from"] as? String, c[1] + ":" + c[2], "row \(row)")
            XCTAssertEqual(line["to"] as? String, c[3] + ":" + c[4], "row \(row)")
            XCTAssertEqual(try XCTUnwrap(line["amount"] as? Double), try XCTUnwrap(Double(c[7])), accuracy: 1e-9, "row \(row)")
            XCTAssertEqual(line["currency"] as? String, c[8], "row \(row)")
            XCTAssertEqual(line["format"] as? String, c[9], "row \(row)")
            XCTAssertEqual(line["label"] as? Int, Int(c[10]), "row \(row)")
        }
        XCTAssertTrue(lines.dropFirst().contains { $0["label"] as? Int == 1 }, "the sample has laundering rows")
        for line in lines.dropFirst().prefix(3) {
            let row = try XCTUnwrap(line["row"] as? Int)
            let e = try jsonObject(try runCLI("lepton-risk", ["explain", "--model", model, "--transactions", csv, String(row), "--json"]))
            XCTAssertEqual(line["typologies"] as? [String], e["typologies"] as? [String], "row \(row)")
        }
        // Without a label column, no line has a label.
        let unlabelled = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).dropLast().joined(separator: ",") }
            .joined(separator: "\n")
        let a = try risk().call("POST", "/v1/score?top=5", body: Data(unlabelled.utf8))
        XCTAssertEqual(a.status, 200, a.text)
        let plain = try a.text.split(separator: "\n").dropFirst().map { try jsonObject(String($0)) }
        XCTAssertEqual(plain.count, 5)
        XCTAssertTrue(plain.allSatisfy { $0["label"] == nil && $0["time"] != nil }, a.text)
    }

    func testMalformedInputIs400NamingTheProblem() throws {
        let s = try risk()
        let garbage = try s.call("POST", "/v1/score", body: Data("this is,not\nthe csv,we read\n\u{0}\u{1}".utf8))
        XCTAssertEqual(garbage.status, 400, garbage.text)
        let message = try XCTUnwrap(garbage.json?["error"] as? String)
        XCTAssertTrue(message.contains("header"), message)
        XCTAssertFalse(message.contains("/tmp"), "the temporary file's path leaks: \(message)")
        XCTAssertEqual(try s.call("POST", "/v1/score", body: Data()).status, 400)
        for q in ["?top=abc", "?top=0", "?budget=2", "?accounts=maybe", "?threshold=x"] {
            let a = try s.call("POST", "/v1/score" + q, bodyFile: csv)
            XCTAssertEqual(a.status, 400, "\(q): \(a.text)")
            XCTAssertNotNil(a.json?["error"] as? String, q)
        }
        let unknown = try s.call("GET", "/v1/nothing")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertNotNil(unknown.json?["error"])
    }

    func testBodyOverTheLimitIs413() throws {
        // A 1 MB limit (--max-body-mb 1): a body just over it is refused, the training file under it is scored.
        let train = try Data(contentsOf: ServiceProcess.root.appendingPathComponent("samples/risk/train.csv"))
        let big = Data(repeating: 0x41, count: 1_048_576 + 10)
        let a = try risk().call("POST", "/v1/score", body: big)
        XCTAssertEqual(a.status, 413, a.text)
        XCTAssertTrue((a.json?["error"] as? String)?.contains("--max-body-mb") == true, a.text)
        XCTAssertLessThan(train.count, 1_048_576)
        XCTAssertEqual(try risk().call("POST", "/v1/score?top=1", body: train).status, 200)
    }

    func testEveryAnswerHasARequestIdAndMetricsCountRequests() throws {
        let s = try risk()
        let before = try s.call("GET", "/metrics")
        XCTAssertEqual(before.status, 200)
        let countBefore = Self.requests(before.text, route: "/v1/score", status: "200")
        var ids = Set<String>()
        for _ in 0..<3 {
            let a = try s.call("POST", "/v1/score?top=1", bodyFile: csv)
            XCTAssertEqual(a.status, 200)
            ids.insert(try XCTUnwrap(a.header("X-Request-Id")))
        }
        ids.insert(try XCTUnwrap(try s.call("GET", "/healthz").header("X-Request-Id")))
        ids.insert(try XCTUnwrap(try s.call("POST", "/v1/score?top=zz", bodyFile: csv).header("X-Request-Id")))
        XCTAssertEqual(ids.count, 5, "request ids are not unique: \(ids)")
        // The counter is updated once the answer is written: poll briefly.
        var after = 0, text = ""
        for _ in 0..<50 {
            text = try s.call("GET", "/metrics").text
            after = Self.requests(text, route: "/v1/score", status: "200")
            if after >= countBefore + 3 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(after, countBefore + 3, text)
        XCTAssertTrue(text.contains("http_server_request_duration_bucket"), "no latency histogram:\n\(text)")
        XCTAssertTrue(text.contains("lepton_model_loaded{model=\"risk\"} 1"), text)
        XCTAssertTrue(text.contains("lepton_queue_depth"), text)
    }

    /// The value of the request counter for a route and status in Prometheus text.
    static func requests(_ metrics: String, route: String, status: String) -> Int {
        metrics.split(separator: "\n").filter {
            $0.hasPrefix("hb_requests{") && $0.contains("http_route=\"\(route)\"") && $0.contains("http_response_status_code=\"\(status)\"")
        }.compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }
}

/// `serve --schema`: a bank's own export (gzip, its own column names and date format) is scored as
/// `score --schema` scores the same file.
final class RiskServiceFeedTests: XCTestCase {
    func testABankExportScoresAsTheCLIWithTheSameMap() throws {
        let model = "samples/risk/model", file = "samples/risk/bank-export.csv.gz", map = "samples/risk/bank-map.yml"
        let service = try ServiceProcess.start("lepton-risk", ["--model", model, "--schema", map])
        defer { service.stop() }
        let a = try service.call("POST", "/v1/score?top=5", headers: ["Content-Type": "text/csv"], bodyFile: file)
        XCTAssertEqual(a.status, 200, a.text)
        let lines = try a.text.split(separator: "\n").map { try jsonObject(String($0)) }
        let cli = try runCLI("lepton-risk", ["score", "--model", model, "--transactions", file, "--schema", map, "--json", "--top", "5"])
            .split(separator: "\n").map { try jsonObject(String($0)) }
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines.count, cli.count)
        for (i, (s, c)) in zip(lines, cli).enumerated() where i > 0 {
            XCTAssertTrue(sameJSON(s, c), "line \(i): service \(s) vs CLI \(c)")
        }
        // Without the map the same body is not the IBM layout: a 400 naming the problem.
        let plain = try ServiceProcess.start("lepton-risk", ["--model", model])
        defer { plain.stop() }
        let b = try plain.call("POST", "/v1/score", headers: ["Content-Type": "text/csv"], bodyFile: file)
        XCTAssertEqual(b.status, 400, b.text)
    }
}
