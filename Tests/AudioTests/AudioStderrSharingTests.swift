// The MP3 decoder's stderr capture in a process where other threads log: nothing they write is
// swallowed, and the decoder's damage report still reaches the error.

import Foundation
import XCTest
import LeptonAudio
import LeptonFiles

final class AudioStderrSharingTests: XCTestCase {
    /// One thread decodes a damaged MP3 again and again (each read redirects descriptor 2 for a
    /// moment) while another writes 300 numbered lines through `StandardError.write`, as the
    /// programs' log does. Descriptor 2 points at a file for the test, so what reached "the
    /// terminal" can be read back: every numbered line, and none of mpg123's. With the log
    /// writing to descriptor 2 directly (before), lines written during a capture ended up in
    /// the capture file and were lost, and mpg123's lines could leak into the log.
    func testOtherThreadsLinesSurviveACaptureAndTheDamageIsStillReported() throws {
        let dir = try AudioFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Random bytes behind MP3 frame headers (see AudioDamageTests): mpg123 prints a line per frame.
        var rng = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<300 { bytes += [0xFF, 0xFB, 0x90, 0x64] + (0..<413).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let mp3 = dir.appendingPathComponent("noise.mp3")
        try Data(bytes).write(to: mp3)

        // Descriptor 2 → a file, for the duration of the test.
        let terminal = dir.appendingPathComponent("stderr.txt")
        FileManager.default.createFile(atPath: terminal.path, contents: nil)
        let handle = try FileHandle(forWritingTo: terminal)
        fflush(nil)
        let saved = dup(2)
        XCTAssertGreaterThanOrEqual(saved, 0)
        dup2(handle.fileDescriptor, 2)

        final class Outcome: @unchecked Sendable { var errors: [String] = []; var decoding = true; let lock = NSLock() }
        let outcome = Outcome()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            for _ in 0..<20 {
                do { _ = try AudioDecoder.decode(url: mp3, sampleRate: 16_000); outcome.lock.withLock { outcome.errors.append("no error") } }
                catch { outcome.lock.withLock { outcome.errors.append("\(error)") } }
            }
            outcome.lock.withLock { outcome.decoding = false }
        }
        DispatchQueue.global().async(group: group) {
            var i = 0
            // At least 300 lines, and on until the decoder is done, so they overlap its captures.
            while i < 300 || outcome.lock.withLock({ outcome.decoding }) {
                StandardError.write("log line \(i)\n")
                i += 1
                usleep(200)
            }
            StandardError.write("last line \(i)\n")
        }
        group.wait()
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        try handle.close()

        let text = try String(contentsOf: terminal, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        guard let last = lines.last(where: { $0.hasPrefix("last line ") }), let count = Int(last.dropFirst("last line ".count)) else {
            return XCTFail("the last log line was swallowed")
        }
        let logged = Set(lines.filter { $0.hasPrefix("log line ") })
        let missing = (0..<count).filter { !logged.contains("log line \($0)") }
        XCTAssertEqual(missing.count, 0, "\(missing.count) of \(count) log lines were swallowed")
        XCTAssertEqual(lines.filter { !$0.hasPrefix("log line ") && !$0.hasPrefix("last line ") }, [], "decoder noise reached stderr")
        XCTAssertEqual(outcome.errors.count, 20)
        for e in outcome.errors { XCTAssertTrue(e.contains("damaged frames") && !e.contains("\n"), e) }
    }
}
