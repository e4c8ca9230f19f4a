import Foundation
import XCTest
import LeptonEngine
@testable import LeptonText

/// `lepton-chat train --encoder MODEL.onnx`: the MiniLM exported from PyTorch, run as an ONNX
/// graph, gives the native MiniLM's sentence embeddings; an intent model trained on it names it.
final class ONNXSentenceEncoderTests: XCTestCase {
    func testONNXEmbeddingsEqualTheNativeMiniLMs() throws {
        EngineThreads.set(2)
        let sentences = (try JSONSerialization.jsonObject(with: Data(contentsOf: try ONNXFixtures.url("minilm_sentences.json"))) as! [String])
            + ["hi", "Why was I charged twice for the same coffee this morning at the station?"]
        let native = try SentenceEncoder()
        let onnx = try SentenceEncoder(onnx: try ONNXFixtures.url("minilm.onnx"))
        XCTAssertEqual(onnx.identifier, "onnx:minilm.onnx")
        XCTAssertEqual(onnx.dimension, native.dimension)
        let a = native.embed(sentences, batchSize: 4), b = onnx.embed(sentences, batchSize: 4)
        XCTAssertEqual(a.shape, b.shape)
        XCTAssertLessThanOrEqual(maxAbsDifference(a, b), 1e-4)
    }

    func testAnIntentModelRecordsAndReloadsItsONNXEncoder() throws {
        let onnx = try SentenceEncoder(onnx: try ONNXFixtures.url("minilm.onnx"))
        let examples = [("I lost my card", "lost_card"), ("my card is gone", "lost_card"), ("where is my card", "lost_card"),
                        ("top up my account", "top_up"), ("add money please", "top_up"), ("how to top up", "top_up")]
        var options = IntentTrainingOptions()
        options.validationFraction = 0
        let (model, _) = try IntentTrainer.train(examples.map { (text: $0.0, label: $0.1) }, encoder: onnx, options: options)
        XCTAssertEqual(model.config.encoderFile, try ONNXFixtures.url("minilm.onnx").standardizedFileURL.path)
        XCTAssertEqual(model.config.encoderSHA256?.count, 12)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-intent-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try IntentModel(folder: dir)
        XCTAssertEqual(loaded.encoder.identifier, "onnx:minilm.onnx")
        let texts = ["I can't find my card", "put money in"]
        XCTAssertLessThanOrEqual(maxAbsDifference(loaded.probabilities(texts), model.probabilities(texts)), 1e-6)
    }
}
