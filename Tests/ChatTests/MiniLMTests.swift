import Foundation
import XCTest
import LeptonEngine
@testable import LeptonText

/// The Swift MiniLM against sentence-transformers' embeddings (`shared/data/minilm-reference.jsonl`).
final class MiniLMTests: XCTestCase {
    /// Loaded once per process (a `static let` is initialised once, thread-safely).
    static let cached = Result { try SentenceEncoder() }

    func encoder() throws -> SentenceEncoder {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: ModelCache.miniLM.appendingPathComponent("model.safetensors").path),
                          "run scripts/bootstrap.sh first")
        return try Self.cached.get()
    }

    /// One encoder shared by 8 threads: each call has its own workspace, so every thread gets the
    /// single-threaded embeddings (which the tests above compare with sentence-transformers).
    func testEightThreadsSharingOneEncoderGetTheSingleThreadedEmbeddings() throws {
        let e = try encoder()
        let texts = ["I lost my card", "what is my balance", "hello", "transfer 50 euros to my savings account please"]
        let alone = e.embed(texts).scalars
        let results = SharedResults(count: 8)
        let group = DispatchGroup()
        for i in 0..<8 {
            group.enter()
            Thread { results.set(i, e.embed(texts).scalars); group.leave() }.start()
        }
        group.wait()
        for i in 0..<8 { XCTAssertEqual(results.get(i), alone, "thread \(i)") }
    }

    static func check(_ got: [Float], _ want: [Float], _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, name, file: file, line: line)
        var worst: Float = 0, dot: Double = 0, ng: Double = 0, nw: Double = 0
        for (a, b) in zip(got, want) {
            worst = max(worst, abs(a - b)); dot += Double(a) * Double(b); ng += Double(a * a); nw += Double(b * b)
        }
        let cosine = dot / (ng.squareRoot() * nw.squareRoot())
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(name): max |diff| \(worst)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(cosine, 0.99999, "\(name): cosine \(cosine)", file: file, line: line)
    }

    func testEmbeddingsMatchReferenceOneAtATime() throws {
        let enc = try encoder()
        for r in try MiniLMReference.load() {
            let e = enc.embed([r.text])
            XCTAssertEqual(e.shape, [1, 384])
            Self.check(e.scalars, r.embedding, r.id)
        }
    }

    func testBatchedEmbeddingsMatchReferenceInInputOrder() throws {
        // All 25 sentences (lengths 2..256) in batches of 4: packing and reordering must not change anything.
        let enc = try encoder()
        let refs = try MiniLMReference.load()
        let e = enc.embed(refs.map(\.text), batchSize: 4)
        XCTAssertEqual(e.shape, [refs.count, 384])
        let all = e.scalars
        for (i, r) in refs.enumerated() { Self.check(Array(all[(i * 384)..<((i + 1) * 384)]), r.embedding, "batched \(r.id)") }
    }

    func testEmptyAndWhitespaceOnlyGiveTheSameUnitVector() throws {
        let enc = try encoder()
        let e = enc.embed(["", "   \t\n "]).scalars
        XCTAssertEqual(Array(e[0..<384]), Array(e[384..<768]))
        let norm = e[0..<384].reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertEqual(norm, 1, accuracy: 1e-5)
    }

    func testStrictLoadingNamesTheMissingWeight() throws {
        _ = try encoder()
        let store = try Safetensors.read(ModelCache.miniLM.appendingPathComponent("model.safetensors"))
        var entries: [String: WeightEntry] = [:]
        for name in store.names where name != "encoder.layer.3.output.dense.bias" { entries[name] = store.entry(name) }
        do {
            _ = try MiniLM(weights: WeightStore(source: "m.safetensors", entries: entries), config: MiniLMConfig())
            XCTFail("loading without a weight must fail")
        } catch {
            XCTAssertTrue("\(error)".contains("encoder.layer.3.output.dense.bias"), "\(error)")
        }
        var extra = entries
        extra["encoder.layer.3.output.dense.bias"] = store.entry("encoder.layer.3.output.dense.bias")
        extra["encoder.layer.9.stray"] = store.entry("embeddings.LayerNorm.bias")
        do {
            _ = try MiniLM(weights: WeightStore(source: "m.safetensors", entries: extra), config: MiniLMConfig())
            XCTFail("an unused weight must fail")
        } catch {
            XCTAssertTrue("\(error)".contains("encoder.layer.9.stray"), "\(error)")
        }
    }
}

/// Per-thread results behind a lock.
final class SharedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [[Float]?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: [Float]) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> [Float]? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
