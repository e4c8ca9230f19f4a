import Foundation
import LeptonEngine

/// `config.json` of a CTranslate2 Whisper model folder.
public struct WhisperConfig: Codable, Sendable {
    /// Token ids forbidden at every step (`suppress_tokens=[-1]`).
    public var suppressIDs: [Int]
    /// Token ids forbidden at the first generated step (`suppress_blank`).
    public var suppressIDsBegin: [Int]
    /// Language tokens (multilingual models only).
    public var langIDs: [Int]?
    /// (decoder layer, head) pairs used for word alignment.
    public var alignmentHeads: [[Int]]?

    enum CodingKeys: String, CodingKey {
        case suppressIDs = "suppress_ids"
        case suppressIDsBegin = "suppress_ids_begin"
        case langIDs = "lang_ids"
        case alignmentHeads = "alignment_heads"
    }
}

/// Whisper tiny.en with float32 weights converted from a CTranslate2 `model.bin` (float16 on disk).
///
/// Checkpoint names and shapes (148 variables, one alias; `L` = layer 0…3):
/// ```
/// encoder/conv1/weight [384, 80, 3]  bias [384]          Conv1D k3 s1 p1, GELU
/// encoder/conv2/weight [384, 384, 3] bias [384]          Conv1D k3 s2 p1, GELU
/// encoder/position_encodings/encodings [1500, 384]
/// encoder/layer_L/self_attention/layer_norm/{gamma,beta} [384]
/// encoder/layer_L/self_attention/linear_0/{weight [1152, 384], bias [1152]}   fused Q|K|V
/// encoder/layer_L/self_attention/linear_1/{weight [384, 384], bias [384]}     output
/// encoder/layer_L/ffn/layer_norm/{gamma,beta} [384]
/// encoder/layer_L/ffn/linear_0/{weight [1536, 384], bias [1536]}   GELU
/// encoder/layer_L/ffn/linear_1/{weight [384, 1536], bias [384]}
/// encoder/layer_norm/{gamma,beta} [384]
/// decoder/embeddings/weight [51864, 384]   (= decoder/projection/weight, alias: tied output)
/// decoder/position_encodings/encodings [448, 384]
/// decoder/layer_L/self_attention/...   as in the encoder (causal)
/// decoder/layer_L/attention/layer_norm/{gamma,beta} [384]
/// decoder/layer_L/attention/linear_0/{weight [384, 384], bias [384]}     cross-attention query
/// decoder/layer_L/attention/linear_1/{weight [768, 384], bias [768]}     fused K|V of the encoder output
/// decoder/layer_L/attention/linear_2/{weight [384, 384], bias [384]}     output
/// decoder/layer_L/ffn/...              as in the encoder
/// decoder/layer_norm/{gamma,beta} [384]
/// scalars: decoder/{activation=3 (GELU erf), alibi=0, alignment_heads, alignment_layer, num_heads=6,
///          pre_norm=1, scale_embeddings=0, start_from_zero_embedding=0}, encoder/num_heads=6
/// ```
/// Loading is strict: a missing, mis-shaped or unused variable is a ``SpeechError/weight(name:reason:)``.
///
/// Immutable after loading and safe to share between threads: every weight lives in class storage
/// freed with its last user (a load that fails midway frees what it had read), and the only lazy
/// member, ``bpeEncoder()``, is guarded by a lock.
public final class WhisperModel: @unchecked Sendable {
    // MARK: Dimensions of tiny.en
    public static let dModel = 384
    public static let heads = 6
    public static let headDim = 64
    public static let ffnDim = 1536
    public static let encoderLayers = 4
    public static let decoderLayers = 4
    public static let melBins = 80
    public static let encoderFrames = 3000
    public static let encoderPositions = 1500
    public static let decoderPositions = 448
    public static let vocabularySize = 51864

    /// A linear layer `y = x Wᵀ + b` with `W` `[out, in]` kept as the model's ``ComputeType`` asks
    /// (convolutions: always float32).
    public struct Linear: Sendable {
        public let weights: LinearWeights
        let biasBuffer: WeightBuffer
        public var outputs: Int { weights.outputs }
        public var inputs: Int { weights.inputs }
        /// `[outputs]`.
        var bias: UnsafeMutablePointer<Float> { biasBuffer.pointer }
    }

