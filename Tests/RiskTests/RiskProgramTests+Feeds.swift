import Foundation
import XCTest

/// The feed options as a user runs them (issue 23): `--schema`, `--fx` and `.csv.gz` on every
/// command that reads transactions, and `evaluate`'s bootstrap intervals and stderr warning.
extension RiskProgramTests {
    func testBankExportSampleWithItsMapScoresAsTheIBMRows() throws {
        // samples/risk/bank-export.csv.gz holds the first 400 rows of test.csv in a bank's layout.
        let reference = tmp.appendingPathComponent("first400.csv").path
        let test = try String(contentsOfFile: Self.samples + "/test.csv", encoding: .utf8).split(separator: "\n")
        try Data((test.prefix(401).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: reference))
        let m = Self.samples + "/model"
        let ibm = try risk(["score", "--model", m, "--transactions", reference, "--json"])
        XCTAssertEqual(ibm.status, 0, ibm.stderr)
        let bank = try risk(["score", "--model", m, "--transactions", Self.samples + "/bank-export.csv.gz",
                             "--schema", Self.samples + "/bank-map.yml", "--json"])
        XCTAssertEqual(bank.status, 0, bank.stderr)
        let a = Array(ibm.stdout.split(separator: "\n").dropFirst()), b = Array(bank.stdout.split(separator: "\n").dropFirst())
        XCTAssertEqual(a.count, 400)
        XCTAssertEqual(a, b)   // every result line: row, score, accounts, time, amount, currency, format
        // stats takes the same options (and train, evaluate, explain: one option group).
        let stats = try risk(["stats", "--transactions", Self.samples + "/bank-export.csv.gz", "--schema", Self.samples + "/bank-map.yml",
                              "--fx", Self.samples + "/rates.csv", "--json"])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        XCTAssertEqual(try json(Substring(stats.stdout.trimmingCharacters(in: .newlines)))["rows"] as? Int, 400)
    }

    func testFeedOptionErrorsAreOneLine() throws {
        let m = Self.samples + "/model", tx = Self.samples + "/test.csv"
        let bomb = tmp.appendingPathComponent("bomb.yml").path
        var text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        let letters = Array("abcdefghij")
        for k in 1..<9 { text += "\(letters[k]): &\(letters[k]) [" + Array(repeating: "*\(letters[k - 1])", count: 9).joined(separator: ", ") + "]\n" }
        try Data(text.utf8).write(to: URL(fileURLWithPath: bomb))
        assertOneLineError(try risk(["score", "--model", m, "--transactions", tx, "--schema", bomb]), status: 1, contains: "alias")
        assertOneLineError(try risk(["score", "--model", m, "--transactions", tx, "--fx", "/nonexistent/rates.csv"]), status: 1,
                           contains: "/nonexistent/rates.csv")
        // Rates that miss a currency of the file: those rows are skipped and counted (exit 3).
        let rates = tmp.appendingPathComponent("usd-eur.csv").path
        try Data("currency,from,to,units_per_usd\nEUR,2022-09-01,2022-09-30,1\n".utf8).write(to: URL(fileURLWithPath: rates))
        let r = try risk(["score", "--model", m, "--transactions", tx, "--fx", rates, "--json"])
        assertOneLineError(r, status: 3, contains: "no FX rate for the currency on the day")
    }

    func testEvaluatePrintsBootstrapIntervalsAndWarnsOnStderr() throws {
        let m = Self.samples + "/model", tx = Self.samples + "/test.csv", h = Self.samples + "/train.csv"
        let a = try risk(["evaluate", "--model", m, "--transactions", tx, "--history", h, "--bootstrap", "300", "--seed", "5"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("bootstrap 95% intervals (300 resamples, seed 5): PR-AUC ["), a.stdout)
        XCTAssertTrue(a.stderr.contains("warning: only 22 positives"), a.stderr)
        XCTAssertFalse(a.stdout.contains("warning"), a.stdout)
        let b = try risk(["evaluate", "--model", m, "--transactions", tx, "--history", h, "--bootstrap", "300", "--seed", "5", "--json"])
        let j = try json(Substring(b.stdout.trimmingCharacters(in: .newlines)))
        let boot = try XCTUnwrap(j["bootstrap"] as? [String: Any])
        let pr = try XCTUnwrap(boot["pr_auc"] as? [Double])
        let point = try XCTUnwrap(j["pr_auc"] as? Double)
        XCTAssertTrue(pr[0] <= point && point <= pr[1], "\(pr) \(point)")
        // Same seed, same figures as the text form.
        XCTAssertTrue(a.stdout.contains(String(format: "PR-AUC [%.4f, %.4f]", pr[0], pr[1])), a.stdout)
        assertOneLineError(try risk(["evaluate", "--model", m, "--transactions", tx, "--bootstrap", "-1"]), status: 64, contains: "--bootstrap")
    }
}

extension RiskProgramTests {
    /// `split --schema`: a bank's export, split by time, comes out in the IBM layout with the same
    /// rows as splitting the IBM file it was made from (bank-export.csv.gz = the first 400 rows of test.csv).
    func testSplitReadsABankExportWithItsMap() throws {
        let ibm = tmp.appendingPathComponent("split-first400.csv").path
        let lines = try String(contentsOfFile: Self.samples + "/test.csv", encoding: .utf8).split(separator: "\n").prefix(401)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: ibm))
        let a1 = tmp.appendingPathComponent("bank-a.csv").path, b1 = tmp.appendingPathComponent("bank-b.csv").path
        let a2 = tmp.appendingPathComponent("ibm-a.csv").path, b2 = tmp.appendingPathComponent("ibm-b.csv").path
        let bank = try risk(["split", "--transactions", Self.samples + "/bank-export.csv.gz", "--schema", Self.samples + "/bank-map.yml",
                             "--train", a1, "--test", b1])
        XCTAssertEqual(bank.status, 0, bank.stderr)
        XCTAssertEqual(try risk(["split", "--transactions", ibm, "--train", a2, "--test", b2]).status, 0)
        let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering"
        for (x, y) in [(a1, a2), (b1, b2)] {
            let fromBank = try String(contentsOfFile: x, encoding: .utf8), fromIBM = try String(contentsOfFile: y, encoding: .utf8)
            XCTAssertTrue(fromBank.hasPrefix(header))
            XCTAssertEqual(fromBank, fromIBM)
        }
        XCTAssertGreaterThan(try String(contentsOfFile: a1, encoding: .utf8).split(separator: "\n").count, 100)
    }
}
