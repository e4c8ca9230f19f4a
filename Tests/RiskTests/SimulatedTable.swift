import Foundation
import XCTest
@testable import LeptonRisk

extension XCTestCase {
    /// A small simulated transaction table (the AML simulator's CSV read back through ingest).
    func simulatedTable(accounts: Int, days: Int, seed: UInt64, patternRate: Double = 40) throws -> TransactionTable {
        var o = AMLSimulator.Options(); o.accounts = accounts; o.days = days; o.seed = seed; o.patternRate = patternRate
        let sim = try AMLSimulator.generate(o)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("simulated-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(sim.csv.utf8).write(to: url)
        var t = TransactionTable()
        try t.append(csv: url.path)
        return t
    }
}