    /// A decoder linear layer `y = x Wᵀ + b`: `W` in float16 as stored (exact) or int8, in the panel
    /// layout of ``PanelMatrix`` for the few-row products of decoding steps; `b` in float32.
    public struct PanelLinear: Sendable {
        public let weight: WhisperPanelWeights
        let biasBuffer: WeightBuffer
        public var outputs: Int { weight.outputs }
        public var inputs: Int { weight.inputs }
        /// `[outputs]`.
        var bias: UnsafeMutablePointer<Float> { biasBuffer.pointer }
    }

    /// LayerNorm parameters (epsilon 1e-5).
    public struct Norm: Sendable {
        let gammaBuffer: WeightBuffer
        let betaBuffer: WeightBuffer
        /// `[384]` scale and shift.
        var gamma: UnsafeMutablePointer<Float> { gammaBuffer.pointer }
        var beta: UnsafeMutablePointer<Float> { betaBuffer.pointer }
    }

    public struct EncoderLayer: Sendable {
        public let attentionNorm: Norm
        public let qkv: Linear
        public let attentionOut: Linear
        public let ffnNorm: Norm
        public let ffnIn: Linear
        public let ffnOut: Linear
    }

    public struct DecoderLayer: Sendable {
        public let selfNorm: Norm
        public let selfQKV: PanelLinear
        public let selfOut: PanelLinear
        public let crossNorm: Norm
        public let crossQuery: PanelLinear
        /// Applied once per window to 1500 encoder rows (a large GEMM): float32.
        public let crossKV: Linear
        public let crossOut: PanelLinear
        public let ffnNorm: Norm
        public let ffnIn: PanelLinear
        public let ffnOut: PanelLinear
    }

    /// Conv weights re-laid at load as `[out, kernel, in]` so that an im2col row is three
    /// contiguous input frames of a `[time, channels]` activation.
    public let conv1: Linear
    public let conv2: Linear
    let encoderPositionBuffer: WeightBuffer
    /// `[1500, 384]`
    var encoderPositions: UnsafeMutablePointer<Float> { encoderPositionBuffer.pointer }
    public let encoderLayers: [EncoderLayer]
    public let encoderNorm: Norm
    /// `[51864, 384]`: token embeddings and (tied) output projection, kept in float16 as stored
    /// (exact; converted on the fly), which halves both its memory and the bytes each decoding
    /// step's output projection reads. Panel layout: a lookup is ``PanelMatrix/row(_:into:)``.
    public let embeddings: WhisperPanelWeights
    /// How the linear layers keep their weights: float32 (encoder in float32, decoder steps in
    /// float16 panels, which hold the checkpoint's float16 values exactly), float16 (the encoder's
    /// and cross-attention's weights stored in float16 too: same values, half the memory) or int8
    /// (``Int8Matrix``: per-row weight scales, activations quantised per row, as CTranslate2's int8;
    /// for the encoder, the cross-attention keys and values, the decoder steps and the tied
    /// embedding/projection). The two convolutions stay float32.
    public let computeType: ComputeType
    let decoderPositionBuffer: WeightBuffer
    /// `[448, 384]`
    var decoderPositions: UnsafeMutablePointer<Float> { decoderPositionBuffer.pointer }
    public let decoderLayers: [DecoderLayer]
    public let decoderNorm: Norm

    public let config: WhisperConfig
    public let tokenizer: WhisperTokenizer
    /// The model folder.
    public let directory: URL

    private let encoderLock = NSLock()
    private var cachedEncoder: WhisperBPEEncoder?

