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
        let (rows, skipped) = try labeledReports(findingsCSV: url, subset: subset, reader: reader, progress: progress)
        var ev = score(rows, analyses: rows.map { extractor.analyze($0.text) })
        ev.skippedEmpty = skipped
        return ev
    }

    /// The rows of a labels CSV (`findings.csv` layout) with their report text, checked as
    /// ``run(findingsCSV:subset:reader:extractor:progress:)`` describes; `files`, when given,
    /// keeps only the rows whose `file` it contains (a split part). `progress` gets the number read.
    public static func labeledReports(findingsCSV url: URL, subset: Subset = .all, files: Set<String>? = nil,
                                      reader: ReportReader = ReportReader(),
                                      progress: (Int) -> Void = { _ in }) throws -> (reports: [LabeledReport], skippedEmpty: Int) {
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
        var rows: [LabeledReport] = [], skippedEmpty = 0
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
            if let files, !files.contains(cols[fileCol]) { continue }
            let report: RadiologyReport
            do { report = try reader.read(dir.appendingPathComponent(cols[fileCol])) } catch DiagnoseError.emptyReport {
                skippedEmpty += 1
                continue
            }
            rows.append(LabeledReport(file: cols[fileCol], text: report.text, abnormal: label.map { $0 == "abnormal" }, findings: truth))
            progress(rows.count)
        }
        guard !rows.isEmpty else {
            throw DiagnoseError.badLabels(file: url.path, line: 0, reason: "no report rows to score (subset \(subset.rawValue)\(skippedEmpty > 0 ? ", \(skippedEmpty) without text" : ""))")
        }
        return (rows, skippedEmpty)
    }

    /// Scores `analyses[i]` against the labels of `reports[i]`.
    public static func score(_ reports: [LabeledReport], analyses: [ReportAnalysis]) -> ReportEvaluation {
        precondition(reports.count == analyses.count, "one analysis per report")
        var ev = ReportEvaluation()
        for (r, a) in zip(reports, analyses) {
            ev.reports += 1
            for (f, t) in r.findings {
                ev.perFinding[f, default: BinaryScore()].add(predicted: a.status(f) == .present, truth: t)
            }
            if let l = r.abnormal { ev.abnormal.add(predicted: a.abnormal, truth: l) }
        }
        return ev
    }
}

/// One labelled report: its text (the reader's sections joined) and the curated labels.
public struct LabeledReport: Sendable {
    /// The `file` column as written (relative to the CSV's folder).
    public let file: String
    public let text: String
    /// The report label (normal = false), nil without a `label` column.
    public let abnormal: Bool?
    /// The finding columns present in the CSV, in `FindingLexicon.allFindings` order.
    public let findings: [(String, Bool)]
}
