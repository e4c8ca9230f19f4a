import Foundation

/// Removes personal identifiers from report sentences before they are shown as evidence.
///
/// Report text is free prose, so names are found by context, not by a dictionary:
/// - values from the study's own DICOM header (identifiers, and the parts of person names such as
///   `Doe^Archibald`), as whole words in any case;
/// - the value after an identifier keyword (`MRN 1234`, `DOB: …`, `accession #A-77`), however short;
/// - capitalised words after a title or a patient keyword (`Dr. Jones`, `Mrs O'Brien`, `patient John Smith`);
/// - capitalised words right before an identifier or an age (`John Smith (MRN …)`, `Smith, John, DOB …`,
///   `Jane Roe, a 67-year-old woman`);
/// - runs of two or three capitalised words that do not start with a common report word
///   (`John Smith has …`; but not `Right Lower Lobe`, `Chest X-ray`, `Kerley B lines`);
/// - dates, phone numbers and digit runs of 5 or more.
/// A lone capitalised surname without any such context (`Smith has pneumonia`) is not recognised.
struct TextScrubber: Sendable {
    static let name = "[name]"
    static let redacted = "[redacted]"

    /// A capitalised word: upper-case first letter and at least one lower-case letter (so `PA`,
    /// `CT`, `MRN` are not names), with inner hyphens/apostrophes (`O'Brien`, `Smith-Jones`, `McDonald`).
    static let word = #"[A-Z][A-Za-z'’\-]*[a-z][A-Za-z'’\-]*"#
    /// A name: 1–3 capitalised words or initials (`J.`), optionally `Surname, Given`.
    static let nameRun = #"((?:[A-Z]\.\s?)?\#(word)(?:\s+(?:[A-Z]\.|\#(word))){0,2}(?:,\s*\#(word))?)"#
    static let idKeyword = #"(?:MRN|MR\s?#|MR number|medical record(?: number| no\.?)?|patient ID|ID|accession(?: number| no\.?)?|acc(?:ession)?\s?#|DOB|D\.O\.B\.|date of birth|SSN|NHS(?: number| no\.?)?)"#
    /// Titles and patient keywords, in any case ("Patient", "PT", "dr").
    static let titles = #"(?i:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Doctor|Professor|Sir|Dame|patient name|patient|pt|name)"#
    static let months = #"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"#

    /// Words that start or fill capitalised runs in reports without being names.
    static let reportWords: Set<String> = [
        "a", "an", "the", "no", "not", "there", "this", "these", "that", "there's", "it", "is", "are", "and", "or", "with",
        "without", "since", "in", "on", "of", "at", "as", "for", "from", "to", "by", "per", "if", "again", "also",
        "otherwise", "however", "compared", "comparison", "findings", "finding", "impression", "indication", "history",
        "technique", "exam", "examination", "study", "report", "clinical", "reason", "right", "left", "upper", "lower",
        "middle", "mid", "lobe", "lobes", "lung", "lungs", "chest", "heart", "cardiac", "cardiomediastinal", "mediastinal",
        "mediastinum", "hilar", "pulmonary", "pleural", "bony", "osseous", "thoracic", "spine", "aorta", "aortic",
        "diaphragm", "costophrenic", "trachea", "pa", "ap", "lateral", "frontal", "view", "views", "portable", "upright",
        "supine", "x-ray", "xray", "x-rays", "radiograph", "radiographs", "ct", "mri", "stable", "unchanged", "new",
        "normal", "abnormal", "mild", "mildly", "moderate", "severe", "small", "large", "minimal", "bilateral", "acute",
        "chronic", "prior", "previous", "interval", "degenerative", "limited", "likely", "possible", "probable",
        "suspected", "consistent", "recommend", "recommended", "follow-up", "followup", "negative", "positive",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
        "april", "may", "june", "july", "august", "september", "october", "november", "december", "emergency",
        "department", "hospital", "clinic", "icu", "radiology", "radiologist", "attending", "resident", "discussed",
        "called", "reported", "dictated", "signed", "electronically", "preliminary", "final", "addendum", "note",
    ]

    let headerValues: [String]

