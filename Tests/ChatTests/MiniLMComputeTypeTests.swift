import Foundation
import XCTest
import LeptonEngine
@testable import LeptonText

/// `--compute-type` for the MiniLM encoder: int8 and float16 embeddings against sentence-transformers'
/// float32 embeddings (`shared/data/minilm-reference.jsonl`, independent of this code).
final class MiniLMComputeTypeTests: XCTestCase {
    static func cosine(_ a: ArraySlice<Float>, _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x * x); nb += Double(y * y) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    func embeddings(_ type: ComputeType, batchSize: Int) throws -> (encoder: SentenceEncoder, refs: [MiniLMReference], cosines: [Double]) {
        let encoder = try MiniLMTests.cached.get().converted(to: type)
        let refs = try MiniLMReference.load()
        let e = encoder.embed(refs.map(\.text), batchSize: batchSize).scalars
        let cosines = refs.indices.map { Self.cosine(e[($0 * 384)..<(($0 + 1) * 384)], refs[$0].embedding) }
        return (encoder, refs, cosines)
    }

    /// int8: every sentence's embedding (3…256 tokens, one at a time and in batches split over
    /// threads) has cosine ≥ 0.99 to the float32 reference; the blocks' weights take about a quarter.
    /// Inputs without a word (`""`, whitespace: only [CLS] [SEP]) measured 0.986: their mean pools
    /// two special tokens whose outlier channels set the per-row scales, so they get ≥ 0.98.
    func testInt8EmbeddingsKeepCosineAbove099() throws {
        EngineThreads.set(2)
        for batchSize in [1, 4] {
            let (encoder, refs, cosines) = try embeddings(.int8, batchSize: batchSize)
            XCTAssertEqual(encoder.model.computeType, .int8)
            XCTAssertGreaterThanOrEqual(refs.filter { $0.inputIDs.count > 2 }.count, 20)
            for (r, c) in zip(refs, cosines) {
                XCTAssertGreaterThanOrEqual(c, r.inputIDs.count > 2 ? 0.99 : 0.98, "\(r.id) (\(r.inputIDs.count) tokens) batch \(batchSize)")
            }
            // Quantised, not float: some sentence moves measurably.
            XCTAssertLessThan(cosines.min()!, 0.99999)
        }
        let full = 6 * 4 * (3 * 384 * 384 + 384 * 384 + 2 * 384 * 1536)
        let packed = try XCTUnwrap(try MiniLMTests.cached.get().converted(to: .int8).model.packedLayers)
        XCTAssertLessThan(Double(packed.reduce(0) { $0 + $1.byteCount }), 0.26 * Double(full))
    }

    /// float16: weights rounded to float16 (all-MiniLM-L6-v2 ships float32), computed in float32:
    /// within 1e-3 cosine of the reference, half the bytes.
    func testFloat16EmbeddingsStayCloseAndHalveTheWeights() throws {
        EngineThreads.set(2)
        let (encoder, refs, cosines) = try embeddings(.float16, batchSize: 8)
        for (r, c) in zip(refs, cosines) { XCTAssertGreaterThanOrEqual(c, 0.999, r.id) }
        let packed = try XCTUnwrap(encoder.model.packedLayers)
        XCTAssertEqual(packed.reduce(0) { $0 + $1.byteCount }, 6 * 2 * (3 * 384 * 384 + 384 * 384 + 2 * 384 * 1536))
        // The float32 copies are gone (the memory is really saved).
        XCTAssertEqual(encoder.model.layers[0].qkvWeight.count, 0)
    }

    /// float32 is the unconverted model itself.
    func testFloat32IsTheUnconvertedEncoder() throws {
        let e = try MiniLMTests.cached.get()
        XCTAssertNil(e.converted(to: .float32).model.packedLayers)
        XCTAssertEqual(e.converted(to: .float32).embed(["I lost my card"]).scalars, e.embed(["I lost my card"]).scalars)
    }
}
