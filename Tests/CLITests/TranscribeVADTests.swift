import Foundation
import XCTest

/// `lepton-chat transcribe --vad` against faster-whisper 1.2.1's `vad_filter=True`
/// (Tests/SpeechTests/Fixtures/vad_fw.json), and `--stream`, whose finals must be those of the
/// `--vad` run on the same audio.
final class TranscribeVADTests: XCTestCase {
    struct Fixture: Decodable {
        struct Segment: Decodable { let start: Double; let end: Double; let text: String; let tokens: [Int] }
        struct Transcript: Decodable { let segments: [Segment] }
        struct Recording: Decodable { let samples: Int; let transcribe: Transcript }
        let short: Recording
    }
    struct Output: Decodable {
        struct Segment: Decodable { let start: Double; let end: Double; let text: String }
        let segments: [Segment]
        let duration: Double
    }
    struct Event: Decodable { let type: String; let start: Double; let end: Double; let text: String }

    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-vad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The fixture's "short" recording: 3 s of silence, jfk.wav, 3 s of silence (16-bit samples
    /// from the clip's data chunk, written here).
    func shortRecording() throws -> (wav: Data, fixture: Fixture) {
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: ProgramRunner.repoRoot.appendingPathComponent("Tests/SpeechTests/Fixtures/vad_fw.json")))
        let silence = Data(count: 2 * 48000)
        let pcm = silence + (try TranscribeOptionsTests.dataChunk(of: ProgramRunner.shared.appendingPathComponent("data/speech/dev/jfk.wav"))) + silence
        XCTAssertEqual(pcm.count, 2 * f.short.samples)
        return (TranscribeOptionsTests.wav(pcm, channels: 1), f)
    }

    /// The short recording written to a file, and `transcribe --vad -f json` of it.
    func vadRun() throws -> (url: URL, wav: Data, fixture: Fixture, output: Output) {
        let (wav, f) = try shortRecording()
        let url = dir.appendingPathComponent("short.wav")
        try wav.write(to: url)
        let r = try ProgramRunner.run("lepton-chat", ["transcribe", "-f", "json", "--vad", "--threads", "2", url.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (url, wav, f, try JSONDecoder().decode(Output.self, from: Data(r.stdout.utf8)))
    }

    func testVADGivesFasterWhispersSegments() throws {
        let (_, _, f, out) = try vadRun()
        XCTAssertEqual(out.segments.map(\.text), f.short.transcribe.segments.map(\.text))
        for (a, b) in zip(out.segments, f.short.transcribe.segments) {
            XCTAssertEqual(a.start, b.start, accuracy: 0.05, a.text)
            XCTAssertEqual(a.end, b.end, accuracy: 0.05, a.text)
        }
        XCTAssertEqual(out.duration, Double(f.short.samples) / 16000, accuracy: 0.01, "duration stays the file's")
    }

    /// `--stream` on the file and on stdin: JSON lines, the finals those of `--vad` (same texts and times).
    func testStreamFinalsEqualTheVADRun() throws {
        let (url, wav, _, batch) = try vadRun()
        let want = batch.segments
        for input in [url.path, "-"] {
            let r = try ProgramRunner.run("lepton-chat", ["transcribe", "--stream", "--partial-interval-ms", "2000", "--threads", "2", input],
                                          stdin: input == "-" ? wav : nil)
            XCTAssertEqual(r.status, 0, r.stderr)
            let events = try r.stdout.split(separator: "\n").map { try JSONDecoder().decode(Event.self, from: Data($0.utf8)) }
            let finals = events.filter { $0.type == "final" }
            XCTAssertEqual(finals.map(\.text), want.map(\.text), input)
            XCTAssertEqual(finals.map(\.start), want.map(\.start), input)
            XCTAssertEqual(finals.map(\.end), want.map(\.end), input)
            // Partials came while jfk was speaking (11 s, one every 2 s of new audio), each before the final.
            let partials = events.prefix { $0.type == "partial" }
            XCTAssertGreaterThanOrEqual(partials.count, 3, input)
            XCTAssertTrue(Set(events.map(\.type)).isSubset(of: ["partial", "final"]))
            XCTAssertTrue(r.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("{\"type\":") }, "keys in the order type, start, end, text")
        }
    }

    func testBadVADAndStreamUsage() throws {
        let jfk = "samples/chat/jfk.wav"
        for args in [["--vad", "--vad-threshold", "2", jfk], ["--vad-min-silence-ms", "100", jfk], ["--stream", jfk, jfk],
                     ["--stream", "-f", "srt", jfk], ["--realtime", jfk], ["--vad", "--vad-neg-threshold", "0.7", jfk]] {
            let r = try ProgramRunner.run("lepton-chat", ["transcribe"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
        let missing = try ProgramRunner.run("lepton-chat", ["transcribe", "--vad", "--vad-model", "/nonexistent/vad.onnx", jfk])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/vad.onnx"), missing.stderr)
        let notWAV = try ProgramRunner.run("lepton-chat", ["transcribe", "--stream", "-"], stdin: Data("not audio at all, just text".utf8))
        XCTAssertEqual(notWAV.status, 1)
        XCTAssertEqual(notWAV.stderr.split(separator: "\n").count, 1, notWAV.stderr)
    }
}
