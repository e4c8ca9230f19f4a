import XCTest
@testable import LeptonText

/// Hand-written expectations for the deterministic entity extractor. The reference day is
/// Wednesday 25 November 2026 (checked against a calendar).
final class EntityExtractorTests: XCTestCase {
    let x = EntityExtractor(referenceDay: Day(year: 2026, month: 11, day: 25)!)

    private func values(_ text: String, _ type: String) -> [String] {
        x.extract(text).filter { $0.type == type }.map(\.value)
    }
    private func money(_ text: String) -> [String] {
        x.extract(text).filter { $0.type == "amount" }.map { "\($0.value) \($0.currency ?? "-")" }
    }

    func testDayArithmetic() {
        XCTAssertEqual(Day(year: 2000, month: 1, day: 1)!.daysSinceEpoch, 10957)
        XCTAssertEqual(Day(daysSinceEpoch: 0).iso, "1970-01-01")
        XCTAssertEqual(Day(year: 2026, month: 11, day: 25)!.weekday, 3)   // Wednesday
        XCTAssertEqual(Day(year: 2024, month: 2, day: 29)!.weekday, 4)    // Thursday
        XCTAssertNil(Day(year: 2026, month: 2, day: 29))
        XCTAssertNil(Day(year: 2100, month: 2, day: 29))
        XCTAssertNotNil(Day(year: 2000, month: 2, day: 29))
        XCTAssertEqual(Day(year: 2026, month: 12, day: 31)!.adding(days: 1).iso, "2027-01-01")
        XCTAssertEqual(Day(year: 2024, month: 3, day: 1)!.adding(days: -1).iso, "2024-02-29")
    }

    func testSpokenAndWrittenMoney() {
        XCTAssertEqual(money("I want to transfer two hundred and fifty dollars to my savings"), ["250.00 USD"])
        XCTAssertEqual(money("Pay $1,200.50 now"), ["1200.50 USD"])
        XCTAssertEqual(money("send 300 euros"), ["300.00 EUR"])
        XCTAssertEqual(money("a hundred pounds please"), ["100.00 GBP"])
        XCTAssertEqual(money("twenty-five quid"), ["25.00 GBP"])
        XCTAssertEqual(money("one thousand two hundred and thirty four dollars"), ["1234.00 USD"])
        XCTAssertEqual(money("fifty dollars and twenty cents"), ["50.20 USD"])
        XCTAssertEqual(money("it cost 99 cents"), ["0.99 USD"])
        XCTAssertEqual(money("USD 100 and €7.5"), ["100.00 USD", "7.50 EUR"])
        XCTAssertEqual(money("500 yen"), ["500 JPY"])
        XCTAssertEqual(money("2 thousand Swiss francs"), ["2000.00 CHF"])
        XCTAssertEqual(money("three point five million dollars"), ["3500000.00 USD"])
        XCTAssertEqual(money("I have 3 cards"), [])
        // "a" alone is no number; commas in the wrong place are no number either.
        XCTAssertEqual(money("a dollar"), [])
        XCTAssertEqual(money("12,34 dollars"), [])
    }

    func testCurrenciesWithoutAmounts() {
        XCTAssertEqual(values("exchange rate from dollars to euros", "currency"), ["USD", "EUR"])
        let e = x.extract("How many yen will I get for 500 pounds?")
        XCTAssertEqual(e.map(\.type), ["currency", "amount"])
        XCTAssertEqual(e.map(\.value), ["JPY", "500.00"])
    }

    func testRelativeAndAbsoluteDates() {
        XCTAssertEqual(values("yesterday", "date"), ["2026-11-24"])
        XCTAssertEqual(values("today or tomorrow", "date"), ["2026-11-25", "2026-11-26"])
        XCTAssertEqual(values("the day before yesterday", "date"), ["2026-11-23"])
        XCTAssertEqual(values("next Friday", "date"), ["2026-11-27"])
        XCTAssertEqual(values("last Friday", "date"), ["2026-11-20"])
        XCTAssertEqual(values("this Wednesday", "date"), ["2026-11-25"])
        XCTAssertEqual(values("next Wednesday", "date"), ["2026-12-02"])
        XCTAssertEqual(values("last wednesday", "date"), ["2026-11-18"])
        XCTAssertEqual(values("see you on Monday", "date"), ["2026-11-30"])
        XCTAssertEqual(values("I was charged on Monday", "date"), ["2026-11-23"])
        XCTAssertEqual(values("charged twice on March 3rd", "date"), ["2026-03-03"])
        XCTAssertEqual(values("on March the third, 2025", "date"), ["2025-03-03"])
        XCTAssertEqual(values("the 3rd of March 2025", "date"), ["2025-03-03"])
        XCTAssertEqual(values("31 December", "date"), ["2026-12-31"])
        XCTAssertEqual(values("on the 5th", "date"), ["2026-11-05"])
        XCTAssertEqual(values("on the twenty first", "date"), ["2026-11-21"])
        XCTAssertEqual(values("in 10 days", "date"), ["2026-12-05"])
        XCTAssertEqual(values("2 weeks ago", "date"), ["2026-11-11"])
        XCTAssertEqual(values("2024-02-29", "date"), ["2024-02-29"])
        XCTAssertEqual(values("February 30th", "date"), [])
        XCTAssertEqual(values("May I open an account?", "date"), [])
        XCTAssertEqual(values("May 1st", "date"), ["2026-05-01"])
    }

