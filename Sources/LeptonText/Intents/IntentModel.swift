import Foundation
import LeptonEngine

/// Errors of intent training, loading and classification.
public enum IntentError: Error, CustomStringConvertible {
    case badModelFolder(path: String, reason: String)
    case badTrainingSet(reason: String)
    case encoderMismatch(model: String, expected: String, found: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badModelFolder(path, reason): return "intent model \(path): \(reason)"
        case let .badTrainingSet(reason): return "training set: \(reason)"
        case let .encoderMismatch(model, expected, found):
            return "intent model \(model) was trained on encoder \(expected), but \(found) is loaded"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}

/// What an intent model folder's `intent-model.json` holds: labels, the encoder it was trained on,
/// the head's architecture and the fallback rule.
public struct IntentModelConfig: Codable, Sendable, Equatable {
    public static let fileName = "intent-model.json"
    public static let headFileName = "head.safetensors"

    /// Format version of the folder.
    public var format = 1
    /// Intent names; class `i` of the head is `labels[i]`.
    public var labels: [String]
    /// Name of the sentence-encoder folder the head was trained on (all-MiniLM-L6-v2).
    public var encoder: String
    /// Encoder layers whose pooled states are the features (6 = the sentence embedding).
    public var featureLayers: [Int]
    /// Hidden units of the MLP head; 0 = softmax regression.
    public var hiddenUnits: Int
    /// Below this top-1 probability the prediction is `fallbackIntent` (0 = never).
    public var confidenceThreshold: Float
    /// When top-1 minus top-2 probability is below this, the prediction is `fallbackIntent`.
    public var marginThreshold: Float
    /// The intent returned when the model is unsure.
    public var fallbackIntent: String
    /// Top encoder layers stored in the head file (fine-tuned); 0 = frozen encoder.
    public var fineTunedLayers: Int
    /// Share of the TF-IDF n-gram head in the mixed probabilities, `p = (1 − w)·p_encoder + w·p_lexical`;
    /// nil or 0 = the encoder head alone (and no `lexicon.json`).
    public var lexicalWeight: Float?
    /// Temperature `T` of the calibrated probabilities, `softmax(log p / T)` of the (mixed) model
    /// probabilities `p`, fitted on held-out rows by `lepton-chat calibrate` (``IntentCalibration``);
    /// nil or 1 = as trained.
    public var temperature: Float?
    /// An encoder exported as ONNX (`lepton-chat train --encoder MODEL.onnx`): its absolute path
    /// and the first 12 hex digits of its SHA-256; nil for the native MiniLM.
    public var encoderFile: String?
    public var encoderSHA256: String?

    public init(labels: [String], encoder: String, featureLayers: [Int] = [6], hiddenUnits: Int = 0,
                confidenceThreshold: Float = 0, marginThreshold: Float = 0.0, fallbackIntent: String = "nlu_fallback",
                fineTunedLayers: Int = 0) {
        self.labels = labels; self.encoder = encoder; self.featureLayers = featureLayers; self.hiddenUnits = hiddenUnits
        self.confidenceThreshold = confidenceThreshold; self.marginThreshold = marginThreshold
        self.fallbackIntent = fallbackIntent; self.fineTunedLayers = fineTunedLayers
    }
}

/// One classification: the decided intent (possibly the fallback) and the ranked alternatives.
public struct IntentPrediction: Sendable {
    /// The decision after the confidence and margin rules.
    public var intent: String
    /// Probability of the top-ranked label (also when the decision is the fallback).
    public var confidence: Float
    /// Labels by decreasing probability (the model's raw ranking; never contains the fallback).
    public var ranking: [(intent: String, probability: Float)]
    /// True when the thresholds turned the top label into the fallback intent.
    public var isFallback: Bool
}

/// The intent classifier head on top of the MiniLM sentence encoder.
///
/// ```swift
/// let model = try IntentModel(folder: URL(fileURLWithPath: "models/bank"))
/// let ranked = model.classify("I lost my card")       // [(intent, probability)], best first
/// let p = model.predict("hm")                          // applies threshold and margin → "nlu_fallback"
/// ```
///
/// Head weights (`head.safetensors`, PyTorch Linear layout `[out, in]`; `F` = 384 × feature layers):
/// softmax regression `classifier.weight [labels, F]`, `classifier.bias [labels]`; or an MLP
/// `hidden.weight [hiddenUnits, F]`, `hidden.bias`, GELU, `classifier.weight [labels, hiddenUnits]`, `classifier.bias`;
/// after fine-tuning also the top encoder blocks, `encoder.layer.L.…` (F16), as in ``MiniLM``.
/// With an n-gram head, `lexicon.json` and `lexical.safetensors` hold it (``LexicalIntentHead``).
///
/// A loaded model is shared freely: every property is a `let`, nothing is written while
/// classifying (the heads are read as constants, gradient recording is off for the calling task
/// only, the encoder's scratch belongs to each call), so many threads can classify with one model.
public final class IntentModel: @unchecked Sendable {
    public let config: IntentModelConfig
    public let encoder: SentenceEncoder
    let head: IntentHead
    /// The TF-IDF head mixed in when `config.lexicalWeight` > 0.
    let lexical: LexicalIntentHead?
    /// The folder the model was loaded from (nil for a model just trained in memory).
    public let folder: URL?

