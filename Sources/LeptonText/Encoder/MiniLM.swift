import Foundation
import LeptonEngine

/// BERT hyper-parameters from a Hugging Face `config.json` (all-MiniLM-L6-v2: 384 hidden, 6 layers,
/// 12 heads of 32, 1536 intermediate, 30,522 words, 512 positions, LayerNorm ε 1e-12, erf GELU).
public struct MiniLMConfig: Sendable, Equatable {
    public var hidden = 384, layers = 6, heads = 12, intermediate = 1536
    public var vocabulary = 30522, maxPositions = 512, tokenTypes = 2
    public var layerNormEpsilon: Float = 1e-12
    public var headDim: Int { hidden / heads }

    public init() {}

    /// Reads `config.json`; only the exact-erf GELU, absolute positions and head sizes that are a
    /// multiple of 8 are supported (anything else is an error naming the field).
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EncoderError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EncoderError.badConfig(path: url.path, reason: "not a JSON object")
        }
        func int(_ k: String) throws -> Int {
            guard let v = o[k] as? Int, v > 0 else { throw EncoderError.badConfig(path: url.path, reason: "field \(k) missing or not a positive integer") }
            return v
        }
        hidden = try int("hidden_size"); layers = try int("num_hidden_layers"); heads = try int("num_attention_heads")
        intermediate = try int("intermediate_size"); vocabulary = try int("vocab_size")
        maxPositions = try int("max_position_embeddings"); tokenTypes = try int("type_vocab_size")
        if let e = o["layer_norm_eps"] as? Double { layerNormEpsilon = Float(e) }
        if let act = o["hidden_act"] as? String, act != "gelu" {
            throw EncoderError.badConfig(path: url.path, reason: "hidden_act \(act) not supported (only exact gelu)")
        }
        if let p = o["position_embedding_type"] as? String, p != "absolute" {
            throw EncoderError.badConfig(path: url.path, reason: "position_embedding_type \(p) not supported")
        }
        guard hidden % heads == 0, (hidden / heads) % 8 == 0, hidden % 8 == 0, intermediate % 8 == 0 else {
            throw EncoderError.badConfig(path: url.path, reason: "hidden \(hidden) / heads \(heads) must give a head size that is a multiple of 8")
        }
    }
}

/// all-MiniLM-L6-v2: a 6-layer BERT encoder (post-LayerNorm) whose mean-pooled, L2-normalised last
/// hidden state is the sentence embedding.
///
/// Checkpoint weights (`model.safetensors`, no `bert.` prefix; Linear weights are `[out, in]`):
/// ```
/// embeddings.word_embeddings.weight            [30522, 384]
/// embeddings.position_embeddings.weight        [512, 384]
/// embeddings.token_type_embeddings.weight      [2, 384]      (only row 0 is used)
/// embeddings.LayerNorm.{weight,bias}           [384]
/// embeddings.position_ids                      I64 [1, 512]  (0..511; skipped)
/// encoder.layer.L.attention.self.{query,key,value}.weight   [384, 384], .bias [384]
/// encoder.layer.L.attention.output.dense.weight             [384, 384], .bias [384]
/// encoder.layer.L.attention.output.LayerNorm.{weight,bias}  [384]
/// encoder.layer.L.intermediate.dense.weight                 [1536, 384], .bias [1536]
/// encoder.layer.L.output.dense.weight                       [384, 1536], .bias [384]
/// encoder.layer.L.output.LayerNorm.{weight,bias}            [384]
/// pooler.dense.{weight [384, 384], bias [384]}               (unused by sentence-transformers; skipped)
/// ```
///
/// The forward pass works on *packed* batches: the tokens of all sentences of a batch are the rows
/// of one `[tokens, hidden]` matrix, so every projection is one GEMM with no padding rows, and
/// attention runs per sentence over exactly its own tokens — the same result as padding with an
/// attention mask that gives padded keys zero weight, without computing the padding.
public struct MiniLM: Sendable {
    /// One post-LayerNorm Transformer block. Q, K and V are fused into one `[3·hidden, hidden]` weight.
    public struct Layer: Sendable {
        public var qkvWeight: Tensor      // [3H, H]  rows: query, key, value
        public var qkvBias: Tensor        // [3H]
        public var outWeight: Tensor      // [H, H]   attention.output.dense
        public var outBias: Tensor        // [H]
        public var norm1Weight: Tensor, norm1Bias: Tensor   // [H] attention.output.LayerNorm
        public var upWeight: Tensor       // [I, H]   intermediate.dense
        public var upBias: Tensor         // [I]
        public var downWeight: Tensor     // [H, I]   output.dense
        public var downBias: Tensor       // [H]
        public var norm2Weight: Tensor, norm2Bias: Tensor   // [H] output.LayerNorm
    }

