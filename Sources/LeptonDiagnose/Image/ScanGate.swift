import Foundation
import LeptonEngine

/// Whether a scan is one the model is for, checked before any pneumonia suggestion is made.
///
/// The scan model learned chest radiographs only; on anything else (a spine radiograph, an MR, an
/// ultrasound) its probabilities mean nothing, yet they once came out as "pneumonia 0.99999". Two
/// checks, in order:
/// - header rules (DICOM only): the modality must be CR or DX, and the body part and view, where
///   the header states them, CHEST and a frontal view (PA/AP);
/// - an out-of-distribution check on the image itself: the Mahalanobis distance of the CNN's pooled
///   features to the nearest class mean of the training images (shared covariance; Lee et al.,
///   NeurIPS 2018), refused above a threshold chosen on validation chest X-rays.
///
/// Stored beside the model as `gate.safetensors` (`mean [classes, C]`, `cholesky [C, C]` of the
/// covariance, `threshold [1]`): class means and a covariance, no image.
public struct ScanGate: Sendable, Equatable {
    /// Class means of the pooled features, `[classes, C]`.
    public var means: [Float]
    /// Lower Cholesky factor L of the shared covariance (Σ = L Lᵀ), `[C, C]` row-major.
    public var cholesky: [Float]
    public var channels: Int
    public var classes: Int
    /// Distances above this are refused.
    public var threshold: Float

    public static let fileName = "gate.safetensors"

    /// Modalities the model was trained for: computed and digital radiography.
    public static let modalities: Set<String> = ["CR", "DX"]
    /// Frontal views (the training X-rays are frontal).
    public static let views: Set<String> = ["PA", "AP"]

    /// Why the header says the scan is not for the model, or nil when it allows it (a PNG has no
    /// header: nothing to refuse on).
    public static func headerReason(format: String, modality: String, bodyPart: String, view: String) -> String? {
        guard format == "dicom" else { return nil }
        let m = modality.uppercased(), b = bodyPart.uppercased(), v = view.uppercased()
        if !modalities.contains(m) {
            return "modality \(m.isEmpty ? "not stated" : m): the model reads chest radiographs (CR, DX)"
        }
        if !b.isEmpty && b != "CHEST" { return "body part \(b): the model reads chest radiographs" }
        if !v.isEmpty && !views.contains(v) { return "view \(v): the model was trained on frontal (PA/AP) chest radiographs" }
        return nil
    }

    /// Fits class means and the shared covariance (with a small ridge so that it is invertible) on
    /// the pooled features `[n, C]` of training images with labels in `0..<classes`.
    public static func fit(features x: [Float], labels: [Int], channels C: Int, classes K: Int) throws -> ScanGate {
        let n = labels.count
        guard n > C, x.count == n * C else { throw DiagnoseError.usage("the image check needs more training images than features (\(n) ≤ \(C))") }
        var mean = [Double](repeating: 0, count: K * C), count = [Double](repeating: 0, count: K)
        for i in 0..<n { count[labels[i]] += 1; for c in 0..<C { mean[labels[i] * C + c] += Double(x[i * C + c]) } }
        for k in 0..<K where count[k] > 0 { for c in 0..<C { mean[k * C + c] /= count[k] } }
        var cov = [Double](repeating: 0, count: C * C)
        var d = [Double](repeating: 0, count: C)
        for i in 0..<n {
            for c in 0..<C { d[c] = Double(x[i * C + c]) - mean[labels[i] * C + c] }
            for a in 0..<C { for b in 0...a { cov[a * C + b] += d[a] * d[b] } }
        }
        var trace = 0.0
        for a in 0..<C { for b in 0...a { cov[a * C + b] /= Double(n - K); cov[b * C + a] = cov[a * C + b] }; trace += cov[a * C + a] }
        for a in 0..<C { cov[a * C + a] += 1e-3 * trace / Double(C) }
        // Cholesky–Banachiewicz: Σ = L Lᵀ, positive definite by the ridge.
        var L = [Double](repeating: 0, count: C * C)
        for i in 0..<C {
            for j in 0...i {
                var s = cov[i * C + j]
                for k in 0..<j { s -= L[i * C + k] * L[j * C + k] }
                if i == j {
                    guard s > 0 else { throw DiagnoseError.usage("the training features' covariance is not positive definite") }
                    L[i * C + i] = s.squareRoot()
                } else {
                    L[i * C + j] = s / L[j * C + j]
                }
            }
        }
        return ScanGate(means: mean.map(Float.init), cholesky: L.map(Float.init), channels: C, classes: K, threshold: .infinity)
    }

    /// Mahalanobis distance of pooled features `f` (`[C]`) to the nearest class mean:
    /// min over k of ‖L⁻¹(f − μ_k)‖, by forward substitution.
    public func distance(_ f: [Float]) -> Float {
        let C = channels
        var best = Double.infinity
        var z = [Double](repeating: 0, count: C)
        for k in 0..<classes {
            var s2 = 0.0
            for i in 0..<C {
                var s = Double(f[i] - means[k * C + i])
                for j in 0..<i { s -= Double(cholesky[i * C + j]) * z[j] }
                z[i] = s / Double(cholesky[i * C + i])
                s2 += z[i] * z[i]
            }
            best = min(best, s2)
        }
        return Float(best.squareRoot())
    }

