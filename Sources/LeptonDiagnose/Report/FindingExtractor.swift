import Foundation

/// What a report says about one finding.
public enum FindingStatus: String, Sendable, Codable, Comparable {
    case absent, uncertain, present

    var rank: Int { self == .present ? 3 : (self == .uncertain ? 2 : 1) }
    public static func < (a: FindingStatus, b: FindingStatus) -> Bool { a.rank < b.rank }
}

/// One finding of a report with the sentence that decided it (nil when the report never mentions it,
/// in which case the status is `absent`).
public struct ReportFinding: Sendable, Codable, Equatable {
    public let finding: String
    public let status: FindingStatus
    public let evidence: String?
    public let mentioned: Bool
}

/// Findings of one report and whether it is abnormal.
public struct ReportAnalysis: Sendable {
    /// All findings of `FindingLexicon.allFindings`, in that order.
    public let findings: [ReportFinding]
    /// True when any finding or other abnormality is stated as present.
    public let abnormal: Bool
    /// The sentence that made the report abnormal (first present mention), when abnormal.
    public let abnormalEvidence: String?

    public func status(_ finding: String) -> FindingStatus {
        findings.first { $0.finding == finding }?.status ?? .absent
    }
}

/// NegEx-style finding extraction (Chapman et al. 2001, adapted to chest X-ray reports):
/// sentences are tokenised, cue phrases tagged (longest match first, pseudo-triggers masking the
/// cues they contain), and a finding mention is negated or uncertain when a cue of that kind lies
/// within `scopeWindow` tokens before (pre-cue) or after (post-cue) it without a scope terminator
/// in between. Among several mentions of a finding, present beats uncertain beats absent.
public struct FindingExtractor: Sendable {
    enum Cue: UInt8 { case none, preNeg, postNeg, preUnc, postUnc, pseudo, cont, terminator }

    let concepts: [(String, [NSRegularExpression])]
    let other: [NSRegularExpression]
    let cueTable: [(Cue, [String])]
    let window: Int

