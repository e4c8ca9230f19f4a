import Foundation
import XCTest
import LeptonEngine
@testable import LeptonText
@testable import LeptonDialog

/// Intent training, persistence, the fallback rule and fine-tuning, on small BANKING77 subsets.
final class IntentTests: XCTestCase {
    nonisolated(unsafe) static var cachedEncoder: SentenceEncoder?

    func encoder() throws -> SentenceEncoder { try Self.sharedEncoder() }

    /// The bootstrapped MiniLM, loaded once for the test run (skips without it).
    static func sharedEncoder() throws -> SentenceEncoder {
        if let e = cachedEncoder { return e }
        try XCTSkipUnless(FileManager.default.fileExists(atPath: ModelCache.miniLM.appendingPathComponent("model.safetensors").path),
                          "run scripts/bootstrap.sh first")
        let e = try SentenceEncoder()
        cachedEncoder = e
        return e
    }

    /// BANKING77 rows of `intents`: the first `train` of each intent for training, the next `test` for testing.
    func banking(_ intents: [String], train: Int, test: Int) throws -> (train: [(text: String, label: String)], test: [(text: String, label: String)]) {
        let url = MiniLMReference.sharedFolder.appendingPathComponent("data/banking77/train.csv")
        let rows = try NLUData.load(url).labeledTexts
        var tr: [(text: String, label: String)] = [], te: [(text: String, label: String)] = []
        for intent in intents {
            let mine = rows.filter { $0.label == intent }
            XCTAssertGreaterThanOrEqual(mine.count, train + test, intent)
            tr += mine.prefix(train); te += mine.dropFirst(train).prefix(test)
        }
        return (tr, te)
    }