    /// The `quantile` of validation distances: chest X-rays further than that many are refused, so
    /// about `1 − quantile` of them are false alarms on data like the validation set.
    public static func threshold(validation distances: [Float], quantile: Double) -> Float {
        let d = distances.filter(\.isFinite).sorted()
        guard !d.isEmpty else { return .infinity }
        return d[min(d.count - 1, Int((quantile * Double(d.count)).rounded(.up)) - 1)]
    }

    // MARK: Storage

    public func save(to directory: URL) throws {
        let tensors = ["mean": Tensor(shape: [classes, channels], scalars: means),
                       "cholesky": Tensor(shape: [channels, channels], scalars: cholesky),
                       "threshold": Tensor(shape: [1], scalars: [threshold])]
        let data = Safetensors.encode(tensors.mapValues { WeightEntry($0) }, metadata: ["format": "lepton-diagnose gate"])
        try ScanClassifier.atomicWrite(data, to: directory.appendingPathComponent(Self.fileName))
    }

    /// The gate beside a model folder, nil when the folder has none (header rules only then).
    /// Strict: a missing, unused or mis-shaped tensor, or a non-finite value, is an error naming it.
    public static func load(from directory: URL, channels C: Int, classes K: Int) throws -> ScanGate? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            let store = try Safetensors.read(url)
            let mean = try store.take("mean", shape: [K, C]).scalars
            let chol = try store.take("cholesky", shape: [C, C]).scalars
            let t = try store.take("threshold", shape: [1]).scalars[0]
            try store.finish()
            guard (mean + chol).allSatisfy(\.isFinite), !t.isNaN, (0..<C).allSatisfy({ chol[$0 * C + $0] > 0 }) else {
                throw DiagnoseError.badModel(path: url.path, reason: "the image check holds values that are not finite or a singular factor")
            }
            return ScanGate(means: mean, cholesky: chol, channels: C, classes: K, threshold: t)
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: url.path, reason: "\(error)")
        }
    }
}

extension ScanClassifier {
    /// Pooled features of the Grad-CAM layer, `[n, C]`: what the fc layer reads (eval mode, safe
    /// from many threads), for ``ScanGate``.
    public func pooledFeatures(_ input: [Float], n: Int) -> [Float] {
        withoutGradients {
            var h = features(inputVariable(input, n: n), .inference)
            if config.pool[blocks - 1] { h = h.maxPool2d(kernel: (2, 2)) }
            return h.globalAvgPool2d()
        }.value.scalars
    }

    /// Channels of the pooled features.
    public var featureChannels: Int { config.channels.last ?? 0 }
}

extension ScanGate {
    /// What fitting found: the gate, and its false alarms on validation chest X-rays that played no
    /// part in choosing the threshold.
    public struct Fit: Sendable {
        public var gate: ScanGate
        public var trainImages: Int
        /// Validation images the threshold was chosen on (even positions) and checked on (odd).
        public var chosenOn: Int
        public var checkedOn: Int
        /// Chest X-rays of the checked half refused by the image check.
        public var falseAlarms: Int
        public var quantile: Double
    }

    /// Fits the image check of `model` on its training images, chooses the threshold as the
    /// `quantile` of the distances of half the validation images and counts the false alarms on
    /// the other half. Images are `[n, size, size]` in 0…1, as ``LabeledImages`` holds them.
    public static func fit(model: ScanClassifier, train: LabeledImages, validation: LabeledImages,
                           quantile: Double = 0.99) throws -> Fit {
        guard validation.count >= 2 else { throw DiagnoseError.usage("the image check needs validation images (rows under val/, or --val)") }
        let C = model.featureChannels
        func features(_ images: LabeledImages) -> [Float] {
            let plane = images.size * images.size
            var out: [Float] = []
            out.reserveCapacity(images.count * C)
            var start = 0
            while start < images.count {
                let n = min(256, images.count - start)
                out += model.pooledFeatures(model.normalise(Array(images.pixels[(start * plane)..<((start + n) * plane)])), n: n)
                start += n
            }
            return out
        }
        var gate = try fit(features: features(train), labels: train.labels, channels: C, classes: model.classCount)
        let v = features(validation)
        let d = (0..<validation.count).map { gate.distance(Array(v[($0 * C)..<(($0 + 1) * C)])) }
        let choose = stride(from: 0, to: d.count, by: 2).map { d[$0] }, check = stride(from: 1, to: d.count, by: 2).map { d[$0] }
        gate.threshold = threshold(validation: choose, quantile: quantile)
        return Fit(gate: gate, trainImages: train.count, chosenOn: choose.count, checkedOn: check.count,
                   falseAlarms: check.filter { !($0 <= gate.threshold) }.count, quantile: quantile)
    }
}