    /// A block's four projections kept for a ``ComputeType`` other than float32 (see ``converted(to:)``).
    public struct PackedLayer: Sendable {
        public let qkv: LinearWeights, out: LinearWeights, up: LinearWeights, down: LinearWeights
        /// Bytes of the four weight matrices.
        public var byteCount: Int { qkv.byteCount + out.byteCount + up.byteCount + down.byteCount }
    }

    public let config: MiniLMConfig
    /// How the blocks' projections keep their weights (float32 unless ``converted(to:)`` was called).
    public private(set) var computeType: ComputeType = .float32
    /// The blocks' projections in ``computeType`` when that is not float32; nil for float32.
    public private(set) var packedLayers: [PackedLayer]?
    public var wordEmbeddings: Tensor      // [V, H]
    public var positionEmbeddings: Tensor  // [P, H]
    public var tokenType0: Tensor          // [H] row 0 of token_type_embeddings
    public var embeddingNormWeight: Tensor, embeddingNormBias: Tensor  // [H]
    public var layers: [Layer]

    /// Loads `config.json` and `model.safetensors` from a sentence-transformers model folder.
    public init(folder: URL) throws {
        let config = try MiniLMConfig(contentsOf: folder.appendingPathComponent("config.json"))
        let store = try Safetensors.read(folder.appendingPathComponent("model.safetensors"))
        try self.init(weights: store, config: config)
    }

    /// Takes every weight strictly from `weights`: a missing, mis-shaped or unused weight is an error naming it.
    public init(weights store: WeightStore, config: MiniLMConfig) throws {
        self.config = config
        let h = config.hidden
        let emb = store.scoped("embeddings.")
        wordEmbeddings = try emb.take("word_embeddings.weight", shape: [config.vocabulary, h])
        positionEmbeddings = try emb.take("position_embeddings.weight", shape: [config.maxPositions, h])
        let types = try emb.take("token_type_embeddings.weight", shape: [config.tokenTypes, h])
        tokenType0 = Tensor(shape: [h], scalars: Array(types.scalars.prefix(h)))
        embeddingNormWeight = try emb.take("LayerNorm.weight", shape: [h])
        embeddingNormBias = try emb.take("LayerNorm.bias", shape: [h])
        if emb.contains("position_ids") { try emb.skip("position_ids") }
        store.skip { $0.hasPrefix("pooler.") }
        layers = try (0..<config.layers).map { try Self.loadLayer(store.scoped("encoder.layer.\($0)."), config: config) }
        try store.finish()
    }

    /// Takes one block's weights from `s` (names relative to `encoder.layer.L.`).
    static func loadLayer(_ s: WeightStore, config: MiniLMConfig) throws -> Layer {
        let h = config.hidden, i = config.intermediate
        let q = try s.take("attention.self.query.weight", shape: [h, h])
        let k = try s.take("attention.self.key.weight", shape: [h, h])
        let v = try s.take("attention.self.value.weight", shape: [h, h])
        let qb = try s.take("attention.self.query.bias", shape: [h])
        let kb = try s.take("attention.self.key.bias", shape: [h])
        let vb = try s.take("attention.self.value.bias", shape: [h])
        return Layer(
            qkvWeight: Tensor(shape: [3 * h, h], scalars: q.scalars + k.scalars + v.scalars),
            qkvBias: Tensor(shape: [3 * h], scalars: qb.scalars + kb.scalars + vb.scalars),
            outWeight: try s.take("attention.output.dense.weight", shape: [h, h]),
            outBias: try s.take("attention.output.dense.bias", shape: [h]),
            norm1Weight: try s.take("attention.output.LayerNorm.weight", shape: [h]),
            norm1Bias: try s.take("attention.output.LayerNorm.bias", shape: [h]),
            upWeight: try s.take("intermediate.dense.weight", shape: [i, h]),
            upBias: try s.take("intermediate.dense.bias", shape: [i]),
            downWeight: try s.take("output.dense.weight", shape: [h, i]),
            downBias: try s.take("output.dense.bias", shape: [h]),
            norm2Weight: try s.take("output.LayerNorm.weight", shape: [h]),
            norm2Bias: try s.take("output.LayerNorm.bias", shape: [h]))
    }