    static let intents = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "change_pin", "top_up_failed"]

    func testTrainSaveLoadClassify() throws {
        let enc = try encoder()
        let data = try banking(Self.intents, train: 30, test: 20)
        var o = IntentTrainingOptions()
        o.validationFraction = 0.2; o.epochs = 40; o.learningRate = 0.01
        let (model, report) = try IntentTrainer.train(data.train, encoder: enc, options: o)
        XCTAssertEqual(report.labels, 5)
        XCTAssertEqual(report.validationExamples, 30)          // 20% of 30 per intent
        XCTAssertEqual(report.trainExamples, 120)
        // Unseen sentences of five distinct intents: a working encoder + head gets nearly all right.
        let ev = try IntentEvaluation.evaluate(model, on: data.test)
        XCTAssertGreaterThanOrEqual(ev.accuracy, 0.9, "accuracy \(ev.accuracy)")
        XCTAssertEqual(ev.perIntent.count, 5)
        XCTAssertEqual(ev.confusion.flatMap { $0 }.reduce(0, +), 100)

        // Probabilities sum to one and come sorted.
        let ranked = model.classify("my card has not arrived yet")
        XCTAssertEqual(ranked.count, 5)
        XCTAssertEqual(ranked.map(\.probability).reduce(0, +), 1, accuracy: 1e-4)
        XCTAssertEqual(ranked.map(\.probability), ranked.map(\.probability).sorted(by: >))
        XCTAssertEqual(ranked[0].intent, "card_arrival")
        // By default `predict` answers the top-ranked intent: no threshold turns a right top-1
        // into the fallback (a dialog's domain has its own).
        XCTAssertEqual(model.config.confidenceThreshold, 0)
        for (p, r) in zip(model.predict(data.test.map(\.text)), model.classify(data.test.map(\.text))) {
            XCTAssertFalse(p.isFallback); XCTAssertEqual(p.intent, r[0].intent)
        }

        // A saved and reloaded model gives the same probabilities.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-intent-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try IntentModel(folder: dir)
        let texts = data.test.map(\.text)
        for (a, b) in zip(model.classify(texts), loaded.classify(texts)) {
            XCTAssertEqual(a.map(\.intent), b.map(\.intent))
            for (x, y) in zip(a, b) { XCTAssertEqual(x.probability, y.probability, accuracy: 1e-6) }
        }

        // Strict loading: a head file missing a weight is rejected, naming the weight.
        let head = dir.appendingPathComponent(IntentModelConfig.headFileName)
        let store = try Safetensors.read(head)
        var entries: [String: WeightEntry] = [:]
        for n in store.names where n != "classifier.bias" { entries[n] = store.entry(n) }
        try Safetensors.write(entries, to: head)
        XCTAssertThrowsError(try IntentModel(folder: dir)) { XCTAssertTrue("\($0)".contains("classifier.bias"), "\($0)") }
        // A missing folder is a typed error too.
        XCTAssertThrowsError(try IntentModel(folder: dir.appendingPathComponent("nope"))) { XCTAssertTrue($0 is IntentError) }
    }

    /// L-BFGS heads are refitted on every example after validation, yet the reported validation
    /// accuracies come from the fits that never saw those rows: with labels assigned at random,
    /// they stay near chance although the refitted heads memorise every row.
    func testConvexFitValidationDoesNotSeeItsRows() throws {
        let enc = try encoder()
        let data = try banking(Array(Self.intents.prefix(3)), train: 30, test: 0)
        var rng = SeededGenerator(seed: 5)
        let shuffled = data.train.map { (text: $0.text, label: ["a", "b", "c"][Int(rng.next() % 3)]) }
        var o = IntentTrainingOptions()
        o.validationFraction = 0.3
        let (model, report) = try IntentTrainer.train(shuffled, encoder: enc, options: o)
        XCTAssertTrue(report.refittedOnAll)
        let memorised = zip(model.classify(shuffled.map(\.text)), shuffled).filter { $0.0[0].intent == $0.1.label }.count
        XCTAssertGreaterThan(Double(memorised) / Double(shuffled.count), 0.9, "the refit saw every row")
        for acc in [report.validationAccuracy, report.encoderValidationAccuracy, report.lexicalValidationAccuracy] {
            XCTAssertLessThan(try XCTUnwrap(acc), 0.6)
        }
    }

    func testFallbackThresholdAndMargin() throws {
        let enc = try encoder()
        let data = try banking(Array(Self.intents.prefix(3)), train: 20, test: 0)
        var o = IntentTrainingOptions()
        o.validationFraction = 0; o.epochs = 10
        o.confidenceThreshold = 1.01                               // no probability reaches it
        let (model, _) = try IntentTrainer.train(data.train, encoder: enc, options: o)
        let p = model.predict("where is my card")
        XCTAssertTrue(p.isFallback)
        XCTAssertEqual(p.intent, "nlu_fallback")
        XCTAssertEqual(p.ranking.count, 3)
        let sure = model.decide([("a", 0.9), ("b", 0.1)])
        XCTAssertTrue(sure.isFallback)                             // threshold 1.01
        let m2 = IntentModel(config: IntentModelConfig(labels: ["a", "b"], encoder: enc.identifier, confidenceThreshold: 0.5,
                                                      marginThreshold: 0.3), encoder: enc, head: model.head)
        XCTAssertFalse(m2.decide([("a", 0.7), ("b", 0.3)]).isFallback)   // 0.7 ≥ 0.5, margin 0.4 ≥ 0.3
        XCTAssertTrue(m2.decide([("a", 0.6), ("b", 0.4)]).isFallback)    // margin 0.2 < 0.3
        XCTAssertTrue(m2.decide([("a", 0.45), ("b", 0.05)]).isFallback)  // below threshold
        XCTAssertEqual(m2.decide([("a", 0.7), ("b", 0.3)]).intent, "a")
    }

    func testStratifiedSplitIsAPartitionPerClass() {
        let y = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2]        // 10, 3, 1 examples
        let (tr, va) = IntentTrainer.stratifiedSplit(y, classes: 3, fraction: 0.2, seed: 3)
        XCTAssertEqual(Set(tr).intersection(va), [])
        XCTAssertEqual((tr + va).sorted(), Array(y.indices))
        XCTAssertEqual(va.filter { y[$0] == 0 }.count, 2)
        XCTAssertEqual(va.filter { y[$0] == 1 }.count, 1)          // at least one when ≥ 2 examples
        XCTAssertEqual(va.filter { y[$0] == 2 }.count, 0)          // a lone example stays in training
    }

    func testBadTrainingSetsAreTypedErrors() throws {
        let enc = try encoder()
        XCTAssertThrowsError(try IntentTrainer.train([], encoder: enc)) { XCTAssertTrue($0 is IntentError) }
        XCTAssertThrowsError(try IntentTrainer.train([("hi", "greet"), ("hello", "greet")], encoder: enc)) {
            XCTAssertTrue("\($0)".contains("at least 2 intents"), "\($0)")
        }
    }

    func testFineTuningTopLayerSavesAndReloadsTheTunedEncoder() throws {
        let enc = try encoder()
        let data = try banking(Array(Self.intents.prefix(3)), train: 16, test: 8)
        var o = IntentTrainingOptions()
        o.validationFraction = 0.25; o.epochs = 10
        var s = IntentFineTuner.Settings()
        s.layers = 1; s.epochs = 1; s.encoderLearningRate = 1e-3
        let (model, report) = try IntentFineTuner.train(data.train, encoder: enc, options: o, settings: s)
        XCTAssertEqual(model.config.fineTunedLayers, 1)
        XCTAssertEqual(report.epochsRun, 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-ft-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try IntentModel(folder: dir)
        XCTAssertEqual(loaded.config.fineTunedLayers, 1)
        let texts = data.test.map(\.text)
        let a = model.classify(texts), b = loaded.classify(texts)
        for (x, y) in zip(a, b) { for (p, q) in zip(x, y) { XCTAssertEqual(p.probability, q.probability, accuracy: 1e-5) } }
        // The tuned block was stored: the file holds layer 5's weights and nothing of layer 4.
        let names = try Safetensors.read(dir.appendingPathComponent(IntentModelConfig.headFileName)).names
        XCTAssertTrue(names.contains("encoder.layer.5.attention.self.query.weight"))
        XCTAssertFalse(names.contains { $0.hasPrefix("encoder.layer.4.") })
        let ev = try IntentEvaluation.evaluate(loaded, on: data.test)
        XCTAssertGreaterThanOrEqual(ev.accuracy, 0.8, "accuracy \(ev.accuracy)")
    }
}