    /// The BPE encoder of text into this model's tokens (for prompts and the domain language
    /// model), read from the folder's `tokenizer.json` on first use and kept: one parse per
    /// process however many transcribers and language models share the model.
    public func bpeEncoder() throws -> WhisperBPEEncoder {
        encoderLock.lock()
        defer { encoderLock.unlock() }
        if let cachedEncoder { return cachedEncoder }
        let encoder = try WhisperBPEEncoder(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"), vocabulary: tokenizer)
        cachedEncoder = encoder
        return encoder
    }

    /// The `WhisperSpec` revision of `model.bin` (its version, for ``identity()``).
    public let specRevision: UInt32

    /// What made a transcript, for audit: the model folder's name (`whisper-tiny.en`), the
    /// CTranslate2 spec revision (with the compute type when it is not float32: int8 changes the
    /// transcripts) and a short SHA-256 of `model.bin` (hashed when asked: 75 MB).
    public func identity() throws -> ModelIdentity {
        try ModelIdentity.of(name: directory.lastPathComponent,
                             version: "WhisperSpec revision \(specRevision)" + (computeType == .float32 ? "" : ", compute type \(computeType.rawValue)"),
                             files: [directory.appendingPathComponent("model.bin")])
    }

    /// Loads `model.bin`, `config.json` and `vocabulary.txt` from `directory`.
    ///
    /// - Parameter computeType: how the linear layers keep their weights (see ``computeType``).
    /// - Throws: ``SpeechError`` naming the file or weight at fault.
    public init(directory: URL = ModelCache.whisperTinyEn, computeType: ComputeType = .float32) throws {
        self.directory = directory
        self.computeType = computeType
        let binURL = directory.appendingPathComponent("model.bin")
        let file: CTranslate2File
        do { file = try CTranslate2File(contentsOf: binURL) } catch {
            throw SpeechError.model(path: binURL.path, reason: "\(error)")
        }
        guard file.specName == "WhisperSpec" else {
            throw SpeechError.model(path: binURL.path, reason: "spec \(file.specName), expected WhisperSpec")
        }
        specRevision = file.specRevision
        let configURL = directory.appendingPathComponent("config.json")
        do {
            config = try JSONDecoder().decode(WhisperConfig.self, from: Data(contentsOf: configURL))
        } catch {
            throw SpeechError.model(path: configURL.path, reason: "bad config.json: \(error)")
        }
        tokenizer = try WhisperTokenizer(vocabulary: directory.appendingPathComponent("vocabulary.txt"))
        guard tokenizer.count == Self.vocabularySize else {
            throw SpeechError.model(path: directory.appendingPathComponent("vocabulary.txt").path,
                                    reason: "\(tokenizer.count) tokens, expected \(Self.vocabularySize) (tiny.en)")
        }

        var loader = Loader(file: file, computeType: computeType)
        let d = Self.dModel
        // Scalars: checked against the architecture this code implements.
        let expected: [(String, Double)] = [
            ("decoder/activation", 3), ("decoder/alibi", 0), ("decoder/num_heads", 6), ("decoder/pre_norm", 1),
            ("decoder/scale_embeddings", 0), ("decoder/start_from_zero_embedding", 0), ("encoder/num_heads", 6),
        ]
        for (name, value) in expected {
            let v = try loader.scalar(name)
            guard v == value else { throw SpeechError.weight(name: name, reason: "value \(v), this port implements \(value)") }
        }
        // Word-alignment settings: not used for transcription, read so that nothing is left over.
        _ = try loader.scalar("decoder/alignment_heads")
        _ = try loader.scalar("decoder/alignment_layer")

        conv1 = try loader.conv("encoder/conv1", out: d, in: Self.melBins)
        conv2 = try loader.conv("encoder/conv2", out: d, in: d)
        encoderPositionBuffer = try loader.tensor("encoder/position_encodings/encodings", [Self.encoderPositions, d])
        var enc: [EncoderLayer] = []
        for l in 0..<Self.encoderLayers {
            let p = "encoder/layer_\(l)/"
            enc.append(EncoderLayer(
                attentionNorm: try loader.norm(p + "self_attention/layer_norm"),
                qkv: try loader.linear(p + "self_attention/linear_0", out: 3 * d, in: d),
                attentionOut: try loader.linear(p + "self_attention/linear_1", out: d, in: d),
                ffnNorm: try loader.norm(p + "ffn/layer_norm"),
                ffnIn: try loader.linear(p + "ffn/linear_0", out: Self.ffnDim, in: d),
                ffnOut: try loader.linear(p + "ffn/linear_1", out: d, in: Self.ffnDim)))
        }
        encoderLayers = enc
        encoderNorm = try loader.norm("encoder/layer_norm")

        embeddings = try loader.halfPanels("decoder/embeddings/weight", out: Self.vocabularySize, in: d)
        // The output projection is the embedding matrix (alias); it must not have its own bias.
        guard file.aliases["decoder/projection/weight"] == "decoder/embeddings/weight" else {
            throw SpeechError.weight(name: "decoder/projection/weight", reason: "expected an alias of decoder/embeddings/weight")
        }
        loader.used.insert("decoder/projection/weight")
        decoderPositionBuffer = try loader.tensor("decoder/position_encodings/encodings", [Self.decoderPositions, d])
        var dec: [DecoderLayer] = []
        for l in 0..<Self.decoderLayers {
            let p = "decoder/layer_\(l)/"
            dec.append(DecoderLayer(
                selfNorm: try loader.norm(p + "self_attention/layer_norm"),
                selfQKV: try loader.halfLinear(p + "self_attention/linear_0", out: 3 * d, in: d),
                selfOut: try loader.halfLinear(p + "self_attention/linear_1", out: d, in: d),
                crossNorm: try loader.norm(p + "attention/layer_norm"),
                crossQuery: try loader.halfLinear(p + "attention/linear_0", out: d, in: d),
                crossKV: try loader.linear(p + "attention/linear_1", out: 2 * d, in: d),
                crossOut: try loader.halfLinear(p + "attention/linear_2", out: d, in: d),
                ffnNorm: try loader.norm(p + "ffn/layer_norm"),
                ffnIn: try loader.halfLinear(p + "ffn/linear_0", out: Self.ffnDim, in: d),
                ffnOut: try loader.halfLinear(p + "ffn/linear_1", out: d, in: Self.ffnDim)))
        }
        decoderLayers = dec
        decoderNorm = try loader.norm("decoder/layer_norm")

        let unused = file.allNames.filter { !loader.used.contains($0) }
        if let first = unused.first {
            throw SpeechError.weight(name: first, reason: "present in \(binURL.lastPathComponent) but unused by Whisper tiny.en"
                                     + (unused.count > 1 ? " (and \(unused.count - 1) more)" : ""))
        }
    }

    /// Reads variables by name, remembering which were consumed.
    private struct Loader {
        let file: CTranslate2File
        var used: Set<String> = []
        let computeType: ComputeType
        var quantize: Bool { computeType == .int8 }

        init(file: CTranslate2File, computeType: ComputeType) {
            self.file = file
            self.computeType = computeType
        }

        /// A float16 `[out, in]` matrix re-laid in panels (values unchanged), or quantised to int8.
        mutating func halfPanels(_ name: String, out: Int, in inputs: Int) throws -> WhisperPanelWeights {
            let p = UnsafeMutablePointer<Float16>.allocate(capacity: out * inputs)
            defer { p.deallocate() }
            do {
                try file.readHalves(name, expectedShape: [out, inputs], into: p)
            } catch let e as CTranslate2Error {
                switch e {
                case .missingVariable: throw SpeechError.weight(name: name, reason: "missing from \(file.path)")
                case let .wrongVariable(_, _, reason): throw SpeechError.weight(name: name, reason: reason)
                default: throw SpeechError.model(path: file.path, reason: e.description)
                }
            }
            guard !used.contains(name) else { throw SpeechError.weight(name: name, reason: "read twice") }
            used.insert(name)
            guard quantize else { return .half(PanelMatrix(rowMajor: p, outputs: out, inputs: inputs)) }
            let wide = UnsafeMutablePointer<Float>.allocate(capacity: out * inputs)
            defer { wide.deallocate() }
            HalfPrecision.float16ToFloatAligned(p, count: out * inputs, into: wide)
            return .int8(Int8Matrix(rowMajor: wide, outputs: out, inputs: inputs))
        }

        mutating func tensor(_ name: String, _ shape: [Int]) throws -> WeightBuffer {
            let buffer = WeightBuffer(count: shape.reduce(1, *))
            do {
                try file.readFloats(name, expectedShape: shape, into: buffer.pointer)
            } catch let e as CTranslate2Error {
                switch e {
                case .missingVariable: throw SpeechError.weight(name: name, reason: "missing from \(file.path)")
                case let .wrongVariable(_, _, reason): throw SpeechError.weight(name: name, reason: reason)
                default: throw SpeechError.model(path: file.path, reason: e.description)
                }
            }
            guard !used.contains(name) else { throw SpeechError.weight(name: name, reason: "read twice") }
            used.insert(name)
            return buffer
        }

        mutating func scalar(_ name: String) throws -> Double {
            let v: Double
            do { v = try file.scalar(name) } catch {
                throw SpeechError.weight(name: name, reason: "\(error)")
            }
            used.insert(name)
            return v
        }

        mutating func linear(_ prefix: String, out: Int, in inputs: Int) throws -> Linear {
            let w = try tensor(prefix + "/weight", [out, inputs])
            return Linear(weights: LinearWeights(rowMajor: w.pointer, outputs: out, inputs: inputs, computeType: computeType),
                          biasBuffer: try tensor(prefix + "/bias", [out]))
        }

        mutating func halfLinear(_ prefix: String, out: Int, in inputs: Int) throws -> PanelLinear {
            PanelLinear(weight: try halfPanels(prefix + "/weight", out: out, in: inputs), biasBuffer: try tensor(prefix + "/bias", [out]))
        }

        mutating func norm(_ prefix: String) throws -> Norm {
            Norm(gammaBuffer: try tensor(prefix + "/gamma", [WhisperModel.dModel]), betaBuffer: try tensor(prefix + "/beta", [WhisperModel.dModel]))
        }

        /// Conv1D `[out, in, 3]` re-laid as `[out, 3, in]`.
        mutating func conv(_ prefix: String, out: Int, in inputs: Int) throws -> Linear {
            let buffer = try tensor(prefix + "/weight", [out, inputs, 3]), w = buffer.pointer
            let tmp = [Float](UnsafeBufferPointer(start: w, count: out * inputs * 3))
            for o in 0..<out {
                for c in 0..<inputs {
                    for k in 0..<3 { w[o * 3 * inputs + k * inputs + c] = tmp[o * inputs * 3 + c * 3 + k] }
                }
            }
            return Linear(weights: LinearWeights(rowMajor: w, outputs: out, inputs: 3 * inputs, computeType: .float32),
                          biasBuffer: try tensor(prefix + "/bias", [out]))
        }
    }
}

/// Float32 weights read at load, freed when the last layer value holding them goes away.
final class WeightBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
    }

    deinit { pointer.deallocate() }
}

