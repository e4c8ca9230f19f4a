import Foundation

/// One entity found in an utterance, with its normalised value.
///
/// | `type` | `value` | extra |
/// |---|---|---|
/// | `amount` | decimal string, "250.00" ("500" for yen) | `currency`: ISO 4217 code, nil when none was said |
/// | `currency` | ISO 4217 code ("EUR") | |
/// | `date` | ISO day "2026-03-03" | |
/// | `account_type` | checking, savings, credit_card, debit_card, joint, business, loan, mortgage | `role`: from / to |
/// | `card_number` | 13-19 digits | |
/// | `account_number` | 6-12 digits | |
/// | `last_four` | 4 digits | |
/// | `recipient` | a name ("John Smith") or a relation ("landlord") | |
/// | `number` | a number not part of anything above ("250") | |
public struct Entity: Codable, Equatable, Sendable {
    /// The entity type (see the table above).
    public var type: String
    /// The normalised value.
    public var value: String
    /// The text as written in the utterance.
    public var text: String
    /// Character offsets into the utterance, `start..<end`.
    public var start: Int
    public var end: Int
    /// Currency of an `amount` (ISO 4217).
    public var currency: String?
    /// Role of an `account_type`: "from" or "to" when the utterance says so.
    public var role: String?

    public init(type: String, value: String, text: String, start: Int, end: Int,
                currency: String? = nil, role: String? = nil) {
        self.type = type; self.value = value; self.text = text; self.start = start; self.end = end
        self.currency = currency; self.role = role
    }

    /// True for entities that identify a card or an account: they are masked in logs.
    public var isSensitive: Bool { type == "card_number" || type == "account_number" }

    /// The entity as it may appear in logs and stored history: card and account numbers keep
    /// only their last four digits ("************1234").
    public var masked: Entity {
        guard isSensitive else { return self }
        var e = self
        e.value = maskDigits(value)
        e.text = maskDigits(text)
        return e
    }
}

/// Replaces every digit but the last four of `s` with `*` (other characters are kept).
public func maskDigits(_ s: String) -> String {
    let total = s.filter { $0.isASCII && $0.isNumber }.count
    var seen = 0
    return String(s.map { c -> Character in
        guard c.isASCII && c.isNumber else { return c }
        seen += 1
        return seen <= total - 4 ? "*" : c
    })
}

/// Masks runs of 6 or more digits (optionally split by spaces or dashes) inside free text, for
/// log lines that quote what a caller said.
public func maskNumbersInText(_ s: String) -> String {
    let chars = Array(s)
    var out = ""
    var i = 0
    while i < chars.count {
        if chars[i].isASCII && chars[i].isNumber {
            var j = i, digits = 0
            var lastDigitEnd = i
            while j < chars.count {
                if chars[j].isASCII && chars[j].isNumber { digits += 1; j += 1; lastDigitEnd = j; continue }
                if (chars[j] == " " || chars[j] == "-"), j + 1 < chars.count, chars[j + 1].isASCII, chars[j + 1].isNumber { j += 1; continue }
                break
            }
            let run = String(chars[i..<lastDigitEnd])
            out += digits >= 6 ? maskDigits(run) : run
            i = lastDigitEnd
        } else {
            out.append(chars[i]); i += 1
        }
    }
    return out
}
