import Foundation
import LeptonEngine
import LeptonText

/// A split of labelled reports into parts (`file,split` CSV, written by `scripts/split-reports.py`).
public struct ReportSplit: Sendable {
    /// `file` column → part name (train, validation, test).
    public let parts: [String: String]

    public init(contentsOf url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw DiagnoseError.badLabels(file: url.path, line: 0, reason: error.localizedDescription)
        }
        var parts: [String: String] = [:]
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let cols = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if n == 0 {
                guard cols == ["file", "split"] else { throw DiagnoseError.badLabels(file: url.path, line: 1, reason: "header must be file,split") }
                continue
            }
            guard cols.count == 2, !cols[0].isEmpty, !cols[1].isEmpty else {
                throw DiagnoseError.badLabels(file: url.path, line: n + 1, reason: "expected file,split")
            }
            parts[cols[0]] = cols[1]
        }
        self.parts = parts
    }

    /// The files of part `name`.
    /// - Throws: `badLabels` when the part is empty (a misspelt part must not score nothing).
    public func files(_ name: String, source: String) throws -> Set<String> {
        let set = Set(parts.filter { $0.value == name }.keys)
        if set.isEmpty {
            let known = Set(parts.values).sorted().joined(separator: ", ")
            throw DiagnoseError.badLabels(file: source, line: 0, reason: "no report in part '\(name)' (parts: \(known))")
        }
        return set
    }
}

/// What ``TransformerFindingTrainer`` measured: each reader on validation (where every choice
/// was made) and on test (scored once, after the choices).
public struct ReportReaderComparison: Sendable {
    public var validation: [ReportReaderKind: ReportEvaluation] = [:]
    public var test: [ReportReaderKind: ReportEvaluation] = [:]
    /// Mentions and reports per part.
    public var mentions: [String: Int] = [:], reports: [String: Int] = [:]
    /// Validation score of each inverse regularisation tried (the transformer reader's criterion).
    public var regularization: [(Float, Double)] = []
    public var encodingSeconds = 0.0, fittingSeconds = 0.0
}

/// Trains the Transformer report reader's head on the `train` part of a split, makes every choice
/// on `validation` and scores the rule, Transformer and combined readers on `test`.
///
/// Each mention of a finding takes its report's curated label for that finding (the `other`
/// mentions take the report's normal/abnormal label): a report's findings are what its mentions
/// say, and a report that indexes a finding almost always states it in every mention of it. The
/// head is an L2-regularised logistic regression fitted by the engine's full-batch ``LBFGS``
/// (convex, so the result does not depend on a seed), as lepton-chat fits its intent heads.
///
/// Choices on validation, all by the criterion `(macro-F1 of the five main findings + abnormal F1) / 2`:
/// the inverse regularisation `C` ∈ {1, 10, 100}; the finding and abnormal thresholds (0.05 … 0.95);
/// the combined reader's rules weights (0.1 … 0.9) and thresholds; the default reader.
public enum TransformerFindingTrainer {
    public static let regularizations: [Float] = [1, 10, 100]
    static let grid: [Float] = stride(from: Float(0.05), through: 0.951, by: 0.05).map { ($0 * 100).rounded() / 100 }
    static let weights: [Float] = stride(from: Float(0.1), through: 0.91, by: 0.1).map { ($0 * 10).rounded() / 10 }

    /// One part's reports, with everything the decision rule needs.
    struct Part {
        var reports: [LabeledReport] = []
        var mentions: [ReportMentions] = []
        var rules: [ReportAnalysis] = []
        var features = Tensor(shape: [0])
        var labels: [Float] = []
        /// Row range of each report's mentions in `features`.
        var rows: [Range<Int>] = []
    }

