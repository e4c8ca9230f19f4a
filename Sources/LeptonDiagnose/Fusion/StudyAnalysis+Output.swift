import Foundation
import LeptonEngine
import LeptonImage

extension StudyAnalysis {
    /// The JSON object of a study: `file`, `subject_id`, `model` (name, version, sha256 of the image
    /// model), `image.applicable` and `image.reason` (the gate's verdict), `image.gate` (its distance and
    /// threshold), `image.probabilities` (only for an applicable scan), `report.findings`,
    /// `report.abnormal`, `suggestion`, `disclaimer`.
    public func jsonObject() -> [String: Any] {
        var o: [String: Any] = ["file": file, "subject_id": subjectID, "disclaimer": StudyAnalysis.disclaimer]
        if let m = model { o["model"] = ["name": m.name, "version": m.version, "sha256": m.sha256] }
        if scanFormat != nil || !probabilities.isEmpty {
            var img: [String: Any] = ["applicable": applicable ?? true, "reason": applicabilityReason ?? ""]
            if !probabilities.isEmpty {
                img["probabilities"] = Dictionary(uniqueKeysWithValues: probabilities.map { ($0.0, Double($0.1)) })
                img["predicted"] = predictedClass ?? ""
                img["threshold"] = Double(threshold)
            }
            if let d = gateDistance, let t = gateThreshold {
                img["gate"] = ["distance": Double(d), "threshold": t.isFinite ? Double(t) : NSNull()] as [String: Any]
            }
            if let f = scanFormat { img["format"] = f }
            if let m = modality { img["modality"] = m }
            o["image"] = img
        }
        if let abnormal = reportAbnormal {
            o["report"] = [
                "abnormal": abnormal,
                "findings": findings.map { f -> [String: Any] in
                    var d: [String: Any] = ["finding": f.finding, "status": f.status.rawValue, "mentioned": f.mentioned]
                    d["evidence"] = f.evidence ?? NSNull()
                    return d
                },
            ] as [String: Any]
        }
        o["suggestion"] = ["summary": suggestion.summary, "agreements": suggestion.agreements,
                           "disagreements": suggestion.disagreements] as [String: Any]
        return o
    }

    /// One line of JSON.
    public func jsonLine() -> String {
        StudyAnalysis.serialize(jsonObject(), pretty: false)
    }

    static func serialize(_ o: Any, pretty: Bool) -> String {
        var opts: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { opts.insert(.prettyPrinted) }
        guard let d = try? JSONSerialization.data(withJSONObject: o, options: opts) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }

    /// A FHIR R4 `Bundle` (collection) holding a `DiagnosticReport` and one `Observation` per finding
    /// (plus one for the image model), linked by `result` references. The subject is the salted
    /// hash only, as an identifier without a name.
    public func fhirJSON() -> String {
        let subject: [String: Any] = ["identifier": ["system": "urn:lepton:subject-hash", "value": subjectID]]
        var observations: [[String: Any]] = []
        var idx = 0
        func obs(code: String, display: String, value: [String: Any], note: String?) {
            idx += 1
            var o: [String: Any] = [
                "resourceType": "Observation", "id": "obs-\(idx)", "status": "preliminary",
                "code": ["text": display, "coding": [["system": "urn:lepton:finding", "code": code, "display": display]]],
                "subject": subject,
            ]
            for (k, v) in value { o[k] = v }
            if let n = note { o["note"] = [["text": n]] }
            observations.append(o)
        }
        if let p = imageAbnormalProbability, probabilities.count >= 2 {
            var value: [String: Any] = ["valueQuantity": ["value": Double(p), "unit": "probability"]]
            // The model that made the value, as the observing device (FHIR R4 Observation.device).
            if let m = model {
                value["device"] = ["display": m.description,
                                   "identifier": ["system": "urn:lepton:model-sha256", "value": m.sha256]] as [String: Any]
            }
            obs(code: "image-\(probabilities[1].0)", display: "Image model probability of \(probabilities[1].0)",
                value: value, note: "Grad-CAM explained; threshold \(threshold)")
        }
        for f in findings {
            let (code, display): (String, String) = {
                switch f.status {
                case .present: return ("52101004", "Present")
                case .absent: return ("2667000", "Absent")
                case .uncertain: return ("261665006", "Unknown")
                }
            }()
            obs(code: f.finding, display: f.finding,
                value: ["valueCodeableConcept": ["coding": [["system": "http://snomed.info/sct", "code": code, "display": display]],
                                                 "text": f.status.rawValue]],
                note: f.evidence)
        }
        var conclusion = suggestion.summary
        if !suggestion.disagreements.isEmpty { conclusion += " Disagreements: " + suggestion.disagreements.joined(separator: "; ") + "." }
        conclusion += " " + StudyAnalysis.disclaimer
        var report: [String: Any] = [
            "resourceType": "DiagnosticReport", "id": "report", "status": "preliminary",
            "code": ["text": "Lepton chest X-ray decision support",
                     "coding": [["system": "http://loinc.org", "code": "36643-5", "display": "XR Chest 2 Views"]]],
            "subject": subject,
            "result": observations.map { ["reference": "Observation/\($0["id"] as? String ?? "")"] },
            "conclusion": conclusion,
        ]
        if let m = model {
            report["extension"] = [["url": "urn:lepton:model", "valueString": m.description]]
        }
        let bundle: [String: Any] = [
            "resourceType": "Bundle", "type": "collection",
            "entry": ([report] + observations).map { r -> [String: Any] in
                ["fullUrl": "urn:lepton:\(r["resourceType"] as? String ?? "")/\(r["id"] as? String ?? "")", "resource": r]
            },
        ]
        return StudyAnalysis.serialize(bundle, pretty: true)
    }

