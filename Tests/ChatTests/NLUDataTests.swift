import XCTest
@testable import LeptonText
@testable import LeptonDialog
@testable import LeptonVoice

final class NLUDataTests: XCTestCase {
    func write(_ text: String, _ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nlu-\(UUID().uuidString)-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testRasaYAMLWithAnnotationsSynonymsRegexesLookups() throws {
        let url = try write("""
            version: "3.1"
            nlu:
            - intent: transfer_money
              examples: |
                - send [50 dollars](amount) to [my landlord](recipient)
                - move it [from savings]{"entity": "account_type", "value": "savings", "role": "from"} now
                - pay [Bob](recipient:Robert)
            - intent: greet
              examples:
                - hello
                - hi there
            - synonym: checking
              examples: |
                - current account
            - regex: account_number
              examples: |
                - \\b[0-9]{8}\\b
            - lookup: recipient
              examples: |
                - the plumber
            """, "nlu.yml")
        let d = try NLUData.load(url)
        XCTAssertEqual(d.examples.count, 5)
        XCTAssertEqual(d.intents, ["transfer_money", "greet"])
        XCTAssertEqual(d.labeledTexts.map(\.text), ["send 50 dollars to my landlord", "move it from savings now", "pay Bob", "hello", "hi there"])
        let e0 = d.examples[0].entities
        XCTAssertEqual(e0.map(\.entity), ["amount", "recipient"])
        XCTAssertEqual(e0[0].start, 5); XCTAssertEqual(e0[0].end, 15)
        XCTAssertEqual(e0[1].value, "my landlord")
        let e1 = d.examples[1].entities[0]
        XCTAssertEqual(e1.value, "savings"); XCTAssertEqual(e1.role, "from"); XCTAssertEqual(e1.start, 8); XCTAssertEqual(e1.end, 20)
        XCTAssertEqual(d.examples[2].entities[0].value, "Robert")
        XCTAssertEqual(d.synonyms["current account"], "checking")
        XCTAssertEqual(d.synonyms["bob"], "Robert")     // annotated values act as synonyms
        XCTAssertEqual(d.regexes["account_number"], ["\\b[0-9]{8}\\b"])
        XCTAssertEqual(d.lookups["recipient"], ["the plumber"])
        // The extractor built from the data uses the lookup table and the regex.
        let x = d.makeExtractor(referenceDay: Day(year: 2026, month: 1, day: 1)!)
        let found = x.extract("ask the plumber about reference 87654321")
        XCTAssertTrue(found.contains { $0.type == "recipient" && $0.value == "the plumber" }, "\(found)")
        XCTAssertTrue(found.contains { $0.type == "account_number" && $0.value == "87654321" }, "\(found)")
    }

    func testCSVWithQuotesAndHeaderOrder() throws {
        let url = try write("category,text\r\ncard_arrival,\"Where is my card, it's late\"\r\nchange_pin,\"He said \"\"hi\"\"\nthen left\"\r\n", "d.csv")
        let d = try NLUData.load(url)
        XCTAssertEqual(d.labeledTexts.map(\.label), ["card_arrival", "change_pin"])
        XCTAssertEqual(d.labeledTexts.map(\.text), ["Where is my card, it's late", "He said \"hi\"\nthen left"])
    }

    func testBanking77TrainCSV() throws {
        let url = Repo.shared.appendingPathComponent("data/banking77/train.csv")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("no ../shared/data/banking77") }
        let d = try NLUData.load(url)
        XCTAssertEqual(d.examples.count, 10_003)        // SOURCES.md
        XCTAssertEqual(Set(d.examples.map(\.intent)).count, 77)
    }

    /// A recipe renames intents, drops or caps the others, or folds them into one out-of-scope class.
    func testRecipeRelabelOthersAndCap() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "text,category\na1,a\na2,a\nb1,b\nb2,b\nb3,b\nc1,c\n".write(to: dir.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
        func load(_ source: String) throws -> [String] {
            let recipe = dir.appendingPathComponent("r-\(UUID().uuidString).yml")
            try "sources:\n  - file: d.csv\n\(source)".write(to: recipe, atomically: true, encoding: .utf8)
            return try NLUData.load(recipe).labeledTexts.map { "\($0.text)=\($0.label)" }
        }
        XCTAssertEqual(try load("    relabel: {a: x}\n    others: drop\n"), ["a1=x", "a2=x"])
        XCTAssertEqual(try load("    relabel: {a: x}\n"), ["a1=x", "a2=x", "b1=b", "b2=b", "b3=b", "c1=c"])
        XCTAssertEqual(try load("    relabel: {a: x}\n    others: nlu_fallback\n    others_per_intent: 2\n"),
                       ["a1=x", "a2=x", "b1=nlu_fallback", "b2=nlu_fallback", "c1=nlu_fallback"])
        XCTAssertThrowsError(try load("    others_per_intent: 0\n")) { XCTAssertTrue("\($0)".contains("others_per_intent"), "\($0)") }
        XCTAssertThrowsError(try load("    others: \"two words\"\n")) { XCTAssertTrue("\($0)".contains("others"), "\($0)") }
    }

