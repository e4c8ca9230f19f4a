import Foundation

/// Precision, recall and F1 of one binary label.
public struct BinaryScore: Sendable, Codable, Equatable {
    public var tp = 0, fp = 0, fn = 0, tn = 0
    public var precision: Double { Double(tp) / Double(max(1, tp + fp)) }
    public var recall: Double { Double(tp) / Double(max(1, tp + fn)) }
    public var f1: Double { let p = precision, r = recall; return p + r > 0 ? 2 * p * r / (p + r) : 0 }
    mutating func add(predicted: Bool, truth: Bool) {
        switch (predicted, truth) {
        case (true, true): tp += 1
        case (true, false): fp += 1
        case (false, true): fn += 1
        case (false, false): tn += 1
        }
    }
}

/// Report reader scores against curated labels (`findings.csv`: file,label,…,<finding columns>).
public struct ReportEvaluation: Sendable {
    public var perFinding: [String: BinaryScore] = [:]
    public var abnormal = BinaryScore()
    public var reports = 0
    /// Rows skipped because their report holds no text (IU has a few; scoring them as "no finding"
    /// would count free true negatives).
    public var skippedEmpty = 0
    /// Mean F1 over `FindingLexicon.mainFindings`.
    public var macroF1Main: Double {
        FindingLexicon.mainFindings.map { perFinding[$0]?.f1 ?? 0 }.reduce(0, +) / Double(FindingLexicon.mainFindings.count)
    }

    /// Which rows to score.
    public enum Subset: String, Sendable { case all, dev, test }

    /// Scores the reader on a labels CSV. Rows labelled `unindexed` are skipped, and so are reports
    /// without text (counted in `skippedEmpty`). `dev` = even report numbers, `test` = odd (the rules
    /// were tuned on dev only). A finding counts as predicted when its status is `present` (uncertain
    /// mentions are not counted, as curators index stated findings).
    /// - Throws: `badLabels` for a `label` other than normal/abnormal/unindexed, a finding column
    ///   other than 0/1 (these are binary tasks), or when no row is left to score.
    public static func run(findingsCSV url: URL, subset: Subset = .all, reader: ReportReader = ReportReader(),
                           extractor: FindingExtractor = FindingExtractor(), progress: (Int) -> Void = { _ in }) throws -> ReportEvaluation {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw DiagnoseError.badLabels(file: url.path, line: 0, reason: error.localizedDescription)
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init),
              let fileCol = header.firstIndex(of: "file") else {
            throw DiagnoseError.badLabels(file: url.path, line: 1, reason: "no header with a 'file' column")
        }
        let labelCol = header.firstIndex(of: "label")
        let findingCols = FindingLexicon.allFindings.compactMap { f in header.firstIndex(of: f).map { (f, $0) } }
        let dir = url.deletingLastPathComponent()
        var ev = ReportEvaluation()
        for (n, line) in lines.dropFirst().enumerated() {
            let cols = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard cols.count > fileCol else { throw DiagnoseError.badLabels(file: url.path, line: n + 2, reason: "too few columns") }
            let label = labelCol.flatMap { $0 < cols.count ? cols[$0].trimmingCharacters(in: .whitespaces) : nil }
            if let l = label, !["normal", "abnormal", "unindexed"].contains(l) {
                throw DiagnoseError.badLabels(file: url.path, line: n + 2, reason: "label '\(l.prefix(40))' is not normal, abnormal or unindexed")
            }
            if label == "unindexed" { continue }
            var truth: [(String, Bool)] = []
            for (f, c) in findingCols {
                let v = c < cols.count ? cols[c].trimmingCharacters(in: .whitespaces) : ""
                guard v == "0" || v == "1" else {
                    throw DiagnoseError.badLabels(file: url.path, line: n + 2, reason: "\(f) is '\(v.prefix(40))'; a binary label must be 0 or 1")
                }
                truth.append((f, v == "1"))
            }
            if subset != .all {
                let digits = cols[fileCol].filter(\.isNumber)
                guard let num = Int(digits) else { continue }
                if (subset == .dev) != (num % 2 == 0) { continue }
            }
            let report: RadiologyReport
            do { report = try reader.read(dir.appendingPathComponent(cols[fileCol])) } catch DiagnoseError.emptyReport {
                ev.skippedEmpty += 1
                continue
            }
            let a = extractor.analyze(report.text)
            ev.reports += 1
            progress(ev.reports)
            for (f, t) in truth {
                ev.perFinding[f, default: BinaryScore()].add(predicted: a.status(f) == .present, truth: t)
            }
            if let l = label { ev.abnormal.add(predicted: a.abnormal, truth: l == "abnormal") }
        }
        guard ev.reports > 0 else {
            throw DiagnoseError.badLabels(file: url.path, line: 0, reason: "no report rows to score (subset \(subset.rawValue)\(ev.skippedEmpty > 0 ? ", \(ev.skippedEmpty) without text" : ""))")
        }
        return ev
    }
}
