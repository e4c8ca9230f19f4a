import Foundation
import XCTest

/// `lepton-chat transcribe`'s faster-whisper decoding options, `-f tsv` and stdin, against
/// faster-whisper 1.2.1 itself on a 77 s recording of three windows
/// (Tests/SpeechTests/Fixtures/options_fw.json, made by make_options_fixture.py).
final class TranscribeOptionsTests: XCTestCase {
    struct Fixture: Decodable {
        struct Segment: Decodable { let start: Double; let end: Double; let text: String; let tokens: [Int] }
        struct Config: Decodable { let segments: [Segment] }
        let clips: [String]
        let gap_samples: Int
        let repeats: Int
        let samples: Int
        let configs: [String: Config]
    }

    /// Our flags for each of the fixture's faster-whisper configurations.
    static let flags: [String: [String]] = [
        "no_conditioning": ["--condition-on-previous-text", "false", "--temperatures", "0"],
        "conditioning_no_thresholds": ["--temperatures", "0,0.5", "--no-speech-threshold", "none",
                                       "--compression-ratio-threshold", "none", "--logprob-threshold", "none"],
    ]

    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-options-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func fixture() throws -> Fixture {
        let url = ProgramRunner.repoRoot.appendingPathComponent("Tests/SpeechTests/Fixtures/options_fw.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// The fixture's recording, built as make_options_fixture.py builds it: the clips' 16-bit
    /// samples (read from their `data` chunks here, not by our decoder), each followed by silence.
    func longRecording(_ f: Fixture) throws -> Data {
        var pcm = Data()
        for _ in 0..<f.repeats {
            for clip in f.clips {
                pcm += try Self.dataChunk(of: ProgramRunner.shared.appendingPathComponent("data/speech/dev/\(clip)"))
                pcm += Data(count: 2 * f.gap_samples)
            }
        }
        XCTAssertEqual(pcm.count, 2 * f.samples, "the same samples as the fixture's")
        return Self.wav(pcm, channels: 1)
    }

    /// A 16 kHz 16-bit PCM WAV file of interleaved `pcm` (written here, not by our encoder).
    static func wav(_ pcm: Data, channels: Int) -> Data {
        var wav = Data("RIFF".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { wav.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { wav.append(contentsOf: $0) } }
        u32(36 + pcm.count); wav += Data("WAVEfmt ".utf8)
        u32(16); u16(1); u16(channels); u32(16000); u32(32000 * channels); u16(2 * channels); u16(16)
        wav += Data("data".utf8); u32(pcm.count); wav += pcm
        return wav
    }

    /// The bytes of a RIFF/WAVE file's `data` chunk.
    static func dataChunk(of url: URL) throws -> Data {
        let bytes = [UInt8](try Data(contentsOf: url))
        var at = 12
        while at + 8 <= bytes.count {
            let size = Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            if bytes[at..<at + 4].elementsEqual("data".utf8) { return Data(bytes[(at + 8)..<min(bytes.count, at + 8 + size)]) }
            at += 8 + size + (size & 1)
        }
        throw XCTSkip("no data chunk in \(url.path)")
    }

    struct Output: Decodable {
        struct Segment: Decodable { let start: Double; let end: Double; let text: String; let tokens: [Int] }
        let segments: [Segment]
    }

    func testDecodingOptionsGiveFasterWhispersSegments() throws {
        let f = try fixture()
        let wav = dir.appendingPathComponent("long.wav")
        try longRecording(f).write(to: wav)
        for (name, config) in f.configs.sorted(by: { $0.key < $1.key }) {
            let flags = try XCTUnwrap(Self.flags[name])
            let r = try ProgramRunner.run("lepton-chat", ["transcribe", "-f", "json", "--threads", "2"] + flags + [wav.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = try JSONDecoder().decode(Output.self, from: Data(r.stdout.utf8))
            XCTAssertEqual(out.segments.map(\.tokens), config.segments.map(\.tokens), name)
            guard out.segments.count == config.segments.count else { continue }
            for (a, b) in zip(out.segments, config.segments) {
                XCTAssertEqual(a.start, b.start, accuracy: 0.0011, name)
                XCTAssertEqual(a.end, b.end, accuracy: 0.0011, name)
            }
        }
        // The two settings really differ on this recording (conditioning drops some speech).
        XCTAssertNotEqual(f.configs["no_conditioning"]?.segments.count, f.configs["conditioning_no_thresholds"]?.segments.count)
    }

    /// `-f tsv` from stdin: whisper's table (header, milliseconds, trimmed text) of faster-whisper's segments.
    func testTSVFromStandardInput() throws {
        let f = try fixture()
        let reference = try XCTUnwrap(f.configs["no_conditioning"]).segments
        let r = try ProgramRunner.run("lepton-chat", ["transcribe", "-f", "tsv", "-"] + Self.flags["no_conditioning"]!, stdin: try longRecording(f))
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected = ["start\tend\ttext"] + reference.map {
            "\(Int(($0.start * 1000).rounded()))\t\(Int(($0.end * 1000).rounded()))\t\($0.text.trimmingCharacters(in: .whitespaces))"
        }
        XCTAssertEqual(r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init), expected)
    }

    /// `--split-channels`: each channel heard on its own, turns labelled and interleaved by time.
    /// jfk.wav on one channel and digital silence on the other gives faster-whisper's segments of
    /// jfk.wav (golden-fw.json: the same samples), all from that channel's speaker; a downmix
    /// would hear the speech at half amplitude on both.
    func testSplitChannelsLabelEachChannelsTurns() throws {
        struct Golden: Decodable {
            struct Segment: Decodable { let start: Double; let end: Double; let tokens: [Int] }
            struct File: Decodable { let file: String; let beam5: [Segment] }
            let files: [File]
        }
        struct Split: Decodable {
            struct Segment: Decodable { let start: Double; let end: Double; let tokens: [Int]; let speaker: String }
            let segments: [Segment]
        }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: ProgramRunner.shared.appendingPathComponent("data/speech/dev/golden-fw.json")))
        let jfk = try XCTUnwrap(golden.files.first { $0.file == "jfk.wav" })
        let mono = try Self.dataChunk(of: ProgramRunner.shared.appendingPathComponent("data/speech/dev/jfk.wav"))
        for speechLeft in [true, false] {
            var pcm = Data(capacity: mono.count * 2)
            let silence = Data([0, 0])
            for i in stride(from: 0, to: mono.count - 1, by: 2) {
                let sample = mono[mono.startIndex + i..<mono.startIndex + i + 2]
                pcm += speechLeft ? sample + silence : silence + sample
            }
            let url = dir.appendingPathComponent("stereo.wav")
            try Self.wav(pcm, channels: 2).write(to: url)
            let r = try ProgramRunner.run("lepton-chat", ["transcribe", "-f", "json", "--split-channels", "--channel-labels", "agent,caller", url.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = try JSONDecoder().decode(Split.self, from: Data(r.stdout.utf8))
            XCTAssertEqual(out.segments.map(\.tokens), jfk.beam5.map(\.tokens))
            XCTAssertEqual(Set(out.segments.map(\.speaker)), [speechLeft ? "agent" : "caller"])
            let tsv = try ProgramRunner.run("lepton-chat", ["transcribe", "-f", "tsv", "--split-channels", url.path])
            XCTAssertEqual(tsv.stdout.split(separator: "\n").first, "start\tend\ttext\tspeaker")
            XCTAssertTrue(tsv.stdout.contains(speechLeft ? "\tchannel 1\n" : "\tchannel 2\n"), tsv.stdout)
        }
        let unlabelled = try ProgramRunner.run("lepton-chat", ["transcribe", "--channel-labels", "a,b", "samples/chat/jfk.wav"])
        XCTAssertEqual(unlabelled.status, 64, unlabelled.stderr)
    }

    func testBadStandardInputAndOptionsAreOneLine() throws {
        let empty = try ProgramRunner.run("lepton-chat", ["transcribe", "-"], stdin: Data())
        XCTAssertEqual(empty.status, 1, empty.stderr)
        XCTAssertEqual(empty.stderr.split(separator: "\n").count, 1, empty.stderr)
        XCTAssertTrue(empty.stderr.contains("stdin is empty"), empty.stderr)
        let junk = try ProgramRunner.run("lepton-chat", ["transcribe", "-"], stdin: Data(repeating: 0x41, count: 5000))
        XCTAssertEqual(junk.status, 1, junk.stderr)
        XCTAssertEqual(junk.stderr.split(separator: "\n").count, 1, junk.stderr)
        for bad in [["--temperatures", "0,x"], ["--temperatures", ""], ["--no-speech-threshold", "2"], ["--logprob-threshold", "nan"],
                    ["--condition-on-previous-text", "maybe"], ["-", "-"]] {
            let r = try ProgramRunner.run("lepton-chat", ["transcribe"] + bad + (bad.contains("-") ? [] : ["samples/chat/jfk.wav"]))
            XCTAssertEqual(r.status, 64, "\(bad): \(r.stderr)")
        }
    }
}
