import Foundation
import LeptonEngine
import LeptonText

/// Which reader decides a report's findings.
public enum ReportReaderKind: String, Sendable, Codable, CaseIterable {
    /// NegEx-style rules (``FindingExtractor``).
    case rules
    /// The MiniLM mention classifier (``TransformerFindingModel``) alone.
    case transformer
    /// The classifier's probability mixed with the rules' verdict (``TransformerFindingConfig/rulesWeight``).
    case combined
}

/// What `report-reader.json` holds: the encoder the head was trained on, the concepts, the
/// decision thresholds and the mixture with the rules, all chosen on the validation split by
/// ``TransformerFindingTrainer``, and the figures that chose them.
public struct TransformerFindingConfig: Codable, Sendable, Equatable {
    public static let fileName = "report-reader.json"
    public static let weightsFileName = "report-reader.safetensors"
    public static let modelName = "lepton-report-transformer"

    public var format = 1
    /// Training date (outputs name it with the weights hash).
    public var version: String
    /// The sentence-encoder folder (all-MiniLM-L6-v2): a head is never paired with another encoder.
    public var encoder: String
    /// Class order of the one-hot part of the features: ``ReportMentions/concepts``.
    public var concepts: [String]
    /// A finding (or, for `other`, the report's abnormality) is present when the largest
    /// probability over its mentions is at least this.
    public var threshold: Float
    /// The report is abnormal when the largest probability over all its mentions is at least this.
    public var abnormalThreshold: Float
    /// `combined`: `p = (1 − w)·p_transformer + w·[rules say present]`, compared with
    /// ``combinedThreshold`` (the same mixture for abnormality, with the rules' abnormal verdict).
    public var rulesWeight: Float
    public var combinedThreshold: Float
    /// `combined`, for the report's abnormality: the weight of the rules' abnormal verdict and the threshold.
    public var abnormalRulesWeight: Float
    public var abnormalCombinedThreshold: Float
    /// The reader `--report-reader` defaults to: the best of the three on validation.
    public var defaultReader: ReportReaderKind
    /// Inverse L2 strength of the logistic head (scikit-learn's `C`), chosen on validation.
    public var inverseRegularization: Float
    /// Free-form figures from training (splits, validation scores), for the model card.
    public var notes: [String: String] = [:]

    /// Width of a mention's features: span and sentence states (`hidden` each) and the concept one-hot.
    public func featureCount(hidden: Int) -> Int { 2 * hidden + concepts.count }

    /// What makes this configuration unusable, or nil.
    var problem: String? {
        if format != 1 { return "format \(format) is not 1" }
        if concepts != ReportMentions.concepts { return "concepts \(concepts) are not \(ReportMentions.concepts)" }
        for (name, v) in [("threshold", threshold), ("abnormalThreshold", abnormalThreshold), ("rulesWeight", rulesWeight),
                          ("combinedThreshold", combinedThreshold), ("abnormalRulesWeight", abnormalRulesWeight),
                          ("abnormalCombinedThreshold", abnormalCombinedThreshold), ("inverseRegularization", inverseRegularization)] {
            if !v.isFinite || v < 0 || (name != "inverseRegularization" && v > 1) { return "\(name) \(v) is outside 0...1" }
        }
        return nil
    }
}

/// Reads findings with a Transformer: each lexicon mention of a finding is classified in its
/// sentence by a logistic head on frozen all-MiniLM-L6-v2 states.
///
/// A mention's features are the mean of the last layer's states over the mention's own word
/// pieces (so "no" before "effusion" is in the state of "effusion", which is how the encoder
/// sees negation and scope), the mean over the whole sentence (both L2-normalised), and a one-hot
/// of the concept. The head gives `p(present)`; a report's finding is present when its most
/// probable mention passes ``TransformerFindingConfig/threshold``.
///
/// Weights (`report-reader.safetensors`, PyTorch `Linear` layout): `classifier.weight [1, F]`,
/// `classifier.bias [1]`, `F = 2·384 + concepts`. Loading is strict: a missing, mis-shaped,
/// non-finite or unexpected weight is an error naming it.
public final class TransformerFindingModel: @unchecked Sendable {
    public let config: TransformerFindingConfig
    public let encoder: SentenceEncoder
    let head: Linear
    /// The folder it was loaded from (nil for a model just trained in memory).
    public let folder: URL?
    /// Name, version and weights hash, as outputs show it.
    public let identity: ModelIdentity