    /// - Parameters:
    ///   - findingsCSV: labels in the `findings.csv` layout.
    ///   - split: which part each report belongs to (train, validation, test).
    ///   - version: the version outputs will name (e.g. the training date).
    ///   - log: progress lines.
    ///   - encoderFolder: the MiniLM folder (default: the bootstrapped all-MiniLM-L6-v2).
    public static func train(findingsCSV: URL, split: ReportSplit, splitSource: String, encoderFolder: URL = ModelCache.miniLM,
                             reader: ReportReader = ReportReader(), version: String,
                             log: (String) -> Void = { _ in }) throws -> (TransformerFindingModel, ReportReaderComparison) {
        let encoder: SentenceEncoder
        do { encoder = try SentenceEncoder(folder: encoderFolder) } catch {
            throw DiagnoseError.badModel(path: encoderFolder.path, reason: "the report reader's sentence encoder: \(error)")
        }
        let extractor = FindingExtractor()
        var comparison = ReportReaderComparison()
        var parts: [String: Part] = [:]
        let t0 = Date()
        for name in ["train", "validation", "test"] {
            let (rows, _) = try ReportEvaluation.labeledReports(findingsCSV: findingsCSV, files: try split.files(name, source: splitSource),
                                                                 reader: reader)
            var part = Part(reports: rows)
            part.mentions = rows.map { extractor.mentions($0.text) }
            part.rules = rows.map { extractor.analyze($0.text) }
            part.features = TransformerFindingModel.features(part.mentions, encoder: encoder, concepts: ReportMentions.concepts.count) {
                if $0 == $1 { log("\(name): encoded \($1) distinct sentences") }
            }
            var start = 0
            for (r, m) in zip(rows, part.mentions) {
                part.rows.append(start..<(start + m.mentions.count)); start += m.mentions.count
                let truth = Dictionary(uniqueKeysWithValues: r.findings)
                for mention in m.mentions {
                    let concept = ReportMentions.concepts[mention.concept]
                    let y = concept == ReportMentions.otherConcept ? (r.abnormal ?? false) : (truth[concept] ?? false)
                    part.labels.append(y ? 1 : 0)
                }
            }
            comparison.mentions[name] = start; comparison.reports[name] = rows.count
            log("\(name): \(rows.count) reports, \(start) mentions")
            parts[name] = part
        }
        comparison.encodingSeconds = Date().timeIntervalSince(t0)
        let train = parts["train"]!, validation = parts["validation"]!, test = parts["test"]!
        guard train.labels.contains(1), train.labels.contains(0) else {
            throw DiagnoseError.badLabels(file: findingsCSV.path, line: 0, reason: "the train part needs mentions of present and absent findings")
        }

        let t1 = Date()
        var config = TransformerFindingConfig(version: version, encoder: encoder.identifier, concepts: ReportMentions.concepts,
                                              threshold: 0.5, abnormalThreshold: 0.5, rulesWeight: 0.5, combinedThreshold: 0.5,
                                              abnormalRulesWeight: 0.5, abnormalCombinedThreshold: 0.5, defaultReader: .transformer,
                                              inverseRegularization: 1)
        var best: (score: Double, head: Linear, config: TransformerFindingConfig, p: [Float])? = nil
        for c in regularizations {
            let head = TransformerFindingModel.emptyHead(encoder: encoder, concepts: ReportMentions.concepts.count)
            fit(head, features: train.features, labels: train.labels, inverseRegularization: c)
            let p = probabilities(head, validation.features)
            var candidate = config
            candidate.inverseRegularization = c
            let score = chooseThresholds(&candidate, part: validation, probabilities: p)
            comparison.regularization.append((c, score))
            log(String(format: "C %g: validation criterion %.4f (threshold %.2f, abnormal %.2f)", Double(c), score,
                       Double(candidate.threshold), Double(candidate.abnormalThreshold)))
            if best == nil || score > best!.score { best = (score, head, candidate, p) }
        }
        config = best!.config
        chooseCombination(&config, part: validation, probabilities: best!.p)
        // The default reader: the best on validation.
        var scores: [(ReportReaderKind, Double)] = []
        for kind in ReportReaderKind.allCases {
            let ev = evaluate(validation, probabilities: best!.p, config: config, kind: kind)
            comparison.validation[kind] = ev
            scores.append((kind, criterion(ev)))
        }
        config.defaultReader = scores.max { $0.1 < $1.1 }!.0
        comparison.fittingSeconds = Date().timeIntervalSince(t1)
        // Test: scored once, nothing chosen on it.
        let testP = probabilities(best!.head, test.features)
        for kind in ReportReaderKind.allCases { comparison.test[kind] = evaluate(test, probabilities: testP, config: config, kind: kind) }
        config.notes = [
            "split": "\(splitSource): train \(train.reports.count), validation \(validation.reports.count), test \(test.reports.count) reports",
            "choices": "C, thresholds, rules weights and the default reader chosen on validation by (macro-F1 main + abnormal F1) / 2",
        ]
        for kind in ReportReaderKind.allCases {
            if let v = comparison.validation[kind] {
                config.notes["validation.\(kind.rawValue)"] = String(format: "macro-F1 %.4f, abnormal F1 %.4f", v.macroF1Main, v.abnormal.f1)
            }
        }
        let model = TransformerFindingModel(config: config, encoder: encoder, head: best!.head, folder: nil,
                                            identity: ModelIdentity(name: TransformerFindingConfig.modelName, version: "unsaved", sha256: ""))
        return (model, comparison)
    }

