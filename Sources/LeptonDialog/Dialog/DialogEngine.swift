import Foundation
import LeptonText

/// The dialog policy: given the state and one understood turn, decides the reply and the new
/// state. Pure and deterministic (variant choice is seeded by seed, session and turn), so it can
/// run inside a store transaction and be tested without any model.
///
/// Rules, in order:
/// 1. A session handed to a human stays there (it only answers goodbye).
/// 2. Awaiting confirmation of a form: yes → the form's `done` response; no → `cancelled`;
///    a new slot value ("make it 300") → update and ask again; anything else → ask again.
/// 3. Filling a form: entities fill any of its slots (validated: an invalid value is
///    rejected with `utter_invalid_<slot>` and asked again); "stop"/"cancel" drops the form;
///    a confident other intent is answered and the form question repeated; a fallback counts
///    towards the hand-off and repeats the question.
/// 4. Otherwise: when the two most likely handlers that have a `label` are closer than
///    `clarify_margin` (and together reach the fallback threshold), the agent asks which
///    one is meant (`utter_clarify`, event `clarify:A|B`) and the next turn's answer ("the
///    first", words of a label, or a request ranked as one of them) runs it (`clarified:A`); an
///    answer that is neither is played as a new turn. Else a fallback (confidence below the
///    threshold or a top-2 margin too small) answers `utter_fallback`, the `handoff_after`-th in
///    a row hands off. Otherwise the intent runs its action
///    (response, form or hand-off); reached through a topic with its own response, that
///    response is said instead of the intent's.
///
/// An intent or form that names a backend action (``Domain/BackendAction``) asks `perform` for
/// it when it completes, and its reply depends on the outcome: the done response only when the
/// backend confirmed; a refusal response; or, when the action failed or has no backend, a
/// response that claims nothing was done, and a hand-off to a human. The engine stays
/// deterministic given what `perform` answers.
public struct DialogEngine: Sendable {
    public let domain: Domain
    public var seed: UInt64

    public init(domain: Domain, seed: UInt64 = 0) {
        self.domain = domain; self.seed = seed
    }

    public static let fallbackIntent = "nlu_fallback"

    static let yesWords: Set<String> = ["yes", "yeah", "yep", "yup", "sure", "correct", "confirm", "confirmed", "ok",
                                        "okay", "right", "affirmative", "absolutely", "definitely", "please"]
    static let noWords: Set<String> = ["no", "nope", "nah", "cancel", "stop", "don't", "dont", "wrong", "not", "never",
                                       "abort", "incorrect"]
    static let cancelPhrases = ["cancel", "stop", "never mind", "nevermind", "forget it", "forget about it", "abort"]

