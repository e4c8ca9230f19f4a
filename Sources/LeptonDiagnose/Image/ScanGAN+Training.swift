import Foundation
import LeptonEngine
import LeptonImage

/// How `ScanGAN.train` runs (DCGAN's recipe: Adam at 2e-4 with β₁ = 0.5, batches of 64).
public struct GANTrainingOptions: Sendable {
    public var epochs = 10
    public var batchSize = 64
    public var learningRate: Float = 2e-4
    public var beta1: Float = 0.5
    public var seed: UInt64 = 0
    public init() {}
}

/// Figures of a GAN training run; `frechet` is per epoch when a scan model and reference images
/// were given (generated images against the reference ones, on the model's pooled features).
public struct GANTrainingSummary: Sendable, Codable {
    public var epochsRun = 0
    public var images = 0
    public var discriminatorLoss = 0.0
    public var generatorLoss = 0.0
    public var frechet: [Double] = []
    public var seconds = 0.0
}

extension ScanGAN {
    /// Trains a new GAN on `images` (pixels 0…1, all of them; pick a class with `subset` first).
    ///
    /// Each step: the discriminator on a real batch (target 1) and on a generated batch (target 0,
    /// the generator cut off), binary cross-entropy on logits; then the generator through the
    /// updated discriminator with target 1 (the non-saturating loss). Both in training mode.
    /// - Parameters:
    ///   - fidModel, fidReference: when given, each epoch reports the Fréchet distance between
    ///     `fidReference` and as many generated images (fixed noise) on `fidModel`'s pooled features.
    ///   - curves: per epoch `d_loss`, `g_loss`, `d_real`, `d_fake` (mean discriminator
    ///     probabilities) and `frechet` to curves.csv and TensorBoard; its stderr line is the progress.
    public static func train(images: LabeledImages, config: ScanGANConfig, options: GANTrainingOptions,
                             fidModel: ScanClassifier? = nil, fidReference: LabeledImages? = nil,
                             curves: TrainingProgress? = nil, progress: (String) -> Void = { _ in }) throws -> (ScanGAN, GANTrainingSummary) {
        guard images.count >= 2 else { throw DiagnoseError.badLabels(file: "training set", line: 0, reason: "a GAN needs at least 2 training images, got \(images.count)") }
        guard images.size == ScanGANConfig.imageSize else {
            throw DiagnoseError.usage("the GAN makes \(ScanGANConfig.imageSize)×\(ScanGANConfig.imageSize) images, the training images are \(images.size)×\(images.size)")
        }
        if let problem = config.problem { throw DiagnoseError.usage(problem) }
        let gan = ScanGAN(config: config, seed: options.seed)
        let g = gan.generator, d = gan.discriminator
        let optG = Adam(g.parameters(), learningRate: options.learningRate, beta1: options.beta1)
        let optD = Adam(d.parameters(), learningRate: options.learningRate, beta1: options.beta1)
        var rng = SeededGenerator(seed: options.seed &+ 1)
        let plane = images.size * images.size
        let batch = Swift.max(2, Swift.min(options.batchSize, images.count))
        let stepsPerEpoch = images.count / batch  // whole batches only: batch norm needs more than one image
        var summary = GANTrainingSummary()
        summary.images = images.count
        let start = Date()
        for epoch in 1...Swift.max(1, options.epochs) {
            let epochStart = Date()
            var order = Array(0..<images.count)
            order.shuffle(using: &rng)
            var sums = (d: 0.0, g: 0.0, real: 0.0, fake: 0.0)
            gan.setTraining(true)
            for s in 0..<stepsPerEpoch {
                var real = [Float](repeating: 0, count: batch * plane)
                for j in 0..<batch {
                    let i = order[s * batch + j]
                    for p in 0..<plane { real[j * plane + p] = images.pixels[i * plane + p] * 2 - 1 }
                }
                let z = Variable(Tensor.randomNormal([batch, config.latent], using: &rng))
                let fake = g(z)
                // Discriminator: real → 1, generated → 0.
                let realLogits = d(Variable(Tensor(shape: [batch, 1, 28, 28], scalars: real)))
                let fakeLogits = d(fake.detached())
                let lossD = binaryCrossEntropyWithLogits(realLogits, targets: Tensor(shape: [batch, 1], repeating: 1))
                    + binaryCrossEntropyWithLogits(fakeLogits, targets: Tensor.zeros([batch, 1]))
                d.zeroGrad()
                lossD.backward()
                optD.step()
                // Generator: make the updated discriminator say 1.
                let lossG = binaryCrossEntropyWithLogits(d(fake), targets: Tensor(shape: [batch, 1], repeating: 1))
                g.zeroGrad()
                lossG.backward()
                optG.step()
                sums.d += Double(lossD.value.scalars[0]); sums.g += Double(lossG.value.scalars[0])
                sums.real += meanSigmoid(realLogits.value.scalars); sums.fake += meanSigmoid(fakeLogits.value.scalars)
            }
            gan.setTraining(false)
            let k = Double(Swift.max(1, stepsPerEpoch))
            var metrics: [String: Float] = ["d_loss": Float(sums.d / k), "g_loss": Float(sums.g / k),
                                            "d_real": Float(sums.real / k), "d_fake": Float(sums.fake / k)]
            if let fidModel, let fidReference {
                let fd = try gan.frechetDistance(to: fidReference, model: fidModel, seed: options.seed &+ 99)
                summary.frechet.append(fd)
                metrics["frechet"] = Float(fd)
            }
            do { try curves?.endEpoch(metrics: metrics) } catch {
                throw DiagnoseError.writeFailed(path: curves?.csvURL?.path ?? "training log", reason: "\(error)")
            }
            summary.epochsRun = epoch
            summary.discriminatorLoss = sums.d / k; summary.generatorLoss = sums.g / k
            progress(String(format: "epoch %d/%d  d loss %.4f  g loss %.4f  D(real) %.3f  D(fake) %.3f%@  (%.1f s)", epoch, options.epochs,
                            sums.d / k, sums.g / k, sums.real / k, sums.fake / k,
                            summary.frechet.last.map { String(format: "  Fréchet %.3f", $0) } ?? "", Date().timeIntervalSince(epochStart)))
        }
        summary.seconds = Date().timeIntervalSince(start)
        return (gan, summary)
    }

