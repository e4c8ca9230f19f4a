import Foundation

/// One token of an utterance as the entity extractor sees it: a word, a number, an ordinal
/// ("3rd"), a currency symbol or a single punctuation mark, with its place in the original text.
package struct EntityToken: Sendable {
    package enum Kind: Sendable { case word, number, ordinal, symbol, punct }
    package var kind: Kind
    /// The token as written.
    package var text: String
    /// Lower-cased text (apostrophes normalised to `'`).
    package var lower: String
    /// Character offsets (Swift `Character`s) into the original utterance, `start..<end`.
    package var start: Int
    package var end: Int
    /// True when the token's first letter is upper-case (names).
    package var capitalized: Bool
}

/// Splits an utterance into ``EntityToken``s.
///
/// Digits keep their inner `,` and `.` when a digit follows ("1,200.50"), a digit run directly
/// followed by `st`/`nd`/`rd`/`th` is one ordinal token, and words keep inner apostrophes
/// ("sister's"), so that the patterns in ``EntityExtractor`` can work token by token.
package func entityTokens(_ text: String) -> [EntityToken] {
    let chars = Array(text)
    var tokens: [EntityToken] = []
    var i = 0
    func isApostrophe(_ c: Character) -> Bool { c == "'" || c == "\u{2019}" }
    while i < chars.count {
        let c = chars[i]
        if c.isWhitespace { i += 1; continue }
        let start = i
        if c.isNumber && c.isASCII {
            i += 1
            while i < chars.count {
                if chars[i].isASCII && chars[i].isNumber { i += 1; continue }
                if (chars[i] == "," || chars[i] == "."), i + 1 < chars.count, chars[i + 1].isASCII, chars[i + 1].isNumber {
                    i += 2; continue
                }
                break
            }
            let digits = String(chars[start..<i])
            // Ordinal suffix directly attached: 3rd, 21st, 5th.
            if i + 1 < chars.count {
                let suffix = String(chars[i...min(i + 1, chars.count - 1)]).lowercased()
                let after = i + 2 < chars.count ? chars[i + 2] : " "
                if ["st", "nd", "rd", "th"].contains(suffix) && !after.isLetter {
                    i += 2
                    tokens.append(EntityToken(kind: .ordinal, text: String(chars[start..<i]), lower: digits,
                                              start: start, end: i, capitalized: false))
                    continue
                }
            }
            tokens.append(EntityToken(kind: .number, text: digits, lower: digits, start: start, end: i, capitalized: false))
        } else if c.isLetter {
            i += 1
            while i < chars.count {
                if chars[i].isLetter || (chars[i].isNumber && !chars[i].isASCII) { i += 1; continue }
                if isApostrophe(chars[i]), i + 1 < chars.count, chars[i + 1].isLetter { i += 2; continue }
                break
            }
            let word = String(chars[start..<i])
            let lower = word.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
            tokens.append(EntityToken(kind: .word, text: word, lower: lower, start: start, end: i,
                                      capitalized: c.isUppercase))
        } else if "$€£¥₹".contains(c) {
            i += 1
            tokens.append(EntityToken(kind: .symbol, text: String(c), lower: String(c), start: start, end: i, capitalized: false))
        } else {
            i += 1
            tokens.append(EntityToken(kind: .punct, text: String(c), lower: String(c), start: start, end: i, capitalized: false))
        }
    }
    return tokens
}
