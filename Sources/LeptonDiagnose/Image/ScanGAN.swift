import Foundation
import LeptonEngine

/// Configuration of a DCGAN for 28×28 scans, saved as `gan.json` beside `gan.safetensors`.
public struct ScanGANConfig: Codable, Sendable, Equatable {
    /// Length of the noise vector `z ~ N(0, I)`.
    public var latent = 64
    /// Channels of the generator's last hidden layer and the discriminator's first (the other
    /// hidden layer has twice as many).
    public var width = 32
    /// The class (index into the scan model's classes) whose training images the GAN learnt; nil: all.
    public var trainedOnClass: Int?
    /// Free-form provenance (training command, seed, figures).
    public var notes: [String: String] = [:]
    public var version: String?

    /// Side of a generated image: 7 doubled twice.
    public static let imageSize = 28

    public init() {}

    /// What makes this configuration unusable, or nil (sizes bounded before anything is allocated).
    var problem: String? {
        if !(1...1024).contains(latent) { return "latent \(latent) is outside 1...1024" }
        if !(1...512).contains(width) { return "width \(width) is outside 1...512" }
        if let c = trainedOnClass, !(0...999).contains(c) { return "trainedOnClass \(c) is outside 0...999" }
        return nil
    }
}

/// DCGAN's generator (Radford et al. 2016) for 28×28 grayscale, in the engine's layers:
///
///     z [n, latent] → fc: Linear(latent, 2w·7·7) → [n, 2w, 7, 7] → bn0 → ReLU
///       → up1: ConvTranspose2d(2w, w, 4, stride 2, pad 1) [14×14] → bn1 → ReLU
///       → up2: ConvTranspose2d(w, 1, 4, stride 2, pad 1) [28×28] → tanh
///
/// Its output in [−1, 1] is the pixel range 0…1 as the scan classifier normalises it
/// (`(p − 0.5)/0.5`). Weight names are the module tree's (`fc.weight`, `bn0.running_mean`, `up1.weight`
/// `[2w, w, 4, 4]`, …), PyTorch's layout.
public final class ScanGenerator: Module {
    public var isTraining = true
    let fc: Linear
    let bn0: BatchNorm, bn1: BatchNorm
    let up1: ConvTranspose2d, up2: ConvTranspose2d
    let width: Int

    public var children: [(String, any Module)] { [("fc", fc), ("bn0", bn0), ("up1", up1), ("bn1", bn1), ("up2", up2)] }

    init(config: ScanGANConfig, rng: inout SeededGenerator) {
        let w = config.width
        width = w
        fc = Linear(config.latent, 2 * w * 49, rng: &rng)
        bn0 = BatchNorm(2 * w); bn1 = BatchNorm(w)
        up1 = ConvTranspose2d(2 * w, w, kernel: 4, stride: 2, padding: 1, rng: &rng)
        up2 = ConvTranspose2d(w, 1, kernel: 4, stride: 2, padding: 1, rng: &rng)
    }

    /// `z` `[n, latent]` → images `[n, 1, 28, 28]` in [−1, 1] (batch statistics in training mode,
    /// running ones otherwise).
    func callAsFunction(_ z: Variable) -> Variable {
        let h0 = bn0(fc(z).reshaped([z.shape[0], 2 * width, 7, 7])).relu()
        return up2(bn1(up1(h0)).relu()).tanh()
    }
}

/// DCGAN's discriminator for 28×28 grayscale:
///
///     x [n, 1, 28, 28] → c1: Conv2d(1, w, 4, stride 2, pad 1) [14×14] → LeakyReLU(0.2)
///       → c2: Conv2d(w, 2w, 4, stride 2, pad 1) [7×7] → b2 → LeakyReLU(0.2) → fc: Linear(2w·49, 1)
///
/// It returns a logit: real images should score high, generated ones low.
public final class ScanDiscriminator: Module {
    public var isTraining = true
    let c1: Conv2d, c2: Conv2d
    let b2: BatchNorm
    let fc: Linear

    public var children: [(String, any Module)] { [("c1", c1), ("c2", c2), ("b2", b2), ("fc", fc)] }

    init(config: ScanGANConfig, rng: inout SeededGenerator) {
        let w = config.width
        c1 = Conv2d(1, w, kernel: 4, stride: 2, padding: 1, rng: &rng)
        c2 = Conv2d(w, 2 * w, kernel: 4, stride: 2, padding: 1, rng: &rng)
        b2 = BatchNorm(2 * w)
        fc = Linear(2 * w * 49, 1, rng: &rng)
    }

