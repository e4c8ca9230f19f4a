import Foundation
@testable import LeptonSpeech
import XCTest

/// The voice-activity filter against faster-whisper 1.2.1 (vad_fw.json): Silero VAD's window
/// probabilities, `get_speech_timestamps`, and `transcribe(vad_filter=True)`.
final class VoiceActivityTests: XCTestCase {
    /// One window is 512 samples (32 ms): the brief's tolerance for speech boundaries.
    static let window = SileroVAD.windowSamples

    func assertStamps(_ got: [SpeechChunk], _ want: [VADFixture.Stamp], tolerance: Int = window, _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, "\(what): \(got) against faster-whisper's \(want.map { ($0.start, $0.end) })", file: file, line: line)
        for (g, w) in zip(got, want) {
            XCTAssertLessThanOrEqual(abs(g.start - w.start), tolerance, "\(what) start", file: file, line: line)
            XCTAssertLessThanOrEqual(abs(g.end - w.end), tolerance, "\(what) end", file: file, line: line)
        }
    }

    /// Silero VAD run through LeptonONNX gives ONNX Runtime's probabilities on every window of the
    /// seven dev clips and of the 60 s call (speech, silence, noise, tones).
    func testProbabilitiesMatchFasterWhisper() throws {
        let f = try VADFixture.load(), vad = try SileroVAD.forTests()
        var inputs: [(String, [Float], [Float])] = []
        for (name, clip) in f.clips.sorted(by: { $0.key < $1.key }) {
            inputs.append((name, try VADFixture.samples([VADFixture.Part(clip: name, silence: nil, noise: nil, seed: nil, amplitude: nil, tones: nil, periods: nil)]), clip.probabilities))
        }
        inputs.append(("long", try VADFixture.samples(f.long.recipe), try XCTUnwrap(f.long.probabilities)))
        for (name, samples, want) in inputs {
            let got = try vad.probabilities(samples)
            XCTAssertEqual(got.count, want.count, name)
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-3, "\(name): largest probability difference \(worst)")
        }
    }

    /// The speech timestamps agree with faster-whisper's within one 32 ms window, with the
    /// default options and with tuned ones, on every clip and on the two calls with pauses.
    func testSpeechTimestampsAgreeWithinOneWindow() throws {
        let f = try VADFixture.load(), vad = try SileroVAD.forTests()
        var recordings: [(String, [Float], [VADFixture.Stamp], [VADFixture.Stamp])] = []
        for (name, clip) in f.clips.sorted(by: { $0.key < $1.key }) {
            let samples = try VADFixture.samples([VADFixture.Part(clip: name, silence: nil, noise: nil, seed: nil, amplitude: nil, tones: nil, periods: nil)])
            XCTAssertEqual(samples.count, clip.samples)
            recordings.append((name, samples, clip.timestamps, clip.timestamps_tuned))
        }
        for (name, r) in [("long", f.long), ("short", f.short)] {
            let samples = try VADFixture.samples(r.recipe)
            XCTAssertEqual(samples.count, r.samples, "\(name): the fixture's samples")
            recordings.append((name, samples, r.timestamps, r.timestamps_tuned))
        }
        for (name, samples, stamps, tuned) in recordings {
            assertStamps(try VoiceActivityFilter(detector: vad).speechChunks(samples), stamps, name)
            assertStamps(try VoiceActivityFilter(detector: vad, options: f.tunedOptions).speechChunks(samples), tuned, "\(name) tuned")
        }
        // The long call's noise and tones are not speech: seven stretches, one per clip.
        XCTAssertEqual(f.long.timestamps.count, 7)
    }

    /// The segmenter alone, fed faster-whisper's own probabilities, gives its timestamps exactly.
    func testSegmenterOnFasterWhispersProbabilitiesIsExact() throws {
        let f = try VADFixture.load()
        let long = try XCTUnwrap(f.long.probabilities)
        for (options, want, what) in [(VADOptions(), f.long.timestamps, "default"), (f.tunedOptions, f.long.timestamps_tuned, "tuned")] {
            let got = SpeechSegmenter.speechTimestamps(probabilities: long, sampleCount: f.long.samples, options: options)
            assertStamps(got, want, tolerance: 0, "long \(what)")
        }
        for (name, clip) in f.clips {
            assertStamps(SpeechSegmenter.speechTimestamps(probabilities: clip.probabilities, sampleCount: clip.samples), clip.timestamps, tolerance: 0, name)
        }
    }

    /// `max_speech_duration_s` splits a long stretch at a pause (faster-whisper's rule), checked on
    /// hand-made probabilities: 10 s of speech with a 0.2 s dip at 6 s, limit 8 s.
    func testMaxSpeechDurationSplitsAtAPause() {
        var p = [Float](repeating: 0, count: 400)
        for i in 20..<332 { p[i] = 0.9 }            // speech from window 20 (0.64 s) to 332 (10.6 s)
        for i in 207..<214 { p[i] = 0.1 }           // a 7-window (224 ms) dip at 6.6 s
        var o = VADOptions(); o.maxSpeechDurationS = 8; o.speechPadMs = 0
        let got = SpeechSegmenter.speechTimestamps(probabilities: p, sampleCount: 400 * 512, options: o)
        // Split where the dip began; the rest continues when speech resumes.
        XCTAssertEqual(got.map(\.start), [20 * 512, 214 * 512])
        XCTAssertEqual(got.map(\.end), [207 * 512, 332 * 512])
    }

    /// Times in the speech-only signal map back to the original as faster-whisper maps them.
    func testTimestampMapRestoresOriginalTimes() {
        // Speech 1–2 s and 3–4 s of the original: 1 s of silence before the first, 2 s before the second.
        let map = SpeechTimestampMap(chunks: [SpeechChunk(start: 16000, end: 32000), SpeechChunk(start: 48000, end: 64000)])
        XCTAssertEqual(map.originalTime(0.5), 1.5)
        XCTAssertEqual(map.originalTime(1.5), 3.5)
        XCTAssertEqual(map.originalTime(1.0), 3.0)               // bisect_right: the boundary belongs to the next chunk...
        XCTAssertEqual(map.originalTime(1.0, isEnd: true), 2.0)  // ...unless it is an end
        var s = WhisperSegment(start: 0.9, end: 1.2, text: " x", tokens: [], temperature: 0, avgLogProb: 0, compressionRatio: 1, noSpeechProb: 0)
        s.words = [WhisperWord(start: 0.9, end: 1.04, word: " a", probability: 1), WhisperWord(start: 1.1, end: 1.2, word: " b", probability: 1)]
        let restored = map.restoring([s])[0]
        // A word stays with the chunk of its middle: " a" (middle 0.97) in the first, " b" in the second.
        XCTAssertEqual(restored.words?.map(\.start), [1.9, 3.1])
        XCTAssertEqual(restored.words?.map(\.end), [2.04, 3.2])
        XCTAssertEqual(restored.start, 1.9)
        XCTAssertEqual(restored.end, 3.2)
    }

    /// Window by window as audio arrives (pieces of odd sizes) gives the whole signal's probabilities.
    func testStreamEqualsWholeSignal() throws {
        let f = try VADFixture.load(), vad = try SileroVAD.forTests()
        let samples = try VADFixture.samples(f.short.recipe)
        let whole = try vad.probabilities(samples)
        var stream = SileroVAD.Stream(detector: vad)
        var got: [Float] = [], at = 0, k = 0
        let sizes = [1, 700, 511, 4000, 13, 8192, 512]
        while at < samples.count {
            let n = min(sizes[k % sizes.count], samples.count - at)
            got += try stream.append(Array(samples[at..<(at + n)]))
            at += n; k += 1
        }
        got += try stream.finish()
        XCTAssertEqual(got.count, whole.count)
        XCTAssertLessThan(zip(got, whole).map { abs($0 - $1) }.max() ?? 1, 1e-5)
    }

    /// `transcribe` through the filter gives faster-whisper's `vad_filter=True` segments: the same
    /// texts, times within 0.05 s of the original's, on the 60 s call (default and tuned options)
    /// and on jfk.wav between silences.
    func testTranscribeWithFilterGivesFasterWhispersSegments() throws {
        let f = try VADFixture.load(), vad = try SileroVAD.forTests()
        let transcriber = WhisperTranscriber(model: try SpeechFixtures.model())
        let runs: [(String, VADFixture.Recording, VADOptions, VADFixture.Transcript?)] = [
            ("long", f.long, VADOptions(), f.long.transcribe), ("long tuned", f.long, f.tunedOptions, f.long.transcribe_tuned),
            ("short", f.short, VADOptions(), f.short.transcribe)]
        for (name, recording, options, reference) in runs {
            let want = try XCTUnwrap(reference)
            let r = try transcriber.transcribe(samples: try VADFixture.samples(recording.recipe), filter: VoiceActivityFilter(detector: vad, options: options))
            XCTAssertEqual(r.transcription.segments.map(\.text), want.segments.map(\.text), name)
            XCTAssertEqual(r.speechDuration, want.duration_after_vad, accuracy: 0.064, name)
            XCTAssertEqual(r.transcription.duration, Double(recording.samples) / 16000, accuracy: 1e-9)
            guard r.transcription.segments.count == want.segments.count else { continue }
            for (a, b) in zip(r.transcription.segments, want.segments) {
                XCTAssertEqual(a.start, b.start, accuracy: 0.05, "\(name): \(a.text)")
                XCTAssertEqual(a.end, b.end, accuracy: 0.05, "\(name): \(a.text)")
            }
        }
    }

    /// The streamer on the 60 s call fed 100 ms at a time: its utterances are the stretches
    /// faster-whisper's filter finds (every final lies inside one, up to Whisper's last timestamp
    /// step past its end, and every stretch has a final), and
    /// its finals read as faster-whisper's `vad_filter=True` transcript (each stretch is decoded on
    /// its own, the batch run decodes them back to back, so a few words may differ).
    func testStreamerFinalsFollowTheFiltersStretches() throws {
        let f = try VADFixture.load(), vad = try SileroVAD.forTests()
        let samples = try VADFixture.samples(f.long.recipe)
        let streamer = WhisperStreamer(transcriber: WhisperTranscriber(model: try SpeechFixtures.model()),
                                       filter: VoiceActivityFilter(detector: vad), partialInterval: 48000)
        var events: [StreamEvent] = [], finalsBeforeEnd = 0
        for at in stride(from: 0, to: samples.count, by: 1600) {
            events += try streamer.append(Array(samples[at..<min(samples.count, at + 1600)]))
        }
        finalsBeforeEnd = events.filter { $0.type == .final }.count
        events += try streamer.finish()
        let finals = events.filter { $0.type == .final }
        let stretches = f.long.timestamps.map { (Double($0.start) / 16000, Double($0.end) / 16000) }
        for e in finals {
            XCTAssertTrue(stretches.contains { e.start >= $0.0 - 0.011 && e.end <= $0.1 + 0.05 }, "final \(e) outside the filter's stretches")
        }
        for s in stretches { XCTAssertTrue(finals.contains { $0.start < s.1 && $0.end > s.0 }, "no final for \(s)") }
        // Finals came while the call went on, not all at the end.
        XCTAssertGreaterThanOrEqual(finalsBeforeEnd, finals.count - 2)
        XCTAssertGreaterThan(events.filter { $0.type == .partial }.count, 3)
        let reference = f.long.transcribe.segments.map(\.text).joined()
        let (errors, words) = WordErrorRate.errors(reference: reference, hypothesis: finals.map(\.text).joined())
        XCTAssertLessThanOrEqual(Double(errors) / Double(words), 0.1, "finals: \(finals.map(\.text).joined())")
    }

    /// Audio with no speech at all: no stretches, an empty transcript, no error.
    func testNoSpeechGivesAnEmptyTranscript() throws {
        let vad = try SileroVAD.forTests()
        let noise = try VADFixture.samples([VADFixture.Part(clip: nil, silence: nil, noise: 48000, seed: 3, amplitude: 800, tones: nil, periods: nil)])
        let filter = VoiceActivityFilter(detector: vad)
        XCTAssertEqual(try filter.speechChunks(noise), [])
        let r = try WhisperTranscriber(model: try SpeechFixtures.model()).transcribe(samples: noise, filter: filter)
        XCTAssertEqual(r.transcription.segments.count, 0)
        XCTAssertEqual(r.speechDuration, 0)
    }
}