    /// Plays one turn.
    /// - Parameters:
    ///   - state: the session's state, updated in place.
    ///   - nlu: the understood user turn.
    ///   - session: the session id (seeds the choice among response variants).
    ///   - perform: runs a backend action (``BackendClient/perform(_:at:now:)``); called at most
    ///     once per turn, only for actions with an endpoint. Without one, such actions fail.
    public func step(state: inout DialogState, nlu: NLUResult, session: String,
                     perform: @escaping ActionPerformer = { _, _ in .failed("no backend client") }) -> DialogTurn {
        var ctx = TurnContext(engine: self, session: session, turn: state.turn, perform: perform)
        let top = nlu.ranking.first
        let second = nlu.ranking.dropFirst().first?.confidence ?? 0
        let words = Set(entityTokens(nlu.text).map(\.lower))
        let lower = nlu.text.lowercased()
        var intent = top?.name ?? DialogEngine.fallbackIntent
        let confidence = top?.confidence ?? 0
        let isFallback = top == nil || confidence < domain.fallbackThreshold || confidence - second < domain.fallbackMargin
            || domain.intents[intent] == nil
        if isFallback { intent = DialogEngine.fallbackIntent }
        var topic = isFallback ? nil : top?.topic
        defer { state.turn += 1; state.lastIntent = intent }
        let pending = state.clarifying
        state.clarifying = nil

        // 1. Handed off.
        if state.handedOff {
            if intent == "goodbye", let r = domain.intents["goodbye"]?.response { ctx.say(r, state: state) }
            else { ctx.say(domain.responses["utter_handoff_waiting"] != nil ? "utter_handoff_waiting" : "utter_handoff", state: state) }
            return ctx.finish(intent: intent, confidence: confidence, topic: topic)
        }

        // The answer to a clarifying question.
        if let options = pending, state.activeForm == nil, let chosen = choose(among: options, nlu: nlu, ranking: nlu.ranking) {
            state.fallbacks = 0
            intent = chosen.intent; topic = chosen.topic
            ctx.events.append("clarified:\(chosen.intent)")
            run(intent: chosen.intent, topic: chosen.topic, state: &state, nlu: nlu, ctx: &ctx)
            return ctx.finish(intent: intent, confidence: chosen.confidence ?? confidence, topic: topic)
        }

        // 2./3. Inside a form.
        if let formName = state.activeForm, let form = domain.forms[formName] {
            let filled = fill(form: form, state: &state, nlu: nlu, ctx: &ctx, allowText: !state.awaitingConfirmation)
            let saysNo = !words.isDisjoint(with: DialogEngine.noWords) || DialogEngine.cancelPhrases.contains { lower.contains($0) }
            let saysYes = !words.isDisjoint(with: DialogEngine.yesWords) || intent == "affirm"
            if state.awaitingConfirmation {
                if filled.changed {
                    state.fallbacks = 0
                    advance(form: form, state: &state, ctx: &ctx)
                } else if saysNo || intent == "deny" {
                    state.fallbacks = 0
                    finish(form: form, state: &state, ctx: &ctx, done: false)
                } else if saysYes {
                    state.fallbacks = 0
                    finish(form: form, state: &state, ctx: &ctx, done: true)
                } else if !isFallback, intent != "affirm", handleOther(intent: intent, in: form, state: &state, nlu: nlu, ctx: &ctx) {
                    state.fallbacks = 0
                } else {
                    state.fallbacks += 1
                    if state.fallbacks >= domain.handoffAfter { handoff(state: &state, ctx: &ctx) }
                    else { ctx.events.append("reconfirm"); advance(form: form, state: &state, ctx: &ctx) }
                }
                return ctx.finish(intent: intent, confidence: confidence, topic: topic)
            }
            if filled.changed || filled.invalid {
                state.fallbacks = 0
                if !filled.invalid { advance(form: form, state: &state, ctx: &ctx) }
                else if let slot = state.requestedSlot { ctx.say("utter_ask_\(slot)", state: state) }
            } else if DialogEngine.cancelPhrases.contains(where: { lower.contains($0) }) || intent == "deny" || (saysNo && words.count <= 3) {
                state.fallbacks = 0
                finish(form: form, state: &state, ctx: &ctx, done: false)
            } else if !isFallback, handleOther(intent: intent, in: form, state: &state, nlu: nlu, ctx: &ctx) {
                state.fallbacks = 0
            } else {
                state.fallbacks += 1
                if state.fallbacks >= domain.handoffAfter { handoff(state: &state, ctx: &ctx) }
                else if let slot = state.requestedSlot {
                    ctx.events.append("invalid:\(slot)")
                    if domain.responses["utter_invalid_\(slot)"] != nil { ctx.say("utter_invalid_\(slot)", state: state, extra: ["value": nlu.text]) }
                    ctx.say("utter_ask_\(slot)", state: state)
                } else { advance(form: form, state: &state, ctx: &ctx) }
            }
            return ctx.finish(intent: intent, confidence: confidence, topic: topic)
        }

        // 4. No form. Unsure between two handlers (together above the fallback threshold): ask.
        if let options = clarifyOptions(nlu.ranking) {
            state.fallbacks = 0
            intent = options[0].intent; topic = options[0].topic
            state.clarifying = options
            ctx.events.append("clarify:\(options[0].intent)|\(options[1].intent)")
            ctx.say("utter_clarify", state: state, extra: ["first": domain.intents[options[0].intent]?.label ?? options[0].intent,
                                                            "second": domain.intents[options[1].intent]?.label ?? options[1].intent])
            return ctx.finish(intent: intent, confidence: confidence, topic: topic)
        }
        if isFallback {
            state.fallbacks += 1
            ctx.events.append("fallback")
            if state.fallbacks >= domain.handoffAfter { handoff(state: &state, ctx: &ctx) }
            else { ctx.say("utter_fallback", state: state) }
            return ctx.finish(intent: intent, confidence: confidence, topic: topic)
        }
        state.fallbacks = 0
        run(intent: intent, topic: topic, state: &state, nlu: nlu, ctx: &ctx)
        return ctx.finish(intent: intent, confidence: confidence, topic: topic)
    }

    // MARK: Clarifying questions

