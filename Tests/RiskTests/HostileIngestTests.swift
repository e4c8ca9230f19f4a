import XCTest
@testable import LeptonRisk

/// Issue 17: rows a hostile or careless export holds must be counted skips (or accepted
/// correctly), never a trap, an infinite amount or a silently dropped currency.
final class HostileIngestTests: XCTestCase {
    static let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"

    func write(_ text: String, _ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("risk-hostile-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = dir.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    /// A few ordinary rows, so that a file is never all-bad.
    static let ordinary = """
    2022/09/01 00:00,070,AAA,071,BBB,10.00,US Dollar,10.00,US Dollar,ACH,0
    2022/09/02 00:05,071,BBB,072,CCC,5.00,Euro,5.00,Euro,Wire,0

    """

    func testDatesOutsideTheSupportedYearsAreCountedSkipsAndFeaturesDoNotTrap() throws {
        let text = Self.header + Self.ordinary + """
        9999/12/31 23:59,070,AAA,071,BBB,7.00,US Dollar,7.00,US Dollar,ACH,0
        0001/01/01 00:00,070,AAA,071,BBB,7.00,US Dollar,7.00,US Dollar,ACH,0
        2200/01/01 00:00,070,AAA,071,BBB,7.00,US Dollar,7.00,US Dollar,ACH,0
        2199/12/31 23:59,070,AAA,071,BBB,7.00,US Dollar,7.00,US Dollar,ACH,0

        """
        var t = TransactionTable()
        let r = try t.append(csv: write(text, "dates.csv"))
        XCTAssertEqual(r.total, 3)
        XCTAssertEqual(r.counts.keys.filter { $0.hasPrefix("date out of range") }.count, 1, "\(r.counts)")
        XCTAssertEqual(t.count, 3)
        // The kept extreme is shown as written (before, 9999/12/31 was clamped and shown as 6053/01/23).
        XCTAssertEqual(t.time.max().map { formatTimestamp(Int($0)) }, "2199/12/31 23:59")
        // Feature windows add days to the latest time: this trapped on the year-9999 row.
        let x = TransactionFeatures.compute(t)
        XCTAssertTrue(x.allSatisfy(\.isFinite))
    }

    func testISOCurrencyCodesMeanTheSameCurrencyAsTheIBMNames() throws {
        // ISO 4217 (independent of Currency.swift's table); Bitcoin's XBT is the ISO-style code.
        let pairs = [("USD", "US Dollar"), ("EUR", "Euro"), ("GBP", "UK Pound"), ("JPY", "Yen"), ("CNY", "Yuan"),
                     ("INR", "Rupee"), ("XBT", "Bitcoin"), ("CAD", "Canadian Dollar"), ("AUD", "Australian Dollar"),
                     ("BRL", "Brazil Real"), ("CHF", "Swiss Franc"), ("MXN", "Mexican Peso"), ("RUB", "Ruble"),
                     ("ILS", "Shekel"), ("SAR", "Saudi Riyal"), ("gbp", "UK Pound")]
        var text = Self.header
        for (code, name) in pairs {
            text += "2022/09/01 00:00,070,AAA,071,BBB,1.00,\(code),1.00,\(name),Wire,0\n"
        }
        text += "2022/09/01 00:00,070,AAA,071,BBB,1.00,GBP,1.00,GBP,SEPA,0\n"   // a payment type of its own (issue 23): kept
        text += "2022/09/01 00:00,070,AAA,071,BBB,1.00,XYZ,1.00,XYZ,ACH,0\n"    // not a currency
        var t = TransactionTable()
        let r = try t.append(csv: write(text, "iso.csv"))
        XCTAssertEqual(t.count, pairs.count + 1)
        for k in 0..<pairs.count {
            XCTAssertEqual(Currency.names[Int(t.receiveCurrency[k])], pairs[k].1, pairs[k].0)
            XCTAssertEqual(t.receiveCurrency[k], t.payCurrency[k])
        }
        XCTAssertEqual(t.formatName(t.format[pairs.count]), "SEPA")
        XCTAssertEqual(r.counts["unknown currency"], 1)
        // Written back (split), a code becomes the IBM name, which reads back as the same currency.
        XCTAssertTrue(t.csv().contains(",1.00,UK Pound,1.00,UK Pound,Wire,"))
    }

    func testNonFiniteAndAbsurdAmountsAreCountedSkips() throws {
        let bad = ["1e39", "1e38", "1e16", "1000000000000001", "1e999", "NaN", "nan", "inf", "-inf", "Infinity", "+Inf"]
        var text = Self.header + Self.ordinary
        for v in bad { text += "2022/09/01 00:00,070,AAA,071,BBB,\(v),US Dollar,5.00,US Dollar,ACH,0\n" }
        for v in bad { text += "2022/09/01 00:00,070,AAA,071,BBB,5.00,US Dollar,\(v),US Dollar,ACH,0\n" }
        text += "2022/09/01 00:00,070,AAA,071,BBB,999999999999.99,Yen,1e15,Yen,ACH,0\n"   // large but possible
        var t = TransactionTable()
        let r = try t.append(csv: write(text, "amounts.csv"))
        XCTAssertEqual(t.count, 3)
        XCTAssertEqual(r.total, 2 * bad.count)
        XCTAssertEqual(r.counts["amount above 1e15"], 2 * 5)     // 1e39, 1e38, 1e16, 10^15+1, 1e999
        XCTAssertEqual(r.counts["non-numeric amount"], 2 * 6)    // the NaN and infinity spellings
        XCTAssertTrue(t.amountPaid.allSatisfy { $0.isFinite && $0 <= 1e15 })
        XCTAssertTrue((0..<t.count).allSatisfy { t.usd($0).isFinite })
        // Echoed as given (a Float echoed 1e15 as 999999986991104.00).
        XCTAssertTrue(t.csv().contains(",999999999999.99,Yen,1000000000000000.00,Yen,ACH,0"), t.csv())
    }

    // MARK: Training on tiny or one-sided labels

    /// A small synthetic bank with exactly `positives` laundering rows (the rest normal).
    func bank(positives: Int, negatives: Int? = nil, seed: UInt64 = 3) throws -> TransactionTable {
        var o = AMLSimulator.Options(); o.accounts = 200; o.days = 20; o.seed = seed; o.patternRate = 60
        var t = TransactionTable()
        try t.append(csv: write(try AMLSimulator.generate(o).csv, "bank-\(seed).csv"))
        let pos = (0..<t.count).filter { t.label[$0] == 1 }
        XCTAssertGreaterThanOrEqual(pos.count, positives)
        for (k, i) in pos.enumerated() where k >= positives { t.label[i] = 0 }
        if let n = negatives {
            let neg = (0..<t.count).filter { t.label[$0] == 0 }
            for (k, i) in neg.enumerated() where k >= n { t.label[i] = -1 }   // unlabelled context
        }
        return t
    }

    func quickOptions() -> TransactionModel.TrainOptions {
        var o = TransactionModel.TrainOptions()
        o.trees.rounds = 20; o.gnnEpochs = 3; o.folds = 4
        return o
    }

    func testOnePositiveOrOneNegativeIsAClearErrorNotATrap() throws {
        // One positive read index -1 of the positives' positions and trapped.
        XCTAssertThrowsError(try TransactionModel.train(try bank(positives: 1), source: "one.csv", options: quickOptions())) { e in
            XCTAssertEqual(e as? RiskError, .tooFewLabels(path: "one.csv", label: "positive", found: 1, needed: 2))
            XCTAssertEqual("\(e)", "one.csv: only 1 positive label: training cross-validates and needs at least 2")
        }
        XCTAssertThrowsError(try TransactionModel.train(try bank(positives: 3, negatives: 1), source: "n.csv", options: quickOptions())) { e in
            XCTAssertEqual(e as? RiskError, .tooFewLabels(path: "n.csv", label: "negative", found: 1, needed: 2))
        }
    }

    func testTheSmallestTrainableDataTrainsAndScores() throws {
        // Two positives (two folds of one each), a handful of labelled negatives, the rest context;
        // and a table whose labelled negatives all sit in one time block.
        for t in [try bank(positives: 2), try bank(positives: 2, negatives: 2), try bank(positives: 5, negatives: 3, seed: 4)] {
            let (m, _) = try TransactionModel.train(t, source: "tiny", options: quickOptions())
            let s = m.score(t)
            XCTAssertEqual(s.count, t.count)
            XCTAssertTrue(s.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        }
    }

    func testNodeModelsRefuseOnePositiveAndTrainOnTwo() throws {
        var nodes = "id,f0,f1\n", labels = "id,label\n", edges = "src,dst\n"
        for i in 0..<12 { nodes += "n\(i),\(i % 3),\(Double(i) / 2)\n"; edges += "n\(i),n\((i + 1) % 12)\n" }
        for i in 0..<12 { labels += "n\(i),\(i == 0 ? 1 : 0)\n" }
        let n = write(nodes, "nodes.csv"), e = write(edges, "edges.csv")
        var o = NodeModel.TrainOptions(); o.trees.rounds = 10; o.gnnEpochs = 2
        let one = try NodeGraph.load(nodes: n, edges: e, labels: write(labels, "one.csv"))
        XCTAssertThrowsError(try NodeModel.train(one, source: "one.csv", options: o)) { e in
            XCTAssertEqual(e as? RiskError, .tooFewLabels(path: "one.csv", label: "positive", found: 1, needed: 2))
        }
        let two = try NodeGraph.load(nodes: n, edges: e, labels: write(labels.replacingOccurrences(of: "n5,0", with: "n5,1"), "two.csv"))
        let (m, _) = try NodeModel.train(two, source: "two.csv", options: o)
        XCTAssertTrue(try m.score(two).allSatisfy(\.isFinite))
        // A feature that overflows a Float is a counted skip, not +inf in the model's input.
        let big = try NodeGraph.load(nodes: write(nodes + "n12,1e39,0\n", "big.csv"), edges: e, labels: nil)
        XCTAssertEqual(big.skips.counts["non-numeric feature"], 1)
    }
}
