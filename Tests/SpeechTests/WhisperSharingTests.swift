import Foundation
import LeptonEngine
import LeptonSpeech
import XCTest

/// One loaded model and one ``WhisperTranscriber`` shared by many threads: each call has its own
/// scratch, so every thread gets the token ids of a single-threaded run (and of faster-whisper).
final class WhisperSharingTests: XCTestCase {
    func testEightThreadsSharingOneTranscriberGetTheSingleThreadedTokens() throws {
        let transcriber = WhisperTranscriber(model: try SpeechFixtures.model())
        let url = SpeechFixtures.dev.appendingPathComponent("LJ002-0020.wav")
        let alone = try transcriber.transcribe(url: url).segments.map(\.tokens)
        let golden = try SpeechFixtures.golden().files.first { $0.file == "LJ002-0020.wav" }!
        XCTAssertEqual(alone, golden.beam5.map(\.tokens), "single-threaded run against faster-whisper")

        let threads = 8
        let lock = NSLock()
        nonisolated(unsafe) var results = [[[Int]]?](repeating: nil, count: threads)
        nonisolated(unsafe) var failures: [String] = []
        let group = DispatchGroup()
        for i in 0..<threads {
            group.enter()
            // Real threads (not GCD's pool, which would run two at a time on two cores).
            let thread = Thread {
                defer { group.leave() }
                do {
                    let tokens = try transcriber.transcribe(url: url).segments.map(\.tokens)
                    lock.lock(); results[i] = tokens; lock.unlock()
                } catch {
                    lock.lock(); failures.append("\(error)"); lock.unlock()
                }
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
        XCTAssertEqual(failures, [])
        for (i, r) in results.enumerated() { XCTAssertEqual(r, alone, "thread \(i)") }
    }
}
