import Foundation
import XCTest
import LeptonEngine
@testable import LeptonText

/// The TF-IDF n-gram head: features against scikit-learn's, training, mixing, strict loading.
final class LexicalIntentTests: XCTestCase {
    struct Reference: Decodable {
        var corpus: [String], probes: [String]
        var word_vocabulary: [String: Double], char_vocabulary: [String: Double]
        var word_rows: [[String: Double]], char_rows: [[String: Double]]
    }

    /// Vocabulary, idf and each probe's row equal scikit-learn's `TfidfVectorizer` on the same corpus
    /// (Fixtures/tfidf_sklearn.json, made by make_tfidf_fixture.py beside it).
    func testFeaturesMatchScikitLearn() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tfidf_sklearn.json")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let v = TfidfVectorizer(fitting: ref.corpus)
        XCTAssertEqual(Set(v.wordTerms), Set(ref.word_vocabulary.keys))
        XCTAssertEqual(Set(v.charTerms), Set(ref.char_vocabulary.keys))
        for (t, idf) in zip(v.wordTerms, v.wordIDF) { XCTAssertEqual(Double(idf), ref.word_vocabulary[t] ?? -1, accuracy: 1e-5, t) }
        for (t, idf) in zip(v.charTerms, v.charIDF) { XCTAssertEqual(Double(idf), ref.char_vocabulary[t] ?? -1, accuracy: 1e-5, t) }

