import Foundation
import LeptonEngine
import LeptonSpeech
import XCTest

/// The encoder and the decoding against faster-whisper's outputs on the same weights (golden-fw.json).
final class WhisperTranscriptionTests: XCTestCase {
    override func setUp() { EngineThreads.set(2) }

    func testEncoderOutputMatchesFasterWhisper() throws {
        let model = try SpeechFixtures.model()
        let g = try XCTUnwrap(try SpeechFixtures.golden().files.first { $0.file == "jfk.wav" })
        let x = try SpeechFixtures.samples(SpeechFixtures.dev.appendingPathComponent(g.file))
        let (mel, frames) = try WhisperLogMel.features(of: x)
        // The first window: content frames (N/160), zero-padded to 3000 in the feature domain.
        var window = [Float](repeating: 0, count: 3000 * 80)
        for i in 0..<((frames - 1) * 80) { window[i] = mel[i] }
        let encoder = WhisperEncoder(model: model)
        window.withUnsafeBufferPointer { encoder.encode($0.baseAddress!) }
        let out = UnsafeBufferPointer(start: encoder.output, count: 1500 * 384)
        let mean = out.reduce(0.0) { $0 + Double($1) } / Double(out.count)
        let std = (out.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(out.count)).squareRoot()
        XCTAssertEqual(mean, g.enc_mean, accuracy: 1e-4)
        XCTAssertEqual(std, g.enc_std, accuracy: 1e-4)
        // enc_head: the first 5 channels of the first and of the last position.
        for (row, position) in [(0, 0), (1, 1499)] {
            for c in 0..<5 { XCTAssertEqual(Double(out[position * 384 + c]), g.enc_head[row][c], accuracy: 2e-3, "pos \(position) ch \(c)") }
        }
    }

    /// Greedy decoding: token ids identical to faster-whisper's on every dev clip.
    func testGreedyTokensEqualFasterWhisper() throws {
        var o = WhisperTranscribeOptions()
        o.beamSize = 1
        let t = WhisperTranscriber(model: try SpeechFixtures.model(), options: o)
        for g in try SpeechFixtures.golden().files {
            let r = try t.transcribe(url: SpeechFixtures.dev.appendingPathComponent(g.file))
            assertSegments(r.segments, equal: g.beam1, file: g.file, noSpeechProbability: true)
        }
    }

    /// Token ids, texts, timestamps and average log-probabilities (and optionally the no-speech
    /// probability) equal faster-whisper's segments.
    func assertSegments(_ segments: [WhisperSegment], equal golden: [SpeechFixtures.Golden.Segment], file: String,
                        noSpeechProbability: Bool = false, line: UInt = #line) {
        XCTAssertEqual(segments.map(\.tokens), golden.map(\.tokens), file, line: line)
        XCTAssertEqual(segments.map(\.text), golden.map(\.text), file, line: line)
        for (a, b) in zip(segments, golden) {
            XCTAssertEqual(a.start, b.start, accuracy: 1e-9, file, line: line)
            XCTAssertEqual(a.end, b.end, accuracy: 1e-9, file, line: line)
            XCTAssertEqual(a.avgLogProb, b.avg_logprob, accuracy: 2e-3, file, line: line)
            if noSpeechProbability { XCTAssertEqual(a.noSpeechProb, b.no_speech_prob, accuracy: 2e-3, file, line: line) }
        }
    }

    /// Beam search (5, the default): identical ids on two clips where beam and greedy differ.
    func testBeamSearchTokensEqualFasterWhisper() throws {
        let t = WhisperTranscriber(model: try SpeechFixtures.model())
        for g in try SpeechFixtures.golden().files where ["jfk.wav", "LJ002-0020.wav"].contains(g.file) {
            let r = try t.transcribe(url: SpeechFixtures.dev.appendingPathComponent(g.file))
            XCTAssertEqual(r.segments.map(\.tokens), g.beam5.map(\.tokens), g.file)
            XCTAssertNotEqual(g.beam5.map(\.tokens), g.beam1.map(\.tokens), "the clip must tell beam from greedy")
        }
    }

    /// Beam search (5) on every dev clip: ids, texts and timestamps identical to faster-whisper's.
    func testBeamSearchTokensEqualFasterWhisperOnAllClips() throws {
        let t = WhisperTranscriber(model: try SpeechFixtures.model())
        for g in try SpeechFixtures.golden().files {
            let r = try t.transcribe(url: SpeechFixtures.dev.appendingPathComponent(g.file))
            assertSegments(r.segments, equal: g.beam5, file: g.file)
        }
    }

