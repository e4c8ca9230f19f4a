import Foundation

/// Reads numbers written as digits ("1,200.50") or spoken ("two hundred and fifty",
/// "a hundred", "twenty-five", "three point five", "2 thousand") from a token list.
enum NumberWords {
    static let units: [String: Int] = [
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
        "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    ]
    static let tens: [String: Int] = [
        "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90,
    ]
    static let scales: [String: Double] = ["thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "grand": 1_000]
    /// Single digits as read out in account numbers ("oh" and "o" for zero).
    static let digitWords: [String: Character] = [
        "zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4",
        "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    ]
    static let ordinalWords: [String: Int] = [
        "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
        "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
        "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
        "twentieth": 20, "thirtieth": 30,
    ]

    /// True when `word` is a word a spoken number can be made of.
    static func isNumberWord(_ word: String) -> Bool {
        units[word] != nil || tens[word] != nil || word == "hundred" || scales[word] != nil
    }

    /// Parses "1,200.50" (commas as thousands separators only in groups of three).
    static func parseDigits(_ s: String) -> Double? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let intPart = parts[0]
        let groups = intPart.split(separator: ",", omittingEmptySubsequences: false)
        if groups.count > 1 {
            guard let first = groups.first, (1...3).contains(first.count),
                  groups.dropFirst().allSatisfy({ $0.count == 3 }) else { return nil }
        }
        let plain = groups.joined() + (parts.count == 2 ? "." + parts[1] : "")
        return Double(plain)
    }

    /// Reads a number starting at token `i`.
    ///
    /// - Returns: the value and the index one past the last token used, or nil when no number
    ///   starts there. "a"/"an" count only before "hundred"/"thousand"/"million".
    static func parse(_ t: [EntityToken], at i: Int) -> (value: Double, end: Int)? {
        guard i < t.count else { return nil }
        if t[i].kind == .number {
            guard var v = parseDigits(t[i].lower) else { return nil }
            var j = i + 1
            if j < t.count, t[j].kind == .word {
                if t[j].lower == "hundred" { v *= 100; j += 1 }
                if j < t.count, let s = scales[t[j].lower] { v *= s; j += 1 }
                else if j < t.count, t[j].lower == "k" { v *= 1000; j += 1 }
            }
            return (v, j)
        }
        guard t[i].kind == .word else { return nil }
        var j = i
        var total = 0.0, current = 0.0
        var sawNumber = false
        // The last thing read, to refuse "four seven" (a digit string, not one number).
        enum Last { case none, unit, teen, ten, hundred, scale }
        var last = Last.none
        if ["a", "an"].contains(t[j].lower) {
            guard j + 1 < t.count, t[j + 1].lower == "hundred" || scales[t[j + 1].lower] != nil else { return nil }
            current = 1; last = .unit; sawNumber = true; j += 1
        }
        var end = j
        while j < t.count {
            let w = t[j].lower
            if let u = units[w] {
                if last == .unit || last == .teen { break }
                if last == .ten && u >= 10 { break }
                current += Double(u); last = u >= 10 ? .teen : .unit
            } else if let d = tens[w] {
                if last == .unit || last == .teen || last == .ten { break }
                current += Double(d); last = .ten
            } else if w == "hundred" {
                if last == .hundred || last == .none && !sawNumber { break }
                current = max(current, 1) * 100; last = .hundred
            } else if let s = scales[w] {
                if !sawNumber { break }
                total += max(current, 1) * s; current = 0; last = .scale
            } else if w == "and" && sawNumber, j + 1 < t.count, units[t[j + 1].lower] != nil || tens[t[j + 1].lower] != nil,
                      last == .hundred || last == .scale {
                j += 1; continue
            } else if w == "-" && (last == .ten), j + 1 < t.count, let u = units[t[j + 1].lower], u < 10 {
                j += 1; continue
            } else if w == "point" && sawNumber, j + 1 < t.count, digitWords[t[j + 1].lower] != nil {
                var frac = "0."
                var k = j + 1
                while k < t.count, let d = digitWords[t[k].lower] { frac.append(d); k += 1 }
                current += Double(frac) ?? 0
                j = k; end = k; sawNumber = true; last = .teen
                continue
            } else {
                break
            }
            sawNumber = true
            j += 1
            end = j
        }
        guard sawNumber else { return nil }
        return (total + current, end)
    }

    /// Reads a day-of-month ordinal at token `i`: "3rd", "21st", "third", "twenty first", "twenty-first".
    static func parseOrdinal(_ t: [EntityToken], at i: Int) -> (day: Int, end: Int)? {
        guard i < t.count else { return nil }
        if t[i].kind == .ordinal, let d = Int(t[i].lower) { return (d, i + 1) }
        if let d = ordinalWords[t[i].lower] { return (d, i + 1) }
        if let d = tens[t[i].lower] {
            var j = i + 1
            if j < t.count, t[j].lower == "-" { j += 1 }
            if j < t.count, let u = ordinalWords[t[j].lower], u < 10 { return (d + u, j + 1) }
        }
        return nil
    }

    /// Reads a run of digits spoken or written one group at a time ("four seven two one",
    /// "4721", "1234 5678", "double seven") starting at token `i`, allowing `-` between groups.
    static func parseDigitString(_ t: [EntityToken], at i: Int) -> (digits: String, end: Int)? {
        var digits = ""
        var j = i, end = i
        while j < t.count {
            let tok = t[j]
            if tok.kind == .number, tok.lower.allSatisfy({ $0.isASCII && $0.isNumber }) {
                digits += tok.lower
            } else if tok.kind == .word, let d = digitWords[tok.lower], !(tok.lower == "o" && digits.isEmpty) {
                digits.append(d)
            } else if tok.kind == .word, ["double", "triple"].contains(tok.lower), j + 1 < t.count,
                      let d = digitWords[t[j + 1].lower] {
                digits += String(repeating: String(d), count: tok.lower == "double" ? 2 : 3)
                j += 1
            } else if tok.lower == "-" && !digits.isEmpty {
                j += 1; continue
            } else {
                break
            }
            j += 1
            end = j
        }
        return digits.isEmpty ? nil : (digits, end)
    }
}
