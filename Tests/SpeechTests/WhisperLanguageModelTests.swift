import Foundation
import XCTest
@testable import LeptonSpeech

/// The domain language model fused into beam search: its probabilities against a reference
/// written from the formulas in Python (`Fixtures/make_trigram_fixture.py`), and its effect on
/// a real 8 kHz call.
final class WhisperLanguageModelTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable { let context: [Int]; let log_probabilities: [Double] }
        let end_of_text: Int
        let discount: Double
        let sentences: [[Int]]
        let unigram_log_probabilities: [Double]
        let cases: [Case]
    }

    func reference() throws -> Reference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/trigram_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testProbabilitiesMatchReference() throws {
        let ref = try reference()
        let lm = WhisperLanguageModel(sentences: ref.sentences, endOfText: ref.end_of_text, discount: ref.discount)
        XCTAssertEqual(lm.sentenceCount, ref.sentences.count)
        for c in ref.cases {
            for (w, expected) in c.log_probabilities.enumerated() {
                XCTAssertEqual(lm.logProbability(of: w, after: c.context), expected, accuracy: 1e-5, "P(\(w) | \(c.context))")
            }
        }
    }

    /// The search's fast path (one vector pass plus corrections for seen successors) adds
    /// exactly `weight · (log P(w | context) − γ · log P(w))`, leaves `-inf` and the tokens after
    /// `<|endoftext|>` alone, and leaves its scratch zeroed.
    func testWeightedRowMatchesReference() throws {
        let ref = try reference()
        let lm = WhisperLanguageModel(sentences: ref.sentences, endOfText: ref.end_of_text, discount: ref.discount)
        let vocab = ref.end_of_text + 3   // two "timestamps" after <|endoftext|>
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: ref.end_of_text + 1)
        scratch.initialize(repeating: 0, count: ref.end_of_text + 1)
        defer { scratch.deallocate() }
        for c in ref.cases {
            for share in [0, 0.5, 1] as [Float] {
                var row = (0..<vocab).map { Float($0) * -0.1 }
                row[4] = -.infinity
                let before = row
                row.withUnsafeMutableBufferPointer {
                    lm.addWeightedLogProbabilities(to: $0.baseAddress!, generated: c.context, weight: 0.3, unigramShare: share, scratch: scratch)
                }
                for w in 0..<vocab {
                    if w == 4 { XCTAssertEqual(row[w], -.infinity); continue }
                    let added = w <= ref.end_of_text ? 0.3 * (c.log_probabilities[w] - Double(share) * ref.unigram_log_probabilities[w]) : 0
                    XCTAssertEqual(Double(row[w]), Double(before[w]) + added, accuracy: 1e-5, "token \(w) after \(c.context), γ \(share)")
                }
                XCTAssertTrue((0...ref.end_of_text).allSatisfy { scratch[$0] == 0 })
            }
        }
    }

    func testEmptyCorpusIsUniform() {
        let lm = WhisperLanguageModel(sentences: [[], [20, 30]], endOfText: 9)
        XCTAssertEqual(lm.sentenceCount, 0)
        XCTAssertEqual(lm.logProbability(of: 3, after: [1, 2]), -log(10.0), accuracy: 1e-6)
    }

    /// A phone call Whisper tiny.en mishears even with the bank agent's initial prompt; a model
    /// of bank requests (the sentences of samples/bank/nlu.yml and BANKING77's training split)
    /// makes the same beam search hear "transfer" and "savings account".
    func testBankLanguageModelRescuesAPhoneCall() throws {
        let model = try SpeechFixtures.model()
        let url = SpeechFixtures.bankDev.appendingPathComponent("transfer_money_01_tel8k.wav")
        let nlu = try String(contentsOf: SpeechFixtures.repoRoot.appendingPathComponent("samples/bank/nlu.yml"), encoding: .utf8)
        var texts = nlu.split(separator: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("- ") else { return nil }
            // Annotations `[text](entity)` → text.
            return t.dropFirst(2).replacingOccurrences(of: #"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})"#, with: "$1", options: .regularExpression)
        }
        let banking = try String(contentsOf: SpeechFixtures.shared.appendingPathComponent("data/banking77/train.csv"), encoding: .utf8)
        // The text column (quoted texts with commas are skipped: enough sentences remain).
        texts += banking.split(whereSeparator: \.isNewline).dropFirst().compactMap { row in
            row.hasPrefix("\"") ? nil : row.split(separator: ",").dropLast().joined(separator: ",")
        }
        XCTAssertGreaterThan(texts.count, 8000)
        let encoder = try WhisperBPEEncoder(tokenizerJSON: model.directory.appendingPathComponent("tokenizer.json"), vocabulary: model.tokenizer)
        var options = WhisperTranscribeOptions()
        options.initialPrompt = "Bank customer service call about account balance, PIN, debit card, transfer, savings, checking, loan, exchange rate."
        let plain = try WhisperTranscriber(model: model, options: options).transcribe(url: url).text.lowercased()
        options.languageModel = WhisperLanguageModel(texts: texts, encoder: encoder, endOfText: model.tokenizer.endOfText)
        options.languageModelWeight = 0.3
        let fused = try WhisperTranscriber(model: model, options: options).transcribe(url: url).text.lowercased()
        XCTAssertFalse(plain.contains("transfer"), plain)
        XCTAssertTrue(fused.contains("transfer") && fused.contains("savings account"), fused)
    }
}
