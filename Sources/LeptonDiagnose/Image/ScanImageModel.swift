import Foundation
import LeptonEngine

/// What ``DiagnosePipeline`` needs of an image model: its input size, its labels (index 1 is the
/// positive, abnormal class, as the fusion with the report assumes) and, for 0–1 gray pixels at
/// that size, the class probabilities and a Grad-CAM map of the predicted class.
///
/// Lepton's own ``ScanClassifier`` and an ONNX model exported from PyTorch
/// (``ONNXScanClassifier``) both are one.
public protocol ScanImageModel: Sendable {
    /// What outputs name as the model that made them.
    var identity: ModelIdentity { get }
    /// Class names, in the order of the model's outputs.
    var labels: [String] { get }
    /// Input height and width in pixels (images are resized to it).
    var inputHeight: Int { get }
    var inputWidth: Int { get }
    /// Decision threshold on the positive class's probability.
    var decisionThreshold: Float { get }
    /// Probabilities (one per label) and the Grad-CAM map of the predicted class for `pixels01`
    /// (`[inputHeight · inputWidth]`, gray, 0–1).
    func classify(_ pixels01: [Float]) throws -> (probabilities: [Float], map: GradCAMMap?)
    /// The image check of ``ScanGate`` for `pixels01`: the distance from the training images and
    /// the threshold above which the scan is refused; nil when the model has no fitted check.
    func imageCheck(_ pixels01: [Float]) -> (distance: Float, threshold: Float)?
}

/// The image model a command's `--model` names: an ONNX classifier (`MODEL.onnx` with
/// `MODEL.onnx.json` beside it), a Lepton model folder or `.npz`, or without one the shipped model.
public func loadScanImageModel(modelOrShipped path: String?) throws -> any ScanImageModel {
    if let path, path.hasSuffix(".onnx") { return try ONNXScanClassifier(contentsOf: URL(fileURLWithPath: path)) }
    return try ScanClassifier.load(modelOrShipped: path)
}

extension ScanImageModel {
    /// No fitted image check (header rules only).
    public func imageCheck(_ pixels01: [Float]) -> (distance: Float, threshold: Float)? { nil }
}

extension ScanClassifier: ScanImageModel {
    public var labels: [String] { config.classes }
    public var inputHeight: Int { config.inputSize }
    public var inputWidth: Int { config.inputSize }
    public var decisionThreshold: Float { config.threshold }

    public func classify(_ pixels01: [Float]) throws -> (probabilities: [Float], map: GradCAMMap?) {
        let input = normalise(pixels01)
        let (camLogits, maps) = gradCAM(input, n: 1)
        // With test-time augmentation the probabilities are the views' (the map explains the image itself).
        let logits = (config.tta ?? 0) > 0 ? self.logits(input, n: 1) : camLogits
        return (ScanClassifier.softmax(logits, classes: classCount, temperature: config.temperature), maps.first)
    }

    public func imageCheck(_ pixels01: [Float]) -> (distance: Float, threshold: Float)? {
        gate.map { ($0.distance(pooledFeatures(normalise(pixels01), n: 1)), $0.threshold) }
    }
}
