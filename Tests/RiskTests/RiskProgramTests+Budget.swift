import Foundation
import XCTest

/// `score --budget F` (the highest ceil(F x count) of what is scored, as `serve`'s `?budget=`) and
/// account alerts that name the transfers behind them, checked against the plain ranking and the
/// input file itself.
extension RiskProgramTests {
    func testBudgetAndAccountAlertsWithTheTransfersBehindThem() throws {
        let base = ["score", "--model", Self.samples + "/model", "--transactions", Self.samples + "/test.csv",
                    "--history", Self.samples + "/train.csv"]
        // Transactions: 1,692 scored, a 1% budget is the first 17 of the whole ranking.
        let all = try risk(base), budget = try risk(base + ["--budget", "0.01"])
        XCTAssertEqual(budget.status, 0, budget.stderr)
        let ranking = all.stdout.split(separator: "\n")
        XCTAssertEqual(ranking.count, 1 + 1692)
        XCTAssertEqual(budget.stdout.split(separator: "\n"), Array(ranking.prefix(1 + 17)))

        // Accounts: a 2% budget of every scored account, each naming its highest-scored transfers.
        let accounts = try risk(base + ["--accounts"]).stdout.split(separator: "\n").count - 1
        let r = try risk(base + ["--accounts", "--budget", "0.02", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try r.stdout.split(separator: "\n").dropFirst().map { try json($0) }
        XCTAssertEqual(lines.count, Int((0.02 * Double(accounts)).rounded(.up)))
        let rows = try String(contentsOfFile: Self.samples + "/test.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        for line in lines {
            let account = try XCTUnwrap(line["account"] as? String), bank = try XCTUnwrap(line["bank"] as? String)
            let score = try XCTUnwrap(line["score"] as? Double)
            let transfers = try XCTUnwrap(line["transactions"] as? [[String: Any]])
            XCTAssertFalse(transfers.isEmpty); XCTAssertLessThanOrEqual(transfers.count, 3)
            XCTAssertEqual(transfers.first?["score"] as? Double, score, "the first transfer gives the account its score")
            var last = Double.infinity
            for t in transfers {
                let row = try XCTUnwrap(t["row"] as? Int), s = try XCTUnwrap(t["score"] as? Double), role = t["role"] as? String
                XCTAssertLessThanOrEqual(s, last); last = s
                let cells = rows[row]
                let sender = cells[1] == bank && cells[2] == account, receiver = cells[3] == bank && cells[4] == account
                XCTAssertTrue(role == "sender" ? sender : receiver, "row \(row) \(cells) for \(bank):\(account) as \(role ?? "?")")
            }
        }

        assertOneLineError(try risk(base + ["--budget", "0"]), status: 64, contains: "--budget")
        assertOneLineError(try risk(base + ["--budget", "0.1", "--top", "3"]), status: 64, contains: "not both")
    }
}
