import Foundation
import LeptonText

/// A bot's domain: what it does for each intent, the slots it fills, its forms and its
/// responses. Read from YAML (see `samples/bank/domain.yml`):
///
/// ```yaml
/// settings:
///   fallback_threshold: 0.45   # top intent confidence below this → fallback
///   fallback_margin: 0.05      # top-1 minus top-2 below this → fallback
///   handoff_after: 2           # fallbacks in a row before a human takes over
///   default_currency: USD      # for amounts said without a currency
///   asr_prompt: "PIN, balance" # the speech recognizer's initial prompt (likely words)
///   asr_beam_size: 5           # the recognizer's beam width
///   asr_readings: 3            # n-best readings of the audio whose intents are mixed
///   asr_narrowband_fold: 0     # 8 kHz calls: mirror the band into 4–8 kHz at this gain (0 = off)
///   asr_language_model_weight: 0.3 # the model folder's sentences fused into the recognizer's search (0 = off)
///   asr_second_opinion_below: 0.6  # with a language model: fuse it only into a second decode of calls whose intent is below this
///   clarify_margin: 0.5        # top two labelled handlers closer than this → "Do you want to X or Y?"
/// intents:
///   greet: {response: utter_greet}
///   transfer_money: {form: transfer_form, label: make a transfer}
///   transfer_status: {response: utter_pending_transfer, label: ask about a transfer you already made}
///   speak_to_agent: {response: utter_handoff, handoff: true}
/// topics:                      # the model's fine labels → handler intents (see ``Topic``)
///   transfer_timing: {intent: transfer_status, response: utter_transfer_timing}
/// slots:
///   amount: {type: amount, min: 1, max: 10000, entities: [amount, number]}
///   recipient: {type: text, entities: [recipient, {entity: account_type, role: to}], from_text: true}
/// forms:
///   transfer_form: {required: [amount, recipient], confirm: utter_confirm_transfer,
///                   done: utter_transfer_done, cancelled: utter_transfer_cancelled}
/// responses:
///   utter_greet: ["Hello! How can I help?", "Hi, what can I do for you today?"]
///   utter_ask_amount: ["How much would you like to send?"]
/// ```
/// Responses are templates: `{slot}` is replaced by the slot's display value, `{value}` by a
/// rejected value. Among a response's variants the engine prefers those whose placeholders are
/// all known, then picks one by the seed (deterministic per session and turn).
/// Required responses: `utter_fallback`, `utter_handoff`, `utter_ask_<slot>` for every slot a
/// form requires.
///
/// An intent (`action:` beside its `response`) or a form (`action:` beside `done`) may run a
/// backend action declared under `actions:`; its done response is then said only when the
/// backend confirms (see ``BackendAction``). Unknown keys at the top level, in an intent, a form
/// or an action are refused by name.
public struct Domain: Sendable {
    /// What the bot does when it recognises an intent.
    public struct IntentAction: Sendable {
        public var response: String?
        public var form: String?
        public var handoff: Bool = false
        /// Ends the conversation politely (goodbye): any form is dropped.
        public var endsForm: Bool = false
        /// The backend action the intent runs (see ``BackendAction``); `response` is then said
        /// only when the backend confirms it.
        public var action: String?
        /// What the intent offers, in the words of a clarifying question ("change your PIN");
        /// intents without one (greetings, yes, no) are never offered as a choice.
        public var label: String?
    }

    /// How a slot is filled from an entity.
    public struct EntityMapping: Sendable, Equatable {
        public var entity: String
        public var role: String?
    }

    /// Slot types decide validation and display.
    public enum SlotType: String, Sendable { case amount, text, category, date, digits }

    public struct Slot: Sendable {
        public var name: String
        public var type: SlotType
        public var entities: [EntityMapping]
        /// Take the user's whole answer when this slot was asked for and no entity fits.
        public var fromText: Bool = false
        /// `amount`: inclusive bounds.
        public var min: Double?
        public var max: Double?
        /// `category`: allowed values; `display` maps values to words.
        public var values: [String] = []
        public var display: [String: String] = [:]
        /// `digits`: required number of digits.
        public var length: Int?
    }

    public struct Form: Sendable {
        public var name: String
        public var required: [String]
        public var confirm: String?
        public var done: String
        public var cancelled: String?
        /// The backend action run when the form completes; `done` is said only when it is confirmed.
        public var action: String?
    }

