import Foundation
import XCTest
import LeptonFiles

/// The one atomic write: concurrent writers, failures, and what is left on disk.
final class AtomicFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() }

    /// 16 threads × 25 writes of distinct 64 KiB contents to one path: the file always holds one
    /// writer's complete contents (never a mix or a truncation), and no temporary file is left.
    /// With a pid-only temporary name (as three of the old copies had) two threads of one process
    /// wrote the same temporary file, and this test saw mixed contents or failed renames.
    func testConcurrentWritersToOnePathNeverCollideAndLeaveNoTemporaryFiles() throws {
        let target = folder.appendingPathComponent("out.bin")
        let writers = 16, rounds = 25, size = 65_536
        // Contents of writer w, round r: every byte is the same value, distinct per (w, r).
        @Sendable func contents(_ w: Int, _ r: Int) -> Data { Data(repeating: UInt8((w * rounds + r) % 251), count: size) }
        final class Failures: @unchecked Sendable {
            let lock = NSLock(); var list: [String] = []
            func add(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
        }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            for r in 0..<rounds {
                do { try AtomicFile.write(contents(w, r), to: target, durable: false) } catch { failures.add("\(error)") }
                // A reader in between sees a whole file: one byte value, full length.
                if let d = try? Data(contentsOf: target), Set(d).count != 1 || d.count != size {
                    failures.add("torn read: \(d.count) bytes, \(Set(d).count) distinct values")
                }
            }
        }
        XCTAssertEqual(failures.list, [])
        let final = try Data(contentsOf: target)
        XCTAssertEqual(final.count, size)
        XCTAssertEqual(Set(final).count, 1)
        XCTAssertEqual(try entries(), ["out.bin"], "temporary files left behind")
    }

    /// A write that cannot complete leaves the old file as it was and no temporary file: the
    /// rename fails because the target is a non-empty directory.
    func testFailedRenameLeavesTheOldFileAndNoTemporary() throws {
        let target = folder.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data("old".utf8).write(to: target.appendingPathComponent("keep.txt"))
        XCTAssertThrowsError(try AtomicFile.write(Data("new".utf8), to: target)) { error in
            let e = error as? FileWriteError
            XCTAssertEqual(e?.path, target.path)
            XCTAssertFalse("\(error)".contains("\n"))
            XCTAssertTrue("\(error)".hasPrefix("cannot write \(target.path): "), "\(error)")
        }
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("keep.txt"), encoding: .utf8), "old")
        XCTAssertEqual(try entries(), ["model"])
    }

    /// A producer that throws (a C encoder failing halfway) leaves the old file and no temporary.
    func testThrowingProducerLeavesTheOldFileAndNoTemporary() throws {
        struct Halfway: Error {}
        let target = folder.appendingPathComponent("a.wav")
        try AtomicFile.write(Data("old".utf8), to: target)
        XCTAssertThrowsError(try AtomicFile.write(to: target) { tmp in
            try Data("half".utf8).write(to: tmp)
            throw Halfway()
        }) { XCTAssertTrue($0 is Halfway) }
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "old")
        XCTAssertEqual(try entries(), ["a.wav"])
        // And one that succeeds replaces it.
        try AtomicFile.write(to: target) { try Data("new".utf8).write(to: $0) }
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "new")
        XCTAssertEqual(try entries(), ["a.wav"])
    }

    /// A folder that does not exist: a one-line error naming the file, with the system's reason.
    func testMissingFolderIsAOneLineError() {
        let target = folder.appendingPathComponent("no/such/out.txt")
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: target)) {
            XCTAssertEqual("\($0)", "cannot write \(target.path): \(String(cString: strerror(ENOENT)))")
        }
    }
}
