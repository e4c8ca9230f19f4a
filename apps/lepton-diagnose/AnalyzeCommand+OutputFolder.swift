import Foundation
import LeptonEngine
import LeptonDiagnose

/// `analyze FOLDER -o DIR`: one file per analysis (an HTML page, a JSON object or a FHIR bundle, by
/// `--format`), the Grad-CAM overlay of every assessed scan at the scan's own resolution, and an
/// `index.html` that lists them all, instead of documents concatenated on stdout. Files are named
/// by position and subject hash (`003-1f2e….html`), never by the study's file names, which a PACS
/// export may build from patient names.
struct StudyOutputFolder {
    let dir: URL
    let format: String
    private var rows: [String] = []
    private var count = 0

    init(dir: URL, format: String) throws {
        self.dir = dir; self.format = format
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw DiagnoseError.writeFailed(path: dir.path, reason: "cannot create the folder: \(error.localizedDescription)")
        }
    }

    /// Writes one analysis (and its overlay); `level` and `extra` as ``FolderResult`` has them.
    mutating func write(_ s: StudyAnalysis, result: FolderResult, level: String, extra: [String: Any]) throws {
        count += 1
        let stem = String(format: "%03d-", count) + s.subjectID
        let (ext, body): (String, String) = switch format {
        case "html": ("html", s.html())
        case "fhir": ("fhir.json", s.fhirJSON(images: (extra["images_analysed"] as? Int) ?? 1))
        default: ("json", result.jsonLine())
        }
        try ScanOutput.write(Data((body + "\n").utf8), to: dir.appendingPathComponent("\(stem).\(ext)"))
        var overlay = ""
        if s.heatmap != nil {
            try DiagnosePipeline.writeHeatmap(s, to: dir.appendingPathComponent("\(stem)-heatmap.png"))
            overlay = "<a href=\"\(stem)-heatmap.png\">Grad-CAM</a>"
        }
        let check = s.applicable == nil ? "no scan" : s.applicable! ? "assessed" : "not assessed: \(s.applicabilityReason ?? "")"
        rows.append("<tr><td>\(count)</td><td><a href=\"\(stem).\(ext)\">\(htmlEscaped(s.file))</a></td><td>\(htmlEscaped(level))</td>"
                    + "<td>\(htmlEscaped(s.subjectID))</td><td>\(htmlEscaped(check))</td><td>\(htmlEscaped(s.suggestion.summary))</td><td>\(overlay)</td></tr>")
    }

    /// A study that could not be analysed: a row saying why.
    mutating func failure(file: String, message: String) {
        count += 1
        rows.append("<tr class=\"failed\"><td>\(count)</td><td>\(htmlEscaped(file))</td><td></td><td></td><td>failed</td><td>\(htmlEscaped(message))</td><td></td></tr>")
    }

    /// Writes `index.html` and returns its path.
    func finish() throws -> URL {
        let page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Lepton diagnose: \(count) results</title>
        <style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left;vertical-align:top}.failed{color:#a00}</style>
        </head><body>
        <h1>Lepton diagnose: \(count) results</h1>
        <p><strong>\(htmlEscaped(StudyAnalysis.disclaimer))</strong></p>
        <table><thead><tr><th>#</th><th>study</th><th>level</th><th>subject</th><th>image check</th><th>suggestion</th><th>overlay</th></tr></thead>
        <tbody>
        \(rows.joined(separator: "\n"))
        </tbody></table>
        </body></html>
        """
        let url = dir.appendingPathComponent("index.html")
        try ScanOutput.write(Data((page + "\n").utf8), to: url)
        return url
    }
}

/// The atomic write of `analyze`'s output files, as a diagnose error naming the file.
enum ScanOutput {
    static func write(_ data: Data, to url: URL) throws {
        do { try writeFileAtomically(data, to: url) } catch {
            throw DiagnoseError.writeFailed(path: url.path, reason: "\(error)")
        }
    }
}
