import Foundation
import LeptonEngine

/// Configuration of the scan classifier, saved as `config.json` beside `model.safetensors`.
public struct ScanClassifierConfig: Codable, Sendable, Equatable {
    /// Square input side in pixels (images are resized to it).
    public var inputSize: Int = 28
    /// Output channels of each conv block (3×3, padding 1, BatchNorm, ReLU).
    public var channels: [Int] = [16, 32, 64]
    /// Whether a 2×2 max pool follows each block (a ResNet: whether the next stage starts with
    /// stride 2; after the last one, a max pool before the average pool in both).
    public var pool: [Bool] = [true, true, false]
    /// The network: nil or `cnn` for the plain conv blocks, `resnet` for residual stages.
    /// Optional so that older config files still load.
    public var arch: ScanArchitecture?
    /// A ResNet's residual blocks per stage (nil: 1).
    public var residualBlocks: Int?
    /// Test-time augmentation: nil or 0 for none; k > 0 averages the logits of the image and of
    /// its four shifts by k pixels (left, right, up, down; edges repeated).
    public var tta: Int?
    /// Class names; index 1 is the positive (abnormal) class.
    public var classes: [String] = ["normal", "pneumonia"]
    public var bnEps: Float = 1e-5
    /// Temperature fitted on validation: probabilities are `softmax(logits / temperature)`.
    public var temperature: Float = 1
    /// Decision threshold on the positive-class probability.
    public var threshold: Float = 0.5
    /// Input normalisation: `x = (pixel/255 - mean) / std`.
    public var mean: Float = 0.5
    public var std: Float = 0.5
    /// Free-form provenance (training command, seed, validation figures).
    public var notes: [String: String] = [:]
    /// The model's version as outputs name it (``ScanClassifier/identity``); `train` sets the date
    /// and seed of the run. Optional so that older config files still load.
    public var version: String?

    public init() {}

    var isResNet: Bool { arch == .resnet }
}

/// A small CNN for chest X-ray classification, built from the engine's layers (``Conv2d``,
/// ``BatchNorm``, ``Linear``) and trained through its autodiff:
///
///     c{i}: Conv2d(cin, cout, 3, pad 1) → b{i}: BatchNorm2d → ReLU [→ MaxPool2d(2)]   for each block
///     global average pool → fc: Linear(C, classes)
///
/// Checkpoint names and shapes (PyTorch state_dict convention, as in ../shared/data/medical/models),
/// which are the module tree's ``Module/stateDict()`` names:
/// `c{i}.weight [cout, cin, 3, 3]`, `c{i}.bias [cout]`, `b{i}.weight|bias|running_mean|running_var [cout]`,
/// `fc.weight [classes, C]`, `fc.bias [classes]` (i from 1). The last block's ReLU output is the
/// Grad-CAM layer.
///
/// With `arch` `resnet` (``ScanResidualBlock``) the network is a small ResNet with torchvision's names:
///
///     conv1: Conv2d(1, C1, 3, pad 1, no bias) → bn1 → ReLU
///     layer{s}.{j}: BasicBlock (stride 2 at j = 0 when pool[s-2])   for each stage s, block j
///     [max pool if pool.last] → global average pool → fc: Linear(C, classes)
///
/// and the last block's output is the Grad-CAM layer.
///
/// A loaded classifier can be shared: inference (``logits(_:n:)``, ``probabilities(_:n:temperature:)``,
/// ``gradCAM(_:n:classIndex:)``) reads the weights as constants and writes nothing in the model,
/// so many threads may analyze with one instance at once. Training (``ScanTrainer``) mutates it and
/// needs the model to itself.
public final class ScanClassifier: Module, @unchecked Sendable {
    public var config: ScanClassifierConfig
    public var isTraining = false
    /// What outputs name as the model that made them: set by `load` (SHA-256 over the files read),
    /// by `save` (over the files written); "unsaved" for a model only in memory.
    public var identity = ModelIdentity(name: ScanClassifier.modelName, version: "unsaved", sha256: "")
    public static let modelName = "lepton-scan-cnn"
    /// The check that a scan is one this model is for (``ScanGate``), loaded from the model
    /// folder's `gate.safetensors` when present; nil means header rules only.
    public var gate: ScanGate?
    /// The plain CNN's blocks; a ResNet's stem (one conv and its norm).
    let convs: [Conv2d]
    let norms: [BatchNorm]
    /// A ResNet's residual stages; empty for the plain CNN.
    let stages: [[ScanResidualBlock]]
    let fc: Linear

