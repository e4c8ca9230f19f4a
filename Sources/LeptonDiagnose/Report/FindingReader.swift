import Foundation
import LeptonEngine

/// The report reader a pipeline uses: the rules, the Transformer, or both combined
/// (`lepton-diagnose analyze --report-reader`). A value is immutable and shared between threads.
public struct FindingReader: Sendable {
    public let kind: ReportReaderKind
    /// The Transformer head (nil for `rules`).
    public let model: TransformerFindingModel?
    public let extractor = FindingExtractor()

    /// The rule reader.
    public static let rules = FindingReader(rulesOnly: ())

    private init(rulesOnly: Void) { kind = .rules; model = nil }

    /// A reader of `kind` (default: the one the model's validation chose) with `model`.
    public init(model: TransformerFindingModel, kind: ReportReaderKind? = nil) {
        self.kind = kind ?? model.config.defaultReader
        self.model = self.kind == .rules ? nil : model
    }

    /// Which reader and model produced the findings, as outputs name it: `rules` alone, or the
    /// Transformer head's name, version (with the encoder) and weights hash.
    public var identity: ModelIdentity? { model?.identity }

    /// The findings of a report's text.
    public func analyze(_ text: String) -> ReportAnalysis {
        let rules = extractor.analyze(text)
        guard let model else { return rules }
        let mentions = extractor.mentions(text)
        let p = mentions.mentions.isEmpty ? [] : model.probabilities(model.features(mentions))
        return Self.decide(mentions: mentions, probabilities: p, rules: rules, config: model.config, kind: kind)
    }

    /// The findings of many reports (an evaluation): the same answers as ``analyze(_:)`` one by
    /// one, with each distinct sentence of all the reports encoded once, in packed batches.
    public func analyze(_ texts: [String]) -> [ReportAnalysis] {
        guard let model else { return texts.map { extractor.analyze($0) } }
        let mentions = texts.map { extractor.mentions($0) }
        let features = TransformerFindingModel.features(mentions, encoder: model.encoder, concepts: model.config.concepts.count)
        let p = features.shape[0] == 0 ? [] : model.probabilities(features)
        var start = 0
        return zip(texts, mentions).map { text, m in
            defer { start += m.mentions.count }
            return Self.decide(mentions: m, probabilities: Array(p[start..<(start + m.mentions.count)]), rules: extractor.analyze(text),
                               config: model.config, kind: kind)
        }
    }

    /// The decision rule of the Transformer and combined readers, given each mention's
    /// probability and the rules' analysis of the same text (``TransformerFindingTrainer`` chooses
    /// the thresholds with this very function).
    ///
    /// - Transformer: a finding is present when its most probable mention reaches `threshold`;
    ///   otherwise absent (the curated labels say only whether a finding was indexed, so the head
    ///   cannot learn "uncertain"). The report is abnormal when a finding is present or any
    ///   mention reaches `abnormalThreshold`.
    /// - Combined: `(1 − w)·p + w·[rules say present]` against `combinedThreshold` for each
    ///   finding, and the same with the rules' abnormal verdict for the report
    ///   (`abnormalRulesWeight`, `abnormalCombinedThreshold`); a finding that is not present keeps
    ///   the rules' `uncertain`.
    /// Evidence is the sentence of the most probable mention (the rules' sentence when the rules
    /// alone make it present).
    static func decide(mentions: ReportMentions, probabilities p: [Float], rules: ReportAnalysis,
                       config c: TransformerFindingConfig, kind: ReportReaderKind) -> ReportAnalysis {
        guard kind != .rules else { return rules }
        let k = ReportMentions.concepts.count
        var top = [Float](repeating: 0, count: k), topSentence = [Int?](repeating: nil, count: k)
        for (m, q) in zip(mentions.mentions, p) where q > top[m.concept] || topSentence[m.concept] == nil {
            top[m.concept] = max(top[m.concept], q); topSentence[m.concept] = m.sentence
        }
        let anyMention = p.max() ?? 0
        var findings: [ReportFinding] = []
        for (i, f) in FindingLexicon.allFindings.enumerated() {
            let ruled = rules.findings[i]
            let mentioned = topSentence[i] != nil || ruled.mentioned
            let evidence = topSentence[i].map { mentions.sentences[$0] }
            let status: FindingStatus
            switch kind {
            case .transformer: status = top[i] >= c.threshold && topSentence[i] != nil ? .present : .absent
            default:
                let mixed = (1 - c.rulesWeight) * top[i] + c.rulesWeight * (ruled.status == .present ? 1 : 0)
                status = mixed >= c.combinedThreshold && mentioned ? .present : (ruled.status == .uncertain ? .uncertain : .absent)
            }
            let shown = status == .present && topSentence[i] == nil ? ruled.evidence : (evidence ?? ruled.evidence)
            findings.append(ReportFinding(finding: f, status: status, evidence: mentioned ? shown : nil, mentioned: mentioned))
        }
        let firstPresent = findings.first { $0.status == .present }?.evidence
        let abnormal: Bool
        switch kind {
        case .transformer: abnormal = firstPresent != nil || (!p.isEmpty && anyMention >= c.abnormalThreshold)
        default:
            let mixed = (1 - c.abnormalRulesWeight) * anyMention + c.abnormalRulesWeight * (rules.abnormal ? 1 : 0)
            abnormal = firstPresent != nil || mixed >= c.abnormalCombinedThreshold
        }
        var evidence = firstPresent
        if abnormal && evidence == nil {
            let best = zip(mentions.mentions, p).max { $0.1 < $1.1 }
            evidence = best.map { mentions.sentences[$0.0.sentence] } ?? rules.abnormalEvidence
        }
        return ReportAnalysis(findings: findings, abnormal: abnormal, abnormalEvidence: abnormal ? evidence : nil)
    }
}
