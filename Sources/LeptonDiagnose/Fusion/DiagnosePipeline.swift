import Foundation
import LeptonImage

/// Analyses studies: a scan (PNG/DICOM), a report, or both.
public struct DiagnosePipeline: Sendable {
    public let model: (any ScanImageModel)?
    public let reader: ReportReader
    public let extractor = FindingExtractor()
    public let privacy: Privacy
    /// Which reader decides a report's findings (the rules unless given).
    public let findingReader: FindingReader

    public init(model: (any ScanImageModel)?, reader: ReportReader = ReportReader(), privacy: Privacy = .ephemeral(),
                findingReader: FindingReader = .rules) {
        self.model = model; self.reader = reader; self.privacy = privacy; self.findingReader = findingReader
    }

    /// Analyses one study. `name` is what the output's `file` field shows (a path as given by the user);
    /// `frame` (0-based) picks the frame of a multi-frame DICOM scan.
    public func analyze(scan: URL?, report: URL?, name: String, frame: Int = 0) throws -> StudyAnalysis {
        guard scan != nil || report != nil else { throw DiagnoseError.usage("give a scan, a report, or both") }
        var identity: [String] = [], names: [String] = []
        var s = StudyAnalysis(file: name, subjectID: "")
        if let scanURL = scan {
            guard let model else { throw DiagnoseError.badModel(path: "(none)", reason: "no model to analyse the scan with") }
            let loaded = try ScanLoader.load(scanURL, height: model.inputHeight, width: model.inputWidth, frame: frame)
            identity = loaded.identity
            names = loaded.names
            s.model = model.identity
            s.scanFile = scanURL.lastPathComponent
            s.scanFormat = loaded.format
            s.modality = loaded.modality.isEmpty ? nil : loaded.modality
            // The gate first: header rules, then the image check. No probabilities for a scan the
            // model is not for.
            var refusal = ScanGate.headerReason(format: loaded.format, modality: loaded.modality, bodyPart: loaded.bodyPart, view: loaded.view)
            let check = model.imageCheck(loaded.modelInput)
            if let (d, threshold) = check {
                s.gateDistance = d; s.gateThreshold = threshold
                if refusal == nil && !(d <= threshold) {
                    refusal = String(format: "the image does not look like the chest radiographs the model was trained on (distance %.1f above %.1f)",
                                     Double(d), Double(threshold))
                }
            }
            s.applicable = refusal == nil
            s.applicabilityReason = refusal ?? (check == nil
                ? "the header allows it; this model has no fitted image check"
                : "a chest radiograph as far as the header and the image check tell")
            if refusal == nil {
                let (probs, map) = try model.classify(loaded.modelInput)
                s.probabilities = model.labels.enumerated().map { ($0.element, probs[$0.offset]) }
                s.threshold = model.decisionThreshold
                let positive = probs.count >= 2 && probs[1] >= model.decisionThreshold
                s.predictedClass = model.labels[positive ? 1 : 0]
                if let m = map {
                    let hi = m.map.max() ?? 0
                    s.heatmap = m.map.map { hi > 0 ? $0 / hi : 0 }
                    s.heatmapSize = m.size
                }
            }
            s.display = loaded.display
        }
        if let reportURL = report {
            let r = try reader.read(reportURL)
            let a = findingReader.analyze(r.text)
            s.reportReader = findingReader.kind
            s.reportModel = findingReader.identity
            s.reportFile = reportURL.lastPathComponent
            s.findings = a.findings.map {
                ReportFinding(finding: $0.finding, status: $0.status,
                              evidence: $0.evidence.map { privacy.scrub($0, identifiers: identity + names) }, mentioned: $0.mentioned)
            }
            s.reportAbnormal = a.abnormal
            s.reportText = privacy.scrub(r.text, identifiers: identity + names)
        }
        // The subject ID hashes header identifiers; without any, the study file name (never printed raw).
        s.subjectID = privacy.subjectID(identity.contains { !$0.isEmpty } ? identity : [name])
        Fusion.suggest(&s)
        return s
    }

    /// Writes the Grad-CAM overlay of an analysed scan as PNG (scan in gray, heatmap in jet).
    public static func writeHeatmap(_ s: StudyAnalysis, to url: URL) throws {
        if s.applicable == false {
            throw DiagnoseError.badScan(file: s.file, reason: "no heatmap: not a scan the image model is for (\(s.applicabilityReason ?? "refused by the gate"))")
        }
        guard let heat = s.heatmap, let display = s.display else {
            throw DiagnoseError.usage("--heatmap needs a scan")
        }
        do {
            let map = try PlanarImage(width: s.heatmapSize, height: s.heatmapSize, channels: 1, pixels: heat)
            let base = display.channels == 1 ? display : display.grayscale()
            let overlay = try base.overlay(heatmap: map, colormap: .jet, alpha: StudyAnalysis.heatmapOpacity)
            let data = try PNGEncoder.encode(overlay)
            try ScanClassifier.atomicWrite(data, to: url)
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.writeFailed(path: url.path, reason: "heatmap: \(error)")
        }
    }
}