    /// The training objective: mean binary cross-entropy of the logits plus `‖W‖² / (2·C·n)`
    /// (scikit-learn's `LogisticRegression` scaled by 1/n; the bias is not penalised).
    public static func objective(_ head: Linear, features: Variable, labels: Tensor, inverseRegularization c: Float) -> Variable {
        let n = Float(max(labels.count, 1))
        return binaryCrossEntropyWithLogits(head(features), targets: labels) + (1 / (2 * c * n)) * head.weight.squared().sum()
    }

    /// Fits `head` to its optimum with L-BFGS.
    @discardableResult
    public static func fit(_ head: Linear, features: Tensor, labels: [Float], inverseRegularization c: Float) -> LBFGS.Result {
        let x = Variable(features), y = Tensor(shape: [labels.count, 1], scalars: labels)
        var solver = LBFGS()
        solver.maxIterations = 500
        return solver.minimize(head.parameters()) { objective(head, features: x, labels: y, inverseRegularization: c) }
    }

    static func probabilities(_ head: Linear, _ features: Tensor) -> [Float] {
        features.shape[0] == 0 ? [] : withoutGradients { head(Variable(features)).value.sigmoid().scalars }
    }

    static func criterion(_ ev: ReportEvaluation) -> Double { (ev.macroF1Main + ev.abnormal.f1) / 2 }

    /// Every report of `part` decided by ``FindingReader/decide(mentions:probabilities:rules:config:kind:)`` and scored.
    static func evaluate(_ part: Part, probabilities p: [Float], config: TransformerFindingConfig, kind: ReportReaderKind) -> ReportEvaluation {
        let analyses = part.reports.indices.map { i in
            FindingReader.decide(mentions: part.mentions[i], probabilities: Array(p[part.rows[i]]), rules: part.rules[i], config: config, kind: kind)
        }
        return ReportEvaluation.score(part.reports, analyses: analyses)
    }

    /// Sets the transformer reader's thresholds: the finding threshold by macro-F1, then the
    /// abnormal one by abnormal F1. Returns the criterion at the choice.
    static func chooseThresholds(_ config: inout TransformerFindingConfig, part: Part, probabilities p: [Float]) -> Double {
        var bestT = (-1.0, Float(0.5))
        for t in grid {
            config.threshold = t; config.abnormalThreshold = 1.01   // findings alone decide abnormality here
            let m = evaluate(part, probabilities: p, config: config, kind: .transformer).macroF1Main
            if m > bestT.0 { bestT = (m, t) }
        }
        config.threshold = bestT.1
        var bestA = (-1.0, Float(0.5))
        for t in grid {
            config.abnormalThreshold = t
            let a = evaluate(part, probabilities: p, config: config, kind: .transformer).abnormal.f1
            if a > bestA.0 { bestA = (a, t) }
        }
        config.abnormalThreshold = bestA.1
        return criterion(evaluate(part, probabilities: p, config: config, kind: .transformer))
    }

    /// Sets the combined reader's weights and thresholds: findings by macro-F1, then abnormality by abnormal F1.
    static func chooseCombination(_ config: inout TransformerFindingConfig, part: Part, probabilities p: [Float]) {
        var bestF = (-1.0, Float(0.5), Float(0.5))
        config.abnormalRulesWeight = 1; config.abnormalCombinedThreshold = 0.5   // the rules' abnormal verdict while findings are chosen
        for w in weights {
            for t in grid {
                config.rulesWeight = w; config.combinedThreshold = t
                let m = evaluate(part, probabilities: p, config: config, kind: .combined).macroF1Main
                if m > bestF.0 { bestF = (m, w, t) }
            }
        }
        config.rulesWeight = bestF.1; config.combinedThreshold = bestF.2
        var bestA = (-1.0, Float(0.5), Float(0.5))
        for w in weights {
            for t in grid {
                config.abnormalRulesWeight = w; config.abnormalCombinedThreshold = t
                let a = evaluate(part, probabilities: p, config: config, kind: .combined).abnormal.f1
                if a > bestA.0 { bestA = (a, w, t) }
            }
        }
        config.abnormalRulesWeight = bestA.1; config.abnormalCombinedThreshold = bestA.2
    }
}
