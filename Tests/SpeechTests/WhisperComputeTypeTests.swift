import Foundation
import LeptonEngine
import LeptonSpeech
import XCTest

/// `--compute-type` for Whisper: int8 against faster-whisper's own int8 (CTranslate2), float16
/// against float32 (int8_fw.json, written by Fixtures/make_int8_fixture.py; independent of this code).
final class WhisperComputeTypeTests: XCTestCase {
    override func setUp() { EngineThreads.set(2) }

    struct Reference: Decodable {
        /// compute type → clip → text.
        let texts: [String: [String: String]]
    }

    static let fixture = SpeechFixtures.repoRoot.appendingPathComponent("Tests/SpeechTests/Fixtures/int8_fw.json")

    func reference() throws -> Reference {
        guard let data = try? Data(contentsOf: Self.fixture) else {
            XCTFail("missing \(Self.fixture.path): run `python3 Tests/SpeechTests/Fixtures/make_int8_fixture.py` from its folder")
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    static let int8Model = Result { try WhisperModel(computeType: .int8) }

    func clipURL(_ name: String) -> URL {
        name.hasPrefix("dev/") ? SpeechFixtures.dev.appendingPathComponent(String(name.dropFirst(4)))
                               : SpeechFixtures.repoRoot.appendingPathComponent(name)
    }

    /// samples/chat/jfk.wav: the int8 transcript is faster-whisper int8's, word for word after the
    /// peer's normalisation.
    func testInt8TranscriptOfJFKEqualsFasterWhisperInt8() throws {
        let want = try XCTUnwrap(try reference().texts["int8"]?["samples/chat/jfk.wav"])
        let got = try WhisperTranscriber(model: try Self.int8Model.get()).transcribe(url: clipURL("samples/chat/jfk.wav")).text
        XCTAssertEqual(WordErrorRate.normalize(got), WordErrorRate.normalize(want))
    }

    /// All dev clips: int8 within 5% WER of faster-whisper int8's transcripts and of faster-whisper
    /// float32's (the two differ from each other by one word, "concerned"/"concern", on LJ001-0001).
    func testInt8DevClipsWithinFivePercentWEROfFasterWhisper() throws {
        let ref = try reference()
        let t = WhisperTranscriber(model: try Self.int8Model.get())
        var ours: [String: String] = [:]
        for name in try XCTUnwrap(ref.texts["int8"]).keys where name.hasPrefix("dev/") {
            ours[name] = try t.transcribe(url: clipURL(name)).text
        }
        XCTAssertGreaterThanOrEqual(ours.count, 5)
        for type in ["int8", "float32"] {
            var errors = 0, words = 0
            for (name, text) in ours {
                let e = WordErrorRate.errors(reference: try XCTUnwrap(ref.texts[type]?[name]), hypothesis: text)
                errors += e.errors; words += e.words
            }
            XCTAssertLessThanOrEqual(Double(errors) / Double(words), 0.05, "against faster-whisper \(type): \(errors)/\(words) words")
        }
    }

    /// float16 keeps the checkpoint's float16 values exactly: the same transcript as float32, and
    /// the encoder's linear weights take half the bytes (int8: a quarter, plus scales).
    func testFloat16TranscribesAsFloat32AndHalvesTheEncoderWeights() throws {
        let full = try SpeechFixtures.model(), half = try WhisperModel(computeType: .float16)
        XCTAssertEqual(full.computeType, .float32)
        XCTAssertEqual(half.computeType, .float16)
        let url = clipURL("samples/chat/jfk.wav")
        XCTAssertEqual(try WhisperTranscriber(model: half).transcribe(url: url).text,
                       try WhisperTranscriber(model: full).transcribe(url: url).text)
        func bytes(_ m: WhisperModel) -> Int {
            m.encoderLayers.reduce(0) { $0 + $1.qkv.weights.byteCount + $1.attentionOut.weights.byteCount
                + $1.ffnIn.weights.byteCount + $1.ffnOut.weights.byteCount }
        }
        let fullBytes = bytes(full)
        XCTAssertEqual(fullBytes, 4 * 4 * (1152 + 384 + 1536) * 384 + 4 * 4 * 384 * 1536)
        XCTAssertEqual(bytes(half) * 2, fullBytes)
        XCTAssertLessThan(Double(bytes(try Self.int8Model.get())), 0.26 * Double(fullBytes))
    }
}