    static func meanSigmoid(_ logits: [Float]) -> Double {
        logits.reduce(0.0) { $0 + 1 / (1 + Foundation.exp(-Double($1))) } / Double(Swift.max(1, logits.count))
    }

    /// The Fréchet distance between `reference` and as many generated images (noise from
    /// `seed`) on `model`'s pooled features (the Grad-CAM layer's global average, what its
    /// classifier reads): FID's formula on the scan CNN instead of Inception.
    public func frechetDistance(to reference: LabeledImages, model: ScanClassifier, seed: UInt64) throws -> Double {
        let generated = generate(count: reference.count, seed: seed)
        return try ScanGAN.frechetDistance(reference.pixels, generated, model: model)
    }

    /// The Fréchet distance between two image sets (`[n, 28, 28]` pixels 0…1 each) on `model`'s pooled features.
    public static func frechetDistance(_ a: [Float], _ b: [Float], model: ScanClassifier) throws -> Double {
        let plane = model.config.inputSize * model.config.inputSize
        func features(_ pixels: [Float]) -> [Float] {
            var out: [Float] = []
            var i = 0
            let n = pixels.count / plane
            while i < n {
                let m = Swift.min(256, n - i)
                out += model.pooledFeatures(model.normalise(Array(pixels[(i * plane)..<((i + m) * plane)])), n: m)
                i += m
            }
            return out
        }
        do { return try Metrics.frechetDistance(features(a), features(b), dimension: model.featureChannels) } catch {
            throw DiagnoseError.usage("Fréchet distance: \(error)")
        }
    }