    public var fallbackThreshold: Double = 0.45
    public var fallbackMargin: Double = 0
    public var handoffAfter: Int = 2
    public var defaultCurrency: String = "USD"
    /// Words callers of this bot are likely to say, given to the speech recognizer as its
    /// initial prompt (`settings.asr_prompt`), so that "PIN" is not heard as "BIN".
    public var asrPrompt: String?
    /// The speech recognizer's beam width (`settings.asr_beam_size`, 1...16).
    public var asrBeamSize: Int = 5
    /// How many of the recognizer's best readings of a caller's audio are classified, their
    /// intent rankings mixed by posterior weight (`settings.asr_readings`, 1 = the transcript only).
    public var asrReadings: Int = 1
    /// Gain of the spectral folding applied to calls sampled at 8 kHz or less before Whisper hears
    /// them (`settings.asr_narrowband_fold`, 0...1; 0 = off). See `WhisperTranscribeOptions.narrowbandFoldGain`.
    public var asrNarrowbandFold: Float = 0
    /// A phone-band map (`settings.asr_phone_band_map`: a file from `lepton-chat train-phone-band`,
    /// relative to the domain file's folder) applied to the features of calls sampled at 8 kHz or
    /// less; nil = none. See `WhisperPhoneBandMap`; the agent loads it (``ChatAgent/phoneBandMap``).
    public var asrPhoneBandMap: String?
    /// Weight of the domain language model in the recognizer's beam search
    /// (`settings.asr_language_model_weight`, 0...2; 0 = off): a trigram model counted from the
    /// intent model folder's `asr-corpus.txt` (``RecognizerCorpus``), see `WhisperLanguageModel`.
    public var asrLanguageModelWeight: Float = 0
    /// With a language model (`asr_language_model_weight` > 0): the call is first decoded without
    /// it, and only when the intent of that decode's readings has a confidence below this level
    /// (`settings.asr_second_opinion_below`, 0...1; 0 = off: every decode is fused) is it decoded
    /// again with it, the two decodes sharing the intent ranking equally (see `CallListener`).
    public var asrSecondOpinionBelow: Double = 0
    /// When the two most likely handler intents (both with a `label`) differ by less than this in
    /// probability, the agent asks which one is meant (`utter_clarify`) instead of acting on the
    /// first (`settings.clarify_margin`, 0...1; 0 = never).
    public var clarifyMargin: Double = 0
    /// The intent model's fine labels mapped to handler intents (`topics:`; see ``Topic``).
    public var topics: [String: Topic] = [:]
    public var intents: [String: IntentAction] = [:]
    public var slots: [String: Slot] = [:]
    public var forms: [String: Form] = [:]
    public var responses: [String: [String]] = [:]
    /// Backend actions by name (`actions:`; see ``BackendAction``).
    public var actions: [String: BackendAction] = [:]

    public init() {}