        let rows = TfidfVectorizer.transform(ref.probes, index: v.makeIndex())
        for (i, row) in rows.enumerated() {
            var words: [String: Double] = [:], chars: [String: Double] = [:]
            for (j, x) in zip(row.indices, row.values) {
                let j = Int(j)
                if j < v.wordTerms.count { words[v.wordTerms[j]] = Double(x) } else { chars[v.charTerms[j - v.wordTerms.count]] = Double(x) }
            }
            XCTAssertEqual(Set(words.keys), Set(ref.word_rows[i].keys), "words of '\(ref.probes[i])'")
            XCTAssertEqual(Set(chars.keys), Set(ref.char_rows[i].keys), "characters of '\(ref.probes[i])'")
            for (t, x) in ref.word_rows[i] { XCTAssertEqual(words[t] ?? -1, x, accuracy: 1e-5, "'\(t)' in '\(ref.probes[i])'") }
            for (t, x) in ref.char_rows[i] { XCTAssertEqual(chars[t] ?? -1, x, accuracy: 1e-5, "'\(t)' in '\(ref.probes[i])'") }
            XCTAssertEqual(row.indices, row.indices.sorted())
        }
    }

    /// Fitted alone on a toy set, the head separates intents that share no words with each other,
    /// and generalises through shared character n-grams ("blocked" ~ "block").
    func testHeadFitsAndGeneralises() {
        let texts = ["block my card", "please block the card", "card stolen block it", "lost card block",
                     "what is my balance", "balance of savings", "show my balance", "how much balance left"]
        let y = [0, 0, 0, 0, 1, 1, 1, 1]
        for solver in IntentSolver.allCases {
            var o = IntentTrainingOptions()
            o.epochs = 30; o.validationFraction = 0; o.solver = solver
            let (head, acc, _) = LexicalIntentHead.fit(texts: texts, y: y, classes: 2, train: Array(0..<8), validation: [], options: o)
            XCTAssertNil(acc)
            let p = head.probabilities(texts + ["blocked", "balances"]).scalars
            for i in 0..<8 { XCTAssertGreaterThan(p[i * 2 + y[i]], 0.8, "\(solver): \(texts[i])") }
            XCTAssertGreaterThan(p[8 * 2 + 0], 0.5, "\(solver): blocked")
            XCTAssertGreaterThan(p[9 * 2 + 1], 0.5, "\(solver): balances")
        }
    }

    /// A model with a lexical head gives `(1 − w)·encoder + w·lexical`, saves and reloads to the same
    /// probabilities, and loading is strict about its files and weights.
    func testMixedModelRoundTripAndStrictLoading() throws {
        let enc = try IntentTests.sharedEncoder()
        let examples: [(text: String, label: String)] = [
            ("I lost my card", "card"), ("my card was stolen", "card"), ("block my debit card", "card"),
            ("freeze my card now", "card"), ("card missing since yesterday", "card"),
            ("what is my balance", "balance"), ("how much money do I have", "balance"), ("show my balance", "balance"),
            ("balance of my savings", "balance"), ("money left in my account", "balance"),
        ]
        var o = IntentTrainingOptions()
        o.validationFraction = 0.2; o.epochs = 20; o.learningRate = 0.01; o.lexicalWeight = 0.4
        let (model, report) = try IntentTrainer.train(examples, encoder: enc, options: o)
        XCTAssertNotNil(model.lexical)
        XCTAssertNotNil(report.lexicalValidationAccuracy)
        XCTAssertNotNil(report.encoderValidationAccuracy)

        let probes = ["I can't find my card", "how much is in checking"]
        let pe = model.probabilities(features: model.features(probes)).scalars
        let pl = model.lexical!.probabilities(probes).scalars
        let mixed = model.classify(probes)
        for (i, ranking) in mixed.enumerated() {
            for (intent, p) in ranking {
                let c = model.config.labels.firstIndex(of: intent)!
                XCTAssertEqual(p, 0.6 * pe[i * 2 + c] + 0.4 * pl[i * 2 + c], accuracy: 1e-6)
            }
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-lexical-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try IntentModel(folder: dir)
        XCTAssertEqual(loaded.config.lexicalWeight, 0.4)
        for (a, b) in zip(model.classify(probes), loaded.classify(probes)) {
            for (x, z) in zip(a, b) { XCTAssertEqual(x.intent, z.intent); XCTAssertEqual(x.probability, z.probability, accuracy: 1e-6) }
        }

        // No lexicon.json → an error naming it.
        let lexicon = dir.appendingPathComponent(LexicalIntentHead.lexiconFileName)
        let saved = try Data(contentsOf: lexicon)
        try FileManager.default.removeItem(at: lexicon)
        XCTAssertThrowsError(try IntentModel(folder: dir)) { XCTAssertTrue("\($0)".contains("lexicon.json"), "\($0)") }
        // One term fewer than the weight rows → a shape error naming the weight.
        var v = try JSONDecoder().decode(TfidfVectorizer.self, from: saved)
        v.charTerms.removeLast(); v.charIDF.removeLast()
        try JSONEncoder().encode(v).write(to: lexicon)
        XCTAssertThrowsError(try IntentModel(folder: dir)) { XCTAssertTrue("\($0)".contains("lexical.weight"), "\($0)") }
        // A stray weight in lexical.safetensors → an error naming it.
        try saved.write(to: lexicon)
        let weights = dir.appendingPathComponent(LexicalIntentHead.weightsFileName)
        var entries = model.lexical!.stateDict().mapValues { WeightEntry($0) }
        entries["lexical.extra"] = WeightEntry(Tensor(shape: [2]))
        try Safetensors.write(entries, metadata: [:], to: weights)
        XCTAssertThrowsError(try IntentModel(folder: dir)) { XCTAssertTrue("\($0)".contains("lexical.extra"), "\($0)") }
        // Saved again without the n-gram head (weight 0), the folder loses its files and loads without it.
        try model.save(to: dir)
        var config = model.config
        config.lexicalWeight = nil
        try IntentModel(config: config, encoder: model.encoder, head: model.head).save(to: dir)
        XCTAssertFalse(FileManager.default.fileExists(atPath: weights.path))
        XCTAssertNil(try IntentModel(folder: dir).lexical)
    }

    /// The n-gram head stored as int8 rows with a float32 scale per row (scripts/compact-lexical.py,
    /// how samples/bank/model keeps it under 4 MiB) loads as their product, decoded here from the
    /// file's bytes; and compacting a trained head keeps its probabilities within 1e-2.
    func testInt8RowsWithScalesLoadAsTheirProduct() throws {
        let folder = Repo.bank.appendingPathComponent("model")
        let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(LexicalIntentHead.weightsFileName)))
        XCTAssertLessThan(bytes.count, 4 << 20)
        let n = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        func entry(_ name: String) throws -> (dtype: String, shape: [Int], start: Int) {
            let e = try XCTUnwrap(header[name] as? [String: Any], name)
            return (e["dtype"] as! String, e["shape"] as! [Int], 8 + n + (e["data_offsets"] as! [Int])[0])
        }
        let w = try entry("lexical.weight"), s = try entry("lexical.weight_scale")
        XCTAssertEqual(w.dtype, "I8"); XCTAssertEqual(s.dtype, "F32")
        let labels = w.shape[1]
        let model = try IntentModel(folder: folder)
        let loaded = try XCTUnwrap(model.lexical).weight.value.scalars
        XCTAssertEqual(loaded.count, w.shape[0] * labels)
        for row in stride(from: 0, to: w.shape[0], by: 997) {
            let scale = Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[s.start + 4 * row + $1]) << (8 * $1) })
            for k in 0..<labels {
                XCTAssertEqual(loaded[row * labels + k], Float(Int8(bitPattern: bytes[w.start + row * labels + k])) * scale, "row \(row)")
            }
        }

        let enc = try IntentTests.sharedEncoder()
        let examples: [(text: String, label: String)] = [
            ("I lost my card", "card"), ("my card was stolen", "card"), ("block my debit card", "card"), ("freeze my card now", "card"),
            ("what is my balance", "balance"), ("how much money do I have", "balance"), ("show my balance", "balance"), ("money left", "balance"),
        ]
        var o = IntentTrainingOptions()
        o.validationFraction = 0; o.epochs = 20; o.learningRate = 0.01; o.lexicalWeight = 0.5
        let (trained, _) = try IntentTrainer.train(examples, encoder: enc, options: o)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-lexical-i8-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try trained.save(to: dir)
        let f32 = try IntentModel(folder: dir)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repo.root.appendingPathComponent("scripts/compact-lexical.py").path, dir.path]
        p.standardOutput = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let i8 = try IntentModel(folder: dir)
        let probes = ["I can't find my card", "how much is in checking", "hello"]
        for (a, b) in zip(f32.classify(probes), i8.classify(probes)) {
            for (x, y) in zip(a, b) { XCTAssertEqual(x.intent, y.intent); XCTAssertEqual(x.probability, y.probability, accuracy: 1e-2) }
        }
    }
}
