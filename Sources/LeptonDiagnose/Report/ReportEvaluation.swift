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
    /// Mean F1 over `FindingLexicon.mainFindings`.
    public var macroF1Main: Double {
        FindingLexicon.mainFindings.map { perFinding[$0]?.f1 ?? 0 }.reduce(0, +) / Double(FindingLexicon.mainFindings.count)
    }

    /// Which rows to score.
    public enum Subset: String, Sendable { case all, dev, test }

    /// Scores the reader on a labels CSV. Rows labelled `unindexed` are skipped. `dev` = even report
    /// numbers, `test` = odd (the rules were tuned on dev only). A finding counts as predicted when
    /// its status is `present` (uncertain mentions are not counted, as curators index stated findings).
    public static func run(findingsCSV url: URL, subset: Subset = .all, reader: ReportReader = ReportReader(),
                           extractor: FindingExtractor = FindingExtractor()) throws -> ReportEvaluation {
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
            let label = labelCol.flatMap { $0 < cols.count ? cols[$0] : nil }
            if label == "unindexed" { continue }
            if subset != .all {
                let digits = cols[fileCol].filter(\.isNumber)
                guard let num = Int(digits) else { continue }
                if (subset == .dev) != (num % 2 == 0) { continue }
            }
            let report = try reader.read(dir.appendingPathComponent(cols[fileCol]))
            let a = extractor.analyze(report.text)
            ev.reports += 1
            for (f, c) in findingCols where c < cols.count {
                ev.perFinding[f, default: BinaryScore()].add(predicted: a.status(f) == .present, truth: cols[c] == "1")
            }
            if let l = label { ev.abnormal.add(predicted: a.abnormal, truth: l == "abnormal") }
        }
        return ev
    }
}
