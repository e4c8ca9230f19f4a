import XCTest

/// Card and account numbers a caller says never reach stdout in full unless the user asks
/// (`--show-card-numbers`): the built program, as a user runs it.
extension RespondPipelineTests {
    func testRespondMasksCardNumbersInEveryOutput() throws {
        let pan = "4111111111111111"   // the Visa test number
        for said in ["my card number is \(pan), I lost it", "I lost my card 4111 1111 1111 1111"] {
            for args in [["respond", "--json", "--text", said], ["respond", "--text", said]] {
                let r = try run(args)
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertFalse(r.stdout.filter(\.isNumber).contains("41111111"), "card number on stdout: \(r.stdout)")
                XCTAssertFalse(r.stderr.filter(\.isNumber).contains("41111111"), "card number on stderr: \(r.stderr)")
            }
            let j = try json(try run(["respond", "--json", "--text", said]))
            let card = (j["entities"] as? [[String: Any]])?.first { $0["type"] as? String == "card_number" }
            XCTAssertEqual(card?["value"] as? String, "************1111")
            XCTAssertEqual((card?["text"] as? String)?.filter(\.isNumber), "1111")
            XCTAssertEqual((j["transcript"] as? String)?.filter(\.isNumber), "1111", "\(j)")
        }
        // Asked for explicitly, the number is printed as said.
        let shown = try json(try run(["respond", "--json", "--show-card-numbers", "--text", "my card number is \(pan), I lost it"]))
        XCTAssertEqual((shown["entities"] as? [[String: Any]])?.first?["value"] as? String, pan)
        XCTAssertTrue((shown["transcript"] as? String)?.contains(pan) == true)
    }

    func testAccountNumberKeptInASlotIsMaskedOnStdout() throws {
        let r = try run(["respond", "--json", "--session", "acct", "--text", "send 50 dollars to account 12345678"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.contains("12345678"), r.stdout)
        XCTAssertTrue(r.stdout.contains("5678"), r.stdout)
        let shell = try run(["shell", "--json"], stdin: "send 50 dollars to account 12345678\n")
        XCTAssertEqual(shell.status, 0, shell.stderr)
        XCTAssertFalse(shell.stdout.contains("12345678"), shell.stdout)
    }
}