    /// The two handlers to ask about: the top two of the ranking, both known, both with a
    /// `label`, closer than `clarify_margin`, and together at least `fallback_threshold` (one of
    /// the two is likely: below that the agent does not understand at all); nil when the agent
    /// should just act (or fall back).
    func clarifyOptions(_ ranking: [IntentScore]) -> [ClarifyOption]? {
        guard domain.clarifyMargin > 0, ranking.count >= 2 else { return nil }
        let a = ranking[0], b = ranking[1]
        guard a.confidence - b.confidence < domain.clarifyMargin, a.confidence + b.confidence >= domain.fallbackThreshold,
              domain.intents[a.name]?.label != nil, domain.intents[b.name]?.label != nil else { return nil }
        return [ClarifyOption(intent: a.name, topic: a.topic, confidence: a.confidence),
                ClarifyOption(intent: b.name, topic: b.topic, confidence: b.confidence)]
    }

    static let firstWords: Set<String> = ["first", "former", "1", "1st"]
    static let secondWords: Set<String> = ["second", "latter", "last", "2", "2nd", "other"]
    /// Words a label shares with nearly every other label: no evidence for either option.
    static let labelStopWords: Set<String> = ["a", "an", "the", "to", "your", "you", "my", "i", "about", "ask", "with", "or",
                                              "for", "of", "want", "that", "is", "isn't", "one", "our", "we", "it", "do", "get"]

    /// Which option an answer picks: "the first"/"the second"; else the option whose label shares
    /// more words with the answer; else the option the answer's own ranking puts first when it is
    /// one of the two. nil: the answer is something else (played as a new turn).
    func choose(among options: [ClarifyOption], nlu: NLUResult, ranking: [IntentScore]) -> ClarifyOption? {
        guard options.count == 2 else { return nil }
        let words = entityTokens(nlu.text).map(\.lower)
        let set = Set(words)
        let saysFirst = !set.isDisjoint(with: DialogEngine.firstWords), saysSecond = !set.isDisjoint(with: DialogEngine.secondWords)
        if saysFirst != saysSecond, words.count <= 6 { return options[saysFirst ? 0 : 1] }
        let content = set.subtracting(DialogEngine.labelStopWords)
        let overlap = options.map { o -> Int in
            let label = Set(entityTokens(domain.intents[o.intent]?.label ?? "").map(\.lower)).subtracting(DialogEngine.labelStopWords)
            return label.intersection(content).count
        }
        if overlap[0] != overlap[1] { return options[overlap[0] > overlap[1] ? 0 : 1] }
        if let top = ranking.first, let o = options.first(where: { $0.intent == top.name }) {
            return ClarifyOption(intent: o.intent, topic: top.topic ?? o.topic, confidence: o.confidence)
        }
        return nil
    }

    // MARK: Actions

    /// Runs an intent's action outside any form (`topic`: the model label it was reached
    /// through, whose own response replaces the intent's).
    private func run(intent: String, topic: String? = nil, state: inout DialogState, nlu: NLUResult, ctx: inout TurnContext) {
        guard var action = domain.intents[intent] else { return }
        action.response = domain.response(for: intent, topic: topic)
        if action.handoff {
            if let r = action.response, r != "utter_handoff" { ctx.say(r, state: state) }
            handoff(state: &state, ctx: &ctx)
            return
        }
        if let formName = action.form, let form = domain.forms[formName] {
            state.activeForm = formName
            state.awaitingConfirmation = false
            for s in form.required { state.slots[s] = nil }
            ctx.events.append("form_started:\(formName)")
            if let r = action.response { ctx.say(r, state: state) }
            _ = fill(form: form, state: &state, nlu: nlu, ctx: &ctx, allowText: false)
            advance(form: form, state: &state, ctx: &ctx)
            return
        }
        if let r = action.response {
            // Values said in this turn fill the template ("your savings account ending in 4721").
            var extra: [String: String] = [:], values: [String: String] = [:]
            for slot in domain.slots.values {
                if let v = value(for: slot, in: nlu.entities), validate(v, slot: slot) == nil {
                    values[slot.name] = v
                    extra[slot.name] = display(v, slot: slot)
                }
            }
            guard let actionName = action.action else { ctx.say(r, state: state, extra: extra); return }
            let outcome = perform(action: actionName, values: values, state: &state, ctx: &ctx)
            switch outcome {
            case .confirmed:
                ctx.say(r, state: state, extra: extra)
            case .refused(let reason):
                if let refused = domain.refusedResponse(actionName) { ctx.say(refused, state: state, extra: extra.merging(reason.map { ["reason": $0] } ?? [:]) { a, _ in a }) }
            case .failed, .unavailable:
                notDone(action: actionName, outcome: outcome, state: &state, ctx: &ctx, extra: extra)
            }
        }
    }

