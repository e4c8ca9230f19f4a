import Foundation
import LeptonEngine
import LeptonONNX

/// How to feed an ONNX scan classifier: `MODEL.onnx.json` beside `MODEL.onnx`.
///
///     {"labels": ["normal", "pneumonia"], "input_size": [H, W], "channels": 1, "mean": 0.5, "std": 0.5}
///
/// Pixels are scaled to 0–1, resized to H×W, then `(x − mean) / std`; with `channels` 3 the gray
/// image fills all three. Optional: `threshold` on the positive (index 1) class's probability
/// (default 0.5), `temperature` dividing the logits (default 1), `input` and `output` naming the
/// graph's tensors when it has several.
public struct ONNXScanConfig: Codable, Sendable, Equatable {
    public var labels: [String]
    public var inputSize: [Int]
    public var channels: Int = 1
    public var mean: Float = 0.5
    public var std: Float = 0.5
    public var threshold: Float?
    public var temperature: Float?
    public var input: String?
    public var output: String?

    enum CodingKeys: String, CodingKey {
        case labels, channels, mean, std, threshold, temperature, input, output
        case inputSize = "input_size"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        labels = try c.decode([String].self, forKey: .labels)
        inputSize = try c.decode([Int].self, forKey: .inputSize)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? 1
        mean = try c.decodeIfPresent(Float.self, forKey: .mean) ?? 0.5
        std = try c.decodeIfPresent(Float.self, forKey: .std) ?? 0.5
        threshold = try c.decodeIfPresent(Float.self, forKey: .threshold)
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature)
        input = try c.decodeIfPresent(String.self, forKey: .input)
        output = try c.decodeIfPresent(String.self, forKey: .output)
    }

    /// What is wrong with the values, or nil.
    var problem: String? {
        if labels.count < 2 { return "labels needs at least two names" }
        if inputSize.count != 2 || !inputSize.allSatisfy({ (1...4096).contains($0) }) { return "input_size must be [H, W] with sides 1...4096" }
        if channels != 1 && channels != 3 { return "channels must be 1 or 3" }
        if !(std > 0) || !mean.isFinite || !std.isFinite { return "mean must be finite and std positive" }
        if let t = temperature, !(t > 0) || !t.isFinite { return "temperature must be positive" }
        if let t = threshold, !(t >= 0 && t <= 1) { return "threshold must be in 0...1" }
        return nil
    }
}

/// A scan classifier exported from PyTorch as ONNX (image in, logits out), run on the engine
/// through ``ONNXModel``, with Grad-CAM on the output of the graph's last `Conv`.
public final class ONNXScanClassifier: ScanImageModel, Sendable {
    public let config: ONNXScanConfig
    public let identity: ModelIdentity
    let plan: ONNXPlan
    let inputName: String
    let outputName: String
    let file: String

    public var labels: [String] { config.labels }
    public var inputHeight: Int { config.inputSize[0] }
    public var inputWidth: Int { config.inputSize[1] }
    public var decisionThreshold: Float { config.threshold ?? 0.5 }

