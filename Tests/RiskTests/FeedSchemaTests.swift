import Foundation
import XCTest
@testable import LeptonRisk

/// A bank's own export (issue 23, "Any bank's feed"): the same transactions in another layout
/// (column names and order, `;`, ISO 4217 codes, ISO-8601 times, the bank's payment-type names)
/// read through a schema map score exactly as the IBM-layout sample does; FX rates files; payment
/// types outside the IBM list kept as their own category; hostile map files refused.
final class FeedSchemaTests: XCTestCase {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples/risk")

    lazy var dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("feed-schema-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String) throws -> String {
        let p = dir.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// ISO 4217 codes of the IBM names (written here, not taken from Currency.swift).
    static let iso = ["US Dollar": "USD", "Euro": "EUR", "UK Pound": "GBP", "Yen": "JPY", "Yuan": "CNY", "Rupee": "INR",
                      "Bitcoin": "XBT", "Canadian Dollar": "CAD", "Australian Dollar": "AUD", "Brazil Real": "BRL",
                      "Swiss Franc": "CHF", "Mexican Peso": "MXN", "Ruble": "RUB", "Shekel": "ILS", "Saudi Riyal": "SAR"]

    /// The bank layout's map: other names, other order, `;`, ISO-8601, `SEPA` for ACH.
    static let map = """
    # A bank's export: semicolons, ISO-8601 times, its own names for columns and payment types.
    delimiter: ";"
    header: true
    date_formats: [iso8601]
    columns:
      timestamp: Booking Time
      payment_type: Channel
      from_account: Debtor Account
      from_bank: Debtor Bank
      amount_paid: Amount
      payment_currency: Currency
      to_bank: Creditor Bank
      to_account: Creditor Account
      amount_received: Credited Amount
      receiving_currency: Credited Currency
      label: SAR
    payment_types:
      SEPA: ACH
    """

    /// `ibm` (an IBM AML CSV) rewritten in the bank layout, by plain string handling.
    static func bankExport(_ ibm: String) -> String {
        var out = ["Booking Time;Channel;Debtor Account;Debtor Bank;Amount;Currency;Creditor Bank;Creditor Account;Credited Amount;Credited Currency;SAR"]
        for line in ibm.split(separator: "\n").dropFirst() {
            let c = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            // 2022/09/21 23:53 -> 2022-09-21T23:53:00Z
            let time = c[0].replacingOccurrences(of: "/", with: "-").replacingOccurrences(of: " ", with: "T") + ":00Z"
            let channel = c[9] == "ACH" ? "SEPA" : c[9]
            out.append([time, channel, c[2], c[1], c[7], iso[c[8]]!, c[3], c[4], c[5], iso[c[6]]!, c.count > 10 ? c[10] : ""].joined(separator: ";"))
        }
        return out.joined(separator: "\n") + "\n"
    }

    func sampleText(_ name: String) throws -> String {
        try String(contentsOf: Self.samples.appendingPathComponent(name), encoding: .utf8)
    }

    /// (data row, score) of every input row, in file order.
    func rowScores(_ s: ScoredTransactions) -> [(Int32, Float)] { s.inputRows.map { (s.table.row[$0], s.scores[$0]) } }

    func testBankExportWithItsMapScoresExactlyAsTheIBMLayout() throws {
        let model = try TransactionModel.load(from: Self.samples.appendingPathComponent("model"))
        let schema = try TransactionSchema.parse(Self.map, source: "map.yml")
        let bankTest = try write(Self.bankExport(try sampleText("test.csv")), "bank-test.csv")
        let bankTrain = try write(Self.bankExport(try sampleText("train.csv")), "bank-train.csv")
        XCTAssertTrue(try String(contentsOfFile: bankTest, encoding: .utf8).contains(";SEPA;"))

        let reference = try ScoredTransactions(model: model, path: Self.samples.appendingPathComponent("test.csv").path,
                                               history: Self.samples.appendingPathComponent("train.csv").path)
        let mapped = try ScoredTransactions(model: model, input: TransactionFile(bankTest, schema: schema),
                                            history: TransactionFile(bankTrain, schema: schema))
        XCTAssertEqual(mapped.skips.total, 0, mapped.skips.summary)
        XCTAssertEqual(mapped.historyRows, reference.historyRows)
        let a = rowScores(reference), b = rowScores(mapped)
        XCTAssertEqual(a.count, 1692)
        XCTAssertEqual(a.map(\.0), b.map(\.0))
        XCTAssertEqual(a.map(\.1), b.map(\.1))   // exactly: same features from the same values
        // The alert fields read back the same transfer (the IBM names of the ISO codes).
        for i in mapped.inputRows.prefix(50) {
            XCTAssertEqual(mapped.alertDetails(i), reference.alertDetails(i))
        }
    }

    func testHeaderlessFileWithColumnNumbersAndDayFirstDates() throws {
        let schema = try TransactionSchema.parse("""
        header: false
        delimiter: "\\t"
        date_format: "%d.%m.%Y %H:%M"
        columns: {timestamp: 1, from_bank: 2, from_account: 3, to_bank: 4, to_account: 5, amount_paid: 6,
                  payment_currency: 7, payment_type: 8, label: 9}
        """, source: "tab.yml")
        let p = try write("21.09.2022 23:53\t070\tA1\t071\tB1\t12.50\tEUR\tWire\t1\n01.10.2022 07:05\t070\tA1\t072\tC1\t3\tUSD\tCash\t\n", "tab.tsv")
        var t = TransactionTable()
        let r = try t.append(csv: p, schema: schema)
        XCTAssertEqual(r.total, 0, r.summary)
        XCTAssertEqual(t.count, 2)
        XCTAssertEqual(formatTimestamp(Int(t.time[0])), "2022/09/21 23:53")
        XCTAssertEqual(formatTimestamp(Int(t.time[1])), "2022/10/01 07:05")
        XCTAssertEqual(t.row, [0, 1])   // no header: the first line is data row 0
        XCTAssertEqual(t.label, [1, -1])
        XCTAssertEqual(t.amountReceived, [12.5, 3])   // amount_received defaults to amount_paid
        XCTAssertEqual(t.currencyName(t.receiveCurrency[0]), "Euro")
    }

    func testISO8601OffsetsAreConvertedToUTC() throws {
        let f = try TimestampFormat.parse("iso8601")
        func minutes(_ s: String) -> Int? {
            Array(s.utf8).withUnsafeBufferPointer { b in f.lazy.compactMap { $0.minutes(b.baseAddress!, b.count) }.first }
        }
        let utc = minutesSinceEpoch(year: 2022, month: 9, day: 1, hour: 10, minute: 30)
        XCTAssertEqual(minutes("2022-09-01T10:30:00Z"), utc)
        XCTAssertEqual(minutes("2022-09-01T12:30:00+02:00"), utc)
        XCTAssertEqual(minutes("2022-09-01T05:30:15.250-0500"), utc)
        XCTAssertEqual(minutes("2022-09-01T10:30"), utc)
        XCTAssertEqual(minutes("2022-09-01"), utc - 630)
        XCTAssertNil(minutes("2022-02-30T10:30"))
        XCTAssertNil(minutes("2022-09-01 10:30 extra"))
    }

    func testPaymentTypesOutsideTheIBMListAreCategoriesOfTheirOwn() throws {
        var text = TransactionTable.header + "\n"
        text += "2022/09/01 00:00,070,AAA,071,BBB,1.00,USD,1.00,USD,Instant Payment,0\n"
        text += "2022/09/01 00:05,070,AAA,071,BBB,1.00,USD,1.00,USD,Direct Debit,0\n"
        text += "2022/09/01 00:10,070,AAA,071,BBB,1.00,USD,1.00,USD,instant payment,0\n"
        text += "2022/09/01 00:15,070,AAA,071,BBB,1.00,USD,1.00,USD,Wire,0\n"
        text += "2022/09/01 00:20,070,AAA,071,BBB,1.00,USD,1.00,USD,,0\n"
        var t = TransactionTable()
        let r = try t.append(csv: try write(text, "types.csv"))
        XCTAssertEqual(t.count, 4)
        XCTAssertEqual(r.counts["missing payment format"], 1)
        XCTAssertEqual((0..<4).map { t.formatName(t.format[$0]) }, ["Instant Payment", "Direct Debit", "Instant Payment", "Wire"])
        XCTAssertNotEqual(t.format[0], t.format[1])   // not folded into one "other"
        let x = TransactionFeatures.compute(t), F = TransactionFeatures.count
        let wire = TransactionFeatures.names.firstIndex(of: "format_wire")!
        XCTAssertEqual((2...8).map { x[$0] }, [0, 0, 0, 0, 0, 0, 0])          // no IBM indicator
        XCTAssertEqual(x[3 * F + wire], 1)
        // Written back and read again (split), the category survives as its name.
        var again = TransactionTable()
        try again.append(csv: try write(t.csv(), "again.csv"))
        XCTAssertEqual((0..<4).map { again.formatName(again.format[$0]) }, ["Instant Payment", "Direct Debit", "Instant Payment", "Wire"])
    }

    func testFXRatesFileReplacesTheFixedRatesAndAMissingRateIsACountedSkip() throws {
        let rates = try write("""
        currency,from,to,units_per_usd
        EUR,2022-09-01,2022-09-15,0.5
        EUR,2022-09-16,,2
        SEK,2022-09-01,2022-09-30,10
        """, "rates.csv")
        let fx = try FXRates.load(rates)
        var text = TransactionTable.header + "\n"
        text += "2022/09/10 00:00,070,AAA,071,BBB,10.00,EUR,10.00,EUR,Wire,0\n"      // 10 / 0.5 = 20 USD
        text += "2022/09/20 00:00,070,AAA,071,BBB,10.00,Euro,10.00,Euro,Wire,0\n"    // 10 / 2 = 5 USD
        text += "2022/09/20 00:00,070,AAA,071,BBB,50.00,SEK,50.00,SEK,Wire,0\n"      // not an IBM currency: 5 USD
        text += "2022/10/02 00:00,070,AAA,071,BBB,50.00,SEK,50.00,SEK,Wire,0\n"      // no SEK rate in October
        text += "2022/09/20 00:00,070,AAA,071,BBB,7.00,USD,7.00,USD,Wire,0\n"        // dollars need no rate
        text += "2022/09/20 00:00,070,AAA,071,BBB,7.00,GBP,7.00,GBP,Wire,0\n"        // no GBP rates at all
        var t = TransactionTable()
        let r = try t.append(csv: try write(text, "fx.csv"), fx: fx)
        XCTAssertEqual(t.amountUSD, [20, 5, 5, 7])
        XCTAssertEqual(t.currencyName(t.payCurrency[2]), "SEK")
        XCTAssertEqual(r.counts["no FX rate for the currency on the day"], 2)
        XCTAssertTrue(r.examples.contains { $0.contains("SEK on 2022/10/02") }, r.examples.joined(separator: "\n"))
        // Without rates SEK is unknown, and the fixed rates apply.
        var fixed = TransactionTable()
        let rf = try fixed.append(csv: try write(text, "fx.csv"))
        XCTAssertEqual(rf.counts["unknown currency"], 2)
        XCTAssertEqual(fixed.amountUSD[0], Float(10 / 0.92))
    }

    func testFXFileAtTheFixedRatesScoresAsWithoutIt() throws {
        // The fixed table's rates, written here from Currency.perUSD's documented 2022-23 levels.
        let perUSD = ["USD": 1, "EUR": 0.92, "GBP": 0.79, "JPY": 150, "CNY": 7.15, "INR": 83, "XBT": 0.000035, "CAD": 1.36,
                      "AUD": 1.52, "BRL": 5.04, "CHF": 0.90, "MXN": 18.3, "RUB": 91.4, "ILS": 3.69, "SAR": 3.69]
        let rates = try write("currency,from,to,units_per_usd\n" + perUSD.map { "\($0.key),2000-01-01,,\($0.value)" }.joined(separator: "\n") + "\n", "fixed.csv")
        let model = try TransactionModel.load(from: Self.samples.appendingPathComponent("model"))
        let test = Self.samples.appendingPathComponent("test.csv").path
        let a = try ScoredTransactions(model: model, path: test)
        let b = try ScoredTransactions(model: model, input: TransactionFile(test, fx: try FXRates.load(rates)))
        XCTAssertEqual(rowScores(a).map(\.1), rowScores(b).map(\.1))
    }

    func testBadMapsAndRatesAreRefusedWithOneLine() throws {
        func refused(_ yaml: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try TransactionSchema.parse(yaml, source: "m.yml"), file: file, line: line) { e in
                XCTAssertTrue("\(e)".hasPrefix("m.yml: ") && "\(e)".contains(fragment), "\(e)", file: file, line: line)
            }
        }
        // A billion-laughs map is refused before anything is expanded (in well under a second).
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for k in 1..<9 { bomb += "\(Character(UnicodeScalar(97 + k)!)): &\(Character(UnicodeScalar(97 + k)!)) [" + Array(repeating: "*\(Character(UnicodeScalar(96 + k)!))", count: 9).joined(separator: ", ") + "]\n" }
        let start = Date()
        refused(bomb, "alias")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        refused(String(repeating: "[", count: 50_000), "nesting")
        refused("columns: {timestamp: Time}\n", "no column given for from_bank")
        refused("columns: {timestamp: Time, amount: A}\n", "unknown field `amount`")
        refused("colums: {}\n", "unknown key `colums`")
        refused("delimiter: ';;'\ncolumns: {}\n", "delimiter")
        refused("date_format: '%Y-%q'\ncolumns: {}\n", "%q")
        refused("header: false\ncolumns: {timestamp: Time}\n", "numbers")
        // A map naming a column the file lacks: the header error names it.
        let schema = try TransactionSchema.parse(Self.map, source: "map.yml")
        var t = TransactionTable()
        XCTAssertThrowsError(try t.append(csv: try write("Time;Channel\n2022-09-01T00:00;Wire\n", "short.csv"), schema: schema)) { e in
            XCTAssertTrue("\(e)".contains("Booking Time"), "\(e)")
        }
        XCTAssertThrowsError(try FXRates.load(try write("currency,from,to,units_per_usd\nEUR,2022-09-01,2022-09-30,1\nEUR,2022-09-30,,2\n", "o.csv"))) { e in
            XCTAssertTrue("\(e)".contains("overlap"), "\(e)")
        }
        XCTAssertThrowsError(try FXRates.load(try write("currency,from,to,units_per_usd\nEUR,2022-09-01,,-1\n", "n.csv"))) { e in
            XCTAssertTrue("\(e)".contains(":2: rate must be a positive number"), "\(e)")
        }
    }
}