    /// The n-best readings (`readings`) are CTranslate2's `num_hypotheses` list: same texts in
    /// the same order, same cumulative log-probabilities (Fixtures/nbest_ct2.json), also for a beam
    /// of 5 on clips whose readings differ in words ("melons" / "mountains", "pounds" / "phones").
    func testReadingsEqualCTranslate2NBest() throws {
        struct Reference: Decodable {
            struct Clip: Decodable { let file: String; let hypotheses: [Hypothesis] }
            struct Hypothesis: Decodable { let tokens: [Int]; let score: Double }
            let clips: [Clip]
        }
        let url = SpeechFixtures.repoRoot.appendingPathComponent("Tests/SpeechTests/Fixtures/nbest_ct2.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let model = try SpeechFixtures.model()
        var options = WhisperTranscribeOptions()
        options.readings = 5
        let t = WhisperTranscriber(model: model, options: options)
        XCTAssertEqual(reference.clips.count, 3)
        for clip in reference.clips {
            let r = try t.transcribe(url: SpeechFixtures.bankDev.appendingPathComponent(clip.file))
            let readings = try XCTUnwrap(r.readings, clip.file)
            XCTAssertEqual(readings.count, clip.hypotheses.count, clip.file)
            XCTAssertEqual(readings.first?.text, r.text, "the first reading is the transcript")
            for (ours, theirs) in zip(readings, clip.hypotheses) {
                XCTAssertEqual(ours.text, model.tokenizer.decode(theirs.tokens).trimmingCharacters(in: .whitespaces), clip.file)
                // CTranslate2's score is the cumulative log-probability over the length (penalty 1).
                XCTAssertEqual(ours.logProbability, theirs.score * Double(theirs.tokens.count), accuracy: 0.03, clip.file)
            }
        }
        XCTAssertNil(try WhisperTranscriber(model: model).transcribe(url: SpeechFixtures.bankDev.appendingPathComponent("change_pin_01.wav")).readings,
                     "one reading asked for: no list")
    }

    /// A beam wider than the decoder's 5-row kernels (6 to 16 rows are taken 5 at a time) runs and
    /// still reads the clip.
    func testWideBeamReadsTheClip() throws {
        var options = WhisperTranscribeOptions()
        options.beamSize = 11
        let r = try WhisperTranscriber(model: try SpeechFixtures.model(), options: options)
            .transcribe(url: SpeechFixtures.dev.appendingPathComponent("jfk.wav"))
        XCTAssertTrue(r.text.lowercased().contains("ask not what your country can do for you"), r.text)
    }

    /// Silence and faint noise give no words.
    func testSilenceAndNoiseGiveNoWords() throws {
        let t = WhisperTranscriber(model: try SpeechFixtures.model())
        let silence = try t.transcribe(samples: [Float](repeating: 0, count: 5 * 16000))
        XCTAssertEqual(silence.text, "")
        XCTAssertEqual(silence.duration, 5, accuracy: 1e-9)
        var rng = SeededGenerator(seed: 7)
        let noise = (0..<(4 * 16000)).map { _ in (rng.nextUniform() - 0.5) * 0.002 }
        XCTAssertEqual(try t.transcribe(samples: noise).text, "")
        XCTAssertEqual(try t.transcribe(samples: []).text, "")
    }

    /// Word error rate on a few real clips, and on a synthetic bank call at 16 kHz and as 8 kHz µ-law
    /// (espeak speech is hard for tiny.en: faster-whisper misreads it too; the bound catches a broken pipeline).
    func testWordErrorRateBounds() throws {
        let t = WhisperTranscriber(model: try SpeechFixtures.model())
        let references = try String(contentsOf: SpeechFixtures.dev.appendingPathComponent("transcripts.tsv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        var errors = 0, words = 0
        for row in references where ["LJ001-0002.wav", "goforward.wav", "libri-61-70968-0002.wav"].contains(row[0]) {
            let e = WordErrorRate.errors(reference: row[1], hypothesis: try t.transcribe(url: SpeechFixtures.dev.appendingPathComponent(row[0])).text)
            errors += e.errors
            words += e.words
        }
        XCTAssertEqual(words, 15)
        XCTAssertLessThanOrEqual(Double(errors) / Double(words), 0.15)   // "10" for "ten" is the one miss

        let reference = "Can you tell me how much money I have in my savings account ending in four seven two one?"
        for name in ["check_balance_02.wav", "check_balance_02_tel8k.wav"] {
            let e = WordErrorRate.errors(reference: reference, hypothesis: try t.transcribe(url: SpeechFixtures.bankDev.appendingPathComponent(name)).text)
            XCTAssertLessThan(Double(e.errors) / Double(e.words), 0.5, name)
        }
    }

    func testWordErrorRateNormaliser() {
        XCTAssertEqual(WordErrorRate.normalize("Hello, World! Don't  stop—now."), "hello world don't stop now")
        let e = WordErrorRate.errors(reference: "a b c d", hypothesis: "a x c d e")
        XCTAssertEqual(e.errors, 2)
        XCTAssertEqual(e.words, 4)
        XCTAssertEqual(WhisperTranscriber.compressionRatio(String(repeating: "ab", count: 100)), 200.0 / 13, accuracy: 1e-9)  // Python: len(zlib.compress(b"ab" * 100)) == 13
    }
}
