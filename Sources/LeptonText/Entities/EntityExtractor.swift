import Foundation

/// Finds banking entities in an utterance: money amounts, currencies, dates, account types,
/// card and account numbers, last four digits, recipients and leftover numbers (see ``Entity``).
///
/// Deterministic pattern matching over ``EntityToken``s, in a fixed order so that spans never
/// overlap: digit strings in card/account context, money, dates, account types, recipients,
/// lookup tables from training data, then any number still unclaimed.
public struct EntityExtractor: Sendable {
    /// The day relative dates ("yesterday", "next Friday") are resolved against.
    public var referenceDay: Day
    /// Extra phrases from training data: entity type → [lower-cased phrase → normalised value].
    public var lookups: [String: [String: String]] = [:]
    /// Synonyms from training data: lower-cased surface text → normalised value.
    public var synonyms: [String: String] = [:]
    /// Regular expressions from training data: entity type → patterns (matched after the built-in patterns).
    public var regexes: [String: [String]] = [:]

    /// - Parameter referenceDay: "today" for relative dates; defaults to the current day in the local time zone.
    public init(referenceDay: Day = Day(Date())) {
        self.referenceDay = referenceDay
    }

    /// The entities of `text`, ordered by position.
    public func extract(_ text: String) -> [Entity] {
        let t = entityTokens(text)
        var taken = [Bool](repeating: false, count: t.count)
        var found: [Entity] = []
        let chars = Array(text)
        func add(_ type: String, _ value: String, _ a: Int, _ b: Int, currency: String? = nil, role: String? = nil) {
            guard a < b, b <= t.count else { return }
            for k in a..<b { taken[k] = true }
            let s = t[a].start, e = t[b - 1].end
            found.append(Entity(type: type, value: value, text: String(chars[s..<e]), start: s, end: e, currency: currency, role: role))
        }
        func free(_ a: Int, _ b: Int) -> Bool { a < b && b <= t.count && !taken[a..<b].contains(true) }
        let past = t.contains { EntityExtractor.pastCues.contains($0.lower) }

        // 1. Digit strings: last four digits, card and account numbers.
        var i = 0
        while i < t.count {
            if let (ctxEnd, kind) = numberContext(t, i), let (digits, e) = NumberWords.parseDigitString(t, at: ctxEnd) {
                if kind == "last_four" && digits.count == 4 { add("last_four", digits, ctxEnd, e); i = e; continue }
                if kind == "account" && (6...12).contains(digits.count) { add("account_number", digits, ctxEnd, e); i = e; continue }
                if kind == "card" && (13...19).contains(digits.count) { add("card_number", digits, ctxEnd, e); i = e; continue }
            }
            if !taken[i], (i == 0 || NumberWords.parseDigitString(t, at: i - 1) == nil),
               let (digits, e) = NumberWords.parseDigitString(t, at: i), !EntityExtractor.isAmountEnd(t, e),
               !EntityExtractor.looksLikeISODate(t, i, e) {
                // Long digit runs read out or typed in groups are card (13-19) or account (8-12) numbers.
                let groups = (i..<e).filter { t[$0].kind != .punct }.count
                if (13...19).contains(digits.count) { add("card_number", digits, i, e); i = e; continue }
                if (8...12).contains(digits.count) && (groups > 1 || t[i].kind == .number) { add("account_number", digits, i, e); i = e; continue }
            }
            i += 1
        }
        // 2. Money.
        i = 0
        while i < t.count {
            if !taken[i], let m = parseMoney(t, at: i), free(i, m.end) {
                add("amount", EntityExtractor.format(m.value, currency: m.currency), i, m.end, currency: m.currency)
                i = m.end
            } else { i += 1 }
        }
        // 3. Dates.
        i = 0
        while i < t.count {
            if !taken[i], let (day, e) = parseDate(t, at: i, reference: referenceDay, past: past), free(i, e) {
                add("date", day.iso, i, e); i = e
            } else { i += 1 }
        }
        // 4. Account types (longest phrase first) and bare currencies.
        i = 0
        while i < t.count {
            if !taken[i], let (value, e) = EntityExtractor.matchPhrase(t, i, EntityExtractor.accountPhrases), free(i, e) {
                add("account_type", value, i, e, role: accountRole(t, i))
                i = e
            } else if !taken[i], let (code, e) = EntityExtractor.currencyAt(t, i), free(i, e), !(t[i].lower == "us" && e == i + 1) {
                add("currency", code, i, e); i = e
            } else { i += 1 }
        }
        // 5. Recipients.
        i = 0
        while i < t.count {
            if !taken[i], let (value, a, e) = parseRecipient(t, at: i), free(a, e) {
                add("recipient", value, a, e); i = e
            } else { i += 1 }
        }
        // 6. Lookup tables from training data.
        for (type, table) in lookups.sorted(by: { $0.key < $1.key }) {
            let phrases = table.map { (entityTokens($0.key).map(\.lower), $0.value) }.sorted { $0.0.count > $1.0.count }
            i = 0
            while i < t.count {
                if !taken[i], let (value, e) = EntityExtractor.matchPhrase(t, i, phrases), free(i, e) {
                    add(type, value, i, e); i = e
                } else { i += 1 }
            }
        }
        // 7. Regular expressions from training data (whole tokens only).
        for (type, patterns) in regexes.sorted(by: { $0.key < $1.key }) {
            for p in patterns {
                guard let re = try? NSRegularExpression(pattern: p) else { continue }
                let ns = text as NSString
                for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                    guard let r = Range(m.range, in: text) else { continue }
                    let s = text.distance(from: text.startIndex, to: r.lowerBound)
                    let e = text.distance(from: text.startIndex, to: r.upperBound)
                    guard let a = t.firstIndex(where: { $0.start == s }), let b = t.firstIndex(where: { $0.end == e }),
                          free(a, b + 1) else { continue }
                    add(type, String(text[r]), a, b + 1)
                }
            }
        }
        // 8. Leftover numbers.
        i = 0
        while i < t.count {
            if !taken[i], let (v, e) = NumberWords.parse(t, at: i), free(i, e) {
                add("number", EntityExtractor.format(v, currency: nil), i, e); i = e
            } else { i += 1 }
        }
        if !synonyms.isEmpty {
            for k in found.indices { if let s = synonyms[found[k].text.lowercased()] { found[k].value = s } }
        }
        return found.sorted { $0.start < $1.start }
    }

    // MARK: Card and account numbers

    /// Phrases that announce a number: "ending in", "last four digits are", "card number",
    /// "account number". Returns the token after the phrase and what kind of number follows.
    private func numberContext(_ t: [EntityToken], _ i: Int) -> (Int, String)? {
        func w(_ k: Int) -> String { k < t.count ? t[k].lower : "" }
        if ["ending", "ends", "finishing"].contains(w(i)), ["in", "with"].contains(w(i + 1)) { return (i + 2, "last_four") }
        if w(i) == "last", ["four", "4"].contains(w(i + 1)) {
            var k = i + 2
            if ["digits", "numbers", "digit"].contains(w(k)) { k += 1 }
            if ["are", "is", "of"].contains(w(k)) { k += 1 }
            if w(k) == "my" { k += 1 }
            return (k, "last_four")
        }
        if ["card", "account"].contains(w(i)), w(i + 1) == "number" {
            var k = i + 2
            if ["is", "was", ":"].contains(w(k)) { k += 1 }
            return (k, w(i) == "card" ? "card" : "account")
        }
        return nil
    }

    /// "2026-03-03" typed as digits and dashes is a date, not an account number.
    static func looksLikeISODate(_ t: [EntityToken], _ a: Int, _ b: Int) -> Bool {
        b - a == 5 && t[a].lower.count == 4 && t[a + 1].lower == "-" && t[a + 3].lower == "-"
    }

    // MARK: Money

    static let currencyWords: [[String]: String] = [
        ["dollar"]: "USD", ["dollars"]: "USD", ["buck"]: "USD", ["bucks"]: "USD", ["usd"]: "USD",
        ["us", "dollars"]: "USD", ["american", "dollars"]: "USD", ["canadian", "dollars"]: "CAD", ["cad"]: "CAD",
        ["australian", "dollars"]: "AUD", ["aud"]: "AUD", ["euro"]: "EUR", ["euros"]: "EUR", ["eur"]: "EUR",
        ["pound"]: "GBP", ["pounds"]: "GBP", ["quid"]: "GBP", ["gbp"]: "GBP", ["sterling"]: "GBP",
        ["pounds", "sterling"]: "GBP", ["yen"]: "JPY", ["jpy"]: "JPY", ["swiss", "francs"]: "CHF", ["francs"]: "CHF",
        ["franc"]: "CHF", ["chf"]: "CHF", ["rupee"]: "INR", ["rupees"]: "INR", ["inr"]: "INR", ["yuan"]: "CNY",
        ["renminbi"]: "CNY", ["cny"]: "CNY", ["pesos"]: "MXN", ["mxn"]: "MXN",
    ]
    static let symbols: [String: String] = ["$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"]
    static let minorWords: [String: String] = ["cent": "USD", "cents": "USD", "pence": "GBP", "penny": "GBP", "p": "GBP"]
    static let currencyPhrases: [([String], String)] = currencyWords.map { ($0.key, $0.value) }.sorted { $0.0.count > $1.0.count }

    static func currencyAt(_ t: [EntityToken], _ i: Int) -> (String, Int)? {
        matchPhrase(t, i, currencyPhrases)
    }

    /// True when the token at `e` names a currency (so a digit run before it is an amount).
    static func isAmountEnd(_ t: [EntityToken], _ e: Int) -> Bool {
        currencyAt(t, e) != nil || (e < t.count && minorWords[t[e].lower] != nil)
    }

    struct Money { var value: Double; var currency: String?; var end: Int }

    /// "$1,200.50", "250 dollars", "two hundred and fifty dollars and 20 cents", "USD 100",
    /// "a hundred pounds", "50 cents", "300€". A number with no currency is not money.
    func parseMoney(_ t: [EntityToken], at i: Int) -> Money? {
        // symbol first: $ 1,200.50
        if t[i].kind == .symbol, let cur = EntityExtractor.symbols[t[i].lower], let (v, e) = NumberWords.parse(t, at: i + 1) {
            return Money(value: v, currency: cur, end: e)
        }
        // code first: USD 100
        if let (cur, e0) = EntityExtractor.currencyAt(t, i), t[i].lower.count == 3, let (v, e) = NumberWords.parse(t, at: e0),
           t[e0].kind == .number {
            return Money(value: v, currency: cur, end: e)
        }
        guard let (v, e) = NumberWords.parse(t, at: i) else { return nil }
        if e < t.count, t[e].kind == .symbol, let cur = EntityExtractor.symbols[t[e].lower] {
            return Money(value: v, currency: cur, end: e + 1)
        }
        if e < t.count, let cur = EntityExtractor.minorWords[t[e].lower], t[e].lower != "p" || t[i].kind == .number {
            return Money(value: v / 100, currency: cur, end: e + 1)
        }
        guard let (cur, e2) = EntityExtractor.currencyAt(t, e) else { return nil }
        var money = Money(value: v, currency: cur, end: e2)
        // "... dollars and fifty cents" / "... pounds 50" (pence)
        if e2 < t.count, t[e2].lower == "and", let (c, e3) = NumberWords.parse(t, at: e2 + 1), e3 < t.count,
           EntityExtractor.minorWords[t[e3].lower] != nil, c < 100 {
            money.value += c / 100; money.end = e3 + 1
        }
        return money
    }

    /// "250.00 USD" style normalisation: two decimals (none for yen).
    package static func format(_ v: Double, currency: String?) -> String {
        if currency == "JPY" { return String(Int(v.rounded())) }
        if currency == nil && v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        return String(format: "%.2f", v)
    }

    // MARK: Account types

    static let accountPhrases: [([String], String)] = [
        (["credit", "card"], "credit_card"), (["debit", "card"], "debit_card"), (["checking", "account"], "checking"),
        (["checking"], "checking"), (["chequing", "account"], "checking"), (["chequing"], "checking"),
        (["cheque", "account"], "checking"), (["current", "account"], "checking"), (["savings", "account"], "savings"),
        (["saving", "account"], "savings"), (["savings"], "savings"), (["joint", "account"], "joint"),
        (["business", "account"], "business"), (["loan", "account"], "loan"), (["mortgage", "account"], "mortgage"),
        (["mortgage"], "mortgage"),
    ].sorted { $0.0.count > $1.0.count }

    /// Matches the longest phrase of `phrases` (lower-cased words) at token `i`.
    static func matchPhrase(_ t: [EntityToken], _ i: Int, _ phrases: [([String], String)]) -> (String, Int)? {
        for (words, value) in phrases where !words.isEmpty && i + words.count <= t.count {
            var ok = true
            for (k, w) in words.enumerated() where t[i + k].lower != w { ok = false; break }
            if ok { return (value, i + words.count) }
        }
        return nil
    }

    /// "from my savings" → from; "to/into my checking" → to.
    private func accountRole(_ t: [EntityToken], _ i: Int) -> String? {
        var k = i - 1
        if k >= 0, ["my", "the", "our", "a"].contains(t[k].lower) { k -= 1 }
        guard k >= 0 else { return nil }
        switch t[k].lower {
        case "from", "out": return "from"
        case "to", "into", "onto": return "to"
        default: return nil
        }
    }

    // MARK: Recipients

    package static let relations: Set<String> = [
        "mother", "mom", "mum", "mummy", "mommy", "dad", "father", "daddy", "parents", "sister", "brother", "wife",
        "husband", "partner", "son", "daughter", "friend", "landlord", "landlady", "boss", "aunt", "uncle",
        "grandmother", "grandma", "granny", "grandfather", "grandpa", "cousin", "niece", "nephew", "girlfriend",
        "boyfriend", "fiance", "fiancee", "neighbour", "neighbor", "roommate", "flatmate", "colleague", "accountant",
        "babysitter", "nanny", "cleaner", "plumber", "electrician", "builder", "gardener", "tutor", "teacher",
        "doctor", "dentist", "lawyer", "mechanic", "employer", "employee", "tenant", "kids", "children", "child",
    ]
    static let notNames: Set<String> = [
        "i", "i'm", "i've", "i'd", "my", "the", "a", "an", "please", "can", "could", "would", "what", "how", "when",
        "why", "where", "who", "is", "it", "this", "that", "hi", "hello", "hey", "thanks", "thank", "yes", "no",
        "ok", "okay", "pin", "atm", "usd", "eur", "gbp", "visa", "mastercard", "today", "tomorrow", "yesterday",
        "me", "you", "we", "they", "he", "she", "us", "them", "account", "card", "bank", "dear", "sir", "madam",
        "transfer", "send", "pay", "move", "check", "open", "close", "change", "cancel", "block", "activate", "speak",
        "talk", "get", "make", "see", "know", "find", "help", "update", "reset", "apply", "dispute", "show", "tell",
    ]

    /// "to John Smith", "pay Mary", "to my landlord", "to my sister's account".
    /// Returns the value and the token span of the name.
    private func parseRecipient(_ t: [EntityToken], at i: Int) -> (String, Int, Int)? {
        guard ["to", "pay", "for", "send", "transfer", "give", "wire"].contains(t[i].lower) else { return nil }
        var k = i + 1
        if k < t.count, ["my", "our"].contains(t[k].lower) {
            k += 1
            guard k < t.count, t[k].kind == .word else { return nil }
            var w = t[k].lower
            let possessive = w.hasSuffix("'s")
            if possessive { w = String(w.dropLast(2)) }
            if EntityExtractor.relations.contains(w) || (possessive && !EntityExtractor.notNames.contains(w)) {
                var e = k + 1
                if possessive, e < t.count, t[e].lower == "account" { e += 1 }
                return (w, i + 1, e)
            }
            return nil
        }
        // Capitalised names (up to three words), not sentence words, months or weekdays.
        var names: [String] = []
        var e = k
        while e < t.count, names.count < 3, t[e].kind == .word, t[e].capitalized,
              !EntityExtractor.notNames.contains(t[e].lower), EntityExtractor.months[t[e].lower] == nil,
              EntityExtractor.weekdays[t[e].lower] == nil, EntityExtractor.currencyAt(t, e) == nil {
            var n = t[e].text
            if n.hasSuffix("'s") || n.hasSuffix("\u{2019}s") { n = String(n.dropLast(2)); names.append(n); e += 1; break }
            names.append(n); e += 1
        }
        guard !names.isEmpty else { return nil }
        if e < t.count, t[e].lower == "account" { e += 1 }
        return (names.joined(separator: " "), k, e)
    }
}