    /// The block with every weight rounded to float16, the precision a fine-tuned block is
    /// stored at (so the model in memory and the one read back from disk are the same).
    static func roundedToHalf(_ l: Layer, config: MiniLMConfig) throws -> Layer {
        let entries = layerWeights(l, prefix: "").mapValues { WeightEntry(encoding: $0, as: .f16) }
        return try loadLayer(WeightStore(source: "float16 rounding", entries: entries), config: config)
    }

    /// One block's weights under their checkpoint names (prefixed `prefix`), Q/K/V split again.
    static func layerWeights(_ l: Layer, prefix: String) -> [String: Tensor] {
        let h = l.outBias.count
        let w = l.qkvWeight.scalars, b = l.qkvBias.scalars
        func part(_ i: Int) -> (Tensor, Tensor) {
            (Tensor(shape: [h, h], scalars: Array(w[(i * h * h)..<((i + 1) * h * h)])), Tensor(shape: [h], scalars: Array(b[(i * h)..<((i + 1) * h)])))
        }
        let (q, qb) = part(0), (k, kb) = part(1), (v, vb) = part(2)
        let named: [(String, Tensor)] = [
            ("attention.self.query.weight", q), ("attention.self.query.bias", qb),
            ("attention.self.key.weight", k), ("attention.self.key.bias", kb),
            ("attention.self.value.weight", v), ("attention.self.value.bias", vb),
            ("attention.output.dense.weight", l.outWeight), ("attention.output.dense.bias", l.outBias),
            ("attention.output.LayerNorm.weight", l.norm1Weight), ("attention.output.LayerNorm.bias", l.norm1Bias),
            ("intermediate.dense.weight", l.upWeight), ("intermediate.dense.bias", l.upBias),
            ("output.dense.weight", l.downWeight), ("output.dense.bias", l.downBias),
            ("output.LayerNorm.weight", l.norm2Weight), ("output.LayerNorm.bias", l.norm2Bias)]
        return Dictionary(uniqueKeysWithValues: named.map { (prefix + $0.0, $0.1) })
    }

    /// This encoder with its blocks' four projections kept as `computeType` asks (float16: half
    /// the bytes; int8: ``Int8Matrix``, a quarter), for inference. The float32 weight tensors of
    /// the blocks are dropped (emptied) so the memory is saved: a converted encoder can be neither
    /// fine-tuned nor saved, nor converted again; embeddings and LayerNorms stay float32.
    public func converted(to computeType: ComputeType) -> MiniLM {
        guard computeType != .float32 else { return self }
        precondition(packedLayers == nil, "MiniLM is already converted to \(self.computeType)")
        var copy = self
        copy.computeType = computeType
        copy.packedLayers = layers.map { l in
            PackedLayer(qkv: LinearWeights(l.qkvWeight, computeType: computeType), out: LinearWeights(l.outWeight, computeType: computeType),
                        up: LinearWeights(l.upWeight, computeType: computeType), down: LinearWeights(l.downWeight, computeType: computeType))
        }
        let empty = Tensor(shape: [0])
        for i in copy.layers.indices {
            copy.layers[i].qkvWeight = empty; copy.layers[i].outWeight = empty
            copy.layers[i].upWeight = empty; copy.layers[i].downWeight = empty
        }
        return copy
    }

    /// `y[n, W.outputs] = x · Wᵀ + beta · y` for block `index`'s projection `which`: float32 through
    /// OpenBLAS (threaded as the caller set it), other compute types through ``LinearWeights``
    /// (rows split over the engine's threads when `parallel`).
    @inline(__always)
    func project(_ which: KeyPath<PackedLayer, LinearWeights>, _ weight: Tensor, layer index: Int, x: UnsafePointer<Float>, rows n: Int,
                 into y: UnsafeMutablePointer<Float>, beta: Float, parallel: Bool) {
        if let packed = packedLayers?[index][keyPath: which] {
            if parallel { packed.multiplyParallel(x, rows: n, ldx: packed.inputs, into: y, ldy: packed.outputs, beta: beta, blockRows: 128) }
            else { packed.multiply(x, rows: n, ldx: packed.inputs, into: y, ldy: packed.outputs, beta: beta) }
            return
        }
        let (outputs, inputs) = (weight.shape[0], weight.shape[1])
        weight.withUnsafeBufferPointer { w in
            BLAS.sgemm(m: n, n: outputs, k: inputs, a: x, lda: inputs, b: w.baseAddress!, ldb: inputs, transB: true,
                       beta: beta, c: y, ldc: outputs)
        }
    }

    // MARK: Forward