    /// - Parameter head: after training; it must not be trained further once it is the model's.
    init(config: IntentModelConfig, encoder: SentenceEncoder, head: IntentHead, lexical: LexicalIntentHead? = nil, folder: URL? = nil) {
        precondition((config.lexicalWeight ?? 0 > 0) == (lexical != nil), "lexical head and lexicalWeight disagree")
        self.config = config; self.encoder = encoder; self.head = head; self.lexical = lexical; self.folder = folder
        head.setTraining(false)
    }

    /// Loads `intent-model.json` and `head.safetensors` from `folder`, with the encoder from
    /// `encoderFolder` (default: the bootstrapped all-MiniLM-L6-v2), its blocks kept as
    /// `computeType` asks (for inference; see ``MiniLM/converted(to:)``).
    public convenience init(folder: URL, encoderFolder: URL = ModelCache.miniLM, computeType: ComputeType = .float32) throws {
        let configURL = folder.appendingPathComponent(IntentModelConfig.fileName)
        guard let data = try? Data(contentsOf: configURL) else {
            throw IntentError.badModelFolder(path: folder.path, reason: "no readable \(IntentModelConfig.fileName)")
        }
        let config: IntentModelConfig
        do { config = try JSONDecoder().decode(IntentModelConfig.self, from: data) } catch {
            throw IntentError.badModelFolder(path: configURL.path, reason: "not a valid intent model config (\(error))")
        }
        guard config.format == 1, !config.labels.isEmpty, config.hiddenUnits >= 0, !config.featureLayers.isEmpty,
              (0...1).contains(config.lexicalWeight ?? 0) else {
            throw IntentError.badModelFolder(path: configURL.path, reason: "unsupported format, no labels, bad architecture or lexicalWeight outside 0...1")
        }
        var encoder = try config.encoderFile.map {
            try SentenceEncoder(onnx: URL(fileURLWithPath: $0), tokenizerFolder: encoderFolder, expectedSHA256: config.encoderSHA256)
        } ?? SentenceEncoder(folder: encoderFolder)
        guard encoder.identifier == config.encoder else {
            throw IntentError.encoderMismatch(model: folder.path, expected: config.encoder, found: encoder.identifier)
        }
        guard config.featureLayers.allSatisfy({ (0...encoder.model.config.layers).contains($0) }) else {
            throw IntentError.badModelFolder(path: configURL.path, reason: "feature layers \(config.featureLayers) outside 0...\(encoder.model.config.layers)")
        }
        let store = try Safetensors.read(folder.appendingPathComponent(IntentModelConfig.headFileName))
        var rng = SeededGenerator(seed: 0)
        let head = IntentHead(features: encoder.dimension * config.featureLayers.count, hidden: config.hiddenUnits,
                              classes: config.labels.count, dropout: 0, rng: &rng)
        // Fine-tuned encoder blocks replace the pretrained ones (strictly: all of each block, nothing else).
        let layers = encoder.model.config.layers
        guard (0...layers).contains(config.fineTunedLayers), encoder.onnx == nil || config.fineTunedLayers == 0 else {
            throw IntentError.badModelFolder(path: configURL.path, reason: "fineTunedLayers \(config.fineTunedLayers) outside 0...\(layers)")
        }
        for l in (layers - config.fineTunedLayers)..<layers {
            encoder.model.layers[l] = try MiniLM.loadLayer(store.scoped("encoder.layer.\(l)."), config: encoder.model.config)
        }
        var state: [String: Tensor] = [:]
        for name in store.names where !name.hasPrefix("encoder.") { state[name] = try store.take(name) }
        let lexical = config.lexicalWeight ?? 0 > 0 ? try LexicalIntentHead(folder: folder, labels: config.labels.count) : nil
        if let stray = store.unusedNames.first {
            throw IntentError.badModelFolder(path: store.source, reason: "unexpected weight '\(stray)'")
        }
        do { try head.loadStateDict(state) } catch {
            throw IntentError.badModelFolder(path: store.source, reason: "\(error)")
        }
        self.init(config: config, encoder: encoder.converted(to: computeType), head: head, lexical: lexical, folder: folder)
    }