    func testAccountTypesAndRoles() {
        let e = x.extract("move 250 dollars from my checking account to my savings account")
        let accounts = e.filter { $0.type == "account_type" }
        XCTAssertEqual(accounts.map(\.value), ["checking", "savings"])
        XCTAssertEqual(accounts.map(\.role), ["from", "to"])
        XCTAssertEqual(values("What's the balance on my current account?", "account_type"), ["checking"])
        XCTAssertEqual(values("I lost my credit card and my debit card", "account_type"), ["credit_card", "debit_card"])
    }

    func testCardAndAccountNumbers() {
        XCTAssertEqual(values("my savings account ending in four seven two one", "last_four"), ["4721"])
        XCTAssertEqual(values("the card ending in 0093", "last_four"), ["0093"])
        XCTAssertEqual(values("the last four digits are 5 5 1 9", "last_four"), ["5519"])
        XCTAssertEqual(values("ending with double seven one oh", "last_four"), ["7710"])
        XCTAssertEqual(values("my card number is 4111 1111 1111 1111", "card_number"), ["4111111111111111"])
        XCTAssertEqual(values("card 5500-0000-0000-0004 please", "card_number"), ["5500000000000004"])
        XCTAssertEqual(values("account number 12345678", "account_number"), ["12345678"])
        XCTAssertEqual(values("account number is one two three four five six seven eight", "account_number"), ["12345678"])
        // A date typed with dashes is not an account number.
        XCTAssertEqual(values("2026-03-03", "account_number"), [])
    }

    func testMasking() {
        let e = x.extract("my card number is 4111 1111 1111 1234").first { $0.type == "card_number" }!
        XCTAssertEqual(e.masked.value, "************1234")
        XCTAssertEqual(e.masked.text, "**** **** **** 1234")
        XCTAssertEqual(maskNumbersInText("card 4111111111111234, amount 250, account 12-345-678"),
                       "card ************1234, amount 250, account **-**5-678")
        let money = x.extract("250 dollars").first!
        XCTAssertEqual(money.masked, money)
    }

    func testRecipients() {
        XCTAssertEqual(values("Pay $1,200.50 to John Smith next Friday", "recipient"), ["John Smith"])
        XCTAssertEqual(values("send 300 euros to my landlord", "recipient"), ["landlord"])
        XCTAssertEqual(values("Please send 75 pounds to my sister's account today.", "recipient"), ["sister"])
        XCTAssertEqual(values("pay Maria forty pounds", "recipient"), ["Maria"])
        // Own accounts and sentence words are not recipients.
        XCTAssertEqual(values("transfer 50 dollars to my savings account", "recipient"), [])
        XCTAssertEqual(values("I want to Transfer money", "recipient"), [])
    }

    func testLeftoverNumbersAndOffsets() {
        let e = x.extract("Show me my last five transactions")
        XCTAssertEqual(e.map(\.type), ["number"])
        XCTAssertEqual(e[0].value, "5")
        XCTAssertEqual(e[0].start, 16)
        XCTAssertEqual(e[0].end, 20)
        XCTAssertEqual(values("just 250", "number"), ["250"])
    }

    func testHostileInputDoesNotCrash() {
        XCTAssertEqual(x.extract(""), [])
        XCTAssertEqual(x.extract("¿Dónde está mi tarjeta? 我的卡丢了"), [])
        let long = String(repeating: "one two three four five six seven eight nine ", count: 300)
        XCTAssertFalse(x.extract(long).isEmpty)
        _ = x.extract(String(repeating: "$", count: 1000) + String(repeating: "9", count: 1000))
    }
}