    /// Runs backend action `name` with the slot `values` it needs, records the outcome in the
    /// state and the turn's events (`action:NAME:STATUS`), and returns it.
    private func perform(action name: String, values: [String: String], state: inout DialogState, ctx: inout TurnContext) -> ActionOutcome {
        let key = ActionRequest.idempotencyKey(session: ctx.session, turn: ctx.turn, action: name)
        let outcome: ActionOutcome
        if let action = domain.actions[name], let endpoint = action.endpoint {
            var sent: [String: String] = [:]
            for (slot, v) in values where action.slots?.contains(slot) ?? true { sent[slot] = maskNumbersInText(v) }
            outcome = ctx.perform(ActionRequest(action: name, session: ctx.session, turn: ctx.turn, idempotencyKey: key, slots: sent), endpoint)
        } else {
            outcome = .unavailable
        }
        var detail: String?
        switch outcome {
        case .refused(let reason): detail = reason
        case .failed(let cause): detail = maskNumbersInText(cause)
        case .confirmed, .unavailable: detail = nil
        }
        state.lastAction = ActionRecord(action: name, turn: ctx.turn, status: outcome.status, detail: detail, idempotencyKey: key)
        ctx.events.append("action:\(name):\(outcome.status)")
        return outcome
    }

    /// An action that failed or has no backend: say so without claiming anything, and hand the
    /// caller to a human who can do it.
    private func notDone(action name: String, outcome: ActionOutcome, state: inout DialogState, ctx: inout TurnContext,
                         extra: [String: String] = [:]) {
        let response = outcome == .unavailable ? domain.unavailableResponse(name) : domain.failedResponse(name)
        if let response { ctx.say(response, state: state, extra: extra) }
        handoff(state: &state, ctx: &ctx)
    }

    /// A confident intent other than the form's own, said while a form is open. Returns true
    /// when it was handled.
    private func handleOther(intent: String, in form: Domain.Form, state: inout DialogState, nlu: NLUResult,
                             ctx: inout TurnContext) -> Bool {
        guard let action = domain.intents[intent], intent != "affirm", intent != "deny" else { return false }
        if action.form == form.name {  // the same request again: just continue
            advance(form: form, state: &state, ctx: &ctx)
            return true
        }
        if action.endsForm || action.handoff || action.form != nil {
            state.activeForm = nil; state.requestedSlot = nil; state.awaitingConfirmation = false
            ctx.events.append("form_dropped:\(form.name)")
            run(intent: intent, topic: nlu.ranking.first?.topic, state: &state, nlu: nlu, ctx: &ctx)
            return true
        }
        // Answer the side question, then come back to the form (unless a failed action handed off).
        run(intent: intent, topic: nlu.ranking.first?.topic, state: &state, nlu: nlu, ctx: &ctx)
        if !state.handedOff { advance(form: form, state: &state, ctx: &ctx) }
        return true
    }

    /// Asks for the next missing slot, or for confirmation, or completes the form.
    private func advance(form: Domain.Form, state: inout DialogState, ctx: inout TurnContext) {
        if let missing = form.required.first(where: { state.slots[$0] == nil }) {
            state.requestedSlot = missing
            state.awaitingConfirmation = false
            ctx.say("utter_ask_\(missing)", state: state)
            return
        }
        state.requestedSlot = nil
        if let c = form.confirm {
            state.awaitingConfirmation = true
            ctx.say(c, state: state)
        } else {
            finish(form: form, state: &state, ctx: &ctx, done: true)
        }
    }