    /// A self-contained HTML page: scan and heatmap overlay (base64 PNG), probabilities, findings, suggestion.
    public func html() -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var body = "<h1>Lepton diagnose: study \(esc(subjectID))</h1>\n<p class=\"warn\">\(esc(StudyAnalysis.disclaimer))</p>\n"
        if let display {
            let base = display.channels == 1 ? display : display.grayscale()
            if let scanPNG = try? PNGEncoder.encode(base) {
                body += "<figure><img alt=\"scan\" src=\"data:image/png;base64,\(scanPNG.base64EncodedString())\"><figcaption>Scan</figcaption></figure>\n"
            }
            if let heat = heatmap, let map = try? PlanarImage(width: heatmapSize, height: heatmapSize, channels: 1, pixels: heat),
               let ov = try? base.overlay(heatmap: map, colormap: .jet, alpha: StudyAnalysis.heatmapOpacity), let png = try? PNGEncoder.encode(ov) {
                body += "<figure><img alt=\"Grad-CAM heatmap\" src=\"data:image/png;base64,\(png.base64EncodedString())\"><figcaption>Grad-CAM (\(esc(predictedClass ?? "")))</figcaption></figure>\n"
            }
        }
        if let applicable {
            body += "<p class=\"\(applicable ? "model" : "warn")\">Image check: \(applicable ? "for this model" : "not for this model") — \(esc(applicabilityReason ?? ""))</p>\n"
        }
        if !probabilities.isEmpty {
            body += "<h2>Image model</h2><table><tr><th>class</th><th>probability</th></tr>"
            for (c, p) in probabilities { body += "<tr><td>\(esc(c))</td><td>\(String(format: "%.3f", p))</td></tr>" }
            body += "</table>\n"
        }
        if let abnormal = reportAbnormal {
            body += "<h2>Report (\(abnormal ? "abnormal" : "normal"))</h2><table><tr><th>finding</th><th>status</th><th>evidence</th></tr>"
            for f in findings where f.mentioned {
                body += "<tr class=\"\(f.status.rawValue)\"><td>\(esc(f.finding))</td><td>\(f.status.rawValue)</td><td>\(esc(f.evidence ?? ""))</td></tr>"
            }
            body += "</table>\n"
        }
        body += "<h2>Suggestion</h2><p>\(esc(suggestion.summary))</p>"
        if let m = model { body += "<p class=\"model\">Image model: \(esc(m.description))</p>" }
        if !suggestion.agreements.isEmpty { body += "<p>Agreements:</p><ul>" + suggestion.agreements.map { "<li>\(esc($0))</li>" }.joined() + "</ul>" }
        if !suggestion.disagreements.isEmpty { body += "<p class=\"warn\">Disagreements:</p><ul>" + suggestion.disagreements.map { "<li>\(esc($0))</li>" }.joined() + "</ul>" }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Lepton diagnose</title>
        <style>body{font-family:sans-serif;max-width:60em;margin:2em auto}img{width:280px;image-rendering:pixelated}
        figure{display:inline-block}td,th{padding:2px 8px;text-align:left}.present{color:#a00}.uncertain{color:#a60}.warn{color:#a00;font-weight:bold}</style>
        </head><body>
        \(body)
        </body></html>
        """
    }
}
