import Foundation
import LeptonSpeech
import XCTest

/// Word timestamps against faster-whisper 1.2.1's `word_timestamps=True` on the same weights
/// and the same 16 kHz files (Fixtures/words_fw.json, made by make_words_fixture.py).
final class WhisperWordTimestampTests: XCTestCase {
    struct Fixture: Decodable {
        struct Word: Decodable { let start: Double; let end: Double; let word: String; let probability: Double }
        struct Segment: Decodable { let start: Double; let end: Double; let tokens: [Int]; let words: [Word] }
        struct File: Decodable { let file: String; let segments: [Segment] }
        let files: [File]
    }

    func testWordsAndTimesFollowFasterWhisper() throws {
        let url = SpeechFixtures.repoRoot.appendingPathComponent("Tests/SpeechTests/Fixtures/words_fw.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        var options = WhisperTranscribeOptions()
        options.wordTimestamps = true
        let transcriber = WhisperTranscriber(model: try SpeechFixtures.model(), options: options)
        var words = 0, within = 0, worst = 0.0, probabilityGap = 0.0
        for file in fixture.files {
            let r = try transcriber.transcribe(url: SpeechFixtures.shared.appendingPathComponent("data/speech/\(file.file)"))
            XCTAssertEqual(r.segments.map(\.tokens), file.segments.map(\.tokens), file.file)
            let ours = r.segments.flatMap { $0.words ?? [] }, theirs = file.segments.flatMap(\.words)
            XCTAssertEqual(ours.map(\.word), theirs.map(\.word), file.file)
            guard ours.count == theirs.count else { continue }
            for (a, b) in zip(ours, theirs) {
                words += 1
                let gap = max(abs(a.start - b.start), abs(a.end - b.end))
                worst = max(worst, gap)
                if gap <= 0.1 { within += 1 }
                probabilityGap = max(probabilityGap, abs(a.probability - b.probability))
            }
            // Segments start and end with their words, as faster-whisper moves them.
            for (a, b) in zip(r.segments, file.segments) {
                XCTAssertEqual(a.start, b.start, accuracy: 0.1, file.file)
                XCTAssertEqual(a.end, b.end, accuracy: 0.1, file.file)
            }
        }
        XCTAssertGreaterThan(words, 100)
        let share = Double(within) / Double(max(1, words))
        print("word timestamps: \(within) of \(words) words within 0.1 s of faster-whisper (\(String(format: "%.1f", 100 * share))%), worst \(String(format: "%.2f", worst)) s, probability gap at most \(String(format: "%.4f", probabilityGap))")
        XCTAssertGreaterThanOrEqual(share, 0.95, "most words within 0.1 s")
        XCTAssertLessThan(probabilityGap, 0.02)
    }

    /// `--max-words-per-line`: subtitle cues of at most N words, timed by their first and last word.
    func testSubtitleCuesOfAtMostNWords() throws {
        var options = WhisperTranscribeOptions()
        options.wordTimestamps = true
        let r = try WhisperTranscriber(model: try SpeechFixtures.model(), options: options)
            .transcribe(url: SpeechFixtures.dev.appendingPathComponent("jfk.wav"))
        let words = r.segments.flatMap { $0.words ?? [] }
        let srt = r.srt(maxWordsPerLine: 3)
        let cues = srt.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        let expectedCues = r.segments.map { (($0.words?.count ?? 0) + 2) / 3 }.reduce(0, +)
        XCTAssertEqual(cues.count, expectedCues)
        let first = cues[0].split(separator: "\n")
        XCTAssertEqual(String(first[2]), words.prefix(3).map(\.word).joined().trimmingCharacters(in: .whitespaces))
        XCTAssertTrue(first[1].hasPrefix(String(format: "00:00:%02d,%03d", Int(words[0].start), Int((words[0].start * 1000).rounded()) % 1000)), String(first[1]))
    }
}