    /// Last hidden states of a packed batch.
    ///
    /// - Parameters:
    ///   - sentences: token ids per sentence (each non-empty, at most `maxPositions` long, ids < vocabulary).
    ///   - lastLayers: run only the first `config.layers - skipTop` layers when `skipTop > 0`.
    /// - Returns: `[Σ lengths, hidden]`, sentence after sentence.
    public func hiddenStates(_ sentences: [[Int32]], skipTop: Int = 0) -> Tensor {
        var ws = Workspace(config: config, tokens: sentences.reduce(0) { $0 + $1.count },
                           longest: sentences.map(\.count).max() ?? 0)
        forward(sentences, workspace: &ws, layerCount: config.layers - skipTop)
        return ws.x
    }

    /// Mean-pooled, L2-normalised embeddings of a batch: `[sentences, hidden]`.
    public func embed(_ sentences: [[Int32]]) -> Tensor {
        var ws = Workspace(config: config, tokens: sentences.reduce(0) { $0 + $1.count },
                           longest: sentences.map(\.count).max() ?? 0)
        return embed(sentences, workspace: &ws)
    }

    /// Buffers of one packed batch, reused across batches of at most `tokens` tokens.
    struct Workspace {
        var capacity: Int, longest: Int
        var x: Tensor, qkv: Tensor, ctx: Tensor, up: Tensor
        init(config c: MiniLMConfig, tokens n: Int, longest: Int) {
            capacity = max(n, 1); self.longest = max(longest, 1)
            x = Tensor(shape: [capacity, c.hidden]); qkv = Tensor(shape: [capacity, 3 * c.hidden])
            ctx = Tensor(shape: [capacity, c.hidden])
            up = Tensor(shape: [capacity, c.intermediate])
        }
    }

    func embed(_ sentences: [[Int32]], workspace ws: inout Workspace) -> Tensor {
        embed(sentences, layers: [config.layers], workspace: &ws)
    }

    /// Mean-pooled, L2-normalised hidden states after each of `layers` (0 = embeddings output,
    /// `config.layers` = the sentence embedding), side by side: `[sentences, hidden · layers.count]`.
    ///
    /// Intermediate layers are extra features for intent heads: they keep more of the surface form
    /// than the last layer, which all-MiniLM-L6-v2 trained for semantic similarity.
    public func embed(_ sentences: [[Int32]], layers wanted: [Int]) -> Tensor {
        var ws = Workspace(config: config, tokens: sentences.reduce(0) { $0 + $1.count },
                           longest: sentences.map(\.count).max() ?? 0)
        return embed(sentences, layers: wanted, workspace: &ws)
    }

    func embed(_ sentences: [[Int32]], layers wanted: [Int], workspace ws: inout Workspace) -> Tensor {
        let width = config.hidden * wanted.count
        var out = Tensor(shape: [sentences.count, width])
        out.withUnsafeMutableBufferPointer { ob in
            embed(sentences, layers: wanted, workspace: &ws, parallel: true, into: ob.baseAddress!, rows: Array(sentences.indices))
        }
        return out
    }

    /// Like ``embed(_:layers:)``, written straight into row `rows[s]` of `out` (`[_, hidden · layers.count]`)
    /// for sentence `s`.
    ///
    /// - Parameter parallel: split each step over the engine's threads (false when the caller runs
    ///   one batch per thread; OpenBLAS's own thread count is the caller's business).
    func embed(_ sentences: [[Int32]], layers wanted: [Int], workspace ws: inout Workspace, parallel: Bool,
               into out: UnsafeMutablePointer<Float>, rows: [Int]) {
        let h = config.hidden, width = h * wanted.count
        forward(sentences, workspace: &ws, layerCount: wanted.max() ?? config.layers, parallel: parallel) { layer, x in
            for (slot, w) in wanted.enumerated() where w == layer {
                var row = 0
                for (s, ids) in sentences.enumerated() {
                    EncoderKernels.meanPoolNormalize(x + row * h, rows: ids.count, width: h, into: out + rows[s] * width + slot * h)
                    row += ids.count
                }
            }
        }
    }