    /// Reads and checks a domain file.
    /// - Throws: ``ChatError/badDomain(file:reason:)`` naming the key at fault.
    public static func load(_ url: URL) throws -> Domain {
        guard let data = try? Data(contentsOf: url) else { throw ChatError.badDomain(file: url.path, reason: "cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw ChatError.badDomain(file: url.path, reason: "not UTF-8 text") }
        return try parse(text, file: url.path, folder: url.deletingLastPathComponent())
    }

    /// Parses domain YAML text; `file` names it in errors, `folder` is where relative key files
    /// are found (default: the current directory).
    public static func parse(_ text: String, file: String = "<domain>", folder: URL? = nil) throws -> Domain {
        func bad(_ r: String) -> ChatError { .badDomain(file: file, reason: r) }
        let root: Any?
        do { root = try SafeYAML.load(text) } catch let e as SafeYAML.LimitExceeded { throw bad(e.description) } catch {
            throw bad("invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let top = root as? [String: Any] else { throw bad("expected a mapping at the top level") }
        try refuseUnknownKeys(top, allowed: ["version", "settings", "intents", "topics", "slots", "forms", "responses", "actions"], at: "the top level", bad: bad)
        var d = Domain()
        if let s = top["settings"] {
            guard let s = s as? [String: Any] else { throw bad("`settings` must be a mapping") }
            if let v = s["fallback_threshold"] { guard let x = number(v), (0...1).contains(x) else { throw bad("settings.fallback_threshold must be in 0...1") }; d.fallbackThreshold = x }
            if let v = s["fallback_margin"] { guard let x = number(v), (0...1).contains(x) else { throw bad("settings.fallback_margin must be in 0...1") }; d.fallbackMargin = x }
            if let v = s["handoff_after"] { guard let x = v as? Int, x >= 1 else { throw bad("settings.handoff_after must be an integer ≥ 1") }; d.handoffAfter = x }
            if let v = s["default_currency"] { guard let x = v as? String, x.count == 3 else { throw bad("settings.default_currency must be a 3-letter code") }; d.defaultCurrency = x.uppercased() }
            if let v = s["asr_prompt"] { guard let x = v as? String, x.count <= 400 else { throw bad("settings.asr_prompt must be text of at most 400 characters") }; d.asrPrompt = x }
            if let v = s["asr_beam_size"] { guard let x = v as? Int, (1...16).contains(x) else { throw bad("settings.asr_beam_size must be an integer in 1...16") }; d.asrBeamSize = x }
            if let v = s["asr_readings"] { guard let x = v as? Int, (1...16).contains(x) else { throw bad("settings.asr_readings must be an integer in 1...16") }; d.asrReadings = x }
            if let v = s["asr_narrowband_fold"] { guard let x = number(v), (0...1).contains(x) else { throw bad("settings.asr_narrowband_fold must be in 0...1") }; d.asrNarrowbandFold = Float(x) }
            if let v = s["asr_phone_band_map"] {
                guard let x = v as? String, !x.isEmpty else { throw bad("settings.asr_phone_band_map must be a file name (from `lepton-chat train-phone-band`)") }
                d.asrPhoneBandMap = x
            }
            if let v = s["asr_language_model_weight"] {
                guard let x = number(v), (0...2).contains(x) else { throw bad("settings.asr_language_model_weight must be in 0...2") }
                d.asrLanguageModelWeight = Float(x)
            }
            if let v = s["asr_second_opinion_below"] {
                guard let x = number(v), (0...1).contains(x) else { throw bad("settings.asr_second_opinion_below must be in 0...1") }
                d.asrSecondOpinionBelow = x
            }
            if let v = s["clarify_margin"] {
                guard let x = number(v), (0...1).contains(x) else { throw bad("settings.clarify_margin must be in 0...1") }
                d.clarifyMargin = x
            }
            if d.asrSecondOpinionBelow > 0, d.asrLanguageModelWeight == 0 {
                throw bad("settings.asr_second_opinion_below needs settings.asr_language_model_weight > 0 (the second decode's language model)")
            }
            if d.asrReadings > d.asrBeamSize { throw bad("settings.asr_readings (\(d.asrReadings)) cannot exceed settings.asr_beam_size (\(d.asrBeamSize))") }
        }
        guard let responses = top["responses"] as? [String: Any] else { throw bad("missing `responses` mapping") }
        for (name, v) in responses {
            let variants: [String]
            if let s = v as? String { variants = [s] }
            else if let list = v as? [Any] {
                variants = try list.map { item -> String in
                    if let s = item as? String { return s }
                    if let m = item as? [String: Any], let s = m["text"] as? String { return s }
                    throw bad("responses.\(name): every variant must be a string or {text: ...}")
                }
            } else { throw bad("responses.\(name) must be a string or a list of variants") }
            guard !variants.isEmpty else { throw bad("responses.\(name) has no variants") }
            d.responses[name] = variants
        }
        if let slots = top["slots"] {
            guard let slots = slots as? [String: Any] else { throw bad("`slots` must be a mapping") }
            for (name, v) in slots {
                guard let m = v as? [String: Any] else { throw bad("slots.\(name) must be a mapping") }
                guard let ts = m["type"] as? String, let type = SlotType(rawValue: ts) else {
                    throw bad("slots.\(name).type must be one of amount, text, category, date, digits")
                }
                var slot = Slot(name: name, type: type, entities: [])
                for e in (m["entities"] as? [Any]) ?? [] {
                    if let s = e as? String { slot.entities.append(EntityMapping(entity: s, role: nil)) }
                    else if let em = e as? [String: Any], let s = em["entity"] as? String {
                        slot.entities.append(EntityMapping(entity: s, role: em["role"] as? String))
                    } else { throw bad("slots.\(name).entities: each item is an entity name or {entity, role}") }
                }
                slot.fromText = (m["from_text"] as? Bool) ?? false
                slot.min = m["min"].flatMap(number)
                slot.max = m["max"].flatMap(number)
                slot.values = (m["values"] as? [Any])?.map { "\($0)" } ?? []
                if let disp = m["display"] as? [String: Any] { for (k, v) in disp { slot.display[k] = "\(v)" } }
                slot.length = m["length"] as? Int
                if type == .category && slot.values.isEmpty { throw bad("slots.\(name): a category slot needs `values`") }
                if slot.entities.isEmpty && !slot.fromText { throw bad("slots.\(name): give `entities` or `from_text: true`") }
                d.slots[name] = slot
            }
        }
        if let forms = top["forms"] {
            guard let forms = forms as? [String: Any] else { throw bad("`forms` must be a mapping") }
            for (name, v) in forms {
                guard let m = v as? [String: Any] else { throw bad("forms.\(name) must be a mapping") }
                try refuseUnknownKeys(m, allowed: ["required", "confirm", "done", "cancelled", "action"], at: "forms.\(name)", bad: bad)
                guard let req = m["required"] as? [String], !req.isEmpty else { throw bad("forms.\(name).required must list slots") }
                for s in req {
                    guard d.slots[s] != nil else { throw bad("forms.\(name) requires unknown slot \(s)") }
                    guard d.responses["utter_ask_\(s)"] != nil else { throw bad("forms.\(name): missing response utter_ask_\(s)") }
                }
                guard let done = m["done"] as? String else { throw bad("forms.\(name).done (response when complete) is missing") }
                d.forms[name] = Form(name: name, required: req, confirm: m["confirm"] as? String, done: done,
                                     cancelled: m["cancelled"] as? String, action: m["action"] as? String)
            }
        }
        guard let intents = top["intents"] as? [String: Any], !intents.isEmpty else { throw bad("missing `intents` mapping") }
        for (name, v) in intents {
            var a = IntentAction()
            if let r = v as? String { a.response = r }
            else if let m = v as? [String: Any] {
                try refuseUnknownKeys(m, allowed: ["response", "form", "handoff", "ends_form", "action", "label"], at: "intents.\(name)", bad: bad)
                a.response = m["response"] as? String
                a.action = m["action"] as? String
                a.form = m["form"] as? String
                a.handoff = (m["handoff"] as? Bool) ?? false
                a.endsForm = (m["ends_form"] as? Bool) ?? false
                if let l = m["label"] {
                    guard let l = l as? String, !l.isEmpty, l.count <= 80 else { throw bad("intents.\(name).label must be text of 1 to 80 characters") }
                    a.label = l
                }
            } else { throw bad("intents.\(name) must be a response name or a mapping") }
            if let f = a.form, d.forms[f] == nil { throw bad("intents.\(name) uses unknown form \(f)") }
            if a.response == nil && a.form == nil && !a.handoff { throw bad("intents.\(name) needs a response, a form or handoff") }
            d.intents[name] = a
        }
        if let actions = top["actions"] {
            d.actions = try parseActions(actions, folder: folder ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath), bad: bad)
        }
        try d.checkActions(bad: bad)
        if let topics = top["topics"] { d.topics = try parseTopics(topics, intents: d.intents, bad: bad) }
        if d.clarifyMargin > 0, d.responses["utter_clarify"] == nil { throw bad("settings.clarify_margin needs the response utter_clarify") }
        // Every response a domain refers to must exist.
        var referenced = ["utter_fallback", "utter_handoff"]
        referenced += d.intents.values.compactMap(\.response) + d.topics.values.compactMap(\.response)
        for f in d.forms.values { referenced += [f.done] + [f.confirm, f.cancelled].compactMap { $0 } }
        for r in referenced where d.responses[r] == nil { throw bad("missing response \(r)") }
        return d
    }

    /// A misspelt key (`acton: block_card`) would silently drop what it meant: refuse it by name.
    private static func refuseUnknownKeys(_ m: [String: Any], allowed: Set<String>, at: String, bad: (String) -> ChatError) throws {
        if let k = m.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw bad("\(at): unknown key `\(k)` (expected \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    static func number(_ v: Any) -> Double? {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        return nil
    }
}
