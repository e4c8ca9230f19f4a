import Foundation
import LeptonEngine
import LeptonImage

/// Everything said about one study: image probabilities and heatmap, report findings, and the
/// combined suggestion. Contains no patient identifier (see `Privacy`).
public struct StudyAnalysis: Sendable {
    public var file: String
    public var subjectID: String
    public var scanFile: String?
    public var scanFormat: String?
    public var modality: String?
    /// Class name → temperature-scaled probability.
    public var probabilities: [(String, Float)] = []
    public var predictedClass: String?
    public var threshold: Float = 0.5
    /// Grad-CAM of the predicted class, `[size, size]`, normalised to 0…1 for display.
    public var heatmap: [Float]?
    public var heatmapSize = 0
    public var display: PlanarImage?
    /// Whether the scan is one the image model is for (``ScanGate``): nil without a scan. When
    /// false there are no probabilities, no heatmap and no image suggestion.
    public var applicable: Bool?
    /// Why the scan is (or is not) for the model, in words.
    public var applicabilityReason: String?
    /// The image check's distance and threshold (nil when the model has no fitted check).
    public var gateDistance: Float?
    public var gateThreshold: Float?
    public var reportFile: String?
    /// The report's text as read (its sections, one per line), scrubbed like the evidence
    /// sentences: what a viewer shows with the evidence marked in it.
    public var reportText: String?
    public var findings: [ReportFinding] = []
    public var reportAbnormal: Bool?
    /// Which reader decided the findings (rules, transformer, combined) and, unless the rules
    /// alone, its model (name, version, weights hash), named in every output.
    public var reportReader: ReportReaderKind?
    public var reportModel: ModelIdentity?
    public var suggestion = Suggestion(summary: "", agreements: [], disagreements: [])
    /// The image model that made the probabilities (nil when only a report was analysed), named in
    /// every output for audit.
    public var model: ModelIdentity?

    public static let disclaimer = "Decision support, not a diagnosis: a physician must review the images and the report."

    public struct Suggestion: Sendable {
        public var summary: String
        public var agreements: [String]
        public var disagreements: [String]
    }

    /// Image-model abnormal probability (the positive class, index 1).
    public var imageAbnormalProbability: Float? { probabilities.count >= 2 ? probabilities[1].1 : nil }
}

/// Combines image probabilities and report findings into a suggestion.
public enum Fusion {
    /// Findings the pneumonia model speaks to (airspace disease shows as opacity/consolidation).
    static let imageRelated: Set<String> = ["pneumonia", "opacity"]

    public static func suggest(_ s: inout StudyAnalysis) {
        var agreements: [String] = [], disagreements: [String] = []
        let pImg = s.imageAbnormalProbability
        let imageSays = pImg.map { $0 >= s.threshold }
        let positiveName = s.probabilities.count >= 2 ? s.probabilities[1].0 : "abnormal"
        let reportRelated = s.findings.filter { imageRelated.contains($0.finding) }
        let reportPositive = reportRelated.contains { $0.status == .present }
        let reportUncertain = reportRelated.contains { $0.status == .uncertain }
        if let img = imageSays, let p = pImg, s.reportAbnormal != nil {
            let pct = String(format: "%.0f%%", Double(p) * 100)
            if img && reportPositive {
                agreements.append("image model (\(positiveName) \(pct)) and report (\(reportRelated.filter { $0.status == .present }.map(\.finding).joined(separator: ", ")) present) both indicate \(positiveName)-type change")
            } else if !img && !reportPositive && !reportUncertain {
                agreements.append("image model (\(positiveName) \(pct)) and report agree: no pneumonia/opacity")
            } else if img && !reportPositive {
                disagreements.append("image model suggests \(positiveName) (\(pct)) but the report states no pneumonia/opacity\(reportUncertain ? " (only uncertain mentions)" : "")")
            } else {
                disagreements.append("report states pneumonia/opacity but the image model does not (\(positiveName) \(pct))")
            }
            if s.reportAbnormal == true && !img && !reportPositive {
                agreements.append("report is abnormal for findings the image model does not assess")
            }
        }
        var summary: String
        switch (imageSays, s.reportAbnormal) {
        case let (img?, rep?):
            summary = disagreements.isEmpty
                ? (img || rep ? "Image and report point to abnormal findings; review recommended." : "Image and report both look normal.")
                : "Image and report disagree; priority review recommended."
        case let (img?, nil):
            summary = img ? "Image model flags \(positiveName); review recommended." : "Image model sees no \(positiveName)."
        case let (nil, rep?):
            let present = s.findings.filter { $0.status == .present }.map(\.finding)
            summary = rep ? "Report describes abnormal findings\(present.isEmpty ? "" : ": " + present.joined(separator: ", "))." : "Report describes no abnormal finding."
        default:
            summary = "Nothing analysed."
        }
        if s.applicable == false {
            // No pneumonia suggestion for a scan the model is not for; the report's reading stands.
            let note = "Scan not assessed by the image model: \(s.applicabilityReason ?? "outside what it was trained for")."
            summary = s.reportAbnormal == nil ? note : note + " " + summary
        }
        s.suggestion = .init(summary: summary, agreements: agreements, disagreements: disagreements)
    }
}