    /// Reads `url` (an `.onnx` file) and `url.json` beside it; plans the graph for one image and
    /// checks that it gives one logit per label. Every problem is a ``DiagnoseError/badModel(path:reason:)``.
    public init(contentsOf url: URL) throws {
        file = url.path
        let jsonURL = URL(fileURLWithPath: url.path + ".json")
        do { config = try JSONDecoder().decode(ONNXScanConfig.self, from: Data(contentsOf: jsonURL)) } catch {
            throw DiagnoseError.badModel(path: jsonURL.path, reason: "cannot read how to feed the model: \(Self.describe(error))")
        }
        if let problem = config.problem { throw DiagnoseError.badModel(path: jsonURL.path, reason: problem) }
        do {
            let model = try ONNXModel(contentsOf: url)
            let input: ONNXTensorInfo
            if let name = config.input {
                guard let found = model.inputs.first(where: { $0.name == name }) else {
                    throw DiagnoseError.badModel(path: url.path, reason: "no input '\(name)' (inputs: \(model.inputs.map(\.name)))")
                }
                input = found
            } else {
                guard model.inputs.count == 1 else {
                    throw DiagnoseError.badModel(path: url.path, reason: "the graph has inputs \(model.inputs.map(\.name)); name one as \"input\" in \(jsonURL.lastPathComponent)")
                }
                input = model.inputs[0]
            }
            guard let output = config.output ?? (model.outputs.count == 1 ? model.outputs[0] : nil), model.outputs.contains(output) else {
                throw DiagnoseError.badModel(path: url.path, reason: "the graph has outputs \(model.outputs); name one as \"output\" in \(jsonURL.lastPathComponent)")
            }
            inputName = input.name; outputName = output
            plan = try model.plan(inputShapes: [input.name: [1, config.channels, config.inputSize[0], config.inputSize[1]]])
            let shape = plan.outputShapes[output] ?? []
            guard shape.reduce(1, *) == config.labels.count else {
                throw DiagnoseError.badModel(path: url.path, reason: "output '\(output)' has shape \(shape) for \(config.labels.count) labels")
            }
            identity = try ModelIdentity.of(name: url.deletingPathExtension().lastPathComponent, version: "onnx opset \(model.opset)",
                                            files: [url, jsonURL])
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: url.path, reason: Self.describe(error))
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? ONNXError { return e.description }
        if let e = error as? DecodingError {
            switch e {
            case let .keyNotFound(key, _): return "missing \"\(key.stringValue)\""
            case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c):
                return c.codingPath.isEmpty ? c.debugDescription : "\"\(c.codingPath.map(\.stringValue).joined(separator: "."))\": \(c.debugDescription)"
            @unknown default: return "\(e)"
            }
        }
        return (error as NSError).localizedDescription
    }

    /// The network input for gray 0–1 pixels `[H·W]`: normalised, repeated over the channels.
    public func input(_ pixels01: [Float]) -> ONNXValue {
        let m = config.mean, s = config.std
        let one = pixels01.map { ($0 - m) / s }
        let all = config.channels == 1 ? one : Array([[Float]](repeating: one, count: config.channels).joined())
        return .float(Tensor(shape: [1, config.channels, inputHeight, inputWidth], scalars: all))
    }

    /// The logits for gray 0–1 pixels.
    public func logits(_ pixels01: [Float]) throws -> [Float] {
        do {
            guard let out = try plan.run([inputName: input(pixels01)])[outputName]?.floatTensor else {
                throw DiagnoseError.badModel(path: file, reason: "output '\(outputName)' is not a float tensor")
            }
            return out.scalars
        } catch let e as DiagnoseError { throw e } catch { throw DiagnoseError.badModel(path: file, reason: Self.describe(error)) }
    }

    /// Logits and the Grad-CAM map of `classIndex` (nil: the predicted class) on the last Conv's
    /// output `A` `[1, C, h, w]`: `ReLU(Σ_k α_k A_k)` with `α_k` the mean of `∂logit/∂A_k`, and
    /// its bilinear upsampling to a square of the larger input side.
    public func gradCAM(_ pixels01: [Float], classIndex: Int? = nil) throws -> (logits: [Float], map: GradCAMMap) {
        let k = config.labels.count
        var chosen = 0
        let result: ONNXLayerGradient
        do {
            result = try plan.lastConvGradient([inputName: input(pixels01)], output: outputName) { logits in
                let l = logits.scalars
                chosen = classIndex ?? l.indices.max { l[$0] < l[$1] } ?? 0
                var seed = [Float](repeating: 0, count: l.count)
                if chosen < seed.count { seed[chosen] = 1 }
                return Tensor(shape: logits.shape, scalars: seed)
            }
        } catch { throw DiagnoseError.badModel(path: file, reason: Self.describe(error)) }
        guard let logits = result.outputs[outputName]?.floatTensor?.scalars, logits.count == k else {
            throw DiagnoseError.badModel(path: file, reason: "output '\(outputName)' does not hold \(k) logits")
        }
        let a = result.activation, g = result.gradient
        guard a.rank == 4 else { throw DiagnoseError.badModel(path: file, reason: "the last Conv's output \(a.shape) is not [1, C, h, w]") }
        let c = a.shape[1], h = a.shape[2], w = a.shape[3], plane = h * w
        let act = a.scalars, grad = g.scalars
        var cam = [Float](repeating: 0, count: plane)
        for ch in 0..<c {
            let o = ch * plane
            var alpha: Float = 0
            for j in 0..<plane { alpha += grad[o + j] }
            alpha /= Float(plane)
            for j in 0..<plane { cam[j] += alpha * act[o + j] }
        }
        for j in 0..<plane { cam[j] = max(0, cam[j]) }
        let side = max(inputHeight, inputWidth)
        let map = GradCAMMap(classIndex: chosen, coarse: cam, camH: h, camW: w,
                             map: ScanClassifier.bilinear(cam, h: h, w: w, outH: side, outW: side), size: side)
        return (logits, map)
    }

    public func classify(_ pixels01: [Float]) throws -> (probabilities: [Float], map: GradCAMMap?) {
        let (logits, map) = try gradCAM(pixels01)
        return (ScanClassifier.softmax(logits, classes: config.labels.count, temperature: config.temperature ?? 1), map)
    }
}
