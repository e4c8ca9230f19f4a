import Foundation
import LeptonEngine

/// Text → 384-dimensional unit vectors with all-MiniLM-L6-v2: WordPiece tokenizer + ``MiniLM``.
///
/// ```swift
/// let encoder = try SentenceEncoder()                    // the bootstrapped model folder
/// let e = encoder.embed(["I lost my card", "hello"])     // [2, 384], rows have norm 1
/// ```
public struct SentenceEncoder: Sendable {
    public let tokenizer: WordPieceTokenizer
    public internal(set) var model: MiniLM
    /// Name of the model folder (stored in intent models so a head is never paired with another encoder).
    public let identifier: String
    /// The ONNX graph that replaces ``model``'s forward pass (`SentenceEncoder(onnx:)`), or nil.
    public internal(set) var onnx: ONNXSentenceEncoder? = nil

    /// Loads `vocab.txt`, `config.json` and `model.safetensors` from `folder`.
    public init(folder: URL = ModelCache.miniLM) throws {
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path) else {
            throw EncoderError.unreadableFile(path: folder.appendingPathComponent("model.safetensors").path,
                                              reason: "no such file (run scripts/bootstrap.sh, or set LEPTON_MODELS)")
        }
        tokenizer = try WordPieceTokenizer(vocabularyFile: folder.appendingPathComponent("vocab.txt"))
        model = try MiniLM(folder: folder)
        identifier = folder.lastPathComponent
    }

    public var dimension: Int { onnx?.hidden ?? model.config.hidden }

    /// This encoder with the MiniLM blocks' projections kept as `computeType` asks (see
    /// ``MiniLM/converted(to:)``: for inference only).
    public func converted(to computeType: ComputeType) -> SentenceEncoder {
        var copy = self
        copy.model = model.converted(to: computeType)
        return copy
    }

    /// Embeddings of `texts` in input order: `[texts.count, hidden]`.
    ///
    /// Sentences are sorted by token count and run `batchSize` at a time as packed batches
    /// (no padding), so a batch costs what its tokens cost.
    public func embed(_ texts: [String], batchSize: Int = 32) -> Tensor {
        embed(ids: texts.map { tokenizer.encode($0) }, batchSize: batchSize)
    }

    /// Embeddings of already tokenised sentences (each `[CLS] … [SEP]`), in input order.
    public func embed(ids: [[Int32]], batchSize: Int = 32) -> Tensor {
        features(ids: ids, layers: [model.config.layers], batchSize: batchSize)
    }

    /// Normalised mean-pooled states after each of `layers` (see ``MiniLM/embed(_:layers:)``),
    /// in input order: `[texts.count, hidden · layers.count]`.
    public func features(_ texts: [String], layers: [Int], batchSize: Int = 32) -> Tensor {
        features(ids: texts.map { tokenizer.encode($0) }, layers: layers, batchSize: batchSize)
    }

    /// ``features(_:layers:batchSize:)`` in slices of 2,048 sentences, calling `reporting`
    /// (done, total) after each: the same rows, with a sign of life on large training sets.
    public func features(_ texts: [String], layers: [Int], reporting: ((Int, Int) -> Void)?) -> Tensor {
        let slice = 2_048
        guard let reporting, texts.count > slice else {
            let out = features(texts, layers: layers)
            reporting?(texts.count, texts.count)
            return out
        }
        var out = Tensor(shape: [texts.count, dimension * layers.count])
        let width = dimension * layers.count
        out.withUnsafeMutableBufferPointer { o in
            for start in stride(from: 0, to: texts.count, by: slice) {
                let end = min(texts.count, start + slice)
                let part = features(Array(texts[start..<end]), layers: layers)
                part.withUnsafeBufferPointer { p in
                    for i in 0..<p.count { o[start * width + i] = p[i] }
                }
                reporting(end, texts.count)
            }
        }
        return out
    }

    /// Normalised mean-pooled states after each of `layers` for tokenised sentences, in input order.
    ///
    /// Sentences are sorted by token count and cut into packed batches of `batchSize`. With two or
    /// more batches and more than one engine thread, each thread takes whole batches (longest
    /// first, dynamically) and runs them serially with single-threaded OpenBLAS: no barrier
    /// between the ~40 steps of a forward pass and no OpenBLAS workers spinning while Swift
    /// kernels run. A single batch splits each step over the threads instead.
    public func features(ids: [[Int32]], layers: [Int], batchSize: Int = 32) -> Tensor {
        if let onnx {
            // An ONNX graph gives its last hidden state only; loading checked the tokenizer's
            // largest id and longest sequence against it, so a failure here is a bug.
            precondition(layers == [model.config.layers], "an ONNX encoder has only its last layer (\(model.config.layers)), not \(layers)")
            do { return try onnx.embed(ids: ids, batchSize: batchSize) } catch { preconditionFailure("ONNX encoder \(onnx.url.path): \(error)") }
        }
        let h = dimension * layers.count, n = ids.count
        var out = Tensor(shape: [n, h])
        guard n > 0 else { return out }
        let order = ids.indices.sorted { ids[$0].count < ids[$1].count || (ids[$0].count == ids[$1].count && $0 < $1) }
        let step = max(1, batchSize)
        let batches = stride(from: 0, to: n, by: step).map { Array(order[$0..<min(n, $0 + step)]) }
        let capacity = batches.map { b in b.reduce(0) { $0 + ids[$1].count } }.max() ?? 1
        let longest = ids.map(\.count).max() ?? 1
        let threads = min(EngineThreads.count, batches.count)
        let model = self.model
        out.withUnsafeMutableBufferPointer { ob in
            nonisolated(unsafe) let o = ob.baseAddress!
            if threads <= 1 {
                var ws = MiniLM.Workspace(config: model.config, tokens: capacity, longest: longest)
                for batch in batches {
                    model.embed(batch.map { ids[$0] }, layers: layers, workspace: &ws, parallel: true, into: o, rows: batch)
                }
                return
            }
            // One task per thread, each with its own workspace (per-call scratch; nothing shared but
            // the read-only model), taking whole batches from a queue. Batches are sorted by
            // length and taken from the end, so the longest run first and the last ones are short.
            let queue = BatchQueue(count: batches.count)
            BLAS.withSingleThreadedBLAS {
                parallelChunks(threads, chunk: 1) { _, _ in
                    var ws = MiniLM.Workspace(config: model.config, tokens: capacity, longest: longest)
                    while let b = queue.next() {
                        let batch = batches[batches.count - 1 - b]
                        model.embed(batch.map { ids[$0] }, layers: layers, workspace: &ws, parallel: false, into: o, rows: batch)
                    }
                }
            }
        }
        return out
    }
}

/// Hands out `0..<count` one index at a time to worker threads.
private final class BatchQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = 0
    private let count: Int
    init(count: Int) { self.count = count }
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard taken < count else { return nil }
        taken += 1
        return taken - 1
    }
}
