import Foundation
import LeptonEngine
import LeptonSpeech
import XCTest

/// Text → token ids against the reference implementation: the expected ids below were printed by
/// Hugging Face `tokenizers` 0.23.3, `Tokenizer.from_file(<whisper-tiny.en>/tokenizer.json)
/// .encode(text, add_special_tokens=False).ids`, on the same file the bootstrap installs.
final class WhisperBPEEncoderTests: XCTestCase {
    func testIdsMatchHuggingFaceTokenizers() throws {
        let model = try SpeechFixtures.model()
        let bpe = try WhisperBPEEncoder(tokenizerJSON: model.directory.appendingPathComponent("tokenizer.json"),
                                        vocabulary: model.tokenizer)
        let cases: [(String, [Int])] = [
            (" PIN, balance, debit card, loan, transfer, savings account.",
             [34279, 11, 5236, 11, 30977, 2657, 11, 8063, 11, 4351, 11, 10653, 1848, 13]),
            ("Hello world!  It's 3.50 dollars,   isn't it?\n\nNew line",
             [15496, 995, 0, 220, 632, 338, 513, 13, 1120, 5054, 11, 220, 220, 2125, 470, 340, 30, 198, 198, 3791, 1627]),
            (" naïve café — 東京 €250'll'VE",
             [41492, 40304, 851, 10545, 251, 109, 12859, 105, 10432, 9031, 1183, 6, 6089]),
            ("   trailing   ", [220, 220, 25462, 220, 220, 220]),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(bpe.encode(text), expected, "\(text.debugDescription)")
            // And back: decoding the ids gives the text again (byte-level BPE is lossless).
            XCTAssertEqual(model.tokenizer.decode(bpe.encode(text)), text)
            // The model's shared encoder (prompts, language models) is the same encoder.
            XCTAssertEqual(try model.bpeEncoder().encode(text), expected)
        }
    }

    func testMissingOrForeignTokenizerFileIsATypedError() throws {
        let model = try SpeechFixtures.model()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let notBPE = dir.appendingPathComponent("tokenizer.json")
        try Data(#"{"model": {"type": "WordPiece", "vocab": {}}}"#.utf8).write(to: notBPE)
        XCTAssertThrowsError(try WhisperBPEEncoder(tokenizerJSON: notBPE, vocabulary: model.tokenizer)) { e in
            XCTAssertTrue("\(e)".contains("merges"), "\(e)")
        }
        XCTAssertThrowsError(try WhisperBPEEncoder(tokenizerJSON: dir.appendingPathComponent("absent.json"), vocabulary: model.tokenizer))
    }

    /// The prompt changes what the decoder hears: on the 16 kHz bank call "I want to change my
    /// PIN number", tiny.en alone writes "BIN"; with banking words as the initial prompt it must
    /// still produce a transcript (the prompt itself is never part of the output text).
    func testInitialPromptIsNotPartOfTheTranscript() throws {
        let model = try SpeechFixtures.model()
        var options = WhisperTranscribeOptions()
        options.beamSize = 1
        options.initialPrompt = "Banking words: PIN, balance, loan."
        let t = WhisperTranscriber(model: model, options: options)
        let out = try t.transcribe(url: SpeechFixtures.bankDev.appendingPathComponent("change_pin_01.wav"))
        XCTAssertFalse(out.text.isEmpty)
        XCTAssertFalse(out.text.contains("Banking words"), out.text)
        XCTAssertTrue(out.text.lowercased().contains("change my"), out.text)
    }
}