/// Few-row decoder weights: float16 panels (exact), or int8 with per-row scales (``Int8Matrix``:
/// activations quantised per row, oneDNN's int8 GEMM). Work is shared out in
/// ``PanelMatrix``'s 16-output panels for both.
public enum WhisperPanelWeights: Sendable {
    case half(PanelMatrix<Float16>)
    case int8(Int8Matrix)

    public var outputs: Int { switch self { case .half(let m): m.outputs; case .int8(let m): m.outputs } }
    public var inputs: Int { switch self { case .half(let m): m.inputs; case .int8(let m): m.inputs } }
    public var panels: Int { (outputs + PanelMatrix<Float16>.width - 1) / PanelMatrix<Float16>.width }

    /// Row `o` as floats (an embedding lookup); see ``PanelMatrix/row(_:into:)``.
    func row(_ o: Int, into destination: UnsafeMutablePointer<Float>) {
        switch self { case .half(let m): m.row(o, into: destination); case .int8(let m): m.row(o, into: destination) }
    }

    /// See ``PanelMatrix/multiply(_:rows:ldx:panelRange:into:ldy:bias:accumulate:)``.
    func multiply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, panelRange: Range<Int>,
                  into y: UnsafeMutablePointer<Float>, ldy: Int, bias: UnsafePointer<Float>?, accumulate: Bool) {
        switch self {
        case .half(let m):
            m.multiply(x, rows: rows, ldx: ldx, panelRange: panelRange, into: y, ldy: ldy, bias: bias, accumulate: accumulate)
        case .int8(let m):
            let width = PanelMatrix<Float16>.width
            let range = (panelRange.lowerBound * width)..<min(m.outputs, panelRange.upperBound * width)
            m.multiply(x, rows: rows, ldx: ldx, into: y, ldy: ldy, beta: accumulate ? 1 : 0, outputRange: range)
            if let bias {
                for r in 0..<rows {
                    let row = y + r * ldy
                    for o in range { row[o] += bias[o] }
                }
            }
        }
    }
}
