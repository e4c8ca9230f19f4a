import XCTest
@testable import LeptonText
@testable import LeptonDialog
@testable import LeptonVoice

/// A stand-in classifier for dialog tests: picks the intent whose keyword appears in the text
/// (confidence 0.9), else returns a low-confidence guess (below the shipped domain's threshold). Keeps these tests independent of any
/// trained model.
struct KeywordClassifier: IntentRanking {
    let keywords: [(String, String)] = [
        ("hello", "greet"), ("thank", "thank"), ("bye", "goodbye"), ("balance", "check_balance"),
        ("transfer", "transfer_money"), ("send", "transfer_money"), ("lost", "lost_or_stolen_card"),
        ("human", "speak_to_agent"), ("dispute", "dispute_charge"), ("pin", "change_pin"), ("yes", "affirm"),
        ("transactions", "recent_transactions"),
    ]
    func rank(_ text: String) throws -> [IntentScore] {
        let t = text.lowercased()
        for (k, intent) in keywords where t.contains(k) {
            return [IntentScore(name: intent, confidence: 0.9), IntentScore(name: "greet", confidence: 0.05)]
        }
        return [IntentScore(name: "check_balance", confidence: 0.12), IntentScore(name: "greet", confidence: 0.08)]
    }
}

/// Finds the repository (for samples/bank) from this file's path.
enum Repo {
    static var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    static var bank: URL { root.appendingPathComponent("samples/bank") }
    static var shared: URL { root.deletingLastPathComponent().appendingPathComponent("shared") }
}

