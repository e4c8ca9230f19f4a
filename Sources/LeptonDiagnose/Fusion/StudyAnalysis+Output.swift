import Crypto
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
            var report: [String: Any] = [
                "abnormal": abnormal,
                "findings": findings.map { f -> [String: Any] in
                    var d: [String: Any] = ["finding": f.finding, "status": f.status.rawValue, "mentioned": f.mentioned]
                    d["evidence"] = f.evidence ?? NSNull()
                    return d
                },
            ]
            if let r = reportReader { report["reader"] = r.rawValue }
            if let m = reportModel { report["model"] = ["name": m.name, "version": m.version, "sha256": m.sha256] }
            o["report"] = report
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
    /// the report mentions (a finding it never mentions is not asserted absent), plus one for the
    /// image model when the gate let the scan through. Entries are `urn:uuid:` full URLs, derived
    /// from the subject hash and the study (the same study gives the same bundle) and referenced
    /// by them. The report's LOINC code follows the study: a chest radiograph the model assessed
    /// is "XR Chest Single view" (or "2 Views" for two images), anything else "Diagnostic imaging
    /// study". The subject is the salted hash only, as an identifier without a name.
    public func fhirJSON(images: Int = 1) -> String {
        let subject: [String: Any] = ["identifier": ["system": "urn:lepton:subject-hash", "value": subjectID]]
        var observations: [[String: Any]] = []
        func obs(code: String, display: String, value: [String: Any], note: String?) {
            var o: [String: Any] = [
                "resourceType": "Observation", "status": "preliminary",
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
        for f in findings where f.mentioned {
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
        let reportURL = fhirUUID("DiagnosticReport")
        let observationURLs = observations.indices.map { fhirUUID("Observation-\($0 + 1)") }
        let (loinc, loincDisplay) = studyLOINC(images: images)
        var report: [String: Any] = [
            "resourceType": "DiagnosticReport", "status": "preliminary",
            "code": ["text": "Lepton chest X-ray decision support",
                     "coding": [["system": "http://loinc.org", "code": loinc, "display": loincDisplay]]],
            "subject": subject,
            "result": observationURLs.map { ["reference": $0] },
            "conclusion": conclusion,
        ]
        if let m = model {
            report["extension"] = [["url": "urn:lepton:model", "valueString": m.description]]
        }
        if let r = reportReader {
            let reader = ["url": "urn:lepton:report-reader", "valueString": r.rawValue + (reportModel.map { ": \($0.description)" } ?? "")]
            report["extension"] = ((report["extension"] as? [[String: String]]) ?? []) + [reader]
        }
        let entries = [(reportURL, report)] + zip(observationURLs, observations).map { ($0, $1) }
        let bundle: [String: Any] = [
            "resourceType": "Bundle", "type": "collection",
            "entry": entries.map { ["fullUrl": $0.0, "resource": $0.1] as [String: Any] },
        ]
        return StudyAnalysis.serialize(bundle, pretty: true)
    }

    /// The LOINC code of the study: a chest radiograph the image model assessed by its number of
    /// views; any other study (report only, a scan the gate refused) the generic imaging study.
    func studyLOINC(images: Int) -> (String, String) {
        guard applicable == true else { return ("18748-4", "Diagnostic imaging study") }
        return images >= 2 ? ("36643-5", "XR Chest 2 Views") : ("36554-4", "XR Chest Single view")
    }

    /// A name-based UUID (RFC 4122 version 5, SHA-1) for one resource of this study's bundle:
    /// stable for the same subject and file, different across studies.
    func fhirUUID(_ resource: String) -> String {
        // The RFC's URL namespace, 6ba7b811-9dad-11d1-80b4-00c04fd430c8.
        let namespace: [UInt8] = [0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]
        let name = Array("urn:lepton:diagnose:\(subjectID):\(file):\(resource)".utf8)
        var b = Array(Insecure.SHA1.hash(data: namespace + name).prefix(16))
        b[6] = (b[6] & 0x0F) | 0x50
        b[8] = (b[8] & 0x3F) | 0x80
        let hex = b.map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return "urn:uuid:" + parts.joined(separator: "-")
    }

    /// A FHIR R4 `OperationOutcome` for a study that could not be analysed (one line): what a
    /// `--format fhir` batch writes in the failed study's place.
    public static func fhirOutcome(file: String, error: String) -> String {
        serialize(["resourceType": "OperationOutcome",
                   "issue": [["severity": "error", "code": "processing", "diagnostics": "\(file): \(error)"] as [String: Any]]] as [String: Any],
                  pretty: false)
    }

    /// A self-contained HTML page: scan and heatmap overlay (base64 PNG), probabilities, findings, suggestion.
    public func html() -> String {
        func esc(_ s: String) -> String { htmlEscaped(s) }
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
        if let r = reportReader, reportAbnormal != nil {
            body += "<p class=\"model\">Report reader: \(r.rawValue)\(reportModel.map { " — " + esc($0.description) } ?? "")</p>"
        }
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
