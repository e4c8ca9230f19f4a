import Foundation

extension EntityExtractor {
    static let months: [String: Int] = [
        "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
        "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
        "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    ]
    static let weekdays: [String: Int] = [
        "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6, "sunday": 7,
    ]
    /// Words that put a bare weekday ("on Friday") in the past rather than the future.
    static let pastCues: Set<String> = [
        "was", "were", "did", "had", "ago", "yesterday", "charged", "paid", "made", "sent", "spent", "took",
        "happened", "bought", "withdrew", "received", "lost", "stolen", "transferred", "went", "got", "appeared",
    ]

    /// Reads a date starting at token `i`, normalised against `reference`.
    ///
    /// Conventions (documented in samples/bank/README.md too): "next Friday" is the first Friday
    /// strictly after the reference day, "last Friday" the last one strictly before it, "this
    /// Friday"/"on Friday" the first on or after it — or, when the sentence speaks of the past
    /// ("was charged on Friday"), the last one strictly before it. A month and day without a year
    /// take the reference year; "the 5th" alone is the 5th of the reference month.
    func parseDate(_ t: [EntityToken], at i: Int, reference ref: Day, past: Bool) -> (day: Day, end: Int)? {
        func w(_ k: Int) -> String { k < t.count ? t[k].lower : "" }
        // the day before yesterday / the day after tomorrow
        if w(i) == "the" && w(i + 1) == "day" {
            if w(i + 2) == "before" && w(i + 3) == "yesterday" { return (ref.adding(days: -2), i + 4) }
            if w(i + 2) == "after" && w(i + 3) == "tomorrow" { return (ref.adding(days: 2), i + 4) }
        }
        switch w(i) {
        case "today", "tonight": return (ref, i + 1)
        case "tomorrow": return (ref.adding(days: 1), i + 1)
        case "yesterday": return (ref.adding(days: -1), i + 1)
        default: break
        }
        // [next|last|this|coming|on] weekday
        var k = i
        let modifier = ["next", "last", "this", "coming", "past", "previous"].contains(w(k)) ? w(k) : nil
        if modifier != nil { k += 1 }
        if let wd = EntityExtractor.weekdays[w(k)] {
            let delta = wd - ref.weekday  // -6...6
            let ahead = delta > 0 ? delta : delta + 7        // strictly after: 1...7
            let onOrAfter = delta >= 0 ? delta : delta + 7   // 0...6
            let behind = delta < 0 ? -delta : 7 - delta      // strictly before: 1...7
            switch modifier {
            case "next": return (ref.adding(days: ahead), k + 1)
            case "last", "past", "previous": return (ref.adding(days: -behind), k + 1)
            case "this", "coming": return (ref.adding(days: onOrAfter), k + 1)
            default: return (past ? ref.adding(days: -behind) : ref.adding(days: onOrAfter), k + 1)
            }
        }
        // N days/weeks ago, in N days/weeks, a week ago
        if w(i) == "in", let (n, e) = countAt(t, i + 1), let unit = dayUnit(w(e)) {
            return (ref.adding(days: n * unit), e + 1)
        }
        if let (n, e) = countAt(t, i), let unit = dayUnit(w(e)), w(e + 1) == "ago" {
            return (ref.adding(days: -n * unit), e + 2)
        }
        // ISO 2026-03-03
        if t.indices.contains(i), t[i].kind == .number, t[i].lower.count == 4, w(i + 1) == "-",
           t.indices.contains(i + 4), t[i + 2].kind == .number, w(i + 3) == "-", t[i + 4].kind == .number,
           let y = Int(t[i].lower), let m = Int(t[i + 2].lower), let d = Int(t[i + 4].lower),
           let day = Day(year: y, month: m, day: d) {
            return (day, i + 5)
        }
        // month day [year]: "March 3rd", "March the third, 2025", "March 3"
        if let m = EntityExtractor.months[w(i)], w(i) != "may" || dayAt(t, i + 1) != nil {
            var k = i + 1
            if w(k) == "the" { k += 1 }
            if let (d, e) = dayAt(t, k) {
                let (y, e2) = yearAt(t, e) ?? (ref.year, e)
                if let day = Day(year: y, month: m, day: d) { return (day, e2) }
            }
        }
        // [the] day [of] month [year]: "3rd of March", "3 March", "the third of March"
        var s = i
        let hadThe = w(s) == "the"
        if hadThe { s += 1 }
        if let (d, e) = dayAt(t, s) {
            var k = e
            if w(k) == "of" { k += 1 }
            if let m = EntityExtractor.months[w(k)] {
                let (y, e2) = yearAt(t, k + 1) ?? (ref.year, k + 1)
                if let day = Day(year: y, month: m, day: d) { return (day, e2) }
            }
            // "the 5th" alone: this month's.
            if hadThe, t[s].kind == .ordinal || NumberWords.ordinalWords[t[s].lower] != nil || NumberWords.tens[t[s].lower] != nil,
               let day = Day(year: ref.year, month: ref.month, day: d) {
                return (day, e)
            }
        }
        return nil
    }

    /// A day of month 1...31 as an ordinal ("3rd", "third") or a plain number ("3").
    private func dayAt(_ t: [EntityToken], _ i: Int) -> (Int, Int)? {
        if let (d, e) = NumberWords.parseOrdinal(t, at: i), (1...31).contains(d) { return (d, e) }
        if i < t.count, t[i].kind == .number, t[i].lower.count <= 2, let d = Int(t[i].lower), (1...31).contains(d) { return (d, i + 1) }
        return nil
    }

    private func yearAt(_ t: [EntityToken], _ i: Int) -> (Int, Int)? {
        var k = i
        if k < t.count, t[k].lower == "," { k += 1 }
        if k < t.count, t[k].kind == .number, t[k].lower.count == 4, let y = Int(t[k].lower), (1900...2199).contains(y) { return (y, k + 1) }
        return nil
    }

    private func countAt(_ t: [EntityToken], _ i: Int) -> (Int, Int)? {
        guard i < t.count else { return nil }
        if t[i].lower == "a" || t[i].lower == "one" { return (1, i + 1) }
        if let (v, e) = NumberWords.parse(t, at: i), v >= 1, v < 1000, v == v.rounded() { return (Int(v), e) }
        return nil
    }

    private func dayUnit(_ w: String) -> Int? {
        switch w {
        case "day", "days": return 1
        case "week", "weeks": return 7
        default: return nil
        }
    }
}
