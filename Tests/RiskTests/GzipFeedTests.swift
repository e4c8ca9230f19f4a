import Foundation
import XCTest
@testable import LeptonRisk

/// `.csv.gz` feeds (issue 23): read streaming with the system's `gzip` as the independent writer;
/// the same scores as the plain file, and cut-off or bomb files refused in bounded memory.
final class GzipFeedTests: XCTestCase {
    static let samples = FeedSchemaTests.samples

    lazy var dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("gzip-feed-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// Runs `sh -c script` (bounded by `timeout`), failing the test on a non-zero status.
    func sh(_ script: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "timeout 60 sh -c '\(script)'"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, script)
    }

    func testGzipOfTheSampleScoresExactlyAsThePlainFile() throws {
        let plain = Self.samples.appendingPathComponent("test.csv").path
        let gz = dir.appendingPathComponent("test.csv.gz").path
        // Two members (as `cat a.gz b.gz` makes): the header and first rows, then the rest.
        try sh("head -n 700 \(plain) | gzip -9 > \(gz) && tail -n +701 \(plain) | gzip -1 >> \(gz)")
        let model = try TransactionModel.load(from: Self.samples.appendingPathComponent("model"))
        let a = try ScoredTransactions(model: model, path: plain)
        let b = try ScoredTransactions(model: model, path: gz)
        XCTAssertEqual(b.inputRows.count, 1692)
        XCTAssertEqual(a.inputRows.map { a.table.row[$0] }, b.inputRows.map { b.table.row[$0] })
        XCTAssertEqual(a.scores, b.scores)
        // Progress counts the bytes of the file as stored, up to its size.
        var last = 0
        var t = TransactionTable()
        try t.append(csv: gz, progress: { last = $0 })
        let size = try FileManager.default.attributesOfItem(atPath: gz)[.size] as! Int
        XCTAssertEqual(last, size)
    }

    func testTruncatedAndCorruptGzipAreRefusedWithOneLine() throws {
        let plain = Self.samples.appendingPathComponent("test.csv").path
        let gz = dir.appendingPathComponent("cut.csv.gz").path
        try sh("gzip -c \(plain) | head -c 20000 > \(gz)")
        var t = TransactionTable()
        XCTAssertThrowsError(try t.append(csv: gz)) { e in
            XCTAssertTrue("\(e)".hasPrefix("\(gz): cannot read: gzip data is truncated"), "\(e)")
        }
        let bad = dir.appendingPathComponent("bad.csv.gz").path
        try sh("gzip -c \(plain) > \(bad) && printf \"\\\\377\\\\377\\\\377\\\\377\" | dd of=\(bad) bs=1 seek=5000 conv=notrunc 2>/dev/null")
        XCTAssertThrowsError(try t.append(csv: bad)) { e in
            XCTAssertTrue("\(e)".contains("gzip data is corrupt"), "\(e)")
        }
    }

    func testAGzipBombIsRefusedInBoundedMemory() throws {
        // 200 MB of line breaks deflate to about 200 KB (1000×): a feed never expands 200×.
        let bomb = dir.appendingPathComponent("bomb.csv.gz").path
        try sh("head -c 200000000 /dev/zero | tr \"\\\\000\" \"\\\\n\" | gzip -9 > \(bomb)")
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let before = usage.ru_maxrss
        let start = Date()
        var t = TransactionTable()
        XCTAssertThrowsError(try t.append(csv: bomb)) { e in
            XCTAssertTrue("\(e)".contains("gzip bomb"), "\(e)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        XCTAssertLessThan(usage.ru_maxrss - before, 100_000)   // KiB: the peak grew by less than 100 MB
    }
}
