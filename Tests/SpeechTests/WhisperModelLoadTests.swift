import Foundation
import LeptonEngine
@testable import LeptonSpeech
import XCTest

/// A model folder whose `model.bin` lacks one weight: loading fails naming it, every time, and a
/// failed load frees the weights it had read (before class storage, each failure leaked ~100 MB).
final class WhisperModelLoadTests: XCTestCase {
    /// Gives the freed scratch of this test's threads (kept by glibc's per-thread arenas) back to
    /// the system, so that later tests measuring a child's peak memory (inherited at fork) do not see it.
    override func tearDown() {
        SpeechFixtures.returnFreedMemory()
        super.tearDown()
    }

    /// Copies the cached model folder into a temporary one whose `model.bin` drops `dropped`
    /// (binary version 6: ../shared/specs/ctranslate2-whisper.md §1) or gives it `shape` instead.
    private func folder(dropping dropped: String) throws -> URL {
        let source = ModelCache.whisperTinyEn
        let bytes = [UInt8](try Data(contentsOf: source.appendingPathComponent("model.bin")))
        var at = 0
        func take(_ n: Int) -> ArraySlice<UInt8> { defer { at += n }; return bytes[at..<(at + n)] }
        func u32() -> Int { take(4).reversed().reduce(0) { $0 << 8 | Int($1) } }
        func string() -> (raw: ArraySlice<UInt8>, text: String) {
            let start = at
            let n = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            at += 2
            let text = String(decoding: take(n).dropLast(), as: UTF8.self)
            return (bytes[start..<at], text)
        }
        XCTAssertEqual(u32(), 6)
        _ = string()
        _ = u32()
        let headerEnd = at
        let count = u32()
        var kept: [UInt8] = []
        for _ in 0..<count {
            let start = at
            let name = string().text
            let rank = Int(take(1).first!)
            at += 4 * rank + 1
            let size = u32()
            at += size
            if name != dropped { kept += bytes[start..<at] }
        }
        let le = { (v: Int) in (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
        let out = Array(bytes[0..<(headerEnd)]) + le(count - 1) + kept + Array(bytes[at...])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whisper-drop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try Data(out).write(to: dir.appendingPathComponent("model.bin"))
        for name in ["config.json", "vocabulary.txt"] {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name),
                                                       withDestinationURL: source.appendingPathComponent(name))
        }
        return dir
    }

    /// Resident memory of this process (Linux `/proc/self/statm`), in bytes.
    private func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func testLoadMissingTheLastWeightFailsNamingItAndFreesWhatItRead() throws {
        guard FileManager.default.fileExists(atPath: SpeechFixtures.modelBin.path) else { throw XCTSkip("no Whisper model") }
        // Variables are read in architecture order; the decoder's final layer norm comes last, so
        // every other weight (≈ 150 MB as float32/float16) is loaded before the failure.
        let dir = try folder(dropping: "decoder/layer_norm/beta")
        func failOnce() {
            XCTAssertThrowsError(try WhisperModel(directory: dir)) { error in
                XCTAssertTrue("\(error)".contains("decoder/layer_norm/beta"), "\(error)")
            }
        }
        failOnce()
        let before = residentBytes()
        for _ in 0..<4 { failOnce() }
        if let before, let after = residentBytes() {
            // One leaked load is about 110 MB; four of them would add 440 MB.
            XCTAssertLessThan(after - before, 200 << 20, "resident memory grew by \((after - before) >> 20) MB over 4 failed loads")
        }
    }
}