    /// An 8-bit grayscale grid of `images` (`[n, 28, 28]`, 0…1), `columns` across with a 2-pixel
    /// gap, as PNG bytes.
    public static func gridPNG(_ images: [Float], columns: Int = 8) throws -> Data {
        let side = ScanGANConfig.imageSize, n = images.count / (side * side), gap = 2
        let rows = (n + columns - 1) / columns
        let width = columns * (side + gap) + gap, height = rows * (side + gap) + gap
        var samples = [UInt8](repeating: 0, count: width * height)
        for k in 0..<n {
            let x0 = gap + (k % columns) * (side + gap), y0 = gap + (k / columns) * (side + gap)
            for y in 0..<side { for x in 0..<side {
                samples[(y0 + y) * width + x0 + x] = UInt8((Swift.min(Swift.max(images[k * side * side + y * side + x], 0), 1) * 255).rounded())
            } }
        }
        return try PNGEncoder.encode(samples: samples, width: width, height: height, channels: 1)
    }

    /// Writes `count` generated images (noise from `seed`) as 8-bit PNGs `gen_00000.png`, … into
    /// `directory` with a `labels.csv` (`file,label`, every row `label`), so they can join a
    /// training CSV (`train`'s rows are relative to their CSV's folder).
    public func writeImages(count: Int, seed: UInt64, label: Int, to directory: URL) throws {
        let side = ScanGANConfig.imageSize, plane = side * side
        let pixels = generate(count: count, seed: seed)
        var rows = ["file,label"]
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw DiagnoseError.writeFailed(path: directory.path, reason: error.localizedDescription)
        }
        for k in 0..<count {
            let name = String(format: "gen_%05d.png", k)
            let bytes = pixels[(k * plane)..<((k + 1) * plane)].map { UInt8(($0 * 255).rounded()) }
            let png: Data
            do { png = try PNGEncoder.encode(samples: bytes, width: side, height: side, channels: 1) } catch {
                throw DiagnoseError.writeFailed(path: directory.appendingPathComponent(name).path, reason: "\(error)")
            }
            try ScanClassifier.atomicWrite(png, to: directory.appendingPathComponent(name))
            rows.append("\(name),\(label)")
        }
        try ScanClassifier.atomicWrite(Data((rows.joined(separator: "\n") + "\n").utf8), to: directory.appendingPathComponent("labels.csv"))
    }

    // MARK: Storage

    /// Saves `gan.safetensors` and `gan.json` into `directory` (each through a temporary file and a rename).
    public func save(to directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try ScanClassifier.atomicWrite(try enc.encode(config), to: directory.appendingPathComponent("gan.json"))
            let weights = Safetensors.encode(try Safetensors.entries(stateDict(), saving: .float32), metadata: ["format": "lepton-diagnose-gan"])
            try ScanClassifier.atomicWrite(weights, to: directory.appendingPathComponent("gan.safetensors"))
            identity = try ModelIdentity.of(name: Self.modelName, version: config.version ?? "unversioned", files: Self.files(directory))
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: directory.path, reason: "cannot save: \(error)")
        }
    }

    /// Loads a folder written by ``save(to:)`` (strict).
    public static func load(from directory: URL) throws -> ScanGAN {
        let cfgURL = directory.appendingPathComponent("gan.json")
        let config: ScanGANConfig
        do { config = try JSONDecoder().decode(ScanGANConfig.self, from: Data(contentsOf: cfgURL)) } catch {
            throw DiagnoseError.badModel(path: cfgURL.path, reason: "cannot read GAN config: \(error)")
        }
        do {
            let gan = try ScanGAN(config: config, weights: Safetensors.read(directory.appendingPathComponent("gan.safetensors")))
            gan.identity = try ModelIdentity.of(name: modelName, version: config.version ?? "unversioned", files: files(directory))
            return gan
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: directory.path, reason: "\(error)")
        }
    }

    static func files(_ directory: URL) -> [URL] {
        [directory.appendingPathComponent("gan.json"), directory.appendingPathComponent("gan.safetensors")]
    }
}
