import XCTest
@testable import LeptonRisk

/// A model folder must not carry customer data (issue 17): it used to hold `history.csv`,
/// the last 14 days of raw training transactions with account ids and laundering labels.
final class ModelPrivacyTests: XCTestCase {
    func testNoAccountIdOfTheTrainingDataIsInAnyFileOfTheModelFolder() throws {
        var o = AMLSimulator.Options(); o.accounts = 200; o.days = 20; o.seed = 9; o.patternRate = 60
        let sim = try AMLSimulator.generate(o)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("risk-privacy-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let csv = dir.appendingPathComponent("train.csv")
        try Data(sim.csv.utf8).write(to: csv)
        var t = TransactionTable()
        try t.append(csv: csv.path)
        var opts = TransactionModel.TrainOptions(); opts.trees.rounds = 20; opts.gnnEpochs = 3
        let (model, _) = try TransactionModel.train(t, source: csv.path, options: opts)
        let folder = dir.appendingPathComponent("model")
        try model.save(to: folder)

        // The account numbers as the CSV spells them (9 hex digits), read from the file itself.
        let accounts = Set(sim.csv.split(separator: "\n").dropFirst().flatMap { line -> [String] in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return [String(f[2]), String(f[4])]
        })
        XCTAssertGreaterThan(accounts.count, 100)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertFalse(files.isEmpty)
        for name in files {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            let text = String(decoding: bytes, as: UTF8.self)
            let leaked = accounts.filter { text.contains($0) }
            XCTAssertTrue(leaked.isEmpty, "\(name) holds \(leaked.count) account ids, e.g. \(leaked.first ?? "")")
        }
        // A folder from an older version still holding history.csv loads, is flagged, and the file is not read.
        try Data("not even a CSV".utf8).write(to: folder.appendingPathComponent(TransactionModel.legacyHistoryFile))
        XCTAssertTrue(try TransactionModel.load(from: folder).hasLegacyHistoryFile)
    }

    func testHistoryIsAnExplicitInputLimitedToTheDaysBeforeTheFile() throws {
        let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("risk-history-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // History: one row 20 days before the new file (outside 14 days), two inside, one after its start.
        let history = header + """
        2022/08/12 10:00,070,A,071,B,10.00,US Dollar,10.00,US Dollar,ACH,0
        2022/08/25 10:00,070,A,071,B,10.00,US Dollar,10.00,US Dollar,ACH,1
        2022/08/31 23:59,072,C,070,A,10.00,US Dollar,10.00,US Dollar,ACH,0
        2022/09/01 00:00,070,A,071,B,10.00,US Dollar,10.00,US Dollar,ACH,0

        """
        let fresh = header + """
        2022/09/01 00:00,071,B,073,D,9.50,US Dollar,9.50,US Dollar,Wire,
        2022/09/02 00:00,073,D,070,A,9.00,US Dollar,9.00,US Dollar,Wire,

        """
        let hp = dir.appendingPathComponent("h.csv"), fp = dir.appendingPathComponent("f.csv")
        try Data(history.utf8).write(to: hp); try Data(fresh.utf8).write(to: fp)
        var o = AMLSimulator.Options(); o.accounts = 150; o.days = 15; o.seed = 2; o.patternRate = 60
        var t = TransactionTable()
        let sim = dir.appendingPathComponent("sim.csv")
        try Data(try AMLSimulator.generate(o).csv.utf8).write(to: sim)
        try t.append(csv: sim.path)
        var opts = TransactionModel.TrainOptions(); opts.trees.rounds = 10; opts.useGNN = false
        let (model, _) = try TransactionModel.train(t, source: "sim", options: opts)

        let with = try ScoredTransactions(model: model, path: fp.path, history: hp.path)
        XCTAssertEqual(with.historyRows, 2)
        XCTAssertEqual(Array(with.inputRows), [2, 3])
        XCTAssertEqual(with.table.time.prefix(2).map { formatTimestamp(Int($0)) }, ["2022/08/25 10:00", "2022/08/31 23:59"])
        let without = try ScoredTransactions(model: model, path: fp.path)
        XCTAssertEqual(without.historyRows, 0)
        XCTAssertEqual(Array(without.inputRows), [0, 1])
        // The history reaches the features: B received money from A 7 days before it paid D.
        let column = TransactionFeatures.names.firstIndex(of: "src_in_14d")!
        XCTAssertEqual(with.features(row: 2)[column], logf(2))
        XCTAssertEqual(without.features(row: 0)[column], 0)
    }
}