    public init() {
        func compile(_ p: String) -> NSRegularExpression? { try? NSRegularExpression(pattern: #"\b"# + p + #"\b"#) }
        concepts = FindingLexicon.allFindings.map { f in (f, (FindingLexicon.patterns[f] ?? []).compactMap(compile)) }
        other = FindingLexicon.otherAbnormal.compactMap(compile)
        var table: [(Cue, [String])] = []
        // A phrase in both lists ("versus") is tagged as a pre-cue (first list wins on equal length):
        // "A versus B" then leaves A present, which is how the IU curators index it (tuned on dev).
        for (cue, list) in [(Cue.pseudo, FindingLexicon.pseudoTriggers), (.preUnc, FindingLexicon.preUncertainty),
                            (.postUnc, FindingLexicon.postUncertainty), (.preNeg, FindingLexicon.preNegation),
                            (.postNeg, FindingLexicon.postNegation)] {
            for phrase in list { table.append((cue, phrase.split(separator: " ").map(String.init))) }
        }
        cueTable = table
        window = FindingLexicon.scopeWindow
    }

    /// Splits text into sentences: after `.`, `!` or `?` followed by white space, and at line breaks.
    public static func sentences(_ text: String) -> [String] {
        var out: [String] = [], cur = ""
        var prevEnd = false
        for ch in text {
            if ch == "\n" || ch == "\r" {
                if !cur.trimmingCharacters(in: .whitespaces).isEmpty { out.append(cur) }
                cur = ""; prevEnd = false; continue
            }
            if prevEnd && ch.isWhitespace {
                if !cur.trimmingCharacters(in: .whitespaces).isEmpty { out.append(cur) }
                cur = ""; prevEnd = false; continue
            }
            cur.append(ch)
            prevEnd = ch == "." || ch == "!" || ch == "?"
        }
        if !cur.trimmingCharacters(in: .whitespaces).isEmpty { out.append(cur) }
        return out.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Lower-case tokens: runs of ASCII letters/digits, and `, ; : ?` as tokens of their own.
    public static func tokens(_ s: String) -> [String] {
        var out: [String] = [], cur = ""
        for u in s.lowercased().unicodeScalars {
            if (u >= "a" && u <= "z") || (u >= "0" && u <= "9") { cur.unicodeScalars.append(u); continue }
            if !cur.isEmpty { out.append(cur); cur = "" }
            if u == "," || u == ";" || u == ":" || u == "?" { out.append(String(u)) }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    func tagCues(_ t: [String]) -> [Cue] {
        var tags = [Cue](repeating: .none, count: t.count)
        var i = 0
        while i < t.count {
            var best: (Cue, Int)? = nil
            for (cue, words) in cueTable where words.count > (best?.1 ?? 0) && i + words.count <= t.count {
                var match = true
                for k in 0..<words.count where t[i + k] != words[k] { match = false; break }
                if match { best = (cue, words.count) }
            }
            if let (cue, n) = best {
                tags[i] = cue
                for k in 1..<max(n, 1) { tags[i + k] = .cont }
                i += n
            } else {
                if FindingLexicon.scopeTerminators.contains(t[i]) { tags[i] = .terminator }
                i += 1
            }
        }
        return tags
    }

    /// Status of the mention covering tokens `s..<e`.
    func status(_ tags: [Cue], _ s: Int, _ e: Int) -> FindingStatus {
        func inScope(pre: Cue, post: Cue) -> Bool {
            var j = s - 1
            while j >= 0 && s - j <= window {
                if tags[j] == .terminator { break }
                if tags[j] == pre { return true }
                j -= 1
            }
            j = e
            while j < tags.count && j - e < window {
                if tags[j] == .terminator { break }
                if tags[j] == post { return true }
                j += 1
            }
            return false
        }
        for j in s..<max(e, s) where tags[j] == .preNeg { return .absent }  // "heart is not enlarged"
        if inScope(pre: .preNeg, post: .postNeg) { return .absent }
        if inScope(pre: .preUnc, post: .postUnc) { return .uncertain }
        return .present
    }

    /// Finds every finding in `text` (all sections joined).
    public func analyze(_ text: String) -> ReportAnalysis {
        var best: [String: (FindingStatus, String)] = [:]
        var abnormalEvidence: String? = nil
        for sentence in FindingExtractor.sentences(text) {
            let t = FindingExtractor.tokens(sentence)
            if t.isEmpty { continue }
            let tags = tagCues(t)
            let norm = t.joined(separator: " ")
            var starts: [Int] = [], pos = 0
            for w in t { starts.append(pos); pos += w.utf16.count + 1 }
            let ns = norm as NSString
            func span(_ r: NSRange) -> (Int, Int) {
                var s = 0, e = 0
                for (k, x) in starts.enumerated() {
                    if x <= r.location { s = k }
                    if x < r.location + r.length { e = k + 1 }
                }
                return (s, e)
            }
            func mentions(_ regs: [NSRegularExpression]) -> FindingStatus? {
                var top: FindingStatus? = nil
                for re in regs {
                    for m in re.matches(in: norm, range: NSRange(location: 0, length: ns.length)) {
                        let (s, e) = span(m.range)
                        let st = status(tags, s, e)
                        if top == nil || st > top! { top = st }
                    }
                }
                return top
            }
            for (finding, regs) in concepts {
                guard let st = mentions(regs) else { continue }
                if let prev = best[finding], prev.0 >= st { continue }
                best[finding] = (st, sentence)
            }
            if abnormalEvidence == nil, mentions(other) == .present { abnormalEvidence = sentence }
        }
        let findings = FindingLexicon.allFindings.map { f -> ReportFinding in
            if let (st, ev) = best[f] { return ReportFinding(finding: f, status: st, evidence: ev, mentioned: true) }
            return ReportFinding(finding: f, status: .absent, evidence: nil, mentioned: false)
        }
        let firstPresent = findings.first { $0.status == .present }?.evidence
        let abnormal = firstPresent != nil || abnormalEvidence != nil
        return ReportAnalysis(findings: findings, abnormal: abnormal, abnormalEvidence: firstPresent ?? abnormalEvidence)
    }
}
