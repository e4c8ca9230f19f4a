import Foundation

/// One output of a folder study: an analysis with the keys that place it in the study, or a
/// failure (a file that could not be analysed).
public enum FolderResult {
    /// `level` is "image" for one image of a multi-image study, "study" for the study as a whole
    /// (and for a single-image study, whose one result is both).
    case analysis(StudyAnalysis, level: String, extra: [String: Any])
    case failure(file: String, message: String)

    /// The JSON line of this result: the analysis' own object plus `level` and the extra keys.
    public func jsonLine() -> String {
        switch self {
        case let .analysis(s, level, extra):
            var o = s.jsonObject()
            if level != "single" {
                o["level"] = level
                for (k, v) in extra { o[k] = v }
            }
            return StudyAnalysis.serialize(o, pretty: false)
        case let .failure(file, message):
            return StudyAnalysis.serialize(["error": message, "file": file], pretty: false)
        }
    }
}

extension DiagnosePipeline {
    /// Analyses a folder study. A single image (with or without its report) gives one result, as
    /// a single-scan run would. A study of several images gives one result per image (without the
    /// report; `study`, `series` and `instance` place it) and then one for the study: the report
    /// read together with the study's most suspicious image (highest abnormal probability), with
    /// `images`, `series`, `images_analysed` and `images_flagged` (at the model's threshold).
    /// - Parameters:
    ///   - name: how outputs name the study (a path as the user gave the folder).
    ///   - shown: how outputs name one of its files.
    /// - Returns: the results in order; failures are results too (the caller counts them).
    public func analyze(study st: FolderStudy, name: String, shown: (URL) -> String) -> [FolderResult] {
        func attempt(_ file: String, _ body: () throws -> StudyAnalysis) -> Result<StudyAnalysis, DiagnoseError> {
            do { return .success(try body()) } catch let e as DiagnoseError { return .failure(e) } catch {
                return .failure(.badScan(file: file, reason: "\(error)"))
            }
        }
        if st.images.count <= 1 {
            let file = st.scan.map(shown) ?? st.report.map(shown) ?? name
            switch attempt(file, { try analyze(scan: st.scan, report: st.report, name: file) }) {
            case let .success(s): return [.analysis(s, level: "single", extra: [:])]
            case let .failure(e): return [.failure(file: file, message: e.description)]
            }
        }
        var results: [FolderResult] = []
        var analysed: [(URL, StudyAnalysis)] = []
        for (k, url) in st.images.enumerated() {
            let file = shown(url)
            switch attempt(file, { try analyze(scan: url, report: nil, name: file) }) {
            case let .success(s):
                analysed.append((url, s))
                results.append(.analysis(s, level: "image", extra: ["study": name, "image": k + 1]))
            case let .failure(e):
                results.append(.failure(file: file, message: e.description))
            }
        }
        let flagged = analysed.filter { $0.1.probabilities.count >= 2 && $0.1.predictedClass == $0.1.probabilities[1].0 }.count
        let extra: [String: Any] = ["images": st.images.count, "series": st.seriesCount, "images_analysed": analysed.count,
                                    "images_flagged": flagged]
        let worst = analysed.max { ($0.1.imageAbnormalProbability ?? 0) < ($1.1.imageAbnormalProbability ?? 0) }
        if worst == nil && st.report == nil {
            results.append(.failure(file: name, message: "\(name): no image of the study could be analysed"))
            return results
        }
        switch attempt(name, { try analyze(scan: worst?.0, report: st.report, name: name) }) {
        case let .success(s): results.append(.analysis(s, level: "study", extra: extra))
        case let .failure(e): results.append(.failure(file: name, message: e.description))
        }
        return results
    }
}
