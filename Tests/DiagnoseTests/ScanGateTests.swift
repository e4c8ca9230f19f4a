import Foundation
import XCTest
@testable import LeptonDiagnose

/// Issue 22: the gate that keeps the scan model to the scans it is for.
final class ScanGateTests: XCTestCase {
    func testHeaderRules() {
        XCTAssertNil(ScanGate.headerReason(format: "png", modality: "", bodyPart: "", view: ""))
        XCTAssertNil(ScanGate.headerReason(format: "dicom", modality: "CR", bodyPart: "CHEST", view: "PA"))
        XCTAssertNil(ScanGate.headerReason(format: "dicom", modality: "dx", bodyPart: "", view: ""))
        XCTAssertTrue(ScanGate.headerReason(format: "dicom", modality: "MR", bodyPart: "CHEST", view: "")?.contains("modality MR") == true)
        XCTAssertTrue(ScanGate.headerReason(format: "dicom", modality: "", bodyPart: "", view: "")?.contains("not stated") == true)
        XCTAssertTrue(ScanGate.headerReason(format: "dicom", modality: "CR", bodyPart: "CSPINE", view: "")?.contains("CSPINE") == true)
        XCTAssertTrue(ScanGate.headerReason(format: "dicom", modality: "DX", bodyPart: "CHEST", view: "LL")?.contains("view LL") == true)
    }

    /// Features whose within-class covariance is diagonal by construction (each class's points are
    /// its mean ± a step along one axis at a time): the Mahalanobis distance is then
    /// sqrt(Σ d_c² / σ_c²) with σ_c² the pooled variance plus the gate's ridge, worked out here.
    func testMahalanobisDistanceOnAKnownCovariance() throws {
        let C = 3, K = 2
        let means: [[Float]] = [[0, 0, 0], [5, -2, 1]]
        let steps: [Float] = [1, 2, 0.5]
        var x: [Float] = [], labels: [Int] = []
        for k in 0..<K { for c in 0..<C { for sign: Float in [1, -1] {
            var p = means[k]; p[c] += sign * steps[c]; x += p; labels.append(k)
        } } }
        let n = labels.count
        let gate = try ScanGate.fit(features: x, labels: labels, channels: C, classes: K)
        // Each axis c has 2 points per class at ±step: sum of squares 2·K·step², over n − K.
        let variance = steps.map { 2 * Double(K) * Double($0 * $0) / Double(n - K) }
        let ridge = 1e-3 * variance.reduce(0, +) / Double(C)
        let probe: [Float] = [1, 1, 1]
        let expected = (0..<K).map { k in
            (0..<C).reduce(0.0) { s, c in let d = Double(probe[c] - means[k][c]); return s + d * d / (variance[c] + ridge) }.squareRoot()
        }.min()!
        XCTAssertEqual(Double(gate.distance(probe)), expected, accuracy: 1e-4)
        // Threshold: the quantile of the given distances.
        XCTAssertEqual(ScanGate.threshold(validation: (1...100).map(Float.init), quantile: 0.99), 99)
    }

    /// The shipped model with its gate, on every image of ../shared/data/medical/dicom (none is a
    /// chest radiograph: CT, MR, US, NM, secondary capture, a cervical-spine CR) and on held-out
    /// PneumoniaMNIST validation chest X-rays.
    func testShippedGateRefusesNonChestImagesAndPassesChestXrays() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let model = try ScanClassifier.load(from: root.appendingPathComponent("samples/diagnose/model"))
        let gate = try XCTUnwrap(model.gate, "samples/diagnose/model has no gate.safetensors")
        let pipeline = DiagnosePipeline(model: model, privacy: Privacy(salt: "s"))
        let manifest = root.appendingPathComponent("../shared/data/medical/dicom/manifest.csv")
        var refusedByHeader = 0, refusedByImage = 0, images = 0
        for line in try String(contentsOf: manifest, encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells[3] != "SR" else { continue }   // structured reports have no pixels
            let file = manifest.deletingLastPathComponent().appendingPathComponent(String(cells[0]))
            let s = try pipeline.analyze(scan: file, report: nil, name: file.lastPathComponent)
            images += 1
            XCTAssertEqual(s.applicable, false, "\(cells[0]) (\(cells[3]))")
            XCTAssertTrue(s.probabilities.isEmpty && s.heatmap == nil)
            XCTAssertTrue(s.suggestion.summary.hasPrefix("Scan not assessed"), s.suggestion.summary)
            XCTAssertFalse(s.jsonLine().contains("pneumonia"), s.jsonLine())
            if ScanGate.headerReason(format: "dicom", modality: String(cells[3]), bodyPart: "", view: "") != nil { refusedByHeader += 1 }
            if let d = s.gateDistance, d > gate.threshold { refusedByImage += 1 }
        }
        XCTAssertEqual(images, 17)
        // The image check alone, whatever the header says, refuses at least 15 of the 17.
        XCTAssertGreaterThanOrEqual(refusedByImage, 15, "image check alone refused \(refusedByImage) of \(images)")
        print("scan gate: \(refusedByHeader) of \(images) non-chest images refused by the header's modality, \(refusedByImage) by the image check alone")

        // Validation chest X-rays at odd positions played no part in choosing the threshold.
        let labels = root.appendingPathComponent("../shared/data/medical/pneumoniamnist/labels.csv")
        let val = try String(contentsOf: labels, encoding: .utf8).split(whereSeparator: \.isNewline).filter { $0.hasPrefix("val/") }
        var passed = 0, checked = 0
        for (i, row) in val.enumerated() where i % 2 == 1 && checked < 120 {
            let file = labels.deletingLastPathComponent().appendingPathComponent(String(row.split(separator: ",")[0]))
            let s = try pipeline.analyze(scan: file, report: nil, name: "x.png")
            checked += 1
            if s.applicable == true { passed += 1 }
        }
        XCTAssertGreaterThanOrEqual(Double(passed) / Double(checked), 0.97, "\(passed) of \(checked) chest X-rays passed")
    }
}