    init(config: TransformerFindingConfig, encoder: SentenceEncoder, head: Linear, folder: URL?, identity: ModelIdentity) {
        self.config = config; self.encoder = encoder; self.head = head; self.folder = folder; self.identity = identity
        head.isTraining = false
    }

    /// A head of the right shape for `encoder`, all zeros (the L-BFGS starting point).
    static func emptyHead(encoder: SentenceEncoder, concepts: Int) -> Linear {
        var rng = SeededGenerator(seed: 0)
        let head = Linear(2 * encoder.dimension + concepts, 1, rng: &rng)
        head.weight.value = Tensor(shape: head.weight.shape)
        head.bias!.value = Tensor(shape: head.bias!.shape)
        return head
    }

    /// Loads `report-reader.json` and `report-reader.safetensors` from `folder`, with the encoder
    /// from `encoderFolder` (default: the bootstrapped all-MiniLM-L6-v2).
    public convenience init(folder: URL, encoderFolder: URL = ModelCache.miniLM) throws {
        let configURL = folder.appendingPathComponent(TransformerFindingConfig.fileName)
        let weightsURL = folder.appendingPathComponent(TransformerFindingConfig.weightsFileName)
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw DiagnoseError.badModel(path: configURL.path, reason: "no such file (train one with lepton-diagnose train-reports)")
        }
        let config: TransformerFindingConfig
        do { config = try JSONDecoder().decode(TransformerFindingConfig.self, from: data) } catch {
            throw DiagnoseError.badModel(path: configURL.path, reason: "not a report reader config (\(error))")
        }
        if let p = config.problem { throw DiagnoseError.badModel(path: configURL.path, reason: p) }
        let encoder: SentenceEncoder
        do { encoder = try SentenceEncoder(folder: encoderFolder) } catch {
            throw DiagnoseError.badModel(path: encoderFolder.path, reason: "the report reader's sentence encoder: \(error)")
        }
        guard encoder.identifier == config.encoder else {
            throw DiagnoseError.badModel(path: configURL.path, reason: "trained on encoder \(config.encoder), but \(encoder.identifier) is loaded")
        }
        let head = Self.emptyHead(encoder: encoder, concepts: config.concepts.count)
        do {
            let store = try Safetensors.read(weightsURL)
            let width = config.featureCount(hidden: encoder.dimension)
            let w = try store.take("classifier.weight", shape: [1, width]), b = try store.take("classifier.bias", shape: [1])
            try store.finish()
            for (name, t) in [("classifier.weight", w), ("classifier.bias", b)] {
                if let bad = t.scalars.first(where: { !$0.isFinite }) {
                    throw DiagnoseError.badModel(path: weightsURL.path, reason: "weight '\(name)' holds a non-finite value (\(bad))")
                }
            }
            head.weight.value = w; head.bias!.value = b
        } catch let e as DiagnoseError { throw e } catch {
            throw DiagnoseError.badModel(path: weightsURL.path, reason: "\(error)")
        }
        let identity: ModelIdentity
        do {
            identity = try ModelIdentity.of(name: TransformerFindingConfig.modelName, version: "\(config.version), \(config.encoder)",
                                            files: [configURL, weightsURL])
        } catch { throw DiagnoseError.badModel(path: folder.path, reason: "\(error)") }
        self.init(config: config, encoder: encoder, head: head, folder: folder, identity: identity)
    }

    /// Writes the config and the head into `folder` (created if needed), each atomically, weights first.
    public func save(to folder: URL) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Safetensors.write(tensors: ["classifier.weight": head.weight.value, "classifier.bias": head.bias!.value],
                                  to: folder.appendingPathComponent(TransformerFindingConfig.weightsFileName))
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeFileAtomically(try enc.encode(config), to: folder.appendingPathComponent(TransformerFindingConfig.fileName))
        } catch {
            throw DiagnoseError.writeFailed(path: folder.path, reason: "\(error)")
        }
    }

    /// Where a deployment puts its own head (`train-reports --out`): `report-reader` in the model
    /// cache (`$LEPTON_MODELS/report-reader`, else `~/.cache/lepton/models/report-reader`). No head
    /// is shipped: the only labelled reports here (IU X-ray, CC BY-NC-ND) may be used as test data,
    /// not inside a product, so without a head of its own a deployment reads reports by the rules.
    public static func defaultFolder() -> URL? {
        let dir = ModelCache.root.appendingPathComponent("report-reader")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(TransformerFindingConfig.fileName).path) else { return nil }
        return dir
    }

    // MARK: Features

    /// Features of every mention, `[mentions, F]`, in the order of `report.mentions`.
    public func features(_ report: ReportMentions) -> Tensor {
        Self.features([report], encoder: encoder, concepts: config.concepts.count)
    }

    /// Features of the mentions of several reports, stacked in order. Each distinct sentence is
    /// encoded once; sentences run through MiniLM in packed batches of 32.
    static func features(_ reports: [ReportMentions], encoder: SentenceEncoder, concepts: Int,
                         progress: (Int, Int) -> Void = { _, _ in }) -> Tensor {
        let h = encoder.dimension, width = 2 * h + concepts
        // Distinct sentences (as words) and, for each, its token ids and each word's token range.
        var sentenceIndex: [[String]: Int] = [:], sentences: [[String]] = []
        for r in reports {
            for words in r.words where sentenceIndex[words] == nil { sentenceIndex[words] = sentences.count; sentences.append(words) }
        }
        let tok = encoder.tokenizer
        var ids: [[Int32]] = [], wordTokens: [[Range<Int>]] = []
        for words in sentences {
            var s: [Int32] = [tok.clsID], ranges: [Range<Int>] = []
            for w in words {
                let pieces = tok.encode(w).dropFirst().dropLast()
                let room = max(0, tok.maxLength - 1 - s.count)
                let start = s.count
                s += pieces.prefix(room)
                ranges.append(start..<s.count)
            }
            s.append(tok.sepID)
            ids.append(s); wordTokens.append(ranges)
        }
        // Last-layer states per sentence: [tokens, h] each, kept as flat arrays.
        var states = [[Float]](repeating: [], count: sentences.count)
        let order = sentences.indices.sorted { ids[$0].count < ids[$1].count }
        let batch = 32
        for start in stride(from: 0, to: order.count, by: batch) {
            let members = Array(order[start..<min(order.count, start + batch)])
            let out = encoder.model.hiddenStates(members.map { ids[$0] })
            out.withUnsafeBufferPointer { o in
                var row = 0
                for m in members {
                    states[m] = Array(o[(row * h)..<((row + ids[m].count) * h)])
                    row += ids[m].count
                }
            }
            progress(min(order.count, start + batch), order.count)
        }
        let total = reports.reduce(0) { $0 + $1.mentions.count }
        var x = [Float](repeating: 0, count: total * width)
        var r0 = 0
        for r in reports {
            for m in r.mentions {
                let s = sentenceIndex[r.words[m.sentence]]!
                let st = states[s], n = ids[s].count
                var span = m.words.isEmpty ? 0..<0 : wordTokens[s][m.words.lowerBound].lowerBound..<wordTokens[s][m.words.upperBound - 1].upperBound
                if span.isEmpty { span = max(1, n - 2)..<max(2, n - 1) }   // truncated away: the last word piece
                let base = r0 * width
                meanPoolNormalized(st, rows: span, width: h, into: &x, at: base)
                meanPoolNormalized(st, rows: 0..<n, width: h, into: &x, at: base + h)
                x[base + 2 * h + m.concept] = 1
                r0 += 1
            }
        }
        return Tensor(shape: [total, width], scalars: x)
    }

    /// The mean of rows `rows` of `states` (`[_, width]`), divided by its L2 norm, written at `out[at...]`.
    static func meanPoolNormalized(_ states: [Float], rows: Range<Int>, width: Int, into out: inout [Float], at: Int) {
        var norm2 = 0.0
        for j in 0..<width {
            var s: Float = 0
            for r in rows { s += states[r * width + j] }
            s /= Float(max(rows.count, 1))
            out[at + j] = s
            norm2 += Double(s) * Double(s)
        }
        let inv = Float(1 / max(norm2.squareRoot(), 1e-12))
        for j in 0..<width { out[at + j] *= inv }
    }

    /// `p(present)` of each row of `features`.
    public func probabilities(_ features: Tensor) -> [Float] {
        withoutGradients { head(Variable(features)).value.sigmoid().scalars }
    }
}