    var blocks: Int { config.channels.count }
    var classCount: Int { config.classes.count }
    func cin(_ i: Int) -> Int { i == 0 ? 1 : config.channels[i - 1] }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = []
        if config.isResNet {
            out += [("conv1", convs[0]), ("bn1", norms[0])]
            for (s, stage) in stages.enumerated() {
                for (j, block) in stage.enumerated() { out.append(("layer\(s + 1).\(j)", block)) }
            }
        } else {
            for i in 0..<blocks { out.append(("c\(i + 1)", convs[i])); out.append(("b\(i + 1)", norms[i])) }
        }
        out.append(("fc", fc))
        return out
    }

    /// A randomly initialised network (Kaiming-uniform like PyTorch's defaults).
    public init(config: ScanClassifierConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        var convs: [Conv2d] = [], norms: [BatchNorm] = []
        if config.isResNet {
            convs = [Conv2d(1, config.channels[0], kernel: 3, padding: 1, bias: false, rng: &rng)]
            norms = [BatchNorm(config.channels[0], eps: config.bnEps)]
            stages = ScanClassifier.residualStages(config, rng: &rng)
        } else { stages = [] }
        for i in 0..<config.channels.count where !config.isResNet {
            convs.append(Conv2d(i == 0 ? 1 : config.channels[i - 1], config.channels[i], kernel: 3, padding: 1, rng: &rng))
            norms.append(BatchNorm(config.channels[i], eps: config.bnEps))
        }
        self.convs = convs; self.norms = norms
        fc = Linear(config.channels.last ?? 1, config.classes.count, rng: &rng)
        setTraining(false)
    }

    /// Loads weights strictly from a store: a missing, unused or mis-shaped weight is an error naming it.
    public convenience init(config: ScanClassifierConfig, weights: WeightStore) throws {
        self.init(config: config, seed: 0)
        for (name, v) in namedParameters() + namedBuffers() {
            v.value = try weights.take(name, shape: v.shape)
        }
        weights.skip(where: { $0.hasSuffix("num_batches_tracked") })
        try weights.finish()
    }

    /// All weights by checkpoint name.
    public func namedTensors() -> [String: Tensor] { stateDict() }

    /// How a forward pass reads the layers.
    enum Pass {
        /// Through the modules, in their current mode: parameters join the graph (training).
        case training
        /// Evaluation mode with the weights read as constants: running statistics stay as they
        /// are, no parameter joins the graph and no module flag is read or written, so any number
        /// of threads can run one loaded model at once.
        case inference
    }

    /// The conv blocks up to the Grad-CAM layer: `[n, 1, size, size]` → last ReLU output `[n, C, h, w]`.
    func features(_ x: Variable, _ pass: Pass = .training) -> Variable {
        var h = x
        if config.isResNet {
            h = Self.convNorm(convs[0], norms[0], h, pass).relu()
            for stage in stages { for block in stage { h = block(h, pass) } }
            return h
        }
        for i in 0..<blocks {
            h = Self.convNorm(convs[i], norms[i], h, pass).relu()
            if config.pool[i] && i < blocks - 1 { h = h.maxPool2d(kernel: (2, 2)) }
        }
        return h
    }

    /// From the Grad-CAM layer to the logits: [max pool] → global average pool → fc → `[n, classes]`.
    func head(_ a: Variable, _ pass: Pass = .training) -> Variable {
        var h = a
        if config.pool[blocks - 1] { h = h.maxPool2d(kernel: (2, 2)) }
        h = h.globalAvgPool2d()
        return pass == .training ? fc(h) : h.linear(weight: Variable(fc.weight.value), bias: fc.bias.map { Variable($0.value) })
    }

    /// `conv(x)` with its weights as constants.
    static func frozen(_ conv: Conv2d, _ x: Variable) -> Variable {
        x.conv2d(weight: Variable(conv.weight.value), bias: conv.bias.map { Variable($0.value) }, stride: conv.stride,
                 padding: conv.padding, dilation: conv.dilation, groups: conv.groups)
    }

    /// `norm(x)` in evaluation mode (running statistics, read into call-local copies) with its
    /// affine weights as constants.
    static func frozen(_ norm: BatchNorm, _ x: Variable) -> Variable {
        var mean = norm.runningMean.value, variance = norm.runningVar.value
        return x.batchNorm(runningMean: &mean, runningVar: &variance, weight: norm.weight.map { Variable($0.value) },
                           bias: norm.bias.map { Variable($0.value) }, training: false, momentum: norm.momentum, eps: norm.eps)
    }

    /// Normalised images `[n, size, size]` as a network input `[n, 1, size, size]`.
    func inputVariable(_ images: [Float], n: Int) -> Variable {
        Variable(Tensor(shape: [n, 1, config.inputSize, config.inputSize], scalars: images))
    }

    // MARK: Inference

    /// Normalises 8-bit-range pixels (`[n, size, size]` in 0…1) into network input.
    public func normalise(_ pixels01: [Float]) -> [Float] {
        let m = config.mean, s = config.std
        return pixels01.map { ($0 - m) / s }
    }

    /// Raw logits `[n, classes]` for normalised input `[n, size, size]` (eval mode, whatever the
    /// module's training flag; safe to call from many threads at once); with `config.tta`, the
    /// mean over the shifted views (``testTimeViews(_:n:)``).
    public func logits(_ input: [Float], n: Int) -> [Float] {
        let views = testTimeViews(input, n: n)
        var sum = [Float](repeating: 0, count: n * classCount)
        for view in views {
            let l = withoutGradients { head(features(inputVariable(view, n: n), .inference), .inference) }.value.scalars
            for j in sum.indices { sum[j] += l[j] }
        }
        return sum.map { $0 / Float(views.count) }
    }

    /// The views that test-time augmentation averages: the input itself, then (with `config.tta`
    /// = k > 0) its shifts by k pixels left, right, up and down, the edge rows or columns repeated.
    /// Small shifts are among the training augmentations; flips are not (a chest X-ray's left and
    /// right differ).
    func testTimeViews(_ input: [Float], n: Int) -> [[Float]] {
        let size = config.inputSize, plane = size * size
        return testTimeShifts.map { s in
            if s.dx == 0 && s.dy == 0 { return input }
            var out = [Float](repeating: 0, count: input.count)
            for b in 0..<n {
                for y in 0..<size {
                    for x in 0..<size { out[b * plane + y * size + x] = input[b * plane + shiftedIndex(y, x, s)] }
                }
            }
            return out
        }
    }

    /// The (dx, dy) of each test-time view: (0, 0) first, then ±k along each axis.
    var testTimeShifts: [(dx: Int, dy: Int)] {
        guard let k = config.tta, k > 0 else { return [(0, 0)] }
        return [(0, 0), (-k, 0), (k, 0), (0, -k), (0, k)]
    }

    /// The pixel of the input (row-major in one plane) that a view shifted by `s` shows at (y, x).
    @inline(__always) func shiftedIndex(_ y: Int, _ x: Int, _ s: (dx: Int, dy: Int)) -> Int {
        let last = config.inputSize - 1
        return min(max(y - s.dy, 0), last) * config.inputSize + min(max(x - s.dx, 0), last)
    }

    /// The adjoint of ``testTimeViews(_:n:)``: the gradients of the views, stacked view after view
    /// (`[views·n, size, size]`), carried back to the one input they were cut from (a repeated
    /// edge pixel collects the gradient of every place it was copied to).
    func foldTestTimeGradients(_ stacked: [Float], n: Int) -> [Float] {
        let size = config.inputSize, plane = size * size
        var out = [Float](repeating: 0, count: n * plane)
        for (v, s) in testTimeShifts.enumerated() {
            for b in 0..<n {
                let from = (v * n + b) * plane
                for y in 0..<size {
                    for x in 0..<size { out[b * plane + shiftedIndex(y, x, s)] += stacked[from + y * size + x] }
                }
            }
        }
        return out
    }

    /// Temperature-scaled probabilities `[n, classes]`.
    public func probabilities(_ input: [Float], n: Int, temperature: Float? = nil) -> [Float] {
        let t = temperature ?? config.temperature
        return ScanClassifier.softmax(logits(input, n: n), classes: classCount, temperature: t)
    }

    static func softmax(_ logits: [Float], classes k: Int, temperature t: Float) -> [Float] {
        var out = logits
        let n = logits.count / k
        for b in 0..<n {
            var mx = -Float.infinity
            for j in 0..<k { mx = max(mx, logits[b * k + j] / t) }
            var s: Float = 0
            for j in 0..<k { let e = Foundation.exp(logits[b * k + j] / t - mx); out[b * k + j] = e; s += e }
            for j in 0..<k { out[b * k + j] /= s }
        }
        return out
    }
}