    /// Ends the form: cancelled, or done — which, with a backend action, means confirmed by the
    /// backend (`confirmed:FORM`); a refusal ends it as `refused:FORM`, a failure as `failed:FORM`
    /// with a hand-off. The form's slots are cleared in every case.
    private func finish(form: Domain.Form, state: inout DialogState, ctx: inout TurnContext, done: Bool) {
        defer {
            state.activeForm = nil; state.requestedSlot = nil; state.awaitingConfirmation = false
            for s in form.required { state.slots[s] = nil }
        }
        guard done else {
            ctx.events.append("cancelled:\(form.name)")
            if let c = form.cancelled { ctx.say(c, state: state) }
            return
        }
        guard let actionName = form.action else {
            ctx.events.append("confirmed:\(form.name)")
            ctx.say(form.done, state: state)
            return
        }
        var values: [String: String] = [:]
        for s in form.required { values[s] = state.slots[s] }
        // Responses are said while the slots are still there ("{amount} to {recipient} has not been sent").
        let outcome = perform(action: actionName, values: values, state: &state, ctx: &ctx)
        switch outcome {
        case .confirmed:
            ctx.events.append("confirmed:\(form.name)")
            ctx.say(form.done, state: state)
        case .refused(let reason):
            ctx.events.append("refused:\(form.name)")
            if let r = domain.refusedResponse(actionName) { ctx.say(r, state: state, extra: reason.map { ["reason": $0] } ?? [:]) }
        case .failed, .unavailable:
            ctx.events.append("failed:\(form.name)")
            notDone(action: actionName, outcome: outcome, state: &state, ctx: &ctx)
        }
    }

    private func handoff(state: inout DialogState, ctx: inout TurnContext) {
        state.handedOff = true
        state.activeForm = nil; state.requestedSlot = nil; state.awaitingConfirmation = false
        ctx.events.append("handoff")
        ctx.say("utter_handoff", state: state)
    }

    // MARK: Slots

    /// Fills the form's slots from the turn's entities (and from the text for the requested
    /// slot when allowed). Invalid values are rejected with `utter_invalid_<slot>`.
    private func fill(form: Domain.Form, state: inout DialogState, nlu: NLUResult, ctx: inout TurnContext,
                      allowText: Bool) -> (changed: Bool, invalid: Bool) {
        var changed = false, invalid = false
        var usedEntities = false
        for name in form.required {
            guard let slot = domain.slots[name] else { continue }
            var candidate = value(for: slot, in: nlu.entities)
            if candidate != nil { usedEntities = true }
            if candidate == nil, allowText, slot.fromText, state.requestedSlot == name, !usedEntities,
               nlu.entities.isEmpty || nlu.entities.allSatisfy({ $0.type == "recipient" }) {
                candidate = DialogEngine.cleanFreeText(nlu.text)
            }
            guard let v = candidate else { continue }
            if let problem = validate(v, slot: slot) {
                invalid = true
                ctx.events.append("invalid:\(name)")
                state.requestedSlot = name
                if domain.responses["utter_invalid_\(name)"] != nil {
                    ctx.say("utter_invalid_\(name)", state: state, extra: ["value": problem])
                }
                continue
            }
            if state.slots[name] != v { state.slots[name] = v; changed = true; ctx.events.append("slot:\(name)") }
        }
        return (changed, invalid && !changed)
    }

    /// The normalised slot value the turn's entities give, if any.
    func value(for slot: Domain.Slot, in entities: [Entity]) -> String? {
        for m in slot.entities {
            guard let e = entities.first(where: { $0.type == m.entity && (m.role == nil || $0.role == m.role) }) else { continue }
            switch slot.type {
            case .amount:
                if e.type == "amount" || e.type == "number" {
                    guard let x = Double(e.value) else { continue }
                    let cur = e.currency ?? domain.defaultCurrency
                    return "\(EntityExtractor.format(x, currency: cur)) \(cur)"
                }
                return e.value
            case .category:
                return e.value
            case .digits:
                return e.value
            case .date, .text:
                if e.type == "account_type" { return "your \(e.value.replacingOccurrences(of: "_", with: " ")) account" }
                if e.type == "account_number" { return "account \(maskDigits(e.value))" }
                return e.value
            }
        }
        return nil
    }

    /// nil when `value` is acceptable for `slot`, else the reason to show the user.
    func validate(_ value: String, slot: Domain.Slot) -> String? {
        switch slot.type {
        case .amount:
            let parts = value.split(separator: " ")
            guard let x = parts.first.flatMap({ Double($0) }) else { return value }
            if let lo = slot.min, x < lo { return display(value, slot: slot) }
            if let hi = slot.max, x > hi { return display(value, slot: slot) }
            return nil
        case .category:
            return slot.values.contains(value) ? nil : value
        case .digits:
            let ok = value.allSatisfy { $0.isASCII && $0.isNumber } && (slot.length == nil || value.count == slot.length)
            return ok ? nil : value
        case .date:
            return Day(iso: value) == nil ? value : nil
        case .text:
            let ok = !value.isEmpty && value.count <= 60 && value.contains { $0.isLetter }
            return ok ? nil : String(value.prefix(60))
        }
    }