final class DialogTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-dialog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func makeAgent(seed: UInt64 = 0) throws -> ChatAgent {
        let domain = try Domain.load(Repo.bank.appendingPathComponent("domain.yml"))
        let store = try SQLiteSessionStore(url: dir.appendingPathComponent("s.sqlite"))
        return ChatAgent(domain: domain, classifier: KeywordClassifier(),
                         extractor: EntityExtractor(referenceDay: Day(year: 2026, month: 11, day: 25)!), store: store, seed: seed)
    }

    func testShippedDomainCoversTheBankIntents() throws {
        let domain = try Domain.load(Repo.bank.appendingPathComponent("domain.yml"))
        for intent in ["check_balance", "transfer_money", "lost_or_stolen_card", "activate_my_card", "open_account",
                       "exchange_rate", "dispute_charge", "change_pin", "loan_enquiry", "speak_to_agent",
                       "recent_transactions", "edit_personal_details", "greet", "thank", "goodbye"] {
            XCTAssertNotNil(domain.intents[intent], intent)
        }
        XCTAssertEqual(domain.forms["transfer_form"]?.required, ["amount", "recipient"])
        XCTAssertTrue(domain.asrPrompt?.contains("PIN") == true, "the bank agent primes Whisper with its vocabulary")
    }

    func testTransferFormAsksForMissingSlotsReasksAndConfirms() throws {
        let agent = try makeAgent()
        var r = try agent.respond(text: "I want to transfer money", session: "a")
        XCTAssertTrue(r.newSession)
        XCTAssertEqual(r.intent, "transfer_money")
        XCTAssertEqual(r.state.activeForm, "transfer_form")
        XCTAssertEqual(r.state.requestedSlot, "amount")
        // A value out of range is rejected and asked again.
        r = try agent.respond(text: "a million dollars", session: "a")
        XCTAssertTrue(r.events.contains("invalid:amount"), "\(r.events)")
        XCTAssertEqual(r.state.requestedSlot, "amount")
        XCTAssertNil(r.state.slots["amount"])
        XCTAssertTrue(r.reply.contains("$1000000.00"), r.reply)
        // Something that is no amount at all is asked again too.
        r = try agent.respond(text: "banana", session: "a")
        XCTAssertEqual(r.state.requestedSlot, "amount")
        XCTAssertEqual(r.state.fallbacks, 1)
        r = try agent.respond(text: "two hundred and fifty dollars", session: "a")
        XCTAssertFalse(r.newSession)
        XCTAssertEqual(r.state.slots["amount"], "250.00 USD")
        XCTAssertEqual(r.state.requestedSlot, "recipient")
        XCTAssertEqual(r.state.fallbacks, 0)
        r = try agent.respond(text: "to my landlord", session: "a")
        XCTAssertEqual(r.state.slots["recipient"], "landlord")
        XCTAssertTrue(r.state.awaitingConfirmation)
        XCTAssertTrue(r.reply.contains("$250.00") && r.reply.contains("your landlord"), r.reply)
        // Changing the amount during confirmation asks again with the new value.
        r = try agent.respond(text: "make it 300 dollars", session: "a")
        XCTAssertEqual(r.state.slots["amount"], "300.00 USD")
        XCTAssertTrue(r.state.awaitingConfirmation)
        r = try agent.respond(text: "yes please", session: "a")
        // The shipped bank has no backend for transfers: the form ends failed, nothing is claimed.
        XCTAssertTrue(r.events.contains("failed:transfer_form"), "\(r.events)")
        XCTAssertTrue(r.reply.contains("$300.00") && r.reply.contains("landlord"), r.reply)
        XCTAssertNil(r.state.activeForm)
        XCTAssertNil(r.state.slots["amount"])
        XCTAssertEqual(r.state.turn, 7)
        XCTAssertEqual(try agent.store.history(of: "a").count, 7)
    }

    func testOneShotTransferAndCancel() throws {
        let agent = try makeAgent()
        var r = try agent.respond(text: "Send 75 pounds to my sister's account", session: "b")
        XCTAssertEqual(r.state.slots["amount"], "75.00 GBP")
        XCTAssertEqual(r.state.slots["recipient"], "sister")
        XCTAssertTrue(r.state.awaitingConfirmation)
        r = try agent.respond(text: "no, cancel", session: "b")
        XCTAssertTrue(r.events.contains("cancelled:transfer_form"))
        XCTAssertNil(r.state.activeForm)
    }

    func testFreeTextRecipientAndBareNumberAmount() throws {
        let agent = try makeAgent()
        _ = try agent.respond(text: "send money", session: "c")
        var r = try agent.respond(text: "40", session: "c")
        XCTAssertEqual(r.state.slots["amount"], "40.00 USD")   // the domain's default currency
        r = try agent.respond(text: "bob", session: "c")
        XCTAssertEqual(r.state.slots["recipient"], "bob")
        XCTAssertTrue(r.state.awaitingConfirmation)
    }

    func testTwoFallbacksInARowHandOff() throws {
        let agent = try makeAgent()
        var r = try agent.respond(text: "hello", session: "d")
        XCTAssertEqual(r.intent, "greet")
        r = try agent.respond(text: "flibber", session: "d")
        XCTAssertEqual(r.intent, "nlu_fallback")
        XCTAssertFalse(r.state.handedOff)
        r = try agent.respond(text: "hello", session: "d")           // understood: the count restarts
        XCTAssertEqual(r.state.fallbacks, 0)
        r = try agent.respond(text: "flibber", session: "d")
        r = try agent.respond(text: "jabber", session: "d")
        XCTAssertTrue(r.state.handedOff)
        XCTAssertTrue(r.events.contains("handoff"))
        r = try agent.respond(text: "what is my balance", session: "d")
        XCTAssertTrue(r.state.handedOff)
        XCTAssertEqual(r.reply, "An agent will be with you shortly. Thank you for your patience.")
    }

    func testSpeakToAgentHandsOffAndTemplatesUseTurnEntities() throws {
        let agent = try makeAgent()
        var r = try agent.respond(text: "what's the balance of my savings account ending in 4721", session: "e")
        XCTAssertTrue(r.reply.contains("savings account ending in 4721"), r.reply)
        r = try agent.respond(text: "I want a human", session: "e")
        XCTAssertTrue(r.state.handedOff)
    }

    func testSideQuestionInsideAFormReturnsToTheForm() throws {
        let agent = try makeAgent()
        _ = try agent.respond(text: "transfer please", session: "f")
        let r = try agent.respond(text: "how do I change my pin", session: "f")
        XCTAssertEqual(r.responses.first, "utter_change_pin")
        XCTAssertEqual(r.responses.last, "utter_ask_amount")
        XCTAssertEqual(r.state.activeForm, "transfer_form")
    }

    func testDisputeFormFillsDateAndAmount() throws {
        let agent = try makeAgent()
        var r = try agent.respond(text: "I want to dispute a charge from March 3rd", session: "g")
        XCTAssertEqual(r.state.slots["charge_date"], "2026-03-03")
        XCTAssertEqual(r.state.requestedSlot, "charge_amount")
        r = try agent.respond(text: "89 dollars", session: "g")
        XCTAssertTrue(r.reply.contains("$89.00") && r.reply.contains("3 March 2026"), r.reply)
    }

    func testVariantChoiceIsSeededAndDeterministic() throws {
        let a = try makeAgent(seed: 1)
        let first = try a.respond(text: "hello", session: "h").reply
        try setUpWithError()
        let b = try makeAgent(seed: 1)
        XCTAssertEqual(try b.respond(text: "hello", session: "h").reply, first)
        // Over many sessions both greeting variants appear.
        var seen = Set<String>()
        for i in 0..<20 { seen.insert(try b.respond(text: "hello", session: "v\(i)").reply) }
        XCTAssertEqual(seen.count, 2)
    }

    func testBadInput() throws {
        let agent = try makeAgent()
        XCTAssertThrowsError(try agent.respond(text: "   ", session: "i")) { e in
            XCTAssertTrue("\(e)".contains("empty text"))
        }
        XCTAssertThrowsError(try agent.respond(text: "hi", session: ""))
        // Silent audio is a turn the bot did not understand, not an error.
        let r = try agent.respond(text: "", session: "i", allowEmpty: true)
        XCTAssertEqual(r.intent, "nlu_fallback")
        // Very long and non-English text: graceful.
        _ = try agent.respond(text: String(repeating: "send money ", count: 2000), session: "j")
        let n = try agent.respond(text: "¿Dónde está mi tarjeta?", session: "k")
        XCTAssertEqual(n.intent, "nlu_fallback")
    }

    /// The shipped bank has no backend connected: it never says "I've blocked" or "on its way",
    /// says what it could not do, and puts the caller through to a human.
    func testShippedBankClaimsNoActionItDidNotPerform() throws {
        var agent = try makeAgent()
        var r = try agent.respond(text: "I lost my debit card", session: "lost")
        XCTAssertEqual(r.intent, "lost_or_stolen_card")
        XCTAssertEqual(r.events, ["action:block_card:unavailable", "handoff"])
        XCTAssertFalse(r.reply.lowercased().contains("blocked"), r.reply)
        XCTAssertTrue(r.reply.contains("noted") && r.reply.contains("still active"), r.reply)
        XCTAssertEqual(r.responses, ["utter_block_card_unavailable", "utter_handoff"])
        XCTAssertTrue(r.state.handedOff)
        XCTAssertEqual(r.state.lastAction?.status, "unavailable")

        try tearDownWithError(); try setUpWithError()
        agent = try makeAgent()
        for text in ["send 250 dollars to my landlord", "yes"] { r = try agent.respond(text: text, session: "pay") }
        XCTAssertTrue(r.events.contains("action:transfer:unavailable") && r.events.contains("failed:transfer_form"), "\(r.events)")
        XCTAssertFalse(r.events.contains("confirmed:transfer_form"))
        XCTAssertFalse(r.reply.contains("on its way"), r.reply)
        XCTAssertTrue(r.reply.contains("$250.00 to your landlord") && r.reply.contains("nothing has been sent"), r.reply)
        XCTAssertTrue(r.state.handedOff)
        XCTAssertNil(r.state.activeForm)

        for text in ["I want to dispute a charge from March 3rd", "89 dollars", "yes"] { r = try agent.respond(text: text, session: "dispute") }
        XCTAssertTrue(r.events.contains("action:open_dispute:unavailable"), "\(r.events)")
        XCTAssertFalse(r.reply.contains("I've opened"), r.reply)
        XCTAssertTrue(r.reply.contains("no dispute is open yet"), r.reply)

        // Nor does it say it sent a balance or a statement that nothing sent.
        for text in ["what's the balance of my savings account ending in 4721", "show me my transactions since March 3rd"] {
            r = try agent.respond(text: text, session: "info")
            XCTAssertFalse(r.reply.contains("I've sent"), r.reply)
            XCTAssertTrue(r.reply.contains("in the app"), r.reply)
        }
    }

    /// An action's declaration is checked like the rest of the domain: each mistake is named.
    func testDomainActionsAreCheckedStrictly() throws {
        let folder = dir!
        let key = folder.appendingPathComponent("backend.key")
        try Data("0123456789abcdef0123456789abcdef\n".utf8).write(to: key)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        let short = folder.appendingPathComponent("short.key")
        try Data("tiny\n".utf8).write(to: short)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: short.path)
        let open = folder.appendingPathComponent("open.key")
        try Data("0123456789abcdef0123456789abcdef".utf8).write(to: open)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: open.path)
        func domain(_ action: String, intent: String = "{response: done, action: block}", extra: String = "") -> String {
            """
            intents: {lost: \(intent)}
            actions: {block: \(action)}
            responses: {utter_fallback: x, utter_handoff: y, done: z, utter_action_failed: f, utter_action_refused: r\(extra)}
            """
        }
        func reason(_ yaml: String) -> String {
            do { _ = try Domain.parse(yaml, file: "d.yml", folder: folder); return "no error" } catch { return "\(error)" }
        }
        let good = try Domain.parse(domain("{url: \"http://127.0.0.1:8089/block\", key_file: backend.key, timeout: 3}"), file: "d.yml", folder: folder)
        XCTAssertEqual(good.actions["block"]?.endpoint?.url.absoluteString, "http://127.0.0.1:8089/block")
        XCTAssertEqual(good.actions["block"]?.endpoint?.key, Data("0123456789abcdef0123456789abcdef".utf8))
        XCTAssertEqual(good.actions["block"]?.endpoint?.timeout, 3)
        XCTAssertEqual(good.intents["lost"]?.action, "block")
        XCTAssertNil(try Domain.parse(domain("{}"), file: "d.yml").actions["block"]?.endpoint)

        let cases: [(String, String)] = [
            (domain("{url: \"http://h/x\", key_file: backend.key, tiemout: 3}"), "actions.block: unknown key `tiemout`"),
            (domain("{url: \"ftp://h/x\", key_file: backend.key}"), "actions.block.url must be an http:// or https:// URL"),
            (domain("{url: \"http:///x\", key_file: backend.key}"), "actions.block.url"),
            (domain("{url: \"https://user:pw@h/x\", key_file: backend.key}"), "actions.block.url"),
            (domain("{url: \"http://h/x\"}"), "actions.block.key_file is missing"),
            (domain("{url: \"http://h/x\", key_file: missing.key}"), "actions.block.key_file: cannot read"),
            (domain("{url: \"http://h/x\", key_file: short.key}"), "holds 4 bytes; an HMAC key needs at least 16"),
            (domain("{url: \"http://h/x\", key_file: open.key}"), "readable by other users (chmod 600 it)"),
            (domain("{url: \"http://h/x\", key_file: /dev/zero}"), "not a regular file"),
            (domain("{url: \"http://h/x\", key_file: backend.key, timeout: 60}"), "actions.block.timeout must be seconds in 0.1...10"),
            (domain("{key_file: backend.key}"), "key_file and timeout need a url"),
            (domain("{slots: [nope]}"), "actions.block.slots: unknown slot nope"),
            (domain("{}", intent: "{response: done, action: unblock}"), "intents.lost uses unknown action unblock"),
            (domain("{}", intent: "{response: done, acton: block}"), "intents.lost: unknown key `acton`"),
            (domain("{}", intent: "{action: block, handoff: true}"), "intents.lost: an action needs a `response`"),
            ("intents: {lost: done}\nactions: {block: {}}\nresponses: {utter_fallback: x, utter_handoff: y, done: z}", "missing response utter_block_failed"),
            ("intents: {lost: done}\nactions: [block]\nresponses: {utter_fallback: x, utter_handoff: y, done: z}", "`actions` must be a mapping"),
            ("intents: {lost: done}\nactoins: {}\nresponses: {utter_fallback: x, utter_handoff: y, done: z}", "the top level: unknown key `actoins`"),
        ]
        for (yaml, want) in cases { XCTAssertTrue(reason(yaml).contains(want), "want \(want), got \(reason(yaml))") }
        // A form's action is checked too.
        XCTAssertTrue(reason("""
            intents: {t: {form: f}}
            slots: {amount: {type: amount, entities: [amount]}}
            forms: {f: {required: [amount], done: z, action: pay}}
            responses: {utter_fallback: x, utter_handoff: y, z: z, utter_ask_amount: a}
            """).contains("forms.f uses unknown action pay"))
    }

    func testCorruptDomainsGiveClearErrors() {
        func reason(_ yaml: String) -> String {
            do { _ = try Domain.parse(yaml, file: "d.yml"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(reason("intents: [unclosed").contains("invalid YAML"))
        XCTAssertTrue(reason("- a list").contains("mapping at the top level"))
        XCTAssertTrue(reason("intents: {greet: utter_greet}\nresponses: {utter_fallback: x, utter_handoff: y}").contains("missing response utter_greet"))
        XCTAssertTrue(reason("""
            intents: {t: {form: f}}
            slots: {amount: {type: amount, entities: [amount]}}
            forms: {f: {required: [amount], done: utter_done}}
            responses: {utter_fallback: x, utter_handoff: y, utter_done: z}
            """).contains("missing response utter_ask_amount"))
        XCTAssertTrue(reason("""
            intents: {t: {form: nope}}
            responses: {utter_fallback: x, utter_handoff: y}
            """).contains("unknown form nope"))
        XCTAssertTrue(reason("""
            intents: {t: x}
            slots: {s: {type: colour, entities: [a]}}
            responses: {utter_fallback: x, utter_handoff: y, x: z}
            """).contains("slots.s.type"))
        XCTAssertTrue(reason("settings: {asr_prompt: [PIN]}\nresponses: {utter_fallback: x, utter_handoff: y}").contains("settings.asr_prompt"))
        XCTAssertTrue(reason("settings: {asr_prompt: \"\(String(repeating: "PIN ", count: 200))\"}\nresponses: {utter_fallback: x, utter_handoff: y}")
            .contains("at most 400"))
        XCTAssertTrue(reason("settings: {asr_beam_size: 0}\nresponses: {utter_fallback: x, utter_handoff: y}").contains("settings.asr_beam_size"))
        XCTAssertTrue(reason("settings: {asr_readings: 6}\nresponses: {utter_fallback: x, utter_handoff: y}")
            .contains("cannot exceed settings.asr_beam_size (5)"))
        XCTAssertTrue(reason("settings: {asr_language_model_weight: -1}\nresponses: {utter_fallback: x, utter_handoff: y}")
            .contains("settings.asr_language_model_weight"))
        XCTAssertTrue(reason("settings: {asr_language_model_weight: 0.3, asr_second_opinion_below: 1.5}\nresponses: {utter_fallback: x, utter_handoff: y}")
            .contains("settings.asr_second_opinion_below must be in 0...1"))
        XCTAssertTrue(reason("settings: {asr_second_opinion_below: 0.6}\nresponses: {utter_fallback: x, utter_handoff: y}")
            .contains("needs settings.asr_language_model_weight"))
        XCTAssertTrue(reason("settings: {asr_phone_band_map: [a]}\nresponses: {utter_fallback: x, utter_handoff: y}")
            .contains("settings.asr_phone_band_map must be a file name"))
        XCTAssertEqual(try Domain.parse("intents: {t: x}\nsettings: {asr_phone_band_map: maps/phone.safetensors}\nresponses: {utter_fallback: x, utter_handoff: y, x: z}")
            .asrPhoneBandMap, "maps/phone.safetensors")
        XCTAssertThrowsError(try Domain.load(URL(fileURLWithPath: "/nonexistent/domain.yml")))
    }

    /// Readings of two decodes of one call: each decode keeps half of the weight, shared within
    /// it by its own posterior, however confident either decode is. Worked out by hand.
    func testPooledReadingsGiveEachDecodeAnEqualShare() throws {
        let plain = [HeardReading(text: "a", logProbability: -1), HeardReading(text: "b", logProbability: -2),
                     HeardReading(text: "c", logProbability: -4)]
        let fused = [HeardReading(text: "d", logProbability: 7), HeardReading(text: "e", logProbability: 7)]
        let pooled = HeardReading.pooled([plain, [], fused])
        XCTAssertEqual(pooled.map(\.text), ["a", "b", "c", "d", "e"])
        let raw = pooled.map { exp($0.logProbability) }
        XCTAssertEqual(raw.reduce(0, +), 1, accuracy: 1e-12, "already normalised")
        let z = exp(-1.0) + exp(-2.0) + exp(-4.0)
        XCTAssertEqual(raw, [exp(-1.0) / z / 2, exp(-2.0) / z / 2, exp(-4.0) / z / 2, 0.25, 0.25], accuracy: 1e-12)
        XCTAssertTrue(HeardReading.pooled([[], []]).isEmpty)
        // The agent's mixture over the pooled list uses exactly these weights.
        let agent = try makeAgent()
        let reply = try agent.respond(text: "a", session: "pool", readings: pooled)
        XCTAssertEqual(reply.readings?.map(\.weight) ?? [], raw, accuracy: 1e-12)
    }

    /// Audio heard in several readings: the intent ranking is the readings' rankings mixed by
    /// posterior weight (softmax of the log-probabilities), worked out by hand here.
    func testReadingsMixIntentRankingsByPosterior() throws {
        // The mixture is the point here: the domain's decision rules as they were when this was
        // written (threshold 0.20, no clarifying question; the shipped ones were re-chosen for the
        // calibrated 77-topic model, under which 0.34 for speak_to_agent is not sure enough).
        var domain = try Domain.load(Repo.bank.appendingPathComponent("domain.yml"))
        domain.fallbackThreshold = 0.2
        domain.clarifyMargin = 0
        let agent = ChatAgent(domain: domain, classifier: KeywordClassifier(),
                              extractor: EntityExtractor(referenceDay: Day(year: 2026, month: 11, day: 25)!),
                              store: try SQLiteSessionStore(url: dir.appendingPathComponent("s.sqlite")))
        // Weights: e^0 : e^-0.5 : e^-5 = 1 : 0.6065 : 0.0067 → 0.6199, 0.3760, 0.0042.
        let readings = [HeardReading(text: "can I speak for real version", logProbability: -3),
                        HeardReading(text: "can I speak to a human please", logProbability: -3.5),
                        HeardReading(text: "hello there", logProbability: -8)]
        let reply = try agent.respond(text: readings[0].text, session: "mix", readings: readings)
        let w = [1.0, exp(-0.5), exp(-5.0)].map { $0 / (1 + exp(-0.5) + exp(-5.0)) }
        XCTAssertEqual(reply.readings?.map(\.weight) ?? [], w, accuracy: 1e-12)
        // Reading 1 (no keyword): check_balance 0.12, greet 0.08; reading 2: speak_to_agent 0.9,
        // greet 0.05; reading 3: greet 0.9, greet 0.05 → check_balance 0.12·w0, speak_to_agent 0.9·w1…
        let expected = ["check_balance": 0.12 * w[0], "speak_to_agent": 0.9 * w[1], "greet": 0.08 * w[0] + 0.05 * w[1] + 0.95 * w[2]]
        XCTAssertEqual(reply.ranking.map(\.name), ["speak_to_agent", "check_balance", "greet"])
        for s in reply.ranking { XCTAssertEqual(s.confidence, expected[s.name]!, accuracy: 1e-12, s.name) }
        XCTAssertEqual(reply.intent, "speak_to_agent", "the second reading outvotes the garbled first")
        // The same ranking without playing a turn (what CallListener asks before a second decode).
        let ranked = try agent.intentRanking(readings: readings)
        XCTAssertEqual(ranked.prefix(3).map(\.name), reply.ranking.map(\.name))
        XCTAssertEqual(ranked.prefix(3).map(\.confidence), reply.ranking.map(\.confidence), accuracy: 0)
        // One reading: the transcript's own ranking, no readings in the reply.
        let single = try agent.respond(text: readings[0].text, session: "one", readings: [readings[0]])
        XCTAssertNil(single.readings)
        XCTAssertEqual(single.ranking.first?.name, "check_balance")
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
