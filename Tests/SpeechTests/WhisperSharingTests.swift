import Foundation
import LeptonEngine
import LeptonSpeech
import XCTest

/// One loaded model and one ``WhisperTranscriber`` shared by many threads: each call has its own
/// scratch, so every thread gets the token ids of a single-threaded run (and of faster-whisper).
final class WhisperSharingTests: XCTestCase {
    /// Gives the freed scratch of this test's threads (kept by glibc's per-thread arenas) back to
    /// the system, so that later tests measuring a child's peak memory (inherited at fork) do not see it.
    override func tearDown() {
        SpeechFixtures.returnFreedMemory()
        super.tearDown()
    }

    func testEightThreadsSharingOneTranscriberGetTheSingleThreadedTokens() throws {
        let transcriber = WhisperTranscriber(model: try SpeechFixtures.model())
        let url = SpeechFixtures.dev.appendingPathComponent("LJ002-0020.wav")
        let alone = try transcriber.transcribe(url: url).segments.map(\.tokens)
        let golden = try SpeechFixtures.golden().files.first { $0.file == "LJ002-0020.wav" }!
        XCTAssertEqual(alone, golden.beam5.map(\.tokens), "single-threaded run against faster-whisper")

        let threads = 8
        let results = TokenResults(count: threads)
        let group = DispatchGroup()
        for i in 0..<threads {
            group.enter()
            // Real threads (not GCD's pool, which would run two at a time on two cores).
            let thread = Thread {
                defer { group.leave() }
                results.set(i, Result { try transcriber.transcribe(url: url).segments.map(\.tokens) })
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
        for i in 0..<threads { XCTAssertEqual(try results.get(i)?.get(), alone, "thread \(i)") }
    }

    /// A second decode of the same call (the bank agent's second opinion) reuses the first one's
    /// encoder outputs: it gets faster-whisper's tokens again, and what the decoder hears really
    /// is the kept encoding (kept from another file, the decode follows that file).
    func testKeptEncoderOutputsAreReusedAndGiveTheSameTokens() throws {
        let transcriber = WhisperTranscriber(model: try SpeechFixtures.model())
        let goldens = try SpeechFixtures.golden().files
        let a = "LJ002-0020.wav"
        let b = try XCTUnwrap(goldens.first { $0.file != a && $0.beam5.count == 1 }?.file)
        let kept = WhisperEncodedAudio()
        let first = try transcriber.transcribe(url: SpeechFixtures.dev.appendingPathComponent(a), encoded: kept)
        XCTAssertEqual(kept.count, 1, "one 30 s window encoded and kept")
        let golden = goldens.first { $0.file == a }!.beam5.map(\.tokens)
        XCTAssertEqual(first.segments.map(\.tokens), golden)
        let again = try transcriber.transcribe(url: SpeechFixtures.dev.appendingPathComponent(a), encoded: kept)
        XCTAssertEqual(again.segments.map(\.tokens), golden, "decoded from the kept encoding")
        XCTAssertEqual(kept.count, 1)
        // File b's features with file a's kept encoding: the decoder hears a (first segment's words).
        let crossed = try transcriber.transcribe(url: SpeechFixtures.dev.appendingPathComponent(b), encoded: kept)
        XCTAssertEqual(crossed.segments.first?.tokens, golden.first, "the kept encoding is what the decoder hears")
    }
}

/// Per-thread results behind a lock.
final class TokenResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<[[Int]], any Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: Result<[[Int]], any Error>) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> Result<[[Int]], any Error>? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