    /// The words a response uses for a slot value ("$250.00", "savings account", "3 March 2026").
    func display(_ value: String, slot: Domain.Slot) -> String {
        switch slot.type {
        case .amount:
            let p = value.split(separator: " ")
            guard p.count == 2 else { return value }
            let n = String(p[0])
            switch p[1] {
            case "USD": return "$" + n
            case "GBP": return "£" + n
            case "EUR": return "€" + n
            default: return "\(n) \(p[1])"
            }
        case .category:
            return slot.display[value] ?? value.replacingOccurrences(of: "_", with: " ")
        case .date:
            guard let d = Day(iso: value) else { return value }
            let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                          "October", "November", "December"]
            return "\(d.day) \(months[d.month - 1]) \(d.year)"
        case .digits, .text:
            // A relation ("landlord") reads better as "your landlord".
            return EntityExtractor.relations.contains(value) ? "your \(value)" : value
        }
    }

    /// A free-text answer as a slot value: trimmed, without "to"/"my" in front or punctuation after.
    static func cleanFreeText(_ text: String) -> String? {
        var words = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        while let f = words.first, ["to", "my", "it's", "its", "for", "the", "it", "is"].contains(f.lowercased()) { words.removeFirst() }
        let s = words.joined(separator: " ").trimmingCharacters(in: .punctuationCharacters.union(.whitespaces))
        guard !s.isEmpty, words.count <= 6 else { return nil }
        return s
    }
}

/// Runs a backend action request against its endpoint and says how it went.
public typealias ActionPerformer = (ActionRequest, Domain.BackendAction.Endpoint) -> ActionOutcome

/// Collects one turn's replies and events; renders templates.
struct TurnContext {
    let engine: DialogEngine
    let session: String
    let turn: Int
    let perform: ActionPerformer
    var parts: [String] = []
    var responses: [String] = []
    var events: [String] = []

    init(engine: DialogEngine, session: String, turn: Int, perform: @escaping ActionPerformer) {
        self.engine = engine; self.session = session; self.turn = turn; self.perform = perform
    }

    /// Renders response `name` with the state's slots (display form) and `extra` values.
    mutating func say(_ name: String, state: DialogState, extra: [String: String] = [:]) {
        guard let variants = engine.domain.responses[name] else { return }
        var values = extra
        for (k, v) in state.slots where values[k] == nil {
            if let slot = engine.domain.slots[k] { values[k] = engine.display(v, slot: slot) } else { values[k] = v }
        }
        // Prefer variants whose placeholders are all known, then those using the most values.
        let scored = variants.map { v -> (String, Int, Int) in
            let ph = TurnContext.placeholders(v)
            return (v, ph.filter { values[$0] == nil }.count, ph.filter { values[$0] != nil }.count)
        }
        let minMissing = scored.map(\.1).min() ?? 0
        let pool = scored.filter { $0.1 == minMissing }
        let maxUsed = pool.map(\.2).max() ?? 0
        let best = pool.filter { $0.2 == maxUsed }.map(\.0)
        let pick = best[Int(TurnContext.hash(engine.seed, session, turn, name, responses.count) % UInt64(best.count))]
        var text = pick
        for ph in TurnContext.placeholders(pick) { text = text.replacingOccurrences(of: "{\(ph)}", with: values[ph] ?? "") }
        text = text.replacingOccurrences(of: "  ", with: " ").trimmingCharacters(in: .whitespaces)
        parts.append(text)
        responses.append(name)
    }

    func finish(intent: String, confidence: Double, topic: String? = nil) -> DialogTurn {
        DialogTurn(reply: parts.joined(separator: " "), intent: intent, confidence: confidence, topic: topic,
                   responses: responses, events: events)
    }

    static func placeholders(_ s: String) -> [String] {
        var out: [String] = []
        var cur: String?
        for c in s {
            if c == "{" { cur = "" } else if c == "}" { if let n = cur, !n.isEmpty { out.append(n) }; cur = nil }
            else if cur != nil { if c.isLetter || c.isNumber || c == "_" { cur!.append(c) } else { cur = nil } }
        }
        return out
    }

    /// FNV-1a over the seed and the turn's identity: a stable choice across runs and machines.
    static func hash(_ seed: UInt64, _ session: String, _ turn: Int, _ name: String, _ k: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in "\(session)|\(turn)|\(name)|\(k)".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