    /// What made a prediction, for audit: `lepton-intent`, the config's format and encoder, and
    /// a short SHA-256 over the folder's config and weight files (labels and thresholds included).
    public func identity() throws -> ModelIdentity {
        guard let folder else { throw IntentError.badModelFolder(path: "(in memory)", reason: "not loaded from a folder: no identity") }
        let id = try Self.identity(folder: folder, config: config)
        // The encoder's compute type changes the predictions a little: named when it is not float32.
        let type = encoder.model.computeType
        return type == .float32 ? id : ModelIdentity(name: id.name, version: id.version + ", compute type \(type.rawValue)", sha256: id.sha256)
    }

    /// The identity of the model saved in `folder` with `config`.
    public static func identity(folder: URL, config: IntentModelConfig) throws -> ModelIdentity {
        let files = [IntentModelConfig.fileName, IntentModelConfig.headFileName, LexicalIntentHead.lexiconFileName, LexicalIntentHead.weightsFileName]
            .map { folder.appendingPathComponent($0) }.filter { FileManager.default.fileExists(atPath: $0.path) }
        return try ModelIdentity.of(name: "lepton-intent", version: "format \(config.format), \(config.encoder)", files: files)
    }

    /// Throws when a probability is NaN or infinite: finite weights can still overflow (1e38
    /// times a feature), and a NaN confidence must be an error naming the model, not an answer.
    public func checkFinite(_ probabilities: [Float]) throws {
        guard let bad = probabilities.first(where: { !$0.isFinite }) else { return }
        throw IntentError.badModelFolder(path: folder?.path ?? "(in memory)",
                                         reason: "its weights give a non-finite probability (\(bad)); retrain or restore the model")
    }