    /// Images `[n, 1, 28, 28]` in [−1, 1] → logits `[n, 1]`.
    func callAsFunction(_ x: Variable) -> Variable {
        let h = b2(c2(c1(x).leakyRelu(0.2))).leakyRelu(0.2)
        return fc(h.reshaped([x.shape[0], -1]))
    }
}

/// A generator and its discriminator, saved and loaded together under `g.` and `d.` names
/// (`g.up1.weight`, `d.c1.weight`, …), strictly: a missing, unused, mis-shaped or non-finite
/// weight is an error naming it.
///
/// Generation (``generate(count:seed:)``) reads the weights only (evaluation mode, running
/// batch-norm statistics) and may run from many threads; training needs the model to itself.
public final class ScanGAN: Module, @unchecked Sendable {
    public var config: ScanGANConfig
    public var isTraining = false
    public let generator: ScanGenerator
    public let discriminator: ScanDiscriminator
    public static let modelName = "lepton-scan-dcgan"
    /// What outputs name as the model: set by `load` and `save` (SHA-256 of the files).
    public var identity = ModelIdentity(name: ScanGAN.modelName, version: "unsaved", sha256: "")

    public var children: [(String, any Module)] { [("g", generator), ("d", discriminator)] }

    /// A new GAN with DCGAN's initialisation: conv, transposed-conv and linear weights
    /// `N(0, 0.02²)`, biases 0, batch-norm scales `N(1, 0.02²)` and shifts 0.
    public init(config: ScanGANConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        generator = ScanGenerator(config: config, rng: &rng)
        discriminator = ScanDiscriminator(config: config, rng: &rng)
        for (name, p) in namedParameters() {
            let isNorm = name.contains(".bn") || name.hasPrefix("d.b2")
            if name.hasSuffix(".weight") {
                p.value = isNorm ? Tensor.randomNormal(p.shape, std: 0.02, using: &rng) + 1 : Tensor.randomNormal(p.shape, std: 0.02, using: &rng)
            } else {
                p.value = Tensor.zeros(p.shape)
            }
        }
        setTraining(false)
    }

    /// Loads weights strictly from a store (every weight present, used and of its shape).
    public convenience init(config: ScanGANConfig, weights: WeightStore) throws {
        if let problem = config.problem { throw DiagnoseError.badModel(path: weights.source, reason: "inconsistent GAN configuration: \(problem)") }
        self.init(config: config, seed: 0)
        do {
            for (name, v) in namedParameters() + namedBuffers() { v.value = try weights.take(name, shape: v.shape) }
            try weights.finish()
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: weights.source, reason: "\(error)")
        }
    }

    /// `count` generated images `[count, 28, 28]` in the pixel range 0…1, from `z` drawn with `seed`.
    public func generate(count: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        var out: [Float] = []
        out.reserveCapacity(count * 784)
        var done = 0
        while done < count {
            let n = Swift.min(256, count - done)
            let z = Tensor.randomNormal([n, config.latent], using: &rng)
            out += Self.pixels(withoutGradients { generator.inference(Variable(z)) }.value.scalars)
            done += n
        }
        return out
    }

    /// Generator output in [−1, 1] → pixels 0…1.
    static func pixels(_ tanhOutput: [Float]) -> [Float] { tanhOutput.map { Swift.min(Swift.max(($0 + 1) / 2, 0), 1) } }

    /// Pixels 0…1 → the generator's and discriminator's range [−1, 1].
    static func centred(_ pixels: [Float]) -> [Float] { pixels.map { $0 * 2 - 1 } }
}

extension ScanGenerator {
    /// The forward pass in evaluation mode without reading or writing the module flag (running
    /// statistics read into call-local copies), so many threads may generate at once.
    func inference(_ z: Variable) -> Variable {
        func norm(_ b: BatchNorm, _ x: Variable) -> Variable {
            var mean = b.runningMean.value, variance = b.runningVar.value
            return x.batchNorm(runningMean: &mean, runningVar: &variance, weight: b.weight.map { Variable($0.value) },
                               bias: b.bias.map { Variable($0.value) }, training: false, momentum: b.momentum, eps: b.eps)
        }
        func up(_ c: ConvTranspose2d, _ x: Variable) -> Variable {
            x.convTranspose2d(weight: Variable(c.weight.value), bias: c.bias.map { Variable($0.value) }, stride: c.stride,
                              padding: c.padding, outputPadding: c.outputPadding)
        }
        let h = z.linear(weight: Variable(fc.weight.value), bias: fc.bias.map { Variable($0.value) })
        let h0 = norm(bn0, h.reshaped([z.shape[0], 2 * width, 7, 7])).relu()
        return up(up2, norm(bn1, up(up1, h0)).relu()).tanh()
    }
}