    /// `headerValues`: identifiers and person names from the study's header (DICOM `^`-separated
    /// names are split into parts; parts shorter than 2 letters are ignored).
    init(headerValues: [String]) {
        var parts: Set<String> = []
        for v in headerValues {
            let t = v.trimmingCharacters(in: .whitespaces)
            guard t.count >= 2 else { continue }
            parts.insert(t)
            for p in t.split(whereSeparator: { $0 == "^" || $0 == " " || $0 == "=" || $0 == "," }) where p.count >= 2 {
                parts.insert(String(p).trimmingCharacters(in: CharacterSet(charactersIn: ".")))
            }
        }
        // Longest first, so a full value goes before its parts.
        self.headerValues = parts.filter { $0.count >= 2 }.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    func scrub(_ text: String) -> String {
        var out = text
        for v in headerValues {
            out = replace(#"(?<![\p{L}\p{N}])"# + NSRegularExpression.escapedPattern(for: v) + #"(?![\p{L}\p{N}])"#,
                          in: out, caseInsensitive: true) { _ in Self.redacted }
        }
        let k = Self.idKeyword
        // The value after an identifier keyword (must hold a digit: "ID" alone in prose stays).
        out = replace(#"\b(\#(k))(?![A-Za-z])(\s*(?:no\.?|number|#)?\s*[:#]?\s*)([A-Za-z0-9][A-Za-z0-9/.\-]*\d[A-Za-z0-9/.\-]*)"#,
                      in: out, caseInsensitive: true) { $0[1] + $0[2] + Self.redacted }
        // Names right before an identifier, a date of birth or an age.
        let marker = #"(?=\s*[(,]?\s*(?:\#(k)\b|born\b|aged?\b|(?:a|an)?\s*\d{1,3}[\s-]*(?:years?|yrs?|y/?o|yo)\b|\d{1,3}\s?[MF]\b))"#
        out = replace(#"\b\#(Self.nameRun)\#(marker)"#, in: out) { Self.nameOnly($0[0]) }
        // Names after a title or a patient keyword; the title stays.
        out = replace(#"\b(\#(Self.titles))(\.?:?\s+)\#(Self.nameRun)"#, in: out) { $0[1] + $0[2] + Self.nameOnly($0[3]) }
        // Runs of 2-3 capitalised words that are not report vocabulary.
        out = replace(#"\b\#(Self.word)(?:\s+\#(Self.word)){1,2}\b"#, in: out) { m in
            let words = m[0].split(separator: " ").map { $0.lowercased() }
            return words.contains { Self.reportWords.contains($0) } ? m[0] : Self.name
        }
        // Dates (numeric and with month names), phone numbers, long digit runs.
        for pattern in [#"\b\d{1,4}[/.\-]\d{1,2}[/.\-]\d{2,4}\b"#,
                        #"\b\#(Self.months)\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"#,
                        #"\b\d{1,2}(?:st|nd|rd|th)?\s+\#(Self.months)\s+\d{4}\b"#,
                        #"(?:\+\d{1,3}[\s.\-]?)?\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}\b"#,
                        #"\d{5,}"#] {
            out = replace(pattern, in: out) { _ in Self.redacted }
        }
        return out
    }

    /// `run` with its leading report words and titles kept ("Comparison", "Patient") and the rest,
    /// if any, replaced by `[name]`.
    static func nameOnly(_ run: String) -> String {
        var kept: [Substring] = []
        var rest = run[...]
        while let space = rest.firstIndex(where: { $0 == " " || $0 == "," }) {
            let w = rest[..<space]
            let bare = w.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".:"))
            guard reportWords.contains(bare) || titleWords.contains(bare) else { break }
            kept.append(rest[...space])
            rest = rest[rest.index(after: space)...]
        }
        let bare = rest.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".:, "))
        if rest.isEmpty || reportWords.contains(bare) || titleWords.contains(bare) { return run }
        return kept.joined() + name
    }

    static let titleWords: Set<String> = ["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "doctor", "professor", "sir", "dame", "patient", "pt", "name"]

    /// Replaces every match of `pattern`; `make` gets the match's groups (0 = whole match, "" when a
    /// group did not take part).
    private func replace(_ pattern: String, in text: String, caseInsensitive: Bool = false, _ make: ([String]) -> String) -> String {
        guard let re = try? NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : []) else {
            // The patterns are constants; failing to compile one is a programming error caught by the tests.
            assertionFailure("bad pattern \(pattern)")
            return text
        }
        let ns = text as NSString
        var out = "", last = 0
        for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            out += ns.substring(with: NSRange(location: last, length: m.range.location - last))
            let groups = (0..<m.numberOfRanges).map { i -> String in
                let r = m.range(at: i)
                return r.location == NSNotFound ? "" : ns.substring(with: r)
            }
            out += make(groups)
            last = m.range.location + m.range.length
        }
        return out + ns.substring(from: last)
    }
}