    /// Writes `intent-model.json`, `head.safetensors` and, with an n-gram head, `lexicon.json` and
    /// `lexical.safetensors` into `folder` (created if needed), each atomically; the config last.
    /// `dtype` is the type the heads' weights are stored in (`--save-dtype`; fine-tuned encoder
    /// blocks stay float16, as they were trained).
    public func save(to folder: URL, dtype: SaveDType = .float32) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            // The head in float32; fine-tuned encoder blocks in float16 (IntentFineTuner rounds them).
            var entries = try Safetensors.entries(head.stateDict(), saving: dtype)
            if let lexical {
                try lexical.save(to: folder, dtype: dtype)
            } else {
                // A folder reused for a model without the n-gram head keeps no stale one.
                for name in [LexicalIntentHead.lexiconFileName, LexicalIntentHead.weightsFileName] {
                    try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
                }
            }
            let layers = encoder.model.config.layers
            for l in max(0, layers - config.fineTunedLayers)..<layers {
                entries.merge(MiniLM.layerWeights(encoder.model.layers[l], prefix: "encoder.layer.\(l).")
                    .mapValues { WeightEntry(encoding: $0, as: .f16) }) { a, _ in a }
            }
            try Safetensors.write(entries, metadata: ["format": "lepton-intent-head"],
                                  to: folder.appendingPathComponent(IntentModelConfig.headFileName))
            try Self.writeAtomically(enc.encode(config), to: folder.appendingPathComponent(IntentModelConfig.fileName))
        } catch let e as IntentError { throw e } catch {
            throw IntentError.cannotWrite(path: folder.path, reason: "\(error)")
        }
    }

    package static func writeAtomically(_ data: Data, to url: URL) throws {
        do { try writeFileAtomically(data, to: url) } catch WeightFormatError.cannotWrite(_, let reason) {
            throw IntentError.cannotWrite(path: url.path, reason: reason)
        }
    }

    // MARK: Classification

    /// Features of `texts` for the head: `[texts.count, F]`.
    public func features(_ texts: [String]) -> Tensor {
        encoder.features(texts, layers: config.featureLayers)
    }

    /// Class probabilities of the encoder head from features: `[n, labels]`.
    func probabilities(features: Tensor) -> Tensor {
        withoutGradients { head.inferenceLogits(Variable(features)).value.softmax() }
    }

    /// Class probabilities `[texts.count, labels]`: the encoder head's, mixed with the lexical head's
    /// when there is one, then scaled by the config's calibration temperature.
    func probabilities(_ texts: [String]) -> Tensor {
        let p = uncalibratedProbabilities(texts)
        guard let t = config.temperature, t != 1 else { return p }
        let c = config.labels.count
        return Tensor(shape: p.shape, scalars: IntentCalibration.scaled(p.scalars.map(Double.init), classes: c, temperature: Double(t)).map(Float.init))
    }

    /// The probabilities before temperature scaling, one row of `labels.count` per text (what
    /// calibration is fitted on).
    public func uncalibratedProbabilities(_ texts: [String]) -> Tensor {
        let p = probabilities(features: features(texts))
        guard let lexical, let w = config.lexicalWeight, w > 0 else { return p }
        return p * (1 - w) + lexical.probabilities(texts) * w
    }

    /// All labels with their probabilities, best first.
    public func classify(_ text: String) -> [(intent: String, probability: Float)] {
        classify([text])[0]
    }

    /// Ranked labels for each text, in input order (encoded as one length-sorted batch).
    public func classify(_ texts: [String]) -> [[(intent: String, probability: Float)]] {
        guard !texts.isEmpty else { return [] }
        let p = probabilities(texts).scalars, c = config.labels.count
        return (0..<texts.count).map { i in
            (0..<c).map { (config.labels[$0], p[i * c + $0]) }.sorted { $0.1 > $1.1 }
        }
    }

    /// The decision for each text: the top label, or the fallback intent when the top probability is
    /// below `confidenceThreshold` or beats the runner-up by less than `marginThreshold`.
    public func predict(_ texts: [String]) -> [IntentPrediction] {
        classify(texts).map(decide)
    }

    public func predict(_ text: String) -> IntentPrediction { predict([text])[0] }

    /// ``predict(_:)``, refusing non-finite probabilities with an error naming the model.
    public func checkedPredict(_ texts: [String]) throws -> [IntentPrediction] {
        let ranked = classify(texts)
        for r in ranked { try checkFinite(r.map(\.probability)) }
        return ranked.map(decide)
    }

    func decide(_ ranking: [(intent: String, probability: Float)]) -> IntentPrediction {
        let top = ranking.first?.probability ?? 0
        let second = ranking.count > 1 ? ranking[1].probability : 0
        let unsure = top < config.confidenceThreshold || top - second < config.marginThreshold
        return IntentPrediction(intent: unsure ? config.fallbackIntent : ranking[0].intent, confidence: top,
                                ranking: ranking, isFallback: unsure)
    }
}

/// The trainable head: optional hidden GELU layer, dropout on its inputs, a linear classifier.
final class IntentHead: Layer {
    var isTraining = true
    let inputDropout: Dropout
    let hidden: Linear?
    let hiddenDropout: Dropout
    let classifier: Linear

    init(features: Int, hidden units: Int, classes: Int, dropout: Float, rng: inout SeededGenerator) {
        inputDropout = Dropout(dropout, seed: rng.next())
        hiddenDropout = Dropout(dropout, seed: rng.next())
        hidden = units > 0 ? Linear(features, units, rng: &rng) : nil
        classifier = Linear(units > 0 ? units : features, classes, rng: &rng)
    }

    var children: [(String, any Module)] {
        var c: [(String, any Module)] = [("classifier", classifier)]
        if let h = hidden { c.append(("hidden", h)) }
        return c
    }

    /// `[n, F]` features → `[n, classes]` logits in evaluation mode, reading the layers only (no
    /// dropout, whose mode and generator are state): what a shared model classifies with.
    func inferenceLogits(_ x: Variable) -> Variable {
        var h = x
        if let hidden { h = hidden(h).gelu() }
        return classifier(h)
    }

    /// `[n, F]` features → `[n, classes]` logits (dropout while training).
    func callAsFunction(_ x: Variable) -> Variable {
        // Dropout layers hold no weights, so they are not children: follow this module's mode here.
        inputDropout.isTraining = isTraining
        hiddenDropout.isTraining = isTraining
        var h = inputDropout(x)
        if let hidden { h = hiddenDropout(hidden(h).gelu()) }
        return classifier(h)
    }
}
