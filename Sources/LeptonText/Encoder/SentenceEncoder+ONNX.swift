import Foundation
import LeptonEngine
import LeptonONNX

/// A sentence encoder exported from PyTorch as ONNX (`input_ids`, `attention_mask` [,
/// `token_type_ids`] → last hidden state `[batch, tokens, hidden]`), run on the engine through
/// ``ONNXModel``: the sentence embedding is the attention-masked mean of the last hidden state,
/// L2-normalised, as sentence-transformers and the native ``MiniLM`` compute it.
public struct ONNXSentenceEncoder: Sendable {
    /// The model file (absolute path).
    public let url: URL
    /// The first 12 hex digits of SHA-256 over the file (as ``ModelIdentity`` shows it).
    public let sha256: String
    /// Width of the hidden state (the embedding's dimension).
    public let hidden: Int
    let model: ONNXModel
    let output: String
    let hasTokenTypes: Bool

    /// Loads `url` and checks it with the tokenizer it will be fed by: the inputs it needs, the
    /// output's rank, the highest token id and the longest sequence the tokenizer gives all plan
    /// and run (so a later call cannot fail on a well-formed sentence).
    public init(contentsOf url: URL, tokenizer: WordPieceTokenizer) throws {
        self.url = url.standardizedFileURL
        do {
            model = try ONNXModel(contentsOf: url)
            let names = Set(model.inputs.map(\.name))
            guard names.isSuperset(of: ["input_ids", "attention_mask"]), names.subtracting(["input_ids", "attention_mask", "token_type_ids"]).isEmpty else {
                throw EncoderError.unreadableFile(path: url.path, reason: "inputs \(model.inputs.map(\.name).sorted()): a sentence encoder takes input_ids and attention_mask (and token_type_ids)")
            }
            hasTokenTypes = names.contains("token_type_ids")
            output = model.outputs.contains("last_hidden_state") ? "last_hidden_state" : model.outputs[0]
            let top = Int32(tokenizer.tokens.count - 1)
            let probe = try Self.run(model, output: output, tokenTypes: hasTokenTypes,
                                     ids: [[tokenizer.clsID, top, tokenizer.sepID], [Int32](repeating: tokenizer.clsID, count: tokenizer.maxLength)])
            guard probe.rank == 3 else {
                throw EncoderError.unreadableFile(path: url.path, reason: "output '\(output)' has shape \(probe.shape), [batch, tokens, hidden] expected")
            }
            hidden = probe.shape[2]
            sha256 = try ModelIdentity.of(name: "onnx", version: "", files: [url]).sha256
        } catch let e as EncoderError { throw e } catch {
            throw EncoderError.unreadableFile(path: url.path, reason: "\(error)")
        }
    }

    /// The last hidden state of a batch of token-id rows, padded to the longest (mask 0 on padding).
    static func run(_ model: ONNXModel, output: String, tokenTypes: Bool, ids: [[Int32]]) throws -> Tensor {
        let width = ids.map(\.count).max() ?? 0, n = ids.count
        var values = [Int64](repeating: 0, count: n * width), mask = values
        for (r, row) in ids.enumerated() { for (j, t) in row.enumerated() { values[r * width + j] = Int64(t); mask[r * width + j] = 1 } }
        var feeds: [String: ONNXValue] = ["input_ids": .int64(IntTensor(shape: [n, width], values: values)),
                                          "attention_mask": .int64(IntTensor(shape: [n, width], values: mask))]
        if tokenTypes { feeds["token_type_ids"] = .int64(IntTensor(shape: [n, width], repeating: 0)) }
        guard let out = try model.run(feeds)[output]?.floatTensor else {
            throw ONNXError.badInput(name: output, reason: "not a float output")
        }
        return out
    }

    /// Embeddings `[ids.count, hidden]` in input order: sentences sorted by length, batches of
    /// `batchSize` padded to their longest, masked mean over tokens, L2-normalised.
    public func embed(ids: [[Int32]], batchSize: Int = 32) throws -> Tensor {
        let n = ids.count, h = hidden
        var out = [Float](repeating: 0, count: n * h)
        let order = ids.indices.sorted { ids[$0].count < ids[$1].count || (ids[$0].count == ids[$1].count && $0 < $1) }
        for start in stride(from: 0, to: n, by: max(1, batchSize)) {
            let rows = Array(order[start..<min(n, start + max(1, batchSize))])
            let states = try Self.run(model, output: output, tokenTypes: hasTokenTypes, ids: rows.map { ids[$0] })
            let width = states.shape[1]
            states.withUnsafeBufferPointer { s in
                for (b, r) in rows.enumerated() {
                    let len = ids[r].count
                    var sum = [Double](repeating: 0, count: h)
                    for t in 0..<len { for d in 0..<h { sum[d] += Double(s[(b * width + t) * h + d]) } }
                    let mean = sum.map { $0 / Double(max(len, 1)) }
                    let norm = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                    for d in 0..<h { out[r * h + d] = Float(mean[d] / norm) }
                }
            }
        }
        return Tensor(shape: [n, h], scalars: out)
    }
}

extension MiniLM {
    /// The hyper-parameters alone, no weights: the ``SentenceEncoder`` of an ONNX model keeps the
    /// folder's configuration (layers, hidden size) for the checks that read it, and never runs this.
    init(configurationOnly config: MiniLMConfig) {
        self.config = config
        wordEmbeddings = Tensor(shape: [0]); positionEmbeddings = Tensor(shape: [0]); tokenType0 = Tensor(shape: [0])
        embeddingNormWeight = Tensor(shape: [0]); embeddingNormBias = Tensor(shape: [0])
        layers = []
    }
}

extension SentenceEncoder {
    /// An encoder whose forward pass is the ONNX graph `url` (exported from PyTorch), fed by the
    /// WordPiece tokenizer (`vocab.txt`) and configuration of `tokenizerFolder` (default: the
    /// bootstrapped all-MiniLM-L6-v2). Its ``identifier`` is `onnx:<file name>`; with
    /// `expectedSHA256` a file whose hash differs is refused (an intent model names its encoder).
    public init(onnx url: URL, tokenizerFolder: URL = ModelCache.miniLM, expectedSHA256: String? = nil) throws {
        tokenizer = try WordPieceTokenizer(vocabularyFile: tokenizerFolder.appendingPathComponent("vocab.txt"))
        let backend = try ONNXSentenceEncoder(contentsOf: url, tokenizer: tokenizer)
        if let expected = expectedSHA256, expected != backend.sha256 {
            throw EncoderError.unreadableFile(path: url.path, reason: "sha256 \(backend.sha256), the intent model was trained on \(expected)")
        }
        var config = try MiniLMConfig(contentsOf: tokenizerFolder.appendingPathComponent("config.json"))
        config.hidden = backend.hidden
        model = MiniLM(configurationOnly: config)
        identifier = "onnx:" + url.lastPathComponent
        onnx = backend
    }
}
