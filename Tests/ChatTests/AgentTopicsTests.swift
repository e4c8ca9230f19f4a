import XCTest
@testable import LeptonText
@testable import LeptonDialog

/// A classifier that answers a fixed ranking of model labels per text (for topic and
/// clarification tests; no trained model).
struct FixedRanking: IntentRanking {
    let answers: [String: [IntentScore]]
    func rank(_ text: String) throws -> [IntentScore] {
        answers[text] ?? [IntentScore(name: "nlu_fallback", confidence: 0.9), IntentScore(name: "greet", confidence: 0.1)]
    }
}

/// All of a bank's requests (issue 21): BANKING77's 77 labels as topics of the agent's handler
/// intents, `topic` beside `intent`, and the clarifying question when two handlers are close.
final class AgentTopicsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-topics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func agent(_ answers: [String: [IntentScore]]) throws -> ChatAgent {
        ChatAgent(domain: try Domain.load(Repo.bank.appendingPathComponent("domain.yml")), classifier: FixedRanking(answers: answers),
                  extractor: EntityExtractor(referenceDay: Day(year: 2026, month: 12, day: 7)!),
                  store: try SQLiteSessionStore(url: dir.appendingPathComponent("s.sqlite")))
    }

    /// Every BANKING77 class (the upstream categories.json in ../shared) is a topic of the shipped
    /// domain, mapped to a handler intent the domain has; every label of the shipped model is a
    /// topic, a handler or the out-of-scope class.
    func testEveryBanking77ClassHasAHandler() throws {
        let domain = try Domain.load(Repo.bank.appendingPathComponent("domain.yml"))
        let categories = try JSONSerialization.jsonObject(with: Data(contentsOf: Repo.shared.appendingPathComponent("data/banking77/categories.json"))) as! [String]
        XCTAssertEqual(categories.count, 77)
        for c in categories {
            let topic = try XCTUnwrap(domain.topics[c], "\(c) has no topic in domain.yml")
            XCTAssertNotNil(domain.intents[topic.intent], c)
        }
        let config = try JSONDecoder().decode(IntentModelConfig.self, from: Data(contentsOf: Repo.bank.appendingPathComponent("model/intent-model.json")))
        XCTAssertTrue(Set(categories).isSubset(of: config.labels), "the shipped model knows all 77 classes")
        for label in config.labels where label != "nlu_fallback" {
            XCTAssertNotNil(domain.intents[domain.handler(ofTopic: label)], "\(label) has no handler")
        }
        // Disputes go to the dispute form (a backend action, else a human); a closed account to a human.
        XCTAssertEqual(domain.topics["transaction_charged_twice"]?.intent, "dispute_charge")
        XCTAssertEqual(domain.intents["close_account"]?.handoff, true)
    }

    /// A handler's confidence is the sum of its topics' (hand-computed), its topic the most likely one.
    func testHandlerRankingSumsTopics() throws {
        let domain = try Domain.load(Repo.bank.appendingPathComponent("domain.yml"))
        let r = domain.handlerRanking([IntentScore(name: "pending_transfer", confidence: 0.30), IntentScore(name: "transfer_money", confidence: 0.28),
                                       IntentScore(name: "transfer_timing", confidence: 0.20), IntentScore(name: "greet", confidence: 0.22)])
        XCTAssertEqual(r.map(\.name), ["transfer_status", "transfer_money", "greet"])
        XCTAssertEqual(r[0].confidence, 0.50, accuracy: 1e-12)
        XCTAssertEqual(r[0].topic, "pending_transfer")
        XCTAssertEqual(r[1].topic, "transfer_money")
    }

    func testTopicsAreCheckedByName() {
        let base = "responses: {utter_fallback: [x], utter_handoff: [y], utter_a: [a]}\nintents: {a: {response: utter_a}}\n"
        XCTAssertThrowsError(try Domain.parse(base + "topics: {t: {intent: nope}}")) { XCTAssertTrue("\($0)".contains("unknown intent nope"), "\($0)") }
        XCTAssertThrowsError(try Domain.parse(base + "topics: {t: {intent: a, respons: utter_a}}")) { XCTAssertTrue("\($0)".contains("unknown key `respons`"), "\($0)") }
        XCTAssertThrowsError(try Domain.parse(base + "topics: {t: {intent: a, response: utter_missing}}")) { XCTAssertTrue("\($0)".contains("utter_missing"), "\($0)") }
        XCTAssertThrowsError(try Domain.parse(base + "settings: {clarify_margin: 0.1}")) { XCTAssertTrue("\($0)".contains("utter_clarify"), "\($0)") }
        XCTAssertNoThrow(try Domain.parse(base + "topics: {t: a}"))
    }

    /// `intent` is the handler, `topic` the fine label, and the topic's own answer is said.
    func testTopicAnswerAndJSONFields() throws {
        let a = try agent(["my pin is blocked": [IntentScore(name: "pin_blocked", confidence: 0.8), IntentScore(name: "change_pin", confidence: 0.1)]])
        let r = try a.respond(text: "my pin is blocked", session: "p")
        XCTAssertEqual(r.intent, "change_pin")
        XCTAssertEqual(r.topic, "pin_blocked")
        XCTAssertEqual(r.confidence, 0.9, accuracy: 1e-12)
        XCTAssertEqual(r.responses, ["utter_pin_blocked"])
        XCTAssertTrue(r.reply.contains("unblock"), r.reply)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
        XCTAssertEqual(json["intent"] as? String, "change_pin")
        XCTAssertEqual(json["topic"] as? String, "pin_blocked")
    }

    /// Two close handlers: a question naming both; "the second one" runs the second, with its topic's answer.
    func testClarifyingQuestionAndOrdinalAnswer() throws {
        let close = [IntentScore(name: "transfer_money", confidence: 0.40), IntentScore(name: "pending_transfer", confidence: 0.35),
                     IntentScore(name: "greet", confidence: 0.25)]
        let a = try agent(["about my transfer": close])
        var r = try a.respond(text: "about my transfer", session: "c")
        XCTAssertEqual(r.events, ["clarify:transfer_money|transfer_status"])
        XCTAssertEqual(r.responses, ["utter_clarify"])
        XCTAssertTrue(r.reply.contains("make a transfer") && r.reply.contains("ask about a transfer you already made"), r.reply)
        XCTAssertNil(r.state.activeForm, "no form is started on a guess")
        r = try a.respond(text: "the second one", session: "c")
        XCTAssertEqual(r.intent, "transfer_status")
        XCTAssertEqual(r.topic, "pending_transfer")
        XCTAssertEqual(r.events, ["clarified:transfer_status"])
        XCTAssertEqual(r.confidence, 0.35, accuracy: 1e-12, "the confidence the choice had when asked")
        XCTAssertEqual(r.responses, ["utter_pending_transfer"])
        XCTAssertNil(r.state.clarifying)
    }

    /// The answer may name the choice in its own words, or be understood as one of them.
    func testClarifyingAnswerByWordsOrByRanking() throws {
        let close = [IntentScore(name: "transfer_money", confidence: 0.40), IntentScore(name: "pending_transfer", confidence: 0.35)]
        let a = try agent(["about my transfer": close,
                           "send some money": [IntentScore(name: "transfer_money", confidence: 0.9)]])
        _ = try a.respond(text: "about my transfer", session: "w")
        var r = try a.respond(text: "I want to make a new one", session: "w")   // "make" is only in "make a transfer"
        XCTAssertEqual(r.intent, "transfer_money")
        XCTAssertEqual(r.state.activeForm, "transfer_form")
        _ = try a.respond(text: "about my transfer", session: "k")
        r = try a.respond(text: "send some money", session: "k")
        XCTAssertEqual(r.events.first, "clarified:transfer_money")
    }

    /// An answer that picks neither is a new request; dialog acts are never offered as choices.
    func testClarifyingAnswerThatIsANewRequest() throws {
        let close = [IntentScore(name: "transfer_money", confidence: 0.40), IntentScore(name: "pending_transfer", confidence: 0.35)]
        let a = try agent(["about my transfer": close,
                           "my pin is blocked": [IntentScore(name: "pin_blocked", confidence: 0.9)],
                           "hi": [IntentScore(name: "greet", confidence: 0.72), IntentScore(name: "thank", confidence: 0.28)]])
        _ = try a.respond(text: "about my transfer", session: "n")
        var r = try a.respond(text: "my pin is blocked", session: "n")
        XCTAssertEqual(r.intent, "change_pin")
        XCTAssertFalse(r.events.contains { $0.hasPrefix("clarif") }, "\(r.events)")
        r = try a.respond(text: "hi", session: "n")
        XCTAssertEqual(r.intent, "greet")
        XCTAssertEqual(r.responses, ["utter_greet"])
    }

    /// A recipe source can leave out held-out rows (by text) from training and from the corpus.
    func testRecipeExcludesHeldOutRows() throws {
        try "text,category\nhello there,greet\nbye now,goodbye\nsee you,goodbye\n".write(to: dir.appendingPathComponent("all.csv"), atomically: true, encoding: .utf8)
        try "text,category\nbye now,goodbye\n".write(to: dir.appendingPathComponent("held.csv"), atomically: true, encoding: .utf8)
        let recipe = dir.appendingPathComponent("recipe.yml")
        try "sources:\n  - file: all.csv\n    exclude: [held.csv]\n".write(to: recipe, atomically: true, encoding: .utf8)
        let data = try NLUData.load(recipe)
        XCTAssertEqual(data.examples.map(\.text), ["hello there", "see you"])
        XCTAssertFalse(data.corpusTexts.contains("bye now"))
        try "sources:\n  - file: all.csv\n    exclude: held.csv\n".write(to: recipe, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NLUData.load(recipe)) { XCTAssertTrue("\($0)".contains("exclude"), "\($0)") }
    }
}