    /// Runs the embeddings and the first `layerCount` blocks; the result is in `ws.x` (first Σ lengths rows).
    ///
    /// Biases: the QKV bias is added inside attention, the output-projection and down-projection
    /// biases inside the LayerNorm that follows, the up-projection bias inside GELU, so no bias rows
    /// are copied. The output and down projections accumulate straight onto the residual stream
    /// `x` (beta = 1), which saves OpenBLAS's zeroing of a separate output and one read per pass.
    ///
    /// - Parameter parallel: split each step (attention heads, GELU and LayerNorm rows) over the
    ///   engine's threads; false when the caller already runs one batch per thread.
    func forward(_ sentences: [[Int32]], workspace ws: inout Workspace, layerCount: Int, parallel: Bool = true,
                 afterLayer: ((Int, UnsafePointer<Float>) -> Void)? = nil) {
        let h = config.hidden, inter = config.intermediate, eps = config.layerNormEpsilon
        let n = sentences.reduce(0) { $0 + $1.count }
        if n > ws.capacity || (sentences.map(\.count).max() ?? 0) > ws.longest {
            ws = Workspace(config: config, tokens: n, longest: sentences.map(\.count).max() ?? 0)
        }
        var offsets = [Int](repeating: 0, count: sentences.count + 1)
        for (i, s) in sentences.enumerated() { offsets[i + 1] = offsets[i] + s.count }
        let longest = ws.longest
        let cfg = config

        ws.x.withUnsafeMutableBufferPointer { xb in
        ws.qkv.withUnsafeMutableBufferPointer { qb in
        ws.ctx.withUnsafeMutableBufferPointer { cb in
        ws.up.withUnsafeMutableBufferPointer { ub in
            let x = xb.baseAddress!, qkv = qb.baseAddress!, ctx = cb.baseAddress!, up = ub.baseAddress!

            // Embeddings: word[id] + position[i] + type[0], then LayerNorm.
            wordEmbeddings.withUnsafeBufferPointer { w in
            positionEmbeddings.withUnsafeBufferPointer { p in
            tokenType0.withUnsafeBufferPointer { t in
            embeddingNormWeight.withUnsafeBufferPointer { g in
            embeddingNormBias.withUnsafeBufferPointer { b in
                for (s, ids) in sentences.enumerated() {
                    for (i, id) in ids.enumerated() {
                        let r = offsets[s] + i
                        EncoderKernels.add3(w.baseAddress! + Int(id) * h, p.baseAddress! + i * h, t.baseAddress!,
                                            into: x + r * h, count: h)
                    }
                }
                EncoderKernels.layerNormRows(x, residual: nil, rows: n, width: h, gamma: g.baseAddress!,
                                             beta: b.baseAddress!, eps: eps, parallel: parallel)
            } } } } }
            afterLayer?(0, x)

            for (index, layer) in layers.prefix(layerCount).enumerated() {
                // Q, K, V for all tokens: one GEMM [n, H]·[3H, H]ᵀ; biases are added in attention.
                project(\.qkv, layer.qkvWeight, layer: index, x: x, rows: n, into: qkv, beta: 0, parallel: parallel)
                layer.qkvBias.withUnsafeBufferPointer { qb in
                    EncoderKernels.attention(qkv: qkv, bias: qb.baseAddress!, offsets: offsets, heads: cfg.heads, headDim: cfg.headDim,
                                             longest: longest, into: ctx, parallel: parallel)
                }
                // Output projection accumulated onto the residual (beta = 1: x += ctx·Woᵀ), then its
                // bias and LayerNorm in one pass.
                project(\.out, layer.outWeight, layer: index, x: ctx, rows: n, into: x, beta: 1, parallel: parallel)
                layer.outBias.withUnsafeBufferPointer { ob in
                layer.norm1Weight.withUnsafeBufferPointer { g in layer.norm1Bias.withUnsafeBufferPointer { b in
                    EncoderKernels.layerNormRows(x, residual: nil, bias: ob.baseAddress!, rows: n, width: h, gamma: g.baseAddress!,
                                                 beta: b.baseAddress!, eps: eps, parallel: parallel)
                } } }
                // Feed-forward: GELU(x·W1ᵀ + b1)·W2ᵀ + b2, residual, LayerNorm.
                project(\.up, layer.upWeight, layer: index, x: x, rows: n, into: up, beta: 0, parallel: parallel)
                layer.upBias.withUnsafeBufferPointer { ub in
                    EncoderKernels.biasGELURows(up, bias: ub.baseAddress!, rows: n, width: inter, parallel: parallel)
                }
                project(\.down, layer.downWeight, layer: index, x: up, rows: n, into: x, beta: 1, parallel: parallel)
                layer.downBias.withUnsafeBufferPointer { db in
                layer.norm2Weight.withUnsafeBufferPointer { g in layer.norm2Bias.withUnsafeBufferPointer { b in
                    EncoderKernels.layerNormRows(x, residual: nil, bias: db.baseAddress!, rows: n, width: h, gamma: g.baseAddress!,
                                                 beta: b.baseAddress!, eps: eps, parallel: parallel)
                } } }
                afterLayer?(index + 1, x)
            }
        } } } }
    }
}
