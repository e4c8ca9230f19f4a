import XCTest
@testable import LeptonDialog

/// Hostile YAML in the files `lepton-chat` reads (nlu.yml, recipes, domains): alias bombs and
/// deep nesting are refused with one line naming the file and the limit, in bounded time and
/// memory; ordinary anchors and aliases still load.
final class SafeYAMLTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("safe-yaml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// "Billion laughs": `levels` anchors, each a list of 9 aliases of the one before
    /// (9^levels strings once expanded), under keys nothing reads, beside valid NLU data.
    func bomb(levels: Int) -> String {
        var lines = ["l0: &l0 [\"lol\"]"]
        for i in 1...levels { lines.append("l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ",") + "]") }
        return lines.joined(separator: "\n") + "\nnlu:\n- intent: greet\n  examples: |\n    - hi\n"
    }

    func assertRefused(_ url: URL, mentioning limit: String, file: StaticString = #filePath, line: UInt = #line,
                       _ load: (URL) throws -> Void) {
        // The bound is counted, not timed: each refusal names the limit that stopped the walk
        // (nodes, aliases, depth), so the work done is at most that limit whatever the machine's speed.
        XCTAssertThrowsError(try load(url), file: file, line: line) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains(url.path), "error does not name the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(limit), "error does not name the limit: \(message)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
        }
    }

    func testBillionLaughsInTrainingDataIsRefused() throws {
        // 9^9 = 387 million strings expanded: gigabytes before the check existed.
        let url = try write(bomb(levels: 9), "bomb.yml")
        XCTAssertLessThan(try Data(contentsOf: url).count, 500)
        assertRefused(url, mentioning: "100000 nodes") { _ = try NLUData.load($0) }
    }

    func testSmallerBombBeyondTheAliasBudgetIsRefused() throws {
        // 9^6 = 531,441 strings: loads in a second without the budget, so only the budget refuses it.
        let url = try write(bomb(levels: 6), "bomb6.yml")
        assertRefused(url, mentioning: "aliases") { _ = try NLUData.load($0) }
    }

    func testBombInADomainFileIsRefused() throws {
        let url = try write(bomb(levels: 9) + "responses:\n  utter_greet: [\"hello\"]\n", "domain.yml")
        assertRefused(url, mentioning: "100000 nodes") { _ = try Domain.load($0) }
    }

    func testBombInARecipeIsRefused() throws {
        _ = try write("nlu:\n- intent: greet\n  examples: |\n    - hi\n", "nlu.yml")
        let url = try write(bomb(levels: 9) + "sources:\n  - file: nlu.yml\n", "recipe.yml")
        assertRefused(url, mentioning: "aliases") { _ = try NLUData.load($0) }
    }

    func testDeepFlowNestingIsRefusedNotACrash() throws {
        // 100,000 nested lists overflowed the stack of Yams's recursive composer (a segfault).
        let url = try write("nlu: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n", "deep.yml")
        assertRefused(url, mentioning: "deeper than 256") { _ = try NLUData.load($0) }
    }

    func testDeepBlockNestingIsRefusedNotACrash() throws {
        let url = try write("responses:\n" + String(repeating: "- ", count: 100_000) + "x\n", "deep-domain.yml")
        assertRefused(url, mentioning: "deeper than 256") { _ = try Domain.load($0) }
    }

    func testNodeAndSizeLimits() throws {
        var limits = SafeYAML.Limits()
        limits.maxNodes = 10
        XCTAssertNoThrow(try SafeYAML.check("[1, 2, 3, 4, 5, 6, 7, 8]", limits: limits))   // 9 nodes with the list
        XCTAssertThrowsError(try SafeYAML.check("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", limits: limits))
        limits = SafeYAML.Limits()
        limits.maxBytes = 100
        XCTAssertThrowsError(try SafeYAML.check(String(repeating: "a", count: 101), limits: limits)) { error in
            XCTAssertTrue("\(error)".contains("100-byte limit"), "\(error)")
        }
    }

    func testOrdinaryAnchorsAndAliasesStillLoad() throws {
        let value = try SafeYAML.load("""
            base: &base {currency: EUR, limit: 500}
            savings: *base
            words: &w [a, b]
            more: [*w, *w]
            """) as? [String: Any]
        XCTAssertEqual((value?["savings"] as? [String: Any])?["currency"] as? String, "EUR")
        XCTAssertEqual((value?["savings"] as? [String: Any])?["limit"] as? Int, 500)
        XCTAssertEqual(value?["more"] as? [[String]], [["a", "b"], ["a", "b"]])
        // The shipped agent's files pass the limits.
        XCTAssertNoThrow(try NLUData.load(Repo.bank.appendingPathComponent("nlu.yml")))
        XCTAssertNoThrow(try Domain.load(Repo.bank.appendingPathComponent("domain.yml")))
    }

    func testSyntaxErrorsAreStillReportedByTheParser() throws {
        let url = try write("nlu: [unclosed\n", "broken.yml")
        XCTAssertThrowsError(try NLUData.load(url)) { error in
            XCTAssertTrue("\(error)".contains("invalid YAML"), "\(error)")
        }
    }
}