    /// The recognizer's sentences: every text of a source once, whatever `repeat`, `relabel` or
    /// `others_per_intent` do to the training examples; none from an `asr_corpus: false` source.
    /// `RecognizerCorpus` writes them deduplicated, one per line, and reads them back.
    func testRecipeCorpusTexts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "text,category\na1,a\nb1,b\nb2,b\n\"two\nlines\",a\n".write(to: dir.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
        try "text,category\nheard,a\n".write(to: dir.appendingPathComponent("heard.csv"), atomically: true, encoding: .utf8)
        let recipe = dir.appendingPathComponent("r.yml")
        try "sources:\n  - file: d.csv\n    repeat: 2\n    others: nlu_fallback\n    others_per_intent: 1\n  - file: heard.csv\n    asr_corpus: false\n"
            .write(to: recipe, atomically: true, encoding: .utf8)
        let data = try NLUData.load(recipe)
        XCTAssertEqual(data.corpusTexts, ["a1", "b1", "b2", "two\nlines"])
        XCTAssertEqual(data.labeledTexts.map(\.text), ["a1", "b1", "a1", "b1", "heard"])   // one per intent, twice
        let model = dir.appendingPathComponent("model")
        try RecognizerCorpus.write(data.corpusTexts + ["b1", " "], to: model)
        XCTAssertEqual(try String(contentsOf: model.appendingPathComponent(RecognizerCorpus.fileName), encoding: .utf8), "a1\nb1\nb2\ntwo lines\n")
        XCTAssertEqual(try RecognizerCorpus.read(folder: model), ["a1", "b1", "b2", "two lines"])
        try RecognizerCorpus.write([], to: model)
        XCTAssertNil(try RecognizerCorpus.read(folder: model))
        XCTAssertEqual(try NLUData.load(dir.appendingPathComponent("d.csv")).corpusTexts, ["a1", "b1", "b2", "two\nlines"])
        try "sources:\n  - file: d.csv\n    asr_corpus: maybe\n".write(to: recipe, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NLUData.load(recipe)) { XCTAssertTrue("\($0)".contains("asr_corpus"), "\($0)") }
        try Data([0xff, 0xfe, 0x00]).write(to: model.appendingPathComponent(RecognizerCorpus.fileName))
        XCTAssertThrowsError(try RecognizerCorpus.read(folder: model)) { XCTAssertTrue("\($0)".contains("UTF-8"), "\($0)") }
    }

    func testShippedBankNLU() throws {
        let d = try NLUData.load(Repo.bank.appendingPathComponent("nlu.yml"))
        for intent in ["check_balance", "transfer_money", "lost_or_stolen_card", "activate_my_card", "open_account",
                       "exchange_rate", "dispute_charge", "change_pin", "loan_enquiry", "speak_to_agent",
                       "recent_transactions", "edit_personal_details", "greet", "thank", "goodbye"] {
            XCTAssertGreaterThanOrEqual(d.examples.filter { $0.intent == intent }.count, 10, intent)
        }
    }

    func testBadFilesGiveClearErrors() throws {
        func reason(_ text: String, _ name: String) throws -> String {
            do { _ = try NLUData.load(try write(text, name)); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(try reason("nlu: [", "a.yml").contains("invalid YAML"))
        XCTAssertTrue(try reason("intents: []", "b.yml").contains("nlu:"))
        XCTAssertTrue(try reason("nlu:\n- intent: x\n  examples: |\n    - bad [entity](\n", "c.yml").contains("unclosed ("))
        XCTAssertTrue(try reason("nlu:\n- intent: x\n  examples: |\n    - bad [e]{nope}\n", "c2.yml").contains("bad entity JSON"))
        XCTAssertTrue(try reason("nlu:\n- regex: r\n  examples: |\n    - ([\n", "d.yml").contains("invalid pattern"))
        XCTAssertTrue(try reason("text,category\n\"open", "e.csv").contains("unterminated"))
        XCTAssertTrue(try reason("words,label\nhi,x\n", "f.csv").contains("header"))
        XCTAssertTrue(try reason("text,category\nhi,x,y\n", "g.csv").contains("row 2"))
        XCTAssertTrue(try reason("hello", "h.txt").contains("unknown extension"))
    }
}
